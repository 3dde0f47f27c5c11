"""Every variable of the model for a subset of a trial's patients, for the report's mechanistic figures.

A trial asks the engine for plasma concentrations only (:func:`ketasim.trial.simulate_arm`), which is
all the clinical layer needs. The report's exposure, receptor, circuit, signalling and spine figures
need every scale, so the first ``n`` patients of each arm (the same sampled patients, with the same
covariates, as in the trial) are solved again by the same engine with every concentration kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from ketasim.compounds import Library
from ketasim.engine.staged import solve_arm
from ketasim.model import output_times, to_xarray
from ketasim.model_assembly import assemble
from ketasim.pk.simulate import concentration_dataset
from ketasim.provenance import SourceList
from ketasim.scenario import Arm, Scenario
from ketasim.trial import TrialResult, patient_inputs

DEFAULT_DETAIL = 50  # patients per arm simulated with every variable


@dataclass
class DetailedArm:
    """One arm's patients with every variable (``model``: the engine's Dataset; ``pk``: concentrations
    in µM and ng/mL with enantiomer sums, None for an arm without doses) and the parameters behind them."""

    name: str
    model: xr.Dataset
    pk: xr.Dataset | None
    sources: SourceList
    parameter_hash: str
    compounds: tuple[str, ...] = ()  # compound ids dosed in the arm, in order of first dose
    expressed: dict[str, list[str]] = field(default_factory=dict)  # cell type -> GluN2 subunits present
    library: Library | None = None  # the compounds the arm was simulated with (the scenario's library)

    @property
    def n(self) -> int:
        return int(self.model.sizes["patient"])

    def dosed_analytes(self) -> list[str]:
        """The analytes given (group names, e.g. ``ketamine`` for S- plus R-ketamine)."""
        if self.pk is None:
            return []
        groups = json.loads(self.pk.attrs["analyte_groups"])
        owner = {m: g for g, ms in groups.items() for m in ms}
        return list(dict.fromkeys(owner.get(a, a) for a in json.loads(self.pk.attrs["dosed_analytes"])))

    def dosed_species(self) -> list[str]:
        """The single species given (e.g. S-ketamine and R-ketamine for racemic ketamine)."""
        return [] if self.pk is None else list(json.loads(self.pk.attrs["dosed_analytes"]))


def simulate_detail(
    scenario: Scenario,
    arm: Arm,
    frame: pd.DataFrame,
    mechanisms: frozenset[str] | None = None,
    library: Library | None = None,
) -> DetailedArm:
    """Solve ``arm`` for the patients in ``frame`` (rows of a trial's sampled population) keeping
    every variable; the grid is the trial's (:func:`ketasim.model.output_times`)."""
    library = library or scenario.library()
    cov, patient_params = patient_inputs(frame)
    model = assemble(scenario, arm, cov, library, mechanisms, patient_params)
    t = output_times(scenario.horizon_h, [d.time for d in model.arm.regimen.doses])
    sol = solve_arm(model, t)
    ds = to_xarray(model, sol)
    pk = None
    sources = SourceList()
    for k, p in model.params.sources().params.items():
        sources.add(k, p)
    if model.pk is not None:
        pk = concentration_dataset(model.pk, sol.conc, t, model.arm.regimen, library)
        for k, p in model.pk.sources.params.items():
            sources.add(f"pk:{k}", p)
    compounds = tuple(dict.fromkeys(d.compound for d in arm.regimen.doses))
    cells = [str(c) for c in ds.cell_type.values]
    expressed = {
        c: [s for j, s in enumerate(model.subunits) if model.charge[i, j] > 0] for i, c in enumerate(cells)
    }
    return DetailedArm(arm.name, ds, pk, sources, model.parameter_hash(), compounds, expressed, model.library)


def detail_arms(
    result: TrialResult, n: int = DEFAULT_DETAIL, mechanisms: frozenset[str] | None = None
) -> dict[str, DetailedArm]:
    """The first ``n`` patients of every arm of ``result`` (all of them if fewer), every variable."""
    from ketasim.progress import track

    out = {}
    for arm in track(result.scenario.arms, "detailed model"):
        frame = result.arms[arm.name].frame.iloc[: max(1, int(n))]
        out[arm.name] = simulate_detail(result.scenario, arm, frame, mechanisms)
    return out
