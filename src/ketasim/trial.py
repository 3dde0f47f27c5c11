"""Virtual trials: a sampled population per arm, the mechanistic model, the clinical layer, endpoints.

Each arm gets its own random sample of ``n`` patients from the scenario's population (default the
treatment-resistant depression population ``trd``), which is what randomisation produces. Seeds are
derived from one ``numpy.random.SeedSequence`` per trial, by arm and by block of patients
(:mod:`ketasim.scale.seeding`), so the same seed gives the same trial, arms are independent of each
other's size, and a patient's covariates and clinical noise do not depend on the trial size or on how a
run is split into chunks (:mod:`ketasim.scale.chunks` runs the same blocks in chunks, locally or on Dask).
Between-patient differences come from covariates (weight, CYP2B6, BDNF Val66Met, BMI, family history of
alcohol use disorder, age), clearance variability, and the clinical layer's sensitivity, placebo and
rating noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ketasim import __version__
from ketasim.clinical import scores
from ketasim.errors import KetasimError, unknown_choice
from ketasim.model import run_arm
from ketasim.parameter_sets import ParamSet, packaged
from ketasim.pk.covariates import PK_FACTORS, Covariates
from ketasim.population import PopulationSpec, apply_eta, load_population
from ketasim.progress import track
from ketasim.scale.seeding import SEED_BLOCK, Block, block_frame, block_noise, blocks, check_block_size
from ketasim.scenario import Arm, Scenario
from ketasim.trial_statistics import (
    hedges_g,
    odds_ratio,
    power_by_simulation,
    proportion_difference_ci,
    remitters,
    responders,
    wilson_ci,
)

REPORT_HOURS = (2.0, 4.0, 24.0, 72.0, 168.0, 336.0)
# Prefrontal synaptic strength at or above which a subject has no deficit for the mood model to relieve
# (healthy = 1; the depressed state starts at the spine deficit of data/spines.toml).
HEALTHY_STRENGTH = 0.999


@dataclass
class ArmResult:
    name: str
    frame: pd.DataFrame  # the sampled patients
    times: np.ndarray
    madrs: np.ndarray  # (P, T)
    cadss: np.ndarray  # (P, T)
    sbp_rise: np.ndarray  # (P, T)
    plasma_parent_um: np.ndarray  # (P, T) sum of dosed parent species (0 without doses)
    strength: np.ndarray  # (P, T) prefrontal synaptic strength
    parameter_hash: str
    # patients whose solve failed, by patient number (frame index) -> reason; they are not in the arrays
    failed: dict[int, str] = field(default_factory=dict)
    pyramidal_block: np.ndarray | None = None  # (P, T) NMDA block of pyramidal cells

    @property
    def n(self) -> int:
        return int(self.madrs.shape[0])

    def at(self, hours: float) -> int:
        return int(np.argmin(np.abs(self.times - hours)))

    def response(self, hours: float) -> np.ndarray:
        return responders(self.frame["madrs_baseline"].to_numpy(), self.madrs[:, self.at(hours)])

    def remission(self, hours: float) -> np.ndarray:
        return remitters(self.madrs[:, self.at(hours)])

    def change(self, hours: float) -> np.ndarray:
        """MADRS change from baseline (points, negative = better)."""
        return self.madrs[:, self.at(hours)] - self.frame["madrs_baseline"].to_numpy()


@dataclass
class TrialResult:
    scenario: Scenario
    seed: int
    arms: dict[str, ArmResult]
    hours: tuple[float, ...]
    control: str | None
    meta: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The ``ketasim trial --json`` document."""
        out: dict = {"arms": {}, "seed": self.seed}
        for name, a in self.arms.items():
            out["arms"][name] = {
                "n": a.n,
                "response_rate": {_key(h): float(a.response(h).mean()) for h in self.hours},
                "remission_rate": {_key(h): float(a.remission(h).mean()) for h in self.hours},
                "madrs_change_mean": {_key(h): float(a.change(h).mean()) for h in self.hours},
                "dissociation_peak_mean": float(a.cadss.max(axis=1).mean()),
                "systolic_rise_peak_mean": float(a.sbp_rise.max(axis=1).mean()),
                "response_ci_24h": _ci(a.response(24.0)) if 24.0 in self.hours else None,
                "failed": failure_summary(a.failed),
            }
        if self.control is not None:
            c = self.arms[self.control]
            comps = {}
            for name, a in self.arms.items():
                if name == self.control or 24.0 not in self.hours:
                    continue
                x1, x2 = int(a.response(24.0).sum()), int(c.response(24.0).sum())
                o = odds_ratio(x1, a.n, x2, c.n)
                comps[f"{name} vs {self.control}"] = {
                    "response_odds_ratio_24h": float(o.estimate),
                    "ci95": [float(o.lower), float(o.upper)],
                }
            for key, extra in self.comparison_details(24.0).items():
                comps.setdefault(key, {}).update(extra)
            out["comparisons"] = comps
        out.update(self.meta)
        return out

    def comparison_details(self, hours: float = 24.0) -> dict:
        """Effect size (Hedges' g of the MADRS change) and response difference against the control."""
        if self.control is None:
            return {}
        c = self.arms[self.control]
        out = {}
        for name, a in self.arms.items():
            if name == self.control:
                continue
            g = hedges_g(a.change(hours), c.change(hours))
            d = proportion_difference_ci(int(a.response(hours).sum()), a.n, int(c.response(hours).sum()), c.n)
            out[f"{name} vs {self.control}"] = {
                "madrs_change_hedges_g": [float(g.estimate), float(g.lower), float(g.upper)],
                "response_difference": [float(d.estimate), float(d.lower), float(d.upper)],
            }
        return out

    def power(
        self, arm: str, n_per_arm: list[int], hours: float = 24.0, n_trials: int = 500, seed: int = 0
    ) -> dict[int, dict]:
        """Power of a two-arm trial of ``arm`` against the control on response at ``hours``.

        Each simulated trial draws ``n`` patients per arm, with replacement, from this trial's virtual
        patients (their simulated outcomes), and applies Fisher's exact test at alpha 0.05.
        """
        if self.control is None:
            raise KetasimError("the scenario has no control arm (an arm without doses)", argument="power")
        if arm not in self.arms:
            raise unknown_choice("arm", arm, list(self.arms), "power")
        treat, ctrl = self.arms[arm].response(hours), self.arms[self.control].response(hours)
        return response_power(
            (int(treat.sum()), treat.size), (int(ctrl.sum()), ctrl.size), n_per_arm, n_trials, seed
        )


