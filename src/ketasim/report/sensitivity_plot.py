"""Ranked horizontal bar plot of sensitivity indices (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ketasim.output_paths import checked_output
from ketasim.sensitivity_eval import OUTPUTS

if TYPE_CHECKING:
    from ketasim.sensitivity import SensitivityResult

FORMATS = (".png", ".svg")


def plot_path(path: str | Path, argument: str = "--plot") -> Path:
    """``path`` if it names a .png or .svg file in an existing folder; a clear error otherwise."""
    return checked_output(path, FORMATS, argument)


def plot_indices(result: SensitivityResult, path: str | Path) -> Path:
    """Bars of mu* and sigma (Morris) or ST and S1 (Sobol'), most influential parameter on top,
    with 95% bootstrap intervals as error bars."""
    path = plot_path(path)
    rows = result.ranked()[::-1]  # barh draws the first row at the bottom
    names = [r["name"] for r in rows]
    y = np.arange(len(rows))
    if result.method == "morris":
        main, main_err, other, other_err = "mu_star", "mu_star_conf", "sigma", None
        labels = ("mu* (mean |elementary effect|)", "sigma")
        unit = OUTPUTS[result.output].unit
        xlabel = f"{result.output} ({unit}) per whole parameter range"
    else:
        main, main_err, other, other_err = "ST", "ST_conf", "S1", "S1_conf"
        labels = ("ST (total)", "S1 (first order)")
        xlabel = f"share of the variance of {result.output}"
    h = 0.38
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.28 * len(rows)))
    ax.barh(
        y + h / 2,
        [r[main] for r in rows],
        h,
        xerr=[r[main_err] for r in rows],
        label=labels[0],
        color="#2b6ca3",
        error_kw={"lw": 0.8},
    )
    ax.barh(
        y - h / 2,
        [r[other] for r in rows],
        h,
        xerr=[r[other_err] for r in rows] if other_err else None,
        label=labels[1],
        color="#f0a030",
        error_kw={"lw": 0.8},
    )
    ax.set_yticks(y, names, fontsize=8)
    ax.axvline(0.0, color="black", lw=0.6)
    ax.set_xlabel(xlabel)
    ax.set_title(
        f"{result.method}, n = {result.n}: {result.output}\n{result.scenario}, arm {result.arm}", fontsize=9
    )
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format=path.suffix.lower()[1:], dpi=120)
    plt.close(fig)
    return path
