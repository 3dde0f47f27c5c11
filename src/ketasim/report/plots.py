"""Exposure plots (matplotlib, non-interactive backend)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ketasim.output_paths import checked_output


def png_path(path: str | Path, argument: str) -> Path:
    """``path`` as a Path if it names a .png file in an existing folder; a clear error otherwise."""
    return checked_output(path, (".png",), argument)


def plot_exposure(ds: xr.Dataset, path: str | Path, title: str = "", patient: int = 0) -> Path:
    """PNG with every analyte's plasma concentration (linear and log) and brain/cell levels."""
    path = png_path(path, "--plot")
    t = ds.time.values
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    groups = json.loads(ds.attrs.get("analyte_groups", "{}"))
    members = {m for ms in groups.values() for m in ms}
    colours = plt.get_cmap("tab20").colors
    for i, a in enumerate(ds.analyte.values):
        y = ds.plasma_ng_ml.sel(patient=patient, analyte=a).values
        if y.max() <= 0:
            continue
        summed = str(a) in groups
        style = {
            "color": colours[i % len(colours)],
            "lw": 2.2 if summed else 1.2,
            "ls": "-" if summed else "--",
        }
        if summed or str(a) not in members:  # linear panel: one curve per analyte group
            axes[0].plot(t, y, label=str(a), **style)
        axes[1].semilogy(t, np.where(y > y.max() * 1e-4, y, np.nan), label=str(a), **style)
    axes[0].set(xlabel="time (h)", ylabel="plasma (ng/mL)", title="Plasma, total (enantiomers summed)")
    axes[1].set(
        xlabel="time (h)", ylabel="plasma (ng/mL, log)", title="Plasma by species (dashed) and sum (solid)"
    )
    dosed_species = json.loads(ds.attrs.get("dosed_analytes", "[]"))
    owner = {m: g for g, ms in groups.items() for m in ms}
    dosed = list(dict.fromkeys(owner.get(a, a) for a in dosed_species))[:1]
    styles = {"unbound": "-", "brain_ecf": "--", "cytosol": ":", "lysosome": "-."}
    for a in dosed:
        for var, ls in styles.items():
            axes[2].semilogy(
                t, np.clip(ds[var].sel(patient=patient, analyte=a).values, 1e-6, None), ls, label=f"{a} {var}"
            )
    axes[2].set(
        xlabel="time (h)",
        ylabel="concentration (µM, log)",
        title="Unbound plasma, brain ECF, cytosol, lysosome",
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or "ketasim exposure")
    fig.text(
        0.99,
        0.01,
        f"ketasim {ds.attrs.get('ketasim_version')} · parameters {ds.attrs.get('parameter_hash')}",
        ha="right",
        fontsize=7,
        color="grey",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
