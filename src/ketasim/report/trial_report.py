"""HTML report of a virtual trial: score time courses with percentile bands, response curves with
literature points, dissociation, blood pressure and exposure, plus the run's provenance."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from ketasim.errors import KetasimError
from ketasim.trial import TrialResult

# Published response rates shown beside the simulated curves (hours -> fraction, source).
LITERATURE = {
    "ketamine": [
        (24.0, 0.64, "Murrough 2013 (calibration)"),
        (4.0, 0.50, "seed 002 review"),
        (24.0, 0.70, "seed 002 review"),
        (72.0, 0.35, "seed 002 review"),
    ],
    "midazolam": [(24.0, 0.28, "Murrough 2013 (calibration)")],
}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode()


def _figures(result: TrialResult) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, a in result.arms.items():
        t = a.times / 24.0
        lo, med, hi = np.percentile(a.madrs, [10, 50, 90], axis=0)
        ax.plot(t, med, label=name)
        ax.fill_between(t, lo, hi, alpha=0.2)
    ax.set_xlabel("day")
    ax.set_ylabel("MADRS (median, 10-90th percentile)")
    ax.legend()
    out.append(("Depression score", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    grid = np.array(sorted({h for h in np.concatenate([a.times for a in result.arms.values()]) if h > 0}))
    for name, a in result.arms.items():
        base = a.frame["madrs_baseline"].to_numpy()
        rate = (a.madrs <= 0.5 * base[:, None]).mean(axis=0)
        (line,) = ax.plot(a.times / 24.0, rate, label=name)
        for h, r, src in LITERATURE.get(name, []):
            ax.plot(h / 24.0, r, "o", color=line.get_color(), markerfacecolor="none")
            ax.annotate(src, (h / 24.0, r), fontsize=6)
    del grid
    ax.set_xlabel("day")
    ax.set_ylabel("response rate (>= 50% MADRS reduction)")
    ax.set_ylim(0, 1)
    ax.legend()
    out.append(("Response with published points (open circles)", _png(fig)))
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for name, a in result.arms.items():
        h = a.times <= 6
        axes[0].plot(a.times[h], np.median(a.cadss[:, h], axis=0), label=name)
        axes[1].plot(a.times[h], np.median(a.sbp_rise[:, h], axis=0), label=name)
        axes[2].plot(a.times[h], np.median(a.plasma_parent_um[:, h], axis=0), label=name)
    axes[0].set_ylabel("CADSS rise (median)")
    axes[1].set_ylabel("systolic rise, mmHg (median)")
    axes[2].set_ylabel("plasma parent drug, uM (median)")
    for ax in axes:
        ax.set_xlabel("hour")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    out.append(("Dissociation, blood pressure and exposure (first 6 h)", _png(fig)))
    plt.close(fig)
    return out


def write_report(result: TrialResult, out: str | Path) -> Path:
    """Write ``index.html`` (figures embedded) and ``summary.json`` into ``out``; return the HTML path."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KetasimError(f"cannot create directory '{out}' ({exc.strerror})", argument="--report") from None
    summary = result.summary()
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    rows = []
    for name, a in summary["arms"].items():
        rr = ", ".join(f"{h} h: {v:.2f}" for h, v in a["response_rate"].items())
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{a['n']}</td><td>{rr}</td>"
            f"<td>{a['dissociation_peak_mean']:.1f}</td><td>{a['systolic_rise_peak_mean']:.1f}</td></tr>"
        )
    figs = "".join(
        f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{data}'/>"
        for title, data in _figures(result)
    )
    comps = "".join(
        f"<li>{html.escape(k)}: response OR at 24 h {v['response_odds_ratio_24h']:.2f} "
        f"(95% CI {v['ci95'][0]:.2f}-{v['ci95'][1]:.2f})</li>"
        for k, v in summary.get("comparisons", {}).items()
    )
    mech = html.escape(", ".join(sorted(result.scenario.mechanisms)))
    prov = html.escape(
        json.dumps({k: summary[k] for k in ("parameter_hash", "clinical_parameter_hash")}, indent=1)
    )
    title = html.escape(result.scenario.name)
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
    )
    header = (
        f"<p>{summary['n_per_arm']} patients per arm, seed {summary['seed']}, "
        f"population {html.escape(str(summary['population']))}, ketasim {summary['ketasim_version']}. "
        f"Mechanisms: {mech}.</p>"
    )
    table = (
        "<table><tr><th>arm</th><th>n</th><th>response rate</th><th>peak CADSS (mean)</th>"
        "<th>peak systolic rise (mean)</th></tr>" + "".join(rows) + "</table>"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style>"
        f"</head><body><h1>{title}</h1>{header}{table}<ul>{comps}</ul>{figs}"
        f"<h2>Provenance</h2><pre>{prov}</pre></body></html>"
    )
    path = out / "index.html"
    path.write_text(page)
    return path