def response_power(
    treatment: tuple[int, int],
    control: tuple[int, int],
    n_per_arm: list[int],
    n_trials: int = 500,
    seed: int = 0,
) -> dict[int, dict]:
    """Power of a two-arm trial on response, from (responders, patients) of each simulated arm.

    Each simulated trial draws ``n`` patients per arm with replacement from the simulated patients, which
    for a yes/no outcome is ``n`` Bernoulli draws at the arm's response rate (drawn as ``u < rate``, so the
    counts alone, e.g. of a chunked run of a million patients, give the same numbers), and applies
    Fisher's exact test at alpha 0.05."""
    p_t, p_c = treatment[0] / treatment[1], control[0] / control[1]

    def one(rng: np.random.Generator, n: int):
        return rng.random(n) < p_t, rng.random(n) < p_c

    out = {}
    for n in n_per_arm:
        r = power_by_simulation(one, int(n), n_trials=n_trials, seed=seed, test="fisher")
        out[int(n)] = {"power": float(r.power), "ci95": [float(r.lower), float(r.upper)]}
    return out


def failure_summary(failed: dict[int, str]) -> dict:
    """``{"count": k, "reasons": {reason: count}}`` of an arm's failed patients (count 0 when none)."""
    reasons: dict[str, int] = {}
    for why in failed.values():
        reasons[why] = reasons.get(why, 0) + 1
    return {"count": len(failed), "reasons": reasons}


def _key(h: float) -> str:
    return f"{h:g}"


def _ci(x: np.ndarray) -> list[float]:
    ci = wilson_ci(int(x.sum()), x.size)
    return [float(ci.lower), float(ci.upper)]


