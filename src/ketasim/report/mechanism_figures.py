"""The report's exposure and mechanistic figures, drawn from the detailed subset of patients
(:mod:`ketasim.report.detail`): exposure, NMDA block, off-target occupancy with potency strips,
circuit, signalling and spines. Each curve is the median over patients with a 5-95th percentile band."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ketasim.compounds import default_library
from ketasim.errors import KetasimError
from ketasim.report.detail import DetailedArm
from ketasim.report.figure_tools import ReportFigure, band, colours, png, time_axis
from ketasim.report.potency import potency_strip_figure
from ketasim.targets.occupancy import combined_occupancy

NO_DOSES = "No arm is dosed."
EXPOSURE_WINDOW_H = 48.0
RECEPTOR_WINDOW_H = 24.0


def _subset(detail: dict[str, DetailedArm]) -> str:
    n = {a.n for a in detail.values()}
    size = f"{n.pop()} patients" if len(n) == 1 else "a subset of patients"
    return (
        f"Detailed model: the first {size} of each arm (the trial's own sampled patients), solved again "
        "by the same engine with every variable kept; lines are medians, shaded bands 5th-95th percentiles."
    )


def _dosed(detail: dict[str, DetailedArm]) -> list[DetailedArm]:
    return [a for a in detail.values() if a.pk is not None]


def _summed_analytes(arm: DetailedArm) -> list[str]:
    """One curve per enantiomer group (e.g. ketamine, norketamine): analytes ever above 0.01 ng/mL."""
    groups = json.loads(arm.pk.attrs["analyte_groups"])
    members = {m for ms in groups.values() for m in ms}
    names = [str(a) for a in arm.pk.analyte.values if str(a) in groups or str(a) not in members]
    return [a for a in names if float(arm.pk.plasma_ng_ml.sel(analyte=a).max()) >= 0.01]


def exposure_figure(detail: dict[str, DetailedArm], horizon_h: float) -> ReportFigure | str:
    """Plasma (ng/mL) and brain extracellular (µM) concentrations of the parent and its metabolites."""
    arms = _dosed(detail)
    if not arms:
        return NO_DOSES
    window = min(horizon_h, EXPOSURE_WINDOW_H)
    fig, axes = plt.subplots(len(arms), 2, figsize=(11, 3.6 * len(arms)), squeeze=False)
    cmap = plt.get_cmap("tab10").colors
    for row, arm in zip(axes, arms, strict=True):
        t = arm.pk.time.values
        keep = t <= window + 1e-9
        for i, a in enumerate(_summed_analytes(arm)):
            colour = cmap[i % len(cmap)]
            for ax, var, floor in ((row[0], "plasma_ng_ml", 1e-2), (row[1], "brain_ecf", 1e-5)):
                y = arm.pk[var].sel(analyte=a).values[:, keep]
                band(ax, t[keep], np.where(y > floor, y, np.nan), colour, label=a)
        row[0].set(yscale="log", ylabel="plasma, total (ng/mL, log)", title=f"{arm.name}: plasma")
        row[1].set(yscale="log", ylabel="brain ECF, unbound (µM, log)", title=f"{arm.name}: brain ECF")
        for ax in row:
            time_axis(ax, window)
            ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    caption = (
        "Plasma total concentration of the dosed drug and its metabolites (enantiomers summed) and the "
        f"unbound brain extracellular concentration, first {window:g} h. " + _subset(detail)
    )
    return ReportFigure("Exposure: plasma and brain", caption, png(fig))


def _nmda_effect(arm: DetailedArm) -> float:
    """Largest channel block or allosteric inhibition of any NMDA receptor in the arm (0-1)."""
    ds = arm.model
    return max(float(ds.nmda_block.max()), float(np.nan_to_num(ds.nam_inhibition.values).max()))


def block_figure(detail: dict[str, DetailedArm], horizon_h: float) -> ReportFigure | str:
    """Fraction of NMDA receptors blocked, by cell type (panels) and GluN2 subunit (colours), and the
    fraction of current removed by allosteric modulators (dotted); arms where neither reaches 0.1% are
    named in the caption instead."""
    dosed = _dosed(detail)
    arms = [a for a in dosed if _nmda_effect(a) >= 1e-3]
    if not arms:
        return "No arm blocks or allosterically inhibits NMDA receptors by 0.1% or more."
    without = [a.name for a in dosed if a not in arms]
    window = min(horizon_h, RECEPTOR_WINDOW_H)
    cells = [str(c) for c in arms[0].model.cell_type.values]
    subunits = [str(s) for s in arms[0].model.subunit.values]
    fig, axes = plt.subplots(len(arms), len(cells), figsize=(12, 3.3 * len(arms)), squeeze=False)
    sub_colour = colours(subunits)
    for row, arm in zip(axes, arms, strict=True):
        ds = arm.model
        t = ds.time.values
        keep = t <= window + 1e-9
        for ax, cell in zip(row, cells, strict=True):
            for s in arm.expressed.get(cell, subunits):
                y = ds.nmda_block_by_subunit.sel(cell_type=cell, subunit=s).values[:, keep]
                if not np.all(np.isnan(y)):
                    band(ax, t[keep], y, sub_colour[s], label=s, lw=1.2)
                nam = ds.nam_inhibition.sel(subunit=s).values[:, keep]
                if np.nanmax(nam) >= 1e-3:
                    med = np.median(nam, axis=0)
                    ax.plot(t[keep], med, ":", color=sub_colour[s], lw=1.6, label=f"{s} allosteric")
            total = ds.nmda_block.sel(cell_type=cell).values[:, keep]
            band(ax, t[keep], total, "black", label="all (weighted)")
            ax.set(title=f"{arm.name}: {cell}", ylabel="fraction blocked (or inhibited)")
            ax.set_ylim(bottom=0)
            time_axis(ax, window)
            ax.legend(fontsize=7)
    fig.tight_layout()
    caption = (
        "NMDA receptor channel block by cell type (pyramidal cells, PV and SST interneurons) and GluN2 "
        "subunit, from the channel-block kinetics at resting activity; black: all receptors of the cell "
        "weighted by expression; dotted: median fraction of current removed by allosteric modulators "
        f"(where above 0.1%). First {window:g} h. "
        + (f"No NMDA block or inhibition (below 0.1%) in: {', '.join(without)}. " if without else "")
        + _subset(detail)
    )
    return ReportFigure("NMDA receptor block by subunit and cell type", caption, png(fig))


def occupancy_figure(detail: dict[str, DetailedArm], horizon_h: float, top: int = 8) -> ReportFigure | str:
    """Occupancy of the other targets (all analytes competing), the ``top`` most occupied per arm."""
    arms = _dosed(detail)
    if not arms:
        return NO_DOSES
    window = min(horizon_h, RECEPTOR_WINDOW_H)
    fig, axes = plt.subplots(len(arms), 1, figsize=(9, 3.4 * len(arms)), squeeze=False)
    cmap = plt.get_cmap("tab10").colors
    for ax, arm in zip(axes[:, 0], arms, strict=True):
        occ = combined_occupancy(arm.model, arm.library, "brain_ecf")
        t = occ.time.values
        keep = t <= window + 1e-9
        peaks = occ.median("patient").max("time")
        order = [int(i) for i in np.argsort(-np.nan_to_num(peaks.values, nan=-1.0)) if peaks.values[i] > 1e-3]
        for k, j in enumerate(order[:top]):
            label = str(occ.target_label.values[j])
            readout = str(occ.readout.values[j])
            suffix = "" if readout == "occupancy" else f" ({readout})"
            band(ax, t[keep], occ.isel(target=j).values[:, keep], cmap[k % len(cmap)], label=label + suffix)
        ax.set(title=f"{arm.name}", ylabel="fraction occupied (equilibrium)")
        ax.set_ylim(0, 1)
        time_axis(ax, window)
        if order:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.text(0.5, 0.5, "no target occupied above 0.1%", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    caption = (
        "Equilibrium occupancy of receptors, transporters and channels other than the NMDA channel site, "
        "from the unbound brain extracellular concentrations of every analyte competing for each site "
        f"(most occupied targets shown), first {window:g} h. " + _subset(detail)
    )
    return ReportFigure("Off-target occupancy", caption, png(fig))


def potency_figures(detail: dict[str, DetailedArm]) -> list[ReportFigure]:
    """A potency strip per dosed compound, marking the median peak brain ECF concentration reached."""
    out = []
    seen = set()
    for arm in _dosed(detail):
        library = arm.library or default_library()
        for dose in arm.compounds:
            if dose in seen:
                continue
            seen.add(dose)
            compound = library.get(dose, "compound")
            species = [library.compounds[s].analyte for s in compound.components]
            marks = {}
            for sp in species:
                if sp in arm.model.analyte.values:
                    peak = np.median(arm.model.brain_ecf.sel(analyte=sp).max("time").values)
                    if peak > 0:
                        marks[f"{arm.name}: median peak brain ECF {sp}"] = float(peak)
            try:
                fig = potency_strip_figure(dose, library, marks, label_size=8.5)
            except KetasimError:  # no recorded target affinities for this compound
                continue
            caption = (
                f"Affinity constants of {compound.name} for its targets (recorded in the compound files), "
                "with dashed lines at the median peak unbound brain ECF concentration reached in arm "
                f"'{arm.name}' (detailed subset): a target whose marker lies left of a line is engaged."
            )
            out.append(ReportFigure(f"Potency strip: {compound.name}", caption, png(fig, dpi=80)))
    return out


def _arm_panels(
    detail: dict[str, DetailedArm],
    horizon_h: float,
    panels: list[tuple[str, str]],
    ncols: int,
    ylabel: str,
    per_patient_baseline: bool = False,
) -> plt.Figure:
    """A panel per variable, a median and band per arm; with ``per_patient_baseline`` each patient's
    series is divided by its own value before the first dose (time 0)."""
    names = list(detail)
    arm_colour = colours(names)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.1 * ncols, 3.1 * nrows), squeeze=False)
    for ax, (var, title) in zip(axes.flat, panels, strict=False):
        for name, arm in detail.items():
            ds = arm.model
            y = ds[var].values
            if per_patient_baseline:
                y = y / y[:, :1]
            band(ax, ds.time.values, y, arm_colour[name], label=name)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        time_axis(ax, horizon_h)
        ax.xaxis.label.set_fontsize(7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


CIRCUIT = [
    ("glutamate", "glutamate release"),
    ("pyramidal_rate", "pyramidal cell firing"),
    ("pv_rate", "PV interneuron firing"),
    ("sst_rate", "SST interneuron firing"),
    ("resting_nmda_ca", "resting NMDA Ca2+ signal (pyramidal)"),
    ("gamma_proxy", "gamma-band drive proxy"),
]
SIGNALLING = [
    ("p_eef2_relative", "p-eEF2"),
    ("bdnf", "BDNF release"),
    ("mtorc1", "mTORC1 activity"),
    ("gsk3", "GSK-3 activity"),
    ("synaptic_protein", "synaptic protein"),
    ("surface_ampa", "surface AMPA receptors"),
]


def circuit_figure(detail: dict[str, DetailedArm], horizon_h: float) -> ReportFigure:
    fig = _arm_panels(detail, horizon_h, CIRCUIT, 3, "relative to drug-free (= 1)")
    caption = (
        "Prefrontal circuit at quasi-steady state: glutamate release, firing of pyramidal cells and PV and "
        "SST interneurons, the resting NMDA Ca2+ signal of pyramidal dendrites and a gamma-band drive proxy, "
        "each relative to the same patient's drug-free value. " + _subset(detail)
    )
    return ReportFigure("Circuit", caption, png(fig))


def signalling_figure(detail: dict[str, DetailedArm], horizon_h: float) -> ReportFigure:
    fig = _arm_panels(detail, horizon_h, SIGNALLING, 3, "fold of pre-dose level", per_patient_baseline=True)
    caption = (
        "Signalling cascade: eEF2 phosphorylation, BDNF release, mTORC1 and GSK-3 activity, synaptic "
        "protein and surface AMPA receptors, each patient's level divided by its own level before the "
        "dose (patients start at different levels, e.g. by BDNF Val66Met genotype). " + _subset(detail)
    )
    return ReportFigure("Signalling", caption, png(fig))


def spine_figure(detail: dict[str, DetailedArm], horizon_h: float) -> ReportFigure:
    names = list(detail)
    arm_colour = colours(names)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.7))
    for name, arm in detail.items():
        ds = arm.model
        t = ds.time.values
        spines = ds.spine_density.values
        strength = (ds.spine_density * ds.surface_ampa).values
        band(axes[0], t, spines, arm_colour[name], label=name)
        band(axes[1], t, 100.0 * (spines / spines[:, :1] - 1.0), arm_colour[name], label=name)
        band(axes[2], t, 100.0 * (strength / strength[:, :1] - 1.0), arm_colour[name], label=name)
    axes[0].set(title="spine density", ylabel="relative to healthy drug-free (= 1)")
    axes[1].set(title="spine density, change", ylabel="% change from pre-dose")
    axes[2].set(title="synaptic strength (spines x surface AMPA)", ylabel="% change from pre-dose")
    for ax in axes:
        time_axis(ax, horizon_h)
        ax.xaxis.label.set_fontsize(7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    caption = (
        "Prefrontal dendritic spine density (relative to the healthy drug-free density; depression "
        "starts below 1) and its change, and the change in synaptic strength (spine density x surface "
        "AMPA receptors), which drives the depression score, from each patient's pre-dose level. "
        + _subset(detail)
    )
    return ReportFigure("Spines and synaptic strength", caption, png(fig))
