"""Outputs of the global sensitivity analysis, evaluated for a batch of virtual patients.

Each sample of a sensitivity design is one virtual patient with its own parameter values. A batch
runs the mechanistic model once for every distinct set of cascade and PK values (cascade values
through ``run_arm(..., patient_params=...)``, the clearance factor on the CYP3A4 and CYP2B6
activities as in :func:`ketasim.trial.simulate_arm`), then the clinical layer for every sample
with its own clinical parameter values (:mod:`ketasim.clinical.scores` takes one value per patient).
Samples that differ only in clinical parameters share one model run.

The evaluation is deterministic: the species' reference subject (reference weight, CYP2B6 *1/*1,
BDNF Val/Val), mood sensitivity 1 (the median patient at BMI 30 without a family history of
alcohol use disorder), placebo response at its median (factor 1: MADRS changes include the placebo
response of the arm, ``drug_effect_24h`` excludes it), age 45 for blood pressure, the population's
mean baseline MADRS, and no rating noise.

:func:`evaluate` is a module-level function of one picklable :class:`Batch`, so batches run in
local processes or on a Dask cluster (:func:`ketasim.scale.executor.map_chunks`) with identical
results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ketasim.clinical import scores
from ketasim.model import run_arm
from ketasim.parameter_sets import packaged
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.scenario import Scenario

REFERENCE_AGE_Y = 45.0  # blood-pressure rise has no age term at 45 (data/clinical.toml)
NUMERICAL_FAILURES = (RuntimeError, ArithmeticError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class Output:
    """A scalar read-out of one virtual patient."""

    name: str
    hours: float  # the latest time the read-out needs (h)
    clinical: bool  # needs the clinical layer (human scenarios only)
    unit: str
    description: str


_CHANGE = "MADRS change from baseline with the placebo response (negative = better) at"
OUTPUTS: dict[str, Output] = {
    o.name: o
    for o in (
        Output("madrs_change_24h", 24.0, True, "points", f"{_CHANGE} 24 h"),
        Output("madrs_change_7d", 168.0, True, "points", f"{_CHANGE} 7 d"),
        Output("drug_effect_24h", 24.0, True, "1", "symptoms relieved by the drug at 24 h (fraction)"),
        Output("peak_cadss", 0.0, True, "points", "peak CADSS increase"),
        Output("systolic_rise_peak", 0.0, True, "mmHg", "peak systolic blood pressure rise (age 45)"),
        Output("peak_nmda_block", 0.0, False, "1", "peak fraction of pyramidal-cell NMDA receptors blocked"),
        Output("mtorc1_peak", 0.0, False, "1", "peak mTORC1 activity (relative to baseline)"),
        Output("bdnf_peak", 0.0, False, "1", "peak dendritic BDNF (relative to baseline)"),
        Output("surface_ampa_2h", 2.0, False, "1", "surface AMPA receptors at 2 h (relative)"),
        Output("synaptic_protein_24h", 24.0, False, "1", "synaptic protein at 24 h (relative)"),
        Output("spine_density_24h", 24.0, False, "1", "spine density at 24 h (relative to healthy adults)"),
        Output("spine_density_7d", 168.0, False, "1", "spine density at 7 d (relative to healthy adults)"),
        Output("spine_gain_7d", 168.0, False, "1", "spine density gained by 7 d (minus before the dose)"),
    )
}


@dataclass(frozen=True)
class Batch:
    """Samples evaluated together: ``runs`` distinct model runs, ``run_of`` the run of each sample."""

    scenario: Scenario
    arm: str
    mechanisms: frozenset[str] | None
    cascade_names: tuple[str, ...]  # columns of ``runs`` given to run_arm as patient_params
    pk_names: tuple[str, ...]  # further columns of ``runs``: covariate factors (clearance_factor)
    runs: np.ndarray  # (U, len(cascade_names) + len(pk_names))
    clinical_names: tuple[str, ...]  # columns of ``clinical``
    clinical: np.ndarray  # (n, len(clinical_names))
    run_of: np.ndarray  # (n,) index into ``runs``
    outputs: tuple[str, ...]
    baseline_madrs: float


def _covariates(batch: Batch, runs: np.ndarray) -> Covariates:
    weight = default_physiology(batch.scenario.species)["body.reference_weight"]
    factors = {}
    k = len(batch.cascade_names)
    for j, name in enumerate(batch.pk_names):
        if name == "clearance_factor":
            factors = {"CYP3A4": runs[:, k + j], "CYP2B6": runs[:, k + j]}
    return Covariates.batch(np.full(runs.shape[0], weight), None, factors)


def _simulate(batch: Batch, runs: np.ndarray) -> xr.Dataset:
    patient = {name: runs[:, j] for j, name in enumerate(batch.cascade_names)}
    return run_arm(
        batch.scenario,
        batch.arm,
        _covariates(batch, runs),
        mechanisms=batch.mechanisms,
        patient_params=patient,
    )


TRACES = ("surface_ampa", "spine_density", "mtorc1", "bdnf", "synaptic_protein")


def _traces(ds: xr.Dataset) -> dict[str, np.ndarray]:
    out = {k: ds[k].values for k in TRACES}
    out["block"] = ds.nmda_block.sel(cell_type="pyramidal").values
    out["sedation"] = ds.sedation.values
    return out


def simulate_runs(batch: Batch) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """Times, traces (run, time) of every run, and the parameter hash of the arm.

    A run whose model fails numerically gives NaN traces (recorded, not fatal): the batch is tried
    whole, and on failure run by run."""
    try:
        ds = _simulate(batch, batch.runs)
        return ds.time.values, _traces(ds), ds.attrs["parameter_hash"]
    except NUMERICAL_FAILURES:
        pass
    t, traces, digest = None, None, ""
    U = batch.runs.shape[0]
    for i in range(U):
        try:
            ds = _simulate(batch, batch.runs[i : i + 1])
        except NUMERICAL_FAILURES:
            continue
        if traces is None:
            t, digest = ds.time.values, ds.attrs["parameter_hash"]
            traces = {k: np.full((U, t.size), np.nan) for k in (*TRACES, "block", "sedation")}
        for k, v in _traces(ds).items():
            traces[k][i] = v[0]
    if traces is None:
        raise RuntimeError("the model failed for every sample of a batch")
    return t, traces, digest


def _at(t: np.ndarray, hours: float) -> int:
    return int(np.argmin(np.abs(t - hours)))


def read_outputs(
    t: np.ndarray,
    traces: dict[str, np.ndarray],
    clinical: dict[str, float | np.ndarray],
    names: tuple[str, ...],
    baseline_madrs: float,
    administrations: tuple[float, ...] = (0.0,),
) -> np.ndarray:
    """Outputs (n, len(names)) of n patients from their traces (n, T) and clinical parameters;
    ``administrations`` (h) are the arm's dose start times, which re-engage the placebo response."""
    n = traces["block"].shape[0]
    values: dict[str, Callable[[], np.ndarray]] = {
        "peak_nmda_block": lambda: traces["block"].max(axis=1),
        "mtorc1_peak": lambda: traces["mtorc1"].max(axis=1),
        "bdnf_peak": lambda: traces["bdnf"].max(axis=1),
        "surface_ampa_2h": lambda: traces["surface_ampa"][:, _at(t, 2.0)],
        "synaptic_protein_24h": lambda: traces["synaptic_protein"][:, _at(t, 24.0)],
        "spine_density_24h": lambda: traces["spine_density"][:, _at(t, 24.0)],
        "spine_density_7d": lambda: traces["spine_density"][:, _at(t, 168.0)],
        "spine_gain_7d": lambda: traces["spine_density"][:, _at(t, 168.0)] - traces["spine_density"][:, 0],
    }
    if any(OUTPUTS[k].clinical for k in names):
        ones = np.ones(n)
        strength = traces["surface_ampa"] * traces["spine_density"]
        drug = scores.drug_effect(t, strength, strength[:, 0], ones, clinical)
        cadss = scores.dissociation(t, traces["block"], clinical)
        notice = scores.noticeability(cadss, traces["sedation"], clinical)
        placebo = scores.placebo_fraction(t, notice, ones, clinical, administrations)
        madrs = scores.madrs(np.full(n, baseline_madrs), placebo, drug, np.zeros_like(drug))
        sbp = scores.systolic_rise(t, traces["block"], np.full(n, REFERENCE_AGE_Y), clinical)
        values.update(
            {
                "madrs_change_24h": lambda: madrs[:, _at(t, 24.0)] - baseline_madrs,
                "madrs_change_7d": lambda: madrs[:, _at(t, 168.0)] - baseline_madrs,
                "drug_effect_24h": lambda: drug[:, _at(t, 24.0)],
                "peak_cadss": lambda: cadss.max(axis=1),
                "systolic_rise_peak": lambda: sbp.max(axis=1),
            }
        )
    return np.stack([values[k]() for k in names], axis=-1)


def evaluate(batch: Batch) -> tuple[np.ndarray, str]:
    """Outputs (n samples, n outputs) of a batch and the parameter hash of its arm (base values)."""
    t, traces, digest = simulate_runs(batch)
    per_sample = {k: v[batch.run_of] for k, v in traces.items()}
    clinical: dict[str, float | np.ndarray] = dict(packaged("clinical"))
    for j, name in enumerate(batch.clinical_names):
        clinical[name] = batch.clinical[:, j]
    starts = tuple(d.time for d in batch.scenario.arm(batch.arm).regimen.doses)
    return read_outputs(t, per_sample, clinical, batch.outputs, batch.baseline_madrs, starts), digest