def clinical_params() -> ParamSet:
    return packaged("clinical")


def bdnf_release_factor(genotypes: pd.Series) -> np.ndarray:
    """Regulated BDNF release of each patient: Val/Val 1, Met/Met ``bdnf.met_release``, Val/Met the mean."""
    met = packaged("signalling")["bdnf.met_release"]
    table = {"Val/Val": 1.0, "Val/Met": 0.5 * (1.0 + met), "Met/Met": met}
    return genotypes.astype(str).map(table).to_numpy(dtype=float)


def _lognormal(z: np.ndarray, cv: float) -> np.ndarray:
    """Median-1 lognormal factors with coefficient of variation ``cv`` from standard normals ``z``."""
    return np.exp(np.sqrt(np.log1p(cv**2)) * z)


def clinical_draws(rng: np.random.Generator, n: int, n_times: int) -> np.ndarray:
    """Standard normals of the clinical layer, a row per patient: sensitivity, placebo, noise at each time.

    Drawn row-major in one call, so the first ``m`` rows are the same whatever ``n`` is: a patient's
    clinical noise depends on the generator and the patient's row only (see :mod:`ketasim.scale.seeding`)."""
    return rng.standard_normal((n, 2 + n_times))


def patient_inputs(frame: pd.DataFrame) -> tuple[Covariates, dict[str, np.ndarray]]:
    """Covariates and per-patient cascade parameters of the sampled patients in ``frame``."""
    factors = {}
    if "eta_cl" in frame:
        eta = apply_eta(1.0, frame["eta_cl"].to_numpy(), "lognormal")
        factors = {"CYP3A4": eta, "CYP2B6": eta}
    # the other PK factors are multipliers with median 1 (for f_nasal, of the odds; ketasim.population)
    pk = {k: frame[f"eta_{k}"].to_numpy() for k in PK_FACTORS if f"eta_{k}" in frame}
    cov = Covariates.batch(frame["weight_kg"].to_numpy(), frame["cyp2b6"].astype(str).tolist(), factors, pk)
    return cov, {"bdnf.release_factor": bdnf_release_factor(frame["bdnf"])}


