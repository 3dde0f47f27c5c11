"""Self-contained HTML report of a virtual trial (``ketasim report`` and ``ketasim trial --report``).

``DIR/index.html`` opens offline: every figure is an embedded PNG and there is no external script or
style sheet. Sections: summary, exposure with an NCA table, NMDA block and off-target occupancy with
potency strips, circuit, signalling, spines, MADRS bands, response and remission with published points,
dissociation and blood pressure, and provenance (version, scenario file, seed, switches, parameter
hashes and every parameter's source). Clinical figures use every patient of the trial; exposure and
mechanistic figures use the first patients of each arm solved with every variable
(:mod:`ketasim.report.detail`). Beside it: ``summary.json`` (the ``ketasim trial --json`` document),
``nca.csv`` and ``provenance.json``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

from ketasim import __version__
from ketasim.errors import KetasimError
from ketasim.population import load_population
from ketasim.progress import bar
from ketasim.report import clinical_figures, mechanism_figures
from ketasim.report.clinical_figures import LITERATURE
from ketasim.report.detail import DEFAULT_DETAIL, DetailedArm, detail_arms
from ketasim.report.figure_tools import ReportFigure
from ketasim.report.nca_table import nca_frame, nca_html
from ketasim.report.provenance_section import RunRecord, provenance_html
from ketasim.scenario import to_toml
from ketasim.trial import TrialResult, clinical_params

__all__ = ["LITERATURE", "write_report"]

STYLE = (
    "body{font-family:sans-serif;max-width:1150px;margin:auto;padding:0 1em;color:#222}"
    "img{max-width:100%;height:auto}figure{margin:1.2em 0}figcaption{font-size:0.9em;color:#444}"
    "td,th{padding:3px 7px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    "table{border-collapse:collapse;margin:0.6em 0}small{color:#666}"
    "pre.toml{background:#f6f6f6;padding:0.8em;overflow:auto;font-size:0.85em}"
    "table.params{font-size:0.8em}ol.cites{font-size:0.85em}nav a{margin-right:0.8em}"
)


def _parameters(detail: dict[str, DetailedArm], population: str) -> dict[str, list[dict]]:
    """Every parameter behind the run by scale (PK, circuit, cascade, clinical, population), deduplicated."""
    by_scale: dict[str, dict[str, dict]] = {}
    for arm in detail.values():
        for rec in arm.sources.records():
            scale, _, name = rec["name"].partition(":")
            by_scale.setdefault(scale, {})[name] = {**rec, "name": name}
    out = {k: [v[n] for n in sorted(v)] for k, v in sorted(by_scale.items())}
    out["clinical"] = clinical_params().sources().records()
    out["population"] = load_population(population).records()
    return out


def _summary_table(summary: dict) -> str:
    hours = list(next(iter(summary["arms"].values()))["response_rate"])
    head = "".join(f"<th>response {html.escape(h)} h</th>" for h in hours)
    rows = []
    for name, a in summary["arms"].items():
        cells = "".join(f"<td>{a['response_rate'][h]:.2f}</td>" for h in hours)
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{a['n']}</td>{cells}"
            f"<td>{a['dissociation_peak_mean']:.1f}</td><td>{a['systolic_rise_peak_mean']:.1f}</td></tr>"
        )
    comps = "".join(
        f"<li>{html.escape(k)}: response odds ratio at 24 h {v['response_odds_ratio_24h']:.2f} "
        f"(95% CI {v['ci95'][0]:.2f}-{v['ci95'][1]:.2f})</li>"
        for k, v in summary.get("comparisons", {}).items()
    )
    return (
        f"<table><tr><th>arm</th><th>n</th>{head}<th>peak CADSS (mean)</th>"
        "<th>peak systolic rise, mmHg (mean)</th></tr>" + "".join(rows) + f"</table><ul>{comps}</ul>"
    )


def _figure_html(f: ReportFigure, heading: str = "") -> str:
    title = "" if f.title == heading else f"<h3>{html.escape(f.title)}</h3>"
    return (
        f"<figure>{title}"
        f"<img alt='{html.escape(f.title)}' src='data:image/png;base64,{f.png}'/>"
        f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
    )


def _sections(
    result: TrialResult, detail: dict[str, DetailedArm], nca: str, step: Callable[[], None]
) -> list[tuple[str, str, str]]:
    """(anchor, heading, body HTML) of every section, figures drawn in order."""
    horizon = result.scenario.horizon_h

    def draw(fn, *args, heading: str = "") -> str:
        f = fn(*args)
        step()
        if isinstance(f, str):  # nothing to draw: a note says why
            return f"<p>{html.escape(f)}</p>"
        return "".join(_figure_html(x, heading) for x in (f if isinstance(f, list) else [f]))

    m, c = mechanism_figures, clinical_figures
    return [
        (
            "exposure",
            "Exposure",
            draw(m.exposure_figure, detail, horizon)
            + "<h3>Non-compartmental analysis of plasma concentrations</h3>"
            "<p>Per patient by <code>ketasim.nca</code> (linear-up/log-down AUC to infinity, terminal "
            "half-life by best adjusted R<sup>2</sup>); median (5th-95th percentile) over the detailed "
            "patients; n is given where the terminal phase could not be estimated for some. With repeated "
            "doses the whole profile is analysed (Cmax and Tmax over all doses).</p>" + nca,
        ),
        (
            "receptors",
            "NMDA block and other targets",
            draw(m.block_figure, detail, horizon)
            + draw(m.occupancy_figure, detail, horizon)
            + draw(m.potency_figures, detail),
        ),
        ("circuit", "Circuit", draw(m.circuit_figure, detail, horizon, heading="Circuit")),
        ("signalling", "Signalling", draw(m.signalling_figure, detail, horizon, heading="Signalling")),
        ("spines", "Spines", draw(m.spine_figure, detail, horizon)),
        ("madrs", "Depression score", draw(c.madrs_figure, result)),
        ("response", "Response and remission", draw(c.response_figure, result)),
        (
            "safety",
            "Dissociation and blood pressure",
            draw(c.safety_figure, result, heading="Dissociation and blood pressure"),
        ),
    ]


FIGURE_STEPS = 10  # figure-drawing calls in _sections


def write_report(
    result: TrialResult,
    out: str | Path,
    scenario_text: str | None = None,
    mechanisms: frozenset[str] | None = None,
    n_detail: int = DEFAULT_DETAIL,
) -> Path:
    """Write ``index.html`` (self-contained), ``summary.json``, ``nca.csv`` and ``provenance.json`` into
    ``out``; return the HTML path.

    ``scenario_text`` is the scenario file as written (default: regenerated from ``result.scenario``);
    ``mechanisms`` the switches the trial was run with (default: the scenario's); ``n_detail`` the
    patients per arm solved with every variable for the exposure and mechanistic figures."""
    out = Path(out)
    if isinstance(n_detail, bool) or not isinstance(n_detail, int) or n_detail < 1:
        raise KetasimError(f"must be a whole number >= 1, got {n_detail!r}", argument="--detail")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KetasimError(f"cannot create directory '{out}' ({exc.strerror})", argument="--out") from None
    summary = result.summary()
    sc = result.scenario
    with bar(1 + FIGURE_STEPS, "report") as b:
        detail = detail_arms(result, n_detail, mechanisms)
        b.update()
        pk = {name: a.pk for name, a in detail.items() if a.pk is not None}
        nca = nca_frame(pk)
        sections = _sections(result, detail, nca_html(nca, {k: detail[k].n for k in pk}), b.update)
    first = next(iter(detail.values()))
    population = str(summary.get("population") or sc.population.get("name", "trd"))
    run = RunRecord(
        version=__version__,
        scenario_name=sc.name,
        scenario_toml=scenario_text if scenario_text is not None else to_toml(sc),
        seed=result.seed,
        n_per_arm=int(summary.get("n_per_arm", first.n)),
        n_detail=min(a.n for a in detail.values()),
        mechanisms=sorted(x for x in first.model.attrs["mechanisms"].split(",") if x),
        parameter_hashes={k: a.parameter_hash for k, a in result.arms.items()},
        clinical_hash=clinical_params().digest(),
        population=population,
        parameters=_parameters(detail, str(sc.population.get("name", "trd"))),
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    nca.to_csv(out / "nca.csv", index=False)
    (out / "provenance.json").write_text(json.dumps(run.as_dict(), indent=1))
    title = html.escape(sc.name)
    nav = "".join(f"<a href='#{a}'>{html.escape(h)}</a>" for a, h, _ in sections)
    body = "".join(f"<section id='{a}'><h2>{html.escape(h)}</h2>{s}</section>" for a, h, s in sections)
    header = (
        f"<p>{run.n_per_arm} patients per arm (mechanistic figures: the first {run.n_detail} of each "
        f"arm), seed {run.seed}, population {html.escape(run.population)}, ketasim {__version__}, "
        f"mechanisms: {html.escape(', '.join(run.mechanisms) or 'none')}.</p>"
    )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{header}"
        f"<nav>{nav}<a href='#provenance'>Provenance</a></nav>"
        f"<h2>Summary</h2>{_summary_table(summary)}{body}{provenance_html(run)}</body></html>"
    )
    path = out / "index.html"
    path.write_text(page)
    return path
