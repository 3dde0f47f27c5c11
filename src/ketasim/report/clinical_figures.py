"""The report's clinical figures, from every patient of the trial: MADRS percentile bands, response and
remission with published points, dissociation, blood pressure and the parent drug in plasma."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ketasim.report.figure_tools import ReportFigure, band, colours, png
from ketasim.trial import TrialResult
from ketasim.trial_statistics import remitters, responders, wilson_ci

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
EARLY_H = 6.0


def _everyone(result: TrialResult) -> str:
    n = {a.n for a in result.arms.values()}
    size = f"{n.pop()} patients per arm" if len(n) == 1 else "every patient"
    return f"Full trial ({size}, seed {result.seed})."


def madrs_figure(result: TrialResult) -> ReportFigure:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 2]})
    arm_colour = colours(list(result.arms))
    for name, a in result.arms.items():
        lo, q1, med, q3, hi = np.percentile(a.madrs, [5, 25, 50, 75, 95], axis=0)
        c = arm_colour[name]
        for ax, scale, keep in ((axes[0], 1.0, a.times <= 24.0 + 1e-9), (axes[1], 24.0, a.times >= 0)):
            t = a.times[keep] / scale
            ax.fill_between(t, lo[keep], hi[keep], color=c, alpha=0.10, lw=0)
            ax.fill_between(t, q1[keep], q3[keep], color=c, alpha=0.22, lw=0)
            ax.plot(t, med[keep], color=c, lw=1.8, label=name)
    axes[0].set(xlabel="hour after the first dose", title="First 24 h", xlim=(0, 24), xticks=range(0, 25, 4))
    axes[1].set(xlabel="day after the first dose", title="Whole follow-up")
    for ax in axes:
        ax.set(ylabel="MADRS total score (points)", ylim=(0, 60))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    caption = (
        "MADRS total score: median (line), 25th-75th (dark band) and 5th-95th percentiles (light band) "
        "over patients, including rating noise at every time. " + _everyone(result)
    )
    return ReportFigure("Depression score (MADRS)", caption, png(fig))


def _rate_with_ci(hits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = hits.sum(axis=0)
    ci = wilson_ci(x, np.full_like(x, hits.shape[0]))
    return x / hits.shape[0], np.asarray(ci.lower), np.asarray(ci.upper)


def response_figure(result: TrialResult) -> ReportFigure:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    arm_colour = colours(list(result.arms))
    for name, a in result.arms.items():
        t = a.times / 24.0
        base = a.frame["madrs_baseline"].to_numpy()
        for ax, hits in (
            (axes[0], responders(base, a.madrs)),
            (axes[1], remitters(a.madrs)),
        ):
            rate, lo, hi = _rate_with_ci(np.asarray(hits, dtype=bool))
            ax.fill_between(t[1:], lo[1:], hi[1:], color=arm_colour[name], alpha=0.15, lw=0)
            ax.plot(t[1:], rate[1:], color=arm_colour[name], label=name)
        for h, r, src in LITERATURE.get(name, []):
            axes[0].plot(h / 24.0, r, "o", color=arm_colour[name], markerfacecolor="none", markersize=8)
            axes[0].annotate(
                src,
                (h / 24.0, r),
                xytext=(6, 4),
                textcoords="offset points",
                fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1},
            )
    axes[0].set(ylabel="responders (MADRS fall >= 50%)", title="Response")
    axes[1].set(ylabel="remitters (MADRS <= 10)", title="Remission")
    for ax in axes:
        ax.set(xlabel="day after the first dose", ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    caption = (
        "Fraction of patients responding and remitting over time, with Wilson 95% confidence bands; "
        "open circles are published response rates (labelled; the Murrough 2013 points were used for "
        "calibration, the others were not). " + _everyone(result)
    )
    return ReportFigure("Response and remission with published points", caption, png(fig))


def safety_figure(result: TrialResult) -> ReportFigure:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    arm_colour = colours(list(result.arms))
    for name, a in result.arms.items():
        h = a.times <= EARLY_H + 1e-9
        t = a.times[h]
        band(axes[0], t, a.cadss[:, h], arm_colour[name], label=name)
        band(axes[1], t, a.sbp_rise[:, h], arm_colour[name], label=name)
        band(axes[2], t, a.plasma_parent_um[:, h], arm_colour[name], label=name)
    axes[0].set(ylabel="CADSS rise (points)", title="Dissociation")
    axes[1].set(ylabel="systolic blood pressure rise (mmHg)", title="Blood pressure")
    axes[2].set(ylabel="plasma parent drug, total (µM)", title="Exposure (dosed species summed)")
    for ax in axes:
        ax.set_xlabel("hour after the first dose")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    caption = (
        f"Dissociation (CADSS rise above baseline), systolic blood pressure rise and the parent drug's "
        f"plasma concentration over the first {EARLY_H:g} h: medians with 5th-95th percentile bands. "
        + _everyone(result)
    )
    return ReportFigure("Dissociation and blood pressure", caption, png(fig))
