"""Numerical robustness: the whole model over parameter sets drawn from every documented range.

The 47 ranges of ``data/sensitivity.toml`` (:func:`ketasim.sensitivity.load_factors`: signalling,
spine, mechanism-route, clinical and clearance parameters, each with its source) span the parameter
space the model claims. :func:`draw` samples ``n`` parameter sets uniformly on the unit hypercube
(log-uniform ranges on their log scale, :meth:`ketasim.sensitivity.Factor.values`); each set is one
virtual patient, applied as in :mod:`ketasim.sensitivity_eval`: cascade and route values per patient
through :func:`ketasim.model_assembly.assemble` (``patient_params``), the clearance factor on the CYP3A4
and CYP2B6 activities, clinical values per patient in :mod:`ketasim.clinical.scores`. Every mechanism
is switched on, so every route parameter acts.

Each chunk of patients is solved with the fast engine (:func:`ketasim.engine.staged.solve_arm`) and
turned into the result Dataset users see (:func:`ketasim.model.to_xarray`), then the clinical time
courses (MADRS, CADSS, blood pressure) are computed. A patient fails if the solve raises or any value
of any output is NaN or infinite. A failing patient is recorded with the reason and does not stop the
others: if a chunk raises, its patients are solved one by one (as
:func:`ketasim.sensitivity_eval.simulate_runs` does for sensitivity batches).

:func:`run_sweep` chains the steps in chunks through :func:`ketasim.scale.executor.map_chunks` (local
processes or a Dask cluster); ``benchmarks/robustness.py`` runs it and prints the failure fraction.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ketasim import mechanisms as mechanism_catalogue
from ketasim.clinical import scores
from ketasim.engine.staged import solve_arm
from ketasim.model import output_times, to_xarray
from ketasim.model_assembly import assemble
from ketasim.parameter_sets import packaged
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.scale.executor import map_chunks
from ketasim.scenario import Scenario, from_dict
from ketasim.sensitivity import Factor, load_factors, to_values

REFERENCE_AGE_Y = 45.0
BASELINE_MADRS = 32.0  # a typical baseline of treatment-resistant depression trials (MADRS points)
CLEARANCE_ENZYMES = ("CYP3A4", "CYP2B6")


def default_scenario(horizon: str = "7 d") -> Scenario:
    """The standard ketamine infusion (0.5 mg/kg over 40 min) in depression, every mechanism on."""
    return from_dict(
        {
            "name": "robustness: ketamine 0.5 mg/kg over 40 min",
            "species": "human",
            "condition": "depressed",
            "horizon": horizon,
            "arms": [
                {
                    "name": "ketamine",
                    "doses": [
                        {"compound": "ketamine", "amount": "0.5 mg/kg", "route": "iv", "duration": "40 min"}
                    ],
                }
            ],
            "mechanisms": {m: True for m in mechanism_catalogue.NAMES},
        },
        "robustness",
    )


def draw(factors: Sequence[Factor], n: int, seed: int = 0) -> np.ndarray:
    """``n`` parameter sets (n, len(factors)), uniform on each factor's (log-)range."""
    u = np.random.default_rng(seed).random((n, len(factors)))
    return to_values(factors, u)


@dataclass(frozen=True)
class Chunk:
    """Patients ``first .. first + len(values) - 1`` of a sweep, one parameter set each."""

    scenario: Scenario
    arm: str
    factors: tuple[Factor, ...]
    values: np.ndarray  # (m, len(factors))
    first: int


@dataclass
class ChunkResult:
    """Failures (patient index -> reason), patients solved, a few read-outs of every patient, seconds."""

    failures: dict[int, str]
    n: int
    peak_block: np.ndarray
    madrs_24h: np.ndarray
    seconds: float


def _by_scale(chunk: Chunk, rows: np.ndarray) -> tuple[dict, dict, dict]:
    cascade, pk, clinical = {}, {}, {}
    for j, f in enumerate(chunk.factors):
        target = {"cascade": cascade, "pk": pk, "clinical": clinical}[f.scale]
        target[f.name] = chunk.values[rows, j]
    return cascade, pk, clinical


