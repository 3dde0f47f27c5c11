"""Shared pieces of the report's figures: embedding, percentile bands, the time axis, arm colours."""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

BAND = (5.0, 95.0)  # the percentile band drawn around every median
TIME_TICKS_H = (0, 0.5, 1, 2, 4, 8, 24, 72, 168, 336, 672, 1344)


@dataclass
class ReportFigure:
    """One embedded figure: heading, caption (plain text) and the PNG as base64."""

    title: str
    caption: str
    png: str


def png(fig: Figure, dpi: int = 90) -> str:
    """The figure as base64 PNG text (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def colours(names: list[str]) -> dict[str, tuple]:
    """A fixed colour per arm, in arm order."""
    cycle = plt.get_cmap("tab10").colors
    return {n: cycle[i % len(cycle)] for i, n in enumerate(names)}


def band(ax: Axes, t: np.ndarray, y: np.ndarray, colour, label: str | None = None, lw: float = 1.6) -> None:
    """Median (line) and 5-95th percentile band (shaded) over patients of ``y`` (patients x time)."""
    y = np.asarray(y, dtype=float)
    q = [BAND[0], 50.0, BAND[1]]
    if np.isnan(y).any():
        with warnings.catch_warnings():  # times at which no patient has a value stay blank
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, med, hi = np.nanpercentile(y, q, axis=0)
    else:
        lo, med, hi = np.percentile(y, q, axis=0)
    ax.fill_between(t, lo, hi, color=colour, alpha=0.15, lw=0)
    for edge in (lo, hi):  # thin edges keep overlapping bands of several arms apart
        ax.plot(t, edge, color=colour, lw=0.5, alpha=0.6, ls="--")
    ax.plot(t, med, color=colour, lw=lw, label=label)


def time_axis(ax: Axes, horizon_h: float, label: bool = True) -> None:
    """Hours on a symmetric-log axis (linear below 1 h), ticked at readable times up to ``horizon_h``."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
    ticks = [h for h in TIME_TICKS_H if h <= horizon_h + 1e-9]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{h:g}" for h in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0, horizon_h)
    if label:
        ax.set_xlabel("time after the first dose (h, log scale above 1 h)")
    ax.grid(alpha=0.3)