def clinical_scores(
    frame: pd.DataFrame,
    t: np.ndarray,
    strength: np.ndarray,
    block: np.ndarray,
    sedation: np.ndarray,
    rng: np.random.Generator,
    administrations: tuple[float, ...] = (0.0,),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MADRS, CADSS and systolic rise (each (P, T)) from synaptic strength, pyramidal NMDA block and
    sedation on the grid ``t``; ``rng`` gives each patient's clinical random numbers
    (:func:`clinical_draws`), row ``i`` to the patient in row ``i`` of ``frame``. ``administrations``
    (start times, h) re-engage the placebo response; the first visit at time 0 always counts."""
    n = len(frame)
    if np.any(strength[:, 0] >= HEALTHY_STRENGTH):
        raise KetasimError(
            "the clinical scores need a synaptic deficit to relieve, and this subject starts healthy",
            argument="condition",
            fix='set condition = "depressed" in the scenario (the depressed state carries the deficit)',
        )
    p = clinical_params()
    z = clinical_draws(rng, n, t.size)
    sens = _lognormal(z[:, 0], p["mood.sensitivity_cv"])
    sens *= np.clip(1.0 + p["mood.bmi_effect"] * (frame["bmi_kg_m2"].to_numpy() - 30.0), 0.2, None)
    sens *= 1.0 + p["mood.fh_aud_effect"] * frame["fh_aud"].to_numpy(dtype=float)
    drug = scores.drug_effect(t, strength, strength[:, 0], sens, p)
    cadss = scores.dissociation(t, block, p)
    notice = scores.noticeability(cadss, sedation, p)
    placebo = scores.placebo_fraction(t, notice, _lognormal(z[:, 1], p["placebo.cv"]), p, administrations)
    noise = p["mood.measurement_sd"] * z[:, 2:]
    noise[:, 0] = 0.0
    madrs = scores.madrs(frame["madrs_baseline"].to_numpy(), placebo, drug, noise)
    sbp = scores.systolic_rise(t, block, frame["age_y"].to_numpy(), p)
    return madrs, cadss, sbp


def simulate_arm(
    scenario: Scenario, arm: Arm, frame: pd.DataFrame, rng: np.random.Generator, mechanisms=None
) -> ArmResult:
    """Run the mechanistic model and the clinical layer for the patients in ``frame``.

    ``rng`` gives each patient's clinical random numbers (:func:`clinical_draws`), row ``i`` to the
    patient in row ``i`` of ``frame``."""
    cov, patient_params = patient_inputs(frame)
    ds = run_arm(
        scenario, arm, cov, mechanisms=mechanisms, patient_params=patient_params, concentrations=("plasma",)
    )
    t = ds.time.values
    strength = ds.surface_ampa.values * ds.spine_density.values
    block = ds.nmda_block.sel(cell_type="pyramidal").values
    starts = tuple(d.time for d in arm.regimen.doses)
    madrs, cadss, sbp = clinical_scores(frame, t, strength, block, ds.sedation.values, rng, starts)
    parent = parent_plasma_um(ds, arm, scenario.library())
    result = ArmResult(
        arm.name, frame, t, madrs, cadss, sbp, parent, strength, ds.attrs["parameter_hash"], {}, block
    )
    return drop_failed(result, failure_reasons(ds, strength, block, madrs, cadss, sbp))


def parent_plasma_um(ds, arm: Arm, library) -> np.ndarray:
    """Total plasma concentration (µM, patients x times) of the arm's dosed parent compound(s)."""
    total = np.zeros((ds.sizes["patient"], ds.sizes["time"]))
    if "plasma" not in ds:
        return total
    present = {str(a) for a in ds.analyte.values}
    for cid in arm.regimen.compounds:
        comp = library.get(cid, "compound")
        name = getattr(comp, "analyte", comp.id)
        if name in present:
            total += ds.plasma.sel(analyte=name).values
    return total


def failure_reasons(ds, strength, block, madrs, cadss, sbp) -> list[str | None]:
    """For each patient, why its solve failed (the first scale with non-finite values), or None."""

    def finite(a: np.ndarray) -> np.ndarray:
        return np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)

    stages = [
        ("pharmacokinetics: non-finite concentrations", finite(ds.plasma.values) if "plasma" in ds else None),
        ("receptor block: non-finite NMDA block", finite(block)),
        ("circuit: no unique fixed point of the rate model", finite(ds.pyramidal_rate.values)),
        (
            "signalling cascade: the solver failed (non-finite states or step size underflow)",
            finite(strength),
        ),
        ("clinical scores: non-finite values", finite(madrs) & finite(cadss) & finite(sbp)),
    ]
    out: list[str | None] = []
    for i in range(strength.shape[0]):
        out.append(next((why for why, ok in stages if ok is not None and not ok[i]), None))
    return out


def drop_failed(result: ArmResult, reasons: list[str | None]) -> ArmResult:
    """``result`` without the patients whose solve failed, recorded in ``failed`` with the reason: one
    failed patient never stops the population, and never enters its statistics as a number."""
    bad = np.array([r is not None for r in reasons], dtype=bool)
    if not bad.any():
        return result
    keep = ~bad
    failed = {int(idx): str(r) for idx, r in zip(result.frame.index, reasons, strict=True) if r is not None}
    return ArmResult(
        result.name,
        result.frame.loc[keep],
        result.times,
        result.madrs[keep],
        result.cadss[keep],
        result.sbp_rise[keep],
        result.plasma_parent_um[keep],
        result.strength[keep],
        result.parameter_hash,
        {**result.failed, **failed},
        None if result.pyramidal_block is None else result.pyramidal_block[keep],
    )


def default_control(scenario: Scenario) -> str | None:
    for a in scenario.arms:
        if not a.regimen.doses:
            return a.name
    return None


def simulate_block(
    scenario: Scenario,
    block: Block,
    spec: PopulationSpec,
    seed: int,
    mechanisms=None,
    block_size: int = SEED_BLOCK,
) -> ArmResult:
    """Simulate the patients of one seeding block (:mod:`ketasim.scale.seeding`) as one batch."""
    arm = scenario.arms[block.arm_index]
    frame = block_frame(spec, seed, block, block_size)
    return simulate_arm(scenario, arm, frame, block_noise(seed, block), mechanisms)


