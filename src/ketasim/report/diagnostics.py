"""Goodness-of-fit and VPC plots (matplotlib, non-interactive backend).

The standard pharmacometric diagnostics (e.g. the OSP ``plot-observed-vs-simulated`` and
``plot-residuals-vs-time`` set, xpose, and the percentile VPC of the R package ``vpc``):
observed against predicted on log-log axes with the identity line and 2-fold lines, log residuals
against time, and observed percentiles over simulated prediction intervals.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ketasim.data_io.compare import Comparison
from ketasim.errors import KetasimError
from ketasim.report.plots import png_path
from ketasim.vpc import VPCResult


def plot_dir(directory: str | Path, argument: str = "--plot-dir") -> Path:
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise KetasimError(f"'{d}' is a file, not a directory", argument=argument)
    if not d.parent.exists():
        raise KetasimError(f"folder '{d.parent}' does not exist", argument=argument)
    d.mkdir(exist_ok=True)
    return d


def plot_observed_vs_predicted(cmp: Comparison, path: str | Path) -> Path:
    """Observed against predicted on log-log axes, with the identity line and the 2-fold lines."""
    path = png_path(path, "--plot-dir")
    t = cmp.table
    ok = (t["DV"] > 0) & (t["PRED"] > 0)
    fig, ax = plt.subplots(figsize=(5.5, 5.2))
    for a, g in t[ok].groupby("ANALYTE"):
        ax.scatter(g["PRED"], g["DV"], s=18, alpha=0.75, label=str(a))
    if ok.any():
        lo = float(min(t.loc[ok, "DV"].min(), t.loc[ok, "PRED"].min())) / 1.5
        hi = float(max(t.loc[ok, "DV"].max(), t.loc[ok, "PRED"].max())) * 1.5
        x = np.array([lo, hi])
        ax.plot(x, x, "k-", lw=1, label="identity")
        ax.plot(x, 2 * x, "k:", lw=0.8, label="2-fold")
        ax.plot(x, x / 2, "k:", lw=0.8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"predicted ({cmp.dv_unit})")
    ax.set_ylabel(f"observed ({cmp.dv_unit})")
    ax.set_title(f"Observed vs predicted: {cmp.source}", fontsize=10)
    if (~ok).any():
        ax.text(
            0.02,
            0.98,
            f"{int((~ok).sum())} point(s) <= 0 not shown",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_residuals_vs_time(cmp: Comparison, path: str | Path) -> Path:
    """Log residuals ln(DV) - ln(PRED) against time, with zero and +/- ln 2 reference lines."""
    path = png_path(path, "--plot-dir")
    t = cmp.table.dropna(subset=["LRES"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for a, g in t.groupby("ANALYTE"):
        ax.scatter(g["TIME"], g["LRES"], s=18, alpha=0.75, label=str(a))
    ax.axhline(0.0, color="k", lw=1)
    for y in (np.log(2), -np.log(2)):
        ax.axhline(y, color="k", lw=0.8, ls=":")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("ln(observed) - ln(predicted)")
    ax.set_title(f"Residuals vs time: {cmp.source} (dotted: 2-fold)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_vpc(result: VPCResult, path: str | Path, log: bool = True) -> Path:
    """Observed 5/50/95th percentiles (lines) and points over the simulated 90% intervals (bands)."""
    path = png_path(path, "--plot")
    b = result.bins
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    styles = {0.05: ("tab:blue", "--"), 0.5: ("tab:red", "-"), 0.95: ("tab:blue", "--")}
    names = {0.05: "5th/95th", 0.5: "50th", 0.95: "5th/95th"}
    seen: set[str] = set()
    for q, g in b.groupby("quantile"):
        colour, ls = styles.get(float(q), ("tab:gray", "-"))
        name = names.get(float(q), f"{q:.0%}")
        g = g.sort_values("time")
        first = name not in seen
        seen.add(name)
        ax.fill_between(g["time"], g["sim_lo"], g["sim_hi"], color=colour, alpha=0.2,
                        label=f"simulated {name} percentile, 90% PI" if first else None)  # fmt: skip
        ax.plot(g["time"], g["observed"], color=colour, ls=ls, lw=1.6,
                label=f"observed {name} percentile" if first else None)  # fmt: skip
    obs = result.observations
    ax.scatter(
        obs["TIME"], obs["DV"], s=10, c=np.where(obs["OUTSIDE"], "k", "0.5"), zorder=3, label="observations"
    )
    if log and (obs["DV"] > 0).all() and (b[["sim_lo"]].to_numpy() > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("time (h)")
    ax.set_ylabel(f"{result.analyte} ({result.dv_unit})")
    frac = result.summary()["fraction_outside_90pi"]
    ax.set_title(
        f"VPC: {result.analyte}, n={result.n}, population {result.population}; "
        f"{frac:.0%} of observations outside their 90% PI",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
