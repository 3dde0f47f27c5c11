"""Simulate plasma, brain and cell exposure for a regimen in a batch of patients.

Returns an :class:`xarray.Dataset` with dimensions ``patient`` x ``time`` x ``analyte`` (plus the
raw states), units in each variable's attributes and provenance in the dataset's attributes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xarray as xr

from ketasim import __version__
from ketasim.compounds import Library, default_library
from ketasim.dosing import Regimen
from ketasim.engine.linear import solve_linear
from ketasim.engine.reference import solve_reference
from ketasim.engine.schedule import build_schedule
from ketasim.errors import KetasimError
from ketasim.physiology import Physiology, default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.pk.model import PKModel, build_model

SOLVERS = ("exact", "reference")


def default_times(horizon: float, regimen: Regimen, points: int = 2001) -> np.ndarray:
    """An output grid: uniform over the horizon, plus every dose event."""
    if not np.isfinite(horizon) or horizon <= 0:
        raise KetasimError(f"horizon must be positive, got {horizon} h", argument="horizon")
    grid = np.linspace(0.0, horizon, points)
    events = [d.time for d in regimen.doses] + [d.time + d.duration for d in regimen.doses]
    return np.unique(np.concatenate([grid, [e for e in events if e <= horizon]]))


def simulate(
    regimen: Regimen,
    covariates: Covariates | None = None,
    times: Sequence[float] | np.ndarray | None = None,
    horizon: float = 48.0,
    solver: str = "exact",
    library: Library | None = None,
    physiology: Physiology | None = None,
    species: str = "human",
) -> xr.Dataset:
    """Simulate ``regimen`` in ``species`` for the subjects in ``covariates`` (default: one reference
    adult)."""
    library = library or default_library()
    physiology = physiology or default_physiology(species)
    covariates = covariates or Covariates.single(physiology["body.reference_weight"])
    if solver not in SOLVERS:
        raise KetasimError(f"unknown solver '{solver}'", argument="solver", fix="use 'exact' or 'reference'")
    t = default_times(horizon, regimen) if times is None else np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0) or t[0] < 0:
        raise KetasimError("times must be increasing and non-negative", argument="times")
    model = build_model(regimen, covariates, library, physiology, species=species)
    schedule = build_schedule(model, regimen, library)
    x = (solve_linear if solver == "exact" else solve_reference)(model.A, schedule, t)
    return to_dataset(model, x, t, regimen, library)


def to_dataset(
    model: PKModel, x: np.ndarray, t: np.ndarray, regimen: Regimen, library: Library
) -> xr.Dataset:
    """The PK result as a Dataset: concentrations by analyte (with enantiomer group sums) and raw states."""
    conc = {"plasma": x[:, :, [model.state(sp.id, "central") for sp in model.species]] / model.v1[:, None, :]}
    for r in ("brain_ecf", "cytosol", "lysosome"):
        conc[r] = x[:, :, [model.state(sp.id, r) for sp in model.species]]
    ds = concentration_dataset(model, conc, t, regimen, library)
    ds["raw"] = (
        ("patient", "time", "state"),
        x,
        {"long_name": "raw model states (amounts in umol, brain/cell states in uM)"},
    )
    return ds.assign_coords(state=[s.name for s in model.states])


def concentration_dataset(
    model: PKModel, conc: dict[str, np.ndarray], t: np.ndarray, regimen: Regimen, library: Library
) -> xr.Dataset:
    """Dataset of concentrations ``conc`` (variable -> (P, T, S) µM, species in model order; variables
    plasma, brain_ecf, cytosol, lysosome), with unbound plasma, ng/mL and enantiomer group sums."""
    species = model.species
    S = len(species)
    plasma = conc["plasma"]
    P = plasma.shape[0]
    unbound = plasma * model.fu[None, None, :]

    mw = np.array([sp.mw for sp in species])
    names = [sp.analyte for sp in species]
    # group sums, e.g. ketamine = S-ketamine + R-ketamine
    groups: dict[str, list[int]] = {}
    for k, sp in enumerate(species):
        if sp.group not in names:
            groups.setdefault(sp.group, []).append(k)

    def with_groups(a: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = np.ones(S) if weights is None else weights
        extra = [np.sum(a[:, :, idx] * w[idx], axis=2) for idx in groups.values()]
        base = a * w
        return np.concatenate([base, *(e[:, :, None] for e in extra)], axis=2) if extra else base

    dims = ("patient", "time", "analyte")
    analytes = names + list(groups)
    data = {
        "plasma": (dims, with_groups(plasma), {"units": "uM", "long_name": "total plasma concentration"}),
        "plasma_ng_ml": (
            dims,
            with_groups(plasma, mw),
            {"units": "ng/mL", "long_name": "total plasma concentration"},
        ),
        "unbound": (dims, with_groups(unbound), {"units": "uM", "long_name": "unbound plasma concentration"}),
        "weight": (("patient",), model.covariates.weight, {"units": "kg"}),
    }
    labels = {
        "brain_ecf": "brain extracellular fluid",
        "cytosol": "neuronal cytosol",
        "lysosome": "lysosomal lumen",
    }
    for r, label in labels.items():
        if r in conc:
            data[r] = (dims, with_groups(conc[r]), {"units": "uM", "long_name": label})
    ds = xr.Dataset(
        data,
        coords={"patient": np.arange(P), "time": ("time", t, {"units": "h"}), "analyte": analytes},
    )
    ds.attrs.update(
        {
            "ketasim_version": __version__,
            "parameter_hash": model.sources.digest(),
            "regimen": json.dumps(regimen_record(regimen)),
            "sources": json.dumps(model.sources.records()),
            "analyte_groups": json.dumps({g: [names[i] for i in idx] for g, idx in groups.items()}),
            "dosed_analytes": json.dumps(dosed_analytes(regimen, library)),
            "species": model.species[0].species,
        }
    )
    return ds


def regimen_record(regimen: Regimen) -> list[dict]:
    return [
        {
            "compound": d.compound,
            "amount": d.amount,
            "unit": ("umol" if d.in_moles else "mg") + ("/kg" if d.per_kg else ""),
            "route": d.route,
            "time_h": d.time,
            "duration_h": d.duration,
        }
        for d in regimen.doses
    ]


def dosed_analytes(regimen: Regimen, library: Library) -> list[str]:
    out: list[str] = []
    for c in regimen.compounds:
        for sid in library.get(c).components:
            a = library.compounds[sid].analyte  # type: ignore[union-attr]
            if a not in out:
                out.append(a)
    return out


def mass_balance(model: PKModel, x: np.ndarray) -> np.ndarray:
    """Total µmol in amount states (body + depots + sinks) for each patient and time: (P, T)."""
    return x[:, :, model.amount_mask].sum(axis=2)