def concat_results(parts: list[ArmResult]) -> ArmResult:
    """One arm's result from the results of its consecutive blocks."""
    first = parts[0]
    if len(parts) == 1:
        return first
    for p in parts[1:]:
        same = p.name == first.name and p.parameter_hash == first.parameter_hash
        if not same or not np.array_equal(p.times, first.times):
            raise ValueError(f"results of arm '{p.name}' do not join onto arm '{first.name}'")
    frame = pd.concat([p.frame for p in parts])
    frame.attrs = dict(first.frame.attrs)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return ArmResult(
        first.name,
        frame,
        first.times,
        cat("madrs"),
        cat("cadss"),
        cat("sbp_rise"),
        cat("plasma_parent_um"),
        cat("strength"),
        first.parameter_hash,
        {k: v for p in parts for k, v in p.failed.items()},
        None if any(p.pyramidal_block is None for p in parts) else cat("pyramidal_block"),
    )


def check_n_seed(scenario: Scenario, n: int | None, seed: int | None) -> tuple[int, int]:
    """Patients per arm and seed (the scenario's population defaults when None), checked."""
    pop = scenario.population
    n = int(pop.get("n", 100)) if n is None else n
    seed = int(pop.get("seed", 0)) if seed is None else seed
    if isinstance(n, bool) or n < 1:
        raise KetasimError(f"n must be a whole number >= 1, got {n}", argument="--n")
    if isinstance(seed, bool) or seed < 0:
        raise KetasimError(f"seed must be a non-negative whole number, got {seed}", argument="--seed")
    return int(n), int(seed)


def report_hours(scenario: Scenario) -> tuple[float, ...]:
    """The scenario's ``[outputs] hours``, or else the report hours (:data:`REPORT_HOURS`) within its
    horizon."""
    if scenario.output_times:
        return tuple(sorted(set(scenario.output_hours)))
    return tuple(h for h in REPORT_HOURS if h <= scenario.horizon_h + 1e-9)


def trial_meta(scenario: Scenario, spec: PopulationSpec, n: int, parameter_hash: dict[str, str]) -> dict:
    """The run's record in the summary: version, git revision, scenario (name and hash), population,
    size and parameter digests (the seed is the summary's own ``seed``)."""
    from ketasim.provenance import git_revision

    pop = scenario.population
    return {
        "ketasim_version": __version__,
        "git_revision": git_revision(),
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "population": spec.name if hasattr(spec, "name") else str(pop.get("name", "trd")),
        "n_per_arm": n,
        "parameter_hash": parameter_hash,
        "clinical_parameter_hash": clinical_params().digest(),
    }


def run_trial(
    scenario: Scenario,
    n: int | None = None,
    seed: int | None = None,
    mechanisms=None,
    control: str | None = None,
    *,
    block_size: int = SEED_BLOCK,
) -> TrialResult:
    """Simulate every arm of ``scenario`` with ``n`` patients per arm, block by block, in this process.

    Comparisons are against ``control`` (default: the first arm without doses). Patients are seeded by
    block (:mod:`ketasim.scale.seeding`), so :func:`ketasim.scale.chunks.run_chunked` with the same
    ``seed`` and ``block_size`` gives the same patients, bit for bit."""
    if control is not None:
        scenario.arm(control)  # unknown arm -> error naming the choices
    n, seed = check_n_seed(scenario, n, seed)
    block_size = check_block_size(block_size)
    spec = load_population(str(scenario.population.get("name", "trd")))
    arms = {}
    for a, arm in enumerate(track(scenario.arms, "trial arms")):
        parts = [
            simulate_block(scenario, b, spec, seed, mechanisms, block_size)
            for b in blocks(a, 0, n, block_size)
        ]
        arms[arm.name] = concat_results(parts)
    meta = trial_meta(scenario, spec, n, {k: a.parameter_hash for k, a in arms.items()})
    control = control or default_control(scenario)
    return TrialResult(scenario, seed, arms, report_hours(scenario), control, meta)
