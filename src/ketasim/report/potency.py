"""Potency strip: a compound's targets on one logarithmic concentration axis (matplotlib, Agg).

Drawn in the manner of the binding strip in Stahl's "Mechanism of action of ketamine" (Figure 1):
the most potent target on the left, weaker targets further right, and vertical lines marking the
concentrations a dose actually reaches, so one can read off which targets are engaged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ketasim.compounds import Library, default_library, target_names
from ketasim.errors import KetasimError
from ketasim.targets.occupancy import potency_strip

STATUS_MARKERS = {"measured": "o", "derived": "s", "fitted": "D", "assumed": "X"}
BOUND_PREFIX = {"lower": "≥ "}  # an affinity that is only a lower bound (nothing detected up to it)
LABEL_SPAN = (0.01, 0.8)  # axes fraction over which the labels of one side are spread
FAMILY_COLOURS = {
    "nmda": "#d62728",
    "opioid": "#1f77b4",
    "monoamine_transporter": "#2ca02c",
    "nicotinic": "#9467bd",
    "ion_channel": "#8c564b",
    "dopamine": "#e377c2",
    "serotonin": "#17becf",
    "sigma": "#bcbd22",
    "muscarinic": "#7f7f7f",
    "ampa": "#ff7f0e",
}


def _check_path(path: str | Path) -> Path:
    from ketasim.report.plots import png_path

    return png_path(path, "path")


def _check_marks(marked: Mapping[str, float] | None) -> dict[str, float]:
    if marked is None:
        return {}
    if not isinstance(marked, Mapping):
        raise KetasimError(
            "must be a mapping of label to concentration in µM",
            argument="marked_concentrations",
            fix='e.g. {"peak brain ECF, S-ketamine": 0.2}',
        )
    out = {}
    for label, value in marked.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise KetasimError(
                f"{value!r} is not a number", argument=f"marked_concentrations[{label!r}]"
            ) from None
        if not math.isfinite(v) or v <= 0:
            raise KetasimError(
                f"{value!r} µM is not a positive concentration", argument=f"marked_concentrations[{label!r}]"
            )
        out[str(label)] = v
    return out


def plot_potency_strip(
    compound_id: str,
    path: str | Path,
    library: Library | None = None,
    marked_concentrations: Mapping[str, float] | None = None,
) -> Path:
    """Write a PNG potency strip for ``compound_id`` (one row per species; a racemate gives two).

    Each target with a recorded affinity is a marker at its affinity constant (Ki, Kd, IC50 or EC50,
    µM, log axis): colour by target family, shape by status (measured, derived, assumed); a constant
    that is only a lower bound (no effect detected up to it) is labelled "≥".
    ``marked_concentrations`` maps a label to a concentration in µM (for example the peak unbound
    brain ECF concentration a dose reaches), drawn as labelled vertical lines. Returns the path.
    """
    path = _check_path(path)
    fig = potency_strip_figure(compound_id, library, marked_concentrations)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _callouts(ax, rows: list, y: float, label_size: float) -> None:
    """Label the markers of one strip: alternate targets above and below, each side's labels evenly
    spaced along the axis in order of potency (so leader lines do not cross and labels do not overlap)."""
    for side, items in ((1, rows[0::2]), (-1, rows[1::2])):
        for m, r in enumerate(items):
            anchor = LABEL_SPAN[0] + (LABEL_SPAN[1] - LABEL_SPAN[0]) * (m + 0.5) / len(items)
            ax.annotate(
                f"{r.label}: {BOUND_PREFIX.get(r.bound, '')}{r.affinity_um:.3g} µM ({r.kind})",
                (r.affinity_um, y),
                xytext=(anchor, y + side * 0.12),
                textcoords=("axes fraction", "data"),
                ha="left",
                va="bottom" if side > 0 else "top",
                rotation=30 * side,
                rotation_mode="anchor",
                fontsize=label_size,
                color="0.35" if r.status == "assumed" else "black",
                arrowprops={
                    "arrowstyle": "-",
                    "color": "0.6",
                    "lw": 0.5,
                    "shrinkA": 0,
                    "shrinkB": 4,
                    "relpos": (0.0, 0.0) if side > 0 else (0.0, 1.0),  # from the label's first letter
                },
            )


def potency_strip_figure(
    compound_id: str,
    library: Library | None = None,
    marked_concentrations: Mapping[str, float] | None = None,
    label_size: float = 6.5,
) -> Figure:
    """The potency strip of :func:`plot_potency_strip` as a matplotlib Figure (the caller saves and
    closes it); ``label_size``: font size of the target labels in points."""
    marks = _check_marks(marked_concentrations)
    library = library or default_library()
    compound = library.get(compound_id, argument="compound_id")
    species_ids = list(compound.components)
    rows = {sid: potency_strip(sid, library) for sid in species_ids}
    if not any(rows.values()):
        raise KetasimError(
            f"no target affinities are recorded for '{compound.id}'",
            argument="compound_id",
            fix="add [targets.NAME] tables to its compound file(s)",
        )
    info = target_names()
    values = [r.affinity_um for rs in rows.values() for r in rs] + list(marks.values())
    lo, hi = min(values) / 4.0, max(values) * 4.0
    fig, ax = plt.subplots(figsize=(14, 1.6 + 4.8 * len(species_ids)))
    for y, sid in enumerate(reversed(species_ids)):
        sp = library.compounds[sid]
        ax.axhline(y, color="0.85", lw=6, zorder=0, solid_capstyle="butt")
        for r in rows[sid]:
            family = str(info.get(r.target, {}).get("family", ""))
            ax.scatter(
                r.affinity_um,
                y,
                s=70,
                marker=STATUS_MARKERS.get(r.status, "o"),
                color=FAMILY_COLOURS.get(family, "black"),
                edgecolor="black",
                linewidth=0.6,
                zorder=3,
            )
        _callouts(ax, rows[sid], y, label_size)
        ax.text(
            0.005,
            y + 0.08,
            getattr(sp, "analyte", sid),
            fontsize=9,
            fontweight="bold",
            va="bottom",
            transform=ax.get_yaxis_transform(),
        )
    for j, (label, value) in enumerate(marks.items()):
        ax.axvline(value, color="black", ls="--", lw=1.1, zorder=2)
        ax.annotate(
            f"{label}: {value:.3g} µM",
            (value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -4 - (label_size + 5) * j),
            textcoords="offset points",
            fontsize=label_size + 1,
            va="top",
            ha="left",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1},
        )
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.75, len(species_ids) - 0.1)
    ax.set_yticks([])
    ax.set_xlabel("affinity constant or concentration (µM, log scale); more potent to the left")
    for status, marker in STATUS_MARKERS.items():
        if status != "fitted":
            ax.scatter([], [], marker=marker, color="white", edgecolor="black", label=status)
    ax.legend(title="status", fontsize=7, title_fontsize=7, loc="lower right", framealpha=0.8)
    ax.set_title(f"Potency strip: {compound.name}", fontsize=11)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.text(
        0.99,
        0.01,
        "Ki/Kd/IC50/EC50 as recorded in the compound files; sources in docs/sources/targets.md",
        ha="right",
        fontsize=6.5,
        color="grey",
    )
    fig.tight_layout()
    return fig
