"""Exposure summaries: NCA per analyte, bioavailability, brain and cell exposure.

:func:`pk_run` is the engine behind ``ketasim pk``: it simulates a regimen and, for extravascular
routes, an IV bolus of the same amount, and returns the dataset with a summary in the shape of the
command-line contract (``../shared/DESIGN.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ketasim.compounds import Library, default_library
from ketasim.dosing import Dose, Regimen
from ketasim.nca import nca
from ketasim.pk.covariates import Covariates
from ketasim.pk.simulate import simulate
from ketasim.provenance import git_revision


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def analyte_table(ds: xr.Dataset, patient: int = 0) -> dict[str, dict[str, float | None]]:
    """NCA of every analyte's plasma curve for one patient, in ng/mL and µM."""
    t = ds.time.values
    out = {}
    for a in ds.analyte.values:
        ng = ds.plasma_ng_ml.sel(patient=patient, analyte=a).values
        um = ds.plasma.sel(patient=patient, analyte=a).values
        r = nca(t, np.clip(ng, 0, None))
        out[str(a)] = {
            "cmax_ng_ml": float(r.cmax),
            "cmax_um": float(um.max()),
            "tmax_h": float(r.tmax),
            "auc_ng_h_ml": _finite(r.auc_inf),
            "auc_last_ng_h_ml": float(r.auc_last),
            "auc_extrapolated_pct": _finite(r.auc_extrapolated_pct),
            "t_half_h": _finite(r.t_half),
        }
    return out


def brain_table(ds: xr.Dataset, patient: int = 0) -> dict[str, dict[str, float]]:
    """Peak brain ECF, cytosol and lysosome concentrations (µM) and ECF Tmax, per analyte."""
    t = ds.time.values
    out = {}
    for a in ds.analyte.values:
        ecf = ds.brain_ecf.sel(patient=patient, analyte=a).values
        i = int(np.argmax(ecf))
        out[str(a)] = {
            "ecf_cmax_um": float(ecf[i]),
            "ecf_tmax_h": float(t[i]),
            "cytosol_cmax_um": float(ds.cytosol.sel(patient=patient, analyte=a).max()),
            "lysosome_cmax_um": float(ds.lysosome.sel(patient=patient, analyte=a).max()),
        }
    return out


def parent_auc(ds: xr.Dataset, patient: int = 0) -> float | None:
    """AUC (ng·h/mL, to infinity) of the dosed species summed (e.g. S- plus R-ketamine)."""
    names = json.loads(ds.attrs["dosed_analytes"])
    curve = ds.plasma_ng_ml.sel(patient=patient, analyte=names).sum("analyte").values
    return _finite(nca(ds.time.values, np.clip(curve, 0, None)).auc_inf)


def receptor_summary(ds: xr.Dataset, library: Library, patient: int = 0) -> dict:
    """Peak NMDA block by cell type (reduced kinetic model) and peak occupancy of the other targets."""
    from ketasim.targets.occupancy import peak_occupancy_table
    from ketasim.targets.patient_block import nmda_block

    nb = nmda_block(ds, library).nmda_block.isel(patient=patient)
    t = ds.time.values
    block = {
        str(c): {
            "peak_block": float(nb.sel(cell_type=c).max()),
            "tmax_h": float(t[int(np.argmax(nb.sel(cell_type=c).values))]),
        }
        for c in nb.cell_type.values
    }
    occ = {k: float(v) for k, v in peak_occupancy_table(ds, library, patient=patient).items()}
    return {"nmda_block": block, "peak_occupancy": occ}


@dataclass
class PKRun:
    dataset: xr.Dataset
    summary: dict


def pk_run(
    compound: str,
    dose: str,
    route: str = "iv",
    duration: str | None = None,
    weight: float | None = None,
    horizon: float = 48.0,
    cyp2b6: str = "*1/*1",
    enzyme_factors: dict[str, float] | None = None,
    regimen: Regimen | None = None,
    library: Library | None = None,
    species: str = "human",
) -> PKRun:
    """Simulate one patient and summarise exposure (the engine behind ``ketasim pk``).

    If ``regimen`` is given it replaces the single dose built from ``dose``/``route``/``duration``.
    """
    library = library or default_library()
    comp = library.get(compound, "compound")
    if regimen is None:
        regimen = Regimen.single(Dose.parse(comp.id, dose, route, duration=duration))
    from ketasim.physiology import default_physiology

    physiology = default_physiology(species)
    w = physiology["body.reference_weight"] if weight is None else weight
    cov = Covariates.single(w, cyp2b6, enzyme_factors)
    ds = simulate(regimen, cov, horizon=horizon, library=library, physiology=physiology, species=species)
    summary: dict = {
        "compound": comp.id,
        "species": species,
        "route": ",".join(sorted(regimen.routes)),
        "analytes": analyte_table(ds),
        "bioavailability": None,
        "brain": brain_table(ds),
        "parameter_hash": ds.attrs["parameter_hash"],
        "ketasim_version": ds.attrs["ketasim_version"],
        "git_revision": git_revision(),
    }
    summary["receptors"] = receptor_summary(ds, library)
    if regimen.routes != {"iv"}:
        iv = regimen.as_iv_bolus()
        ref = simulate(iv, cov, times=ds.time.values, library=library, physiology=physiology, species=species)
        a_route, a_iv = parent_auc(ds), parent_auc(ref)
        if a_route is not None and a_iv:
            summary["bioavailability"] = a_route / a_iv
    return PKRun(ds, summary)
