"""Sweeps: one property of a designed compound varied over a range, outcomes at each value, and a plot."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ketasim import units
from ketasim.design.build import DEFAULT_BASE, design
from ketasim.design.predict import Regimen, predict_design, reference_profile, references
from ketasim.design.properties import Property, lookup, parse_value
from ketasim.errors import KetasimError
from ketasim.progress import track

MAX_POINTS = 50


def parse_range(text: str) -> tuple[str, float, float]:
    """``"t_half=2:48 h"`` -> ("t_half", 2.0, 48.0) in canonical units; a unit on HI alone applies to both."""
    if "=" not in text or ":" not in text.split("=", 1)[1]:
        raise KetasimError(f"'{text}' is not PROPERTY=LO:HI", argument="--sweep", fix="e.g. t_half=2:48 h")
    name, rng = text.split("=", 1)
    name = name.strip().lower()
    prop = lookup(name, "--sweep")
    lo_text, hi_text = (s.strip() for s in rng.split(":", 1))
    hi_parts = hi_text.split(maxsplit=1)
    lo_parts = lo_text.split(maxsplit=1)
    if len(lo_parts) == 1 and len(hi_parts) == 2:
        lo_text = f"{lo_text} {hi_parts[1]}"
    lo, hi = parse_value(prop, lo_text, "--sweep"), parse_value(prop, hi_text, "--sweep")
    if not hi > lo:
        raise KetasimError(f"HI must be above LO, got {lo_text}:{hi_text}", argument="--sweep")
    return name, lo, hi


def sweep_values(prop: Property, lo: float, hi: float, points: int, log: bool) -> np.ndarray:
    """``points`` values from ``lo`` to ``hi``, evenly or (``log``) geometrically spaced."""
    if isinstance(points, bool) or not 2 <= points <= MAX_POINTS:
        raise KetasimError(f"must be between 2 and {MAX_POINTS}, got {points}", argument="--points")
    if log:
        if lo <= 0:
            raise KetasimError("a log sweep needs LO > 0", argument="--log")
        return np.geomspace(lo, hi, points)
    return np.linspace(lo, hi, points)


def run_sweep(
    name: str,
    values: np.ndarray,
    overrides: Mapping[str, float],
    base: str = DEFAULT_BASE,
    regimen: Regimen | None = None,
    n: int = 100,
    seed: int = 0,
    horizon: str = "14 d",
) -> dict:
    """Outcomes of one design per value of property ``name`` (other ``overrides`` held fixed).

    A value the design cannot reach (e.g. a trapped fraction above what the kinetics allow) is
    recorded with its error, not fatal."""
    if name in overrides:
        raise KetasimError("is both swept and set", argument=name, fix="give it only in --sweep")
    regimen = regimen or Regimen()
    refs = references(n, seed, horizon)
    rows = []
    for v in track(list(values), f"sweep {name}"):
        row: dict = {"value": float(v)}
        try:
            d = design({**overrides, name: float(v)}, base)
            row.update(predict_design(d, regimen, n, seed, horizon, refs))
        except KetasimError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return {
        "property": name,
        "unit": units.LABEL[lookup(name, name).kind],
        "rows": rows,
        **reference_profile(refs),
    }


def plot_sweep(result: dict, path: str | Path) -> Path:
    """Response at 24 h and day 7 and peak dissociation against the swept property, ketamine dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if "error" not in r]
    if not rows:
        raise KetasimError("no value of the sweep could be designed", argument="--sweep")
    x = np.array([r["value"] for r in rows])
    ket, sal = result["ketamine"], result["saline"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for key, colour, label in (("response_24h", "C0", "24 h"), ("response_7d", "C1", "day 7")):
        ax1.plot(x, [r[key] for r in rows], "o-", color=colour, label=f"designed, {label}")
        ax1.axhline(ket[key], color=colour, ls="--", lw=1, label=f"ketamine 0.5 mg/kg, {label}")
    ax1.axhline(sal["response_24h"], color="grey", ls=":", lw=1, label="saline, 24 h")
    ax1.set_ylabel("response rate (MADRS -50%)")
    ax1.set_ylim(0, 1)
    ax2.plot(x, [r["dissociation_peak_mean"] for r in rows], "o-", color="C3", label="designed")
    ax2.axhline(ket["dissociation_peak_mean"], color="C3", ls="--", lw=1, label="ketamine 0.5 mg/kg")
    ax2.set_ylabel("peak dissociation (CADSS), mean")
    unit = f" ({result['unit']})" if result["unit"] else ""
    for ax in (ax1, ax2):
        ax.set_xlabel(result["property"] + unit)
        if x.min() > 0 and x.max() / x.min() > 20:
            ax.set_xscale("log")
        ax.legend(fontsize=7)
    regimen = f", {result['regimen']}" if result.get("regimen") else ""
    fig.suptitle(
        f"ketasim design: sweep of {result['property']}{regimen} (dashed: ketamine 0.5 mg/kg iv 40 min)"
    )
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
