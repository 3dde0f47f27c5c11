"""Assembles the scales for one arm: dose -> PK -> NMDA block -> circuit -> signalling -> spines.

Data flow down only. Fast scales are taken at quasi-steady state (receptor block is solved with
its own kinetics in :mod:`ketasim.targets.patient_block`; the circuit settles within milliseconds),
the signalling cascade and the spines are integrated as ODEs driven by the route inputs.

Each mechanism switch gates one route (``data/mechanisms.toml``). A route that is off sees the
drug-free value of its input for the same subject, so switching it off removes that route and
nothing else. Perturbations (``data/perturbations.toml``) only change parameters and NMDA
receptor expression.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import xarray as xr

from ketasim import __version__
from ketasim.circuit.network import POPULATIONS, pv_ampa_drive
from ketasim.compounds import Library
from ketasim.engine.staged import ALL_CONCENTRATIONS, Trajectories, solve_arm
from ketasim.model_assembly import ArmModel, ModelParams, assemble, base_cascade, model_params
from ketasim.pk.covariates import Covariates
from ketasim.pk.simulate import concentration_dataset
from ketasim.scenario import Arm, Scenario
from ketasim.signalling import cascade
from ketasim.targets.patient_block import block_variables

__all__ = ["ModelParams", "base_cascade", "model_params", "output_times", "run_arm", "series", "to_xarray"]


def output_times(horizon_h: float, doses_at: list[float] | None = None) -> np.ndarray:
    """Every 5 min over the first day (and after each dose), hourly after."""
    early = np.linspace(0.0, min(horizon_h, 24.0), int(min(horizon_h, 24.0) * 12) + 1)
    late = np.arange(24.0, horizon_h + 1e-9, 1.0) if horizon_h > 24 else np.array([])
    extra = []
    for t0 in doses_at or []:
        if 0 < t0 < horizon_h:
            extra.append(np.linspace(t0, min(t0 + 12.0, horizon_h), 145))
    t = np.unique(np.concatenate([early, late, *extra, [horizon_h]]))
    return t[t <= horizon_h + 1e-12]


def run_arm(
    scenario: Scenario,
    arm: Arm | str,
    covariates: Covariates | None = None,
    times: np.ndarray | None = None,
    library: Library | None = None,
    mechanisms: frozenset[str] | None = None,
    patient_params: Mapping[str, np.ndarray] | None = None,
    cascade_method: str = "compiled",
    concentrations: tuple[str, ...] = ALL_CONCENTRATIONS,
) -> xr.Dataset:
    """Simulate one arm for the subjects in ``covariates`` (default: the species' reference subject).

    ``patient_params`` gives per-patient values (arrays of length P) of cascade parameters, e.g. the
    BDNF release factor of each patient's Val66Met genotype."""
    model = assemble(scenario, arm, covariates, library, mechanisms, patient_params)
    t = (
        output_times(scenario.horizon_h, [d.time for d in model.arm.regimen.doses])
        if times is None
        else np.asarray(times, dtype=float)
    )
    return to_xarray(model, solve_arm(model, t, cascade_method, concentrations))


def to_xarray(model: ArmModel, sol: Trajectories) -> xr.Dataset:
    """The arm's result as a Dataset (patient x time [x cell_type, subunit, analyte]) with provenance."""
    P, t = model.n_patients, sol.t
    cells, subs = list(POPULATIONS), model.subunits
    data = {}
    for i, name in enumerate(cascade.STATES):
        data[name] = (("patient", "time"), sol.y[..., i])
    p0 = np.asarray(model.cascade_p["eef2.baseline_phospho"], dtype=float)  # scalar or one per patient
    p0 = p0[:, None] if p0.ndim else p0
    data["p_eef2_relative"] = (("patient", "time"), sol.y[..., cascade.IX["p_eef2"]] / p0)
    spines = sol.y[..., cascade.IX["spine_density"]] - sol.y[..., cascade.IX["persistent_spines"]]
    data["new_spines"] = (("patient", "time"), spines, {"long_name": "new, not yet persistent spines (rel.)"})
    for name, i in cascade.UX.items():
        data[f"input_{name}"] = (("patient", "time"), sol.u[..., i])
    by_sub = np.full((P, t.size, len(cells), len(subs)), np.nan)
    total = np.zeros((P, t.size, len(cells)))
    for j, term in enumerate(model.block_terms):
        by_sub[:, :, term.cell, term.subunit] = sol.block[..., j]
        total[:, :, term.cell] += term.share * sol.block[..., j]
    r = sol.rates
    glu = model.circuit["outputs.release_factor"] * r[..., 0]
    dims = ("patient", "time")
    data.update(
        {
            "pyramidal_rate": (dims, r[..., 0], {"units": "1", "long_name": "pyramidal firing (rel.)"}),
            "pv_rate": (dims, r[..., 1], {"units": "1", "long_name": "PV interneuron firing (rel.)"}),
            "sst_rate": (dims, r[..., 2], {"units": "1", "long_name": "SST interneuron firing (rel.)"}),
            "glutamate": (dims, glu, {"units": "1", "long_name": "glutamate release (rel.)"}),
            "gamma_proxy": (dims, pv_ampa_drive(r, model.circuit), {"units": "1"}),
            "resting_nmda_ca": (
                dims,
                sol.available[..., 0],
                {"units": "1", "long_name": "resting NMDA Ca2+ of pyramidal dendrites (rel.)"},
            ),
            **block_variables(sol.nam, total, by_sub),
            "nmda_available": (("patient", "time", "cell_type"), sol.available),
            "sedation": (dims, sol.sedation),
        }
    )
    ds = xr.Dataset(data, coords={"patient": np.arange(P), "time": t, "cell_type": cells, "subunit": subs})
    if model.pk is not None:
        pk = concentration_dataset(model.pk, sol.conc, t, model.arm.regimen, model.library)
        for v in ("plasma", "brain_ecf", "cytosol", "lysosome"):
            if v in pk:
                ds[v] = pk[v].assign_coords(patient=np.arange(P))
    on = model.mechanisms
    ds.attrs.update(
        {
            "ketasim_version": __version__,
            "species": model.scenario.species,
            "arm": model.arm.name,
            "mechanisms": ",".join(sorted(on)),
            "perturbations": ",".join(model.arm.perturbations),
            "scenario": json.dumps(model.scenario.record()),
            "parameter_hash": model.parameter_hash(),
            "downstream_sources": json.dumps(model.params.sources().records()),
        }
    )
    return ds


def series(ds: xr.Dataset, patient: int = 0) -> dict[str, list[float]]:
    """The named time series of ``ketasim simulate --json`` for one subject."""

    def conc(var: str, analyte: str) -> np.ndarray:
        if var in ds and analyte in ds.analyte.values:
            return ds[var].sel(analyte=analyte).isel(patient=patient).values
        return np.zeros(ds.time.size)

    block = ds.nmda_block.isel(patient=patient)
    out = {
        "plasma_ketamine_um": conc("plasma", "ketamine"),
        "brain_ketamine_um": conc("brain_ecf", "ketamine"),
        "nmda_block_pyramidal": block.sel(cell_type="pyramidal").values,
        "nmda_block_interneuron": block.sel(cell_type=["pv", "sst"]).mean("cell_type").values,
        "nmda_block_pv": block.sel(cell_type="pv").values,
        "nmda_block_sst": block.sel(cell_type="sst").values,
        "glutamate": ds.glutamate.isel(patient=patient).values,
        "pyramidal_rate": ds.pyramidal_rate.isel(patient=patient).values,
        "gamma_proxy": ds.gamma_proxy.isel(patient=patient).values,
        "resting_nmda_ca": ds.resting_nmda_ca.isel(patient=patient).values,
        "p_eef2": ds.p_eef2_relative.isel(patient=patient).values,
        "bdnf": ds.bdnf.isel(patient=patient).values,
        "mtorc1": ds.mtorc1.isel(patient=patient).values,
        "gsk3": ds.gsk3.isel(patient=patient).values,
        "synaptic_protein": ds.synaptic_protein.isel(patient=patient).values,
        "surface_ampa": ds.surface_ampa.isel(patient=patient).values,
        "spine_density": ds.spine_density.isel(patient=patient).values,
    }
    return {k: [float(x) for x in np.asarray(v)] for k, v in out.items()}