def simulate(chunk: Chunk, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Every output of the patients ``rows`` of ``chunk``: the result Dataset's variables and the clinical
    time courses, each with the patient axis first."""
    cascade, pk, clinical_values = _by_scale(chunk, rows)
    weight = default_physiology(chunk.scenario.species)["body.reference_weight"]
    factors = {}
    if "clearance_factor" in pk:
        factors = {e: pk["clearance_factor"] for e in CLEARANCE_ENZYMES}
    cov = Covariates.batch(np.full(rows.size, weight), None, factors)
    model = assemble(
        chunk.scenario, chunk.arm, cov, mechanisms=chunk.scenario.mechanisms, patient_params=cascade
    )
    arm = model.arm
    t = output_times(chunk.scenario.horizon_h, [d.time for d in arm.regimen.doses])
    ds = to_xarray(model, solve_arm(model, t))
    out = {
        name: np.moveaxis(v.values, v.dims.index("patient"), 0)
        for name, v in ds.data_vars.items()
        if "patient" in v.dims
    }
    out.update(clinical_courses(ds, clinical_values, tuple(d.time for d in arm.regimen.doses)))
    return out


def clinical_courses(
    ds: xr.Dataset, values: dict[str, np.ndarray], administrations: tuple[float, ...] = (0.0,)
) -> dict[str, np.ndarray]:
    """MADRS, CADSS and systolic rise over time (patients, time) with per-patient clinical ``values``,
    for the median patient otherwise (as :func:`ketasim.sensitivity_eval.read_outputs`);
    ``administrations`` (h) are the dose start times, which re-engage the placebo response."""
    t = ds.time.values
    n = ds.sizes["patient"]
    p: dict = dict(packaged("clinical"))
    p.update(values)
    ones = np.ones(n)
    strength = ds.surface_ampa.values * ds.spine_density.values
    block = ds.nmda_block.sel(cell_type="pyramidal").values
    drug = scores.drug_effect(t, strength, strength[:, 0], ones, p)
    cadss = scores.dissociation(t, block, p)
    notice = scores.noticeability(cadss, ds.sedation.values, p)
    placebo = scores.placebo_fraction(t, notice, ones, p, administrations)
    madrs = scores.madrs(np.full(n, BASELINE_MADRS), placebo, drug, np.zeros_like(drug))
    sbp = scores.systolic_rise(t, block, np.full(n, REFERENCE_AGE_Y), p)
    return {"drug_effect": drug, "cadss": cadss, "placebo": placebo, "madrs": madrs, "systolic_rise": sbp}


def non_finite(outputs: dict[str, np.ndarray]) -> list[str | None]:
    """For each patient: None if every output value is finite, else the reason (first bad outputs)."""
    n = next(iter(outputs.values())).shape[0]
    bad: list[list[str]] = [[] for _ in range(n)]
    for name, v in outputs.items():
        flat = np.asarray(v, dtype=float).reshape(n, -1)
        # a NaN that marks an absent combination (a subunit a cell does not express) is not a value
        if name == "nmda_block_by_subunit":
            continue
        for p in np.flatnonzero(~np.all(np.isfinite(flat), axis=1)):
            bad[p].append(name)
    return [None if not b else "non-finite " + ", ".join(b[:4]) + (" ..." if len(b) > 4 else "") for b in bad]


def _reason(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {text[:200]}"


def evaluate(chunk: Chunk) -> ChunkResult:
    """Solve a chunk; a patient whose solve raises or gives a non-finite output is recorded, not fatal."""
    start = time.perf_counter()
    m = chunk.values.shape[0]
    failures: dict[int, str] = {}
    peak = np.full(m, np.nan)
    madrs24 = np.full(m, np.nan)

    def keep(rows: np.ndarray, out: dict[str, np.ndarray]) -> None:
        for p, reason in zip(rows, non_finite(out), strict=True):
            if reason is not None:
                failures[chunk.first + int(p)] = reason
        t = output_times(chunk.scenario.horizon_h)
        k = int(np.argmin(np.abs(t - 24.0))) if t[-1] >= 24.0 else -1
        peak[rows] = out["nmda_block"][:, :, 0].max(axis=1)  # cell type 0: pyramidal
        madrs24[rows] = out["madrs"][:, k] if out["madrs"].shape[1] == t.size else np.nan

    # a parameter set with a NaN or infinite value is not solved: the compiled cascade solver does not
    # stop on a non-finite state (its step size falls to its floor, see docs/reliability.md)
    finite = np.all(np.isfinite(chunk.values), axis=1)
    for p in np.flatnonzero(~finite):
        names = [f.name for f, v in zip(chunk.factors, chunk.values[p], strict=True) if not np.isfinite(v)]
        failures[chunk.first + int(p)] = "non-finite parameter " + ", ".join(names)
    everyone = np.flatnonzero(finite)
    if everyone.size == 0:
        return ChunkResult(failures, m, peak, madrs24, time.perf_counter() - start)
    try:
        keep(everyone, simulate(chunk, everyone))
    except Exception:  # any failure of the batch: find the patients that cause it
        for p in everyone:
            rows = np.array([p])
            try:
                keep(rows, simulate(chunk, rows))
            except Exception as exc:  # recorded with its reason, the sweep goes on
                failures[chunk.first + int(p)] = _reason(exc)
    return ChunkResult(failures, m, peak, madrs24, time.perf_counter() - start)


@dataclass
class SweepResult:
    """What a sweep ran and what failed."""

    n: int
    seed: int
    factors: tuple[str, ...]
    failures: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    peak_block: np.ndarray | None = None
    madrs_24h: np.ndarray | None = None

    @property
    def failure_fraction(self) -> float:
        return len(self.failures) / self.n if self.n else 0.0

    def document(self) -> dict:
        """A JSON-ready summary (``benchmarks/robustness.py --json``)."""

        def span(x: np.ndarray | None) -> list[float] | None:
            if x is None or not np.any(np.isfinite(x)):
                return None
            return [float(np.nanmin(x)), float(np.nanmax(x))]

        reasons = Counter(
            r.split(":")[0] if not r.startswith("non-finite") else r for r in self.failures.values()
        )
        return {
            "parameter_sets": self.n,
            "seed": self.seed,
            "factors": len(self.factors),
            "failures": len(self.failures),
            "failure_fraction": self.failure_fraction,
            "failure_reasons": dict(reasons.most_common()),
            "failed_patients": {str(k): v for k, v in sorted(self.failures.items())[:50]},
            "seconds": round(self.seconds, 1),
            "patients_per_second": round(self.n / self.seconds, 1) if self.seconds else None,
            "peak_nmda_block_range": span(self.peak_block),
            "madrs_24h_range": span(self.madrs_24h),
        }


def chunks(
    scenario: Scenario, arm: str, factors: Sequence[Factor], values: np.ndarray, chunk_size: int
) -> list[Chunk]:
    """The sweep's patients in chunks of ``chunk_size``."""
    return [
        Chunk(scenario, arm, tuple(factors), values[i : i + chunk_size], i)
        for i in range(0, values.shape[0], chunk_size)
    ]


def run_sweep(
    n: int,
    seed: int = 0,
    scenario: Scenario | None = None,
    factors: Sequence[Factor] | None = None,
    chunk_size: int = 100,
    workers: int | None = 1,
    scheduler=None,
) -> SweepResult:
    """Run ``n`` parameter sets drawn from the documented ranges through the whole model."""
    scenario = scenario or default_scenario()
    factors = tuple(factors or load_factors().values())
    arm = scenario.arms[0].name
    values = draw(factors, n, seed)
    start = time.perf_counter()
    result = SweepResult(n, seed, tuple(f.name for f in factors))
    peak, madrs = np.full(n, np.nan), np.full(n, np.nan)
    parts = chunks(scenario, arm, factors, values, max(1, chunk_size))
    for c, r in zip(parts, map_chunks(evaluate, parts, scheduler=scheduler, workers=workers), strict=True):
        result.failures.update(r.failures)
        peak[c.first : c.first + r.n] = r.peak_block
        madrs[c.first : c.first + r.n] = r.madrs_24h
    result.seconds = time.perf_counter() - start
    result.peak_block, result.madrs_24h = peak, madrs
    return result
