"""Global sensitivity analysis of a scenario's outputs over the parameters' documented ranges (SALib).

Problem, sampling, evaluation and analysis are separate steps, as in SALib:

1. :func:`load_factors` reads the varied parameters (factors) and their ranges from
   ``data/sensitivity.toml`` and checks each against the packaged parameter sets; :func:`select`
   picks some of them.
2. :func:`sample` draws a design on the unit hypercube: Morris trajectories (Morris MD 1991,
   Technometrics 33:161) or Saltelli's extension of Sobol' sequences (Saltelli A et al. 2010,
   Comput Phys Commun 181:259). :func:`to_values` maps it to parameter values, uniform or
   log-uniform within each range.
3. :func:`evaluate_design` runs every sample as one virtual patient (:mod:`ketasim.sensitivity_eval`),
   in chunks through :func:`ketasim.scale.executor.map_chunks` (local processes or a Dask cluster).
4. :func:`analyze` computes Morris mu* (mean absolute elementary effect; Campolongo F, Cariboni J,
   Saltelli A 2007, Environ Model Softw 22:1509) with its bootstrap interval and sigma, or Sobol'
   first-order (S1) and total (ST) indices with the estimators of Saltelli 2010 (Table 2: S1 by
   Saltelli 2010's eq. b, ST by Jansen's) and bootstrap intervals.

With few base samples and many factors, a Saltelli design's A and B columns can correlate, which
biases the Sobol' indices; :func:`pairing` finds those factors and the result warns about them.

Elementary effects are per whole range (the design is analysed on [0, 1] for every factor), so mu*
compares factors whose units differ. A sample whose model fails numerically is recorded, not fatal:
its Morris trajectory or Saltelli block (the samples that share its base point) is dropped, and the
result says how many were.

:func:`run_sensitivity` chains the steps; :class:`SensitivityResult` holds the ranked indices.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ketasim import __version__, units
from ketasim.errors import KetasimError, unknown_choice
from ketasim.model import base_cascade
from ketasim.parameter_sets import DATA, kind_of, packaged
from ketasim.progress import track
from ketasim.provenance import git_revision
from ketasim.scale.executor import map_chunks
from ketasim.scenario import Scenario
from ketasim.sensitivity_eval import OUTPUTS, Batch, evaluate

RANGES = DATA / "sensitivity.toml"
SCALES = ("cascade", "clinical", "pk")
METHODS = ("morris", "sobol")
SAMPLINGS = ("uniform", "log-uniform")
FIELDS = ("low", "high", "unit", "sampling", "source")
DEFAULT_N = {"morris": 10, "sobol": 256}
MORRIS_LEVELS = 4
BOOTSTRAP = 200
CONF_LEVEL = 0.95

# Covariate factors of the reference patient (scale "pk"): name -> (value, unit label, meaning).
# Their status is "reference": the value is 1 by definition and the range carries the data.
PK_FACTORS = {
    "clearance_factor": (1.0, "", "multiplier of CYP3A4 and CYP2B6 activity (reference patient: 1)")
}


@dataclass(frozen=True)
class Factor:
    """A varied parameter: its range (canonical units), how it is sampled, why, and its packaged value."""

    name: str
    scale: str
    low: float
    high: float
    unit: str
    sampling: str
    source: str
    base: float
    status: str = "assumed"  # of the packaged value: measured, derived, fitted, assumed (pk: reference)

    def values(self, u: np.ndarray) -> np.ndarray:
        """Parameter values for points ``u`` in [0, 1]."""
        u = np.asarray(u, dtype=float)
        if self.sampling == "log-uniform":
            return self.low * (self.high / self.low) ** u
        return self.low + (self.high - self.low) * u

    def record(self) -> dict:
        return {
            "name": self.name,
            "scale": self.scale,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "sampling": self.sampling,
            "base": self.base,
            "status": self.status,
            "source": self.source,
        }


def base_values(scale: str) -> dict[str, tuple[float, str, str]]:
    """Packaged value, canonical unit label and status of every parameter of ``scale``."""
    if scale == "cascade":
        return {k: (p.value, p.unit, p.status.value) for k, p in base_cascade().params.items()}
    if scale == "clinical":
        return {k: (p.value, p.unit, p.status.value) for k, p in packaged("clinical").params.items()}
    if scale == "pk":
        return {k: (v, unit, "reference") for k, (v, unit, _) in PK_FACTORS.items()}
    raise unknown_choice("scale", scale, SCALES, "sensitivity ranges")


def _factor(
    scale: str, name: str, raw: object, where: str, base: Mapping[str, tuple[float, str, str]]
) -> Factor:
    if not isinstance(raw, dict):
        raise KetasimError("must be an inline table {low, high, unit, sampling, source}", argument=where)
    for key in raw:
        if key not in FIELDS:
            raise unknown_choice("field", key, FIELDS, where)
    for key in FIELDS:
        if key not in raw:
            raise KetasimError(
                f"missing '{key}'", argument=where, fix="give low, high, unit, sampling, source"
            )
    if name not in base:
        raise unknown_choice(f"{scale} parameter", name, base, where)
    value, label, status = base[name]
    kind = kind_of(label, where)
    if kind_of(str(raw["unit"]), where) != kind:
        raise KetasimError(
            f"unit '{raw['unit']}' is not of the kind of the packaged value ({label or 'dimensionless'})",
            argument=where,
        )
    bounds = []
    for key in ("low", "high"):
        v = raw[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise KetasimError(f"{key} {v!r} is not a number", argument=where)
        bounds.append(units.convert(float(v), str(raw["unit"]), kind, where))
    low, high = bounds
    if not low < high:
        raise KetasimError(f"low ({raw['low']}) must be below high ({raw['high']})", argument=where)
    if raw["sampling"] not in SAMPLINGS:
        raise unknown_choice("sampling", str(raw["sampling"]), SAMPLINGS, where)
    if raw["sampling"] == "log-uniform" and low <= 0:
        raise KetasimError(
            "a log-uniform range needs low > 0", argument=where, fix='use sampling = "uniform"'
        )
    if not (low <= value <= high):
        raise KetasimError(
            f"the packaged value {value:g} {label} lies outside [{low:g}, {high:g}]", argument=where
        )
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise KetasimError("empty source", argument=where, fix="say why the range is what it is")
    return Factor(name, scale, low, high, label, str(raw["sampling"]), raw["source"], value, status)


def load_factors(path: str | Path = RANGES) -> dict[str, Factor]:
    """Every factor of the ranges file, checked against the packaged parameter sets."""
    from ketasim.toml_io import read_toml

    path = Path(path)
    data = read_toml(path, "ranges")
    out: dict[str, Factor] = {}
    for scale, table in data.items():
        if scale not in SCALES:
            raise unknown_choice("scale", scale, SCALES, path.name)
        if not isinstance(table, dict):
            raise KetasimError("must be a table of parameters", argument=f"{path.name}: [{scale}]")
        base = base_values(scale)
        for name, raw in table.items():
            if name in out:
                raise KetasimError(f"'{name}' is listed twice", argument=path.name)
            out[name] = _factor(scale, name, raw, f"{path.name}: {scale}.{name}", base)
    if not out:
        raise KetasimError("lists no parameters", argument=path.name)
    return out


def ranges_digest(path: str | Path = RANGES) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _route(name: str) -> str | None:
    """The mechanism switch a route parameter belongs to (``mechanism.NAME.params.*``), if any."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "mechanism" else None


def select(
    factors: Mapping[str, Factor], names: Sequence[str] | None, mechanisms: frozenset[str]
) -> tuple[list[Factor], dict[str, str]]:
    """The factors to vary and those left out, with the reason.

    ``names`` are factor names or scales (``cascade``, ``clinical``, ``pk``), default every scale.
    A scale brings all its factors except the parameters of mechanism routes that are switched off
    (they cannot change any output); a factor named on its own is always varied."""
    skipped: dict[str, str] = {}
    wanted: list[str] = []
    for n in SCALES if names is None else names:
        if n in SCALES:
            for f in factors.values():
                route = _route(f.name)
                if f.scale != n:
                    continue
                if route is not None and route not in mechanisms:
                    skipped[f.name] = f"mechanism {route} is switched off"
                else:
                    wanted.append(f.name)
        elif n in factors:
            wanted.append(n)
        else:
            raise unknown_choice("parameter", n, [*factors, *SCALES], "--params")
    wanted = list(dict.fromkeys(wanted))
    skipped = {k: v for k, v in skipped.items() if k not in wanted}
    chosen = [factors[n] for n in wanted]
    if len(chosen) < 2:
        raise KetasimError(
            f"needs at least 2 parameters to vary, got {len(chosen)}",
            argument="--params",
            fix="name more parameters or a scale (cascade, clinical, pk)",
        )
    return chosen, skipped


# ------------------------------------------------------------------------------- sampling, analysis
def problem(factors: Sequence[Factor]) -> dict:
    """The SALib problem on the unit hypercube (each factor mapped by :meth:`Factor.values`)."""
    return {
        "num_vars": len(factors),
        "names": [f.name for f in factors],
        "bounds": [[0.0, 1.0]] * len(factors),
    }


def check_n(method: str, n: int) -> int:
    if method not in METHODS:
        raise unknown_choice("method", method, METHODS, "--method")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise KetasimError(f"n must be a whole number >= 2, got {n}", argument="--n")
    if method == "sobol" and n & (n - 1):
        lower = 1 << (int(n).bit_length() - 1)
        raise KetasimError(
            f"Sobol' sequences need a power of 2, got {n}", argument="--n", fix=f"use {lower} or {2 * lower}"
        )
    return int(n)


def group_size(method: str, k: int) -> int:
    """Samples per Morris trajectory (k + 1) or per Saltelli block without second order (k + 2)."""
    return k + 1 if method == "morris" else k + 2


def sample(factors: Sequence[Factor], method: str, n: int, seed: int = 0) -> np.ndarray:
    """Design on [0, 1]^k: ``n`` Morris trajectories (4 levels) or ``n`` Saltelli base samples."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    n = check_n(method, n)
    prob = problem(factors)
    if method == "morris":
        return morris_sample.sample(prob, n, num_levels=MORRIS_LEVELS, seed=seed)
    return sobol_sample.sample(prob, n, calc_second_order=False, scramble=True, seed=seed)


def to_values(factors: Sequence[Factor], X: np.ndarray) -> np.ndarray:
    """Parameter values (n, k) of a design ``X`` on [0, 1]^k."""
    return np.stack([f.values(X[:, j]) for j, f in enumerate(factors)], axis=-1)


@dataclass
class Indices:
    """Sensitivity indices per factor (arrays in factor order) and the groups dropped for failures."""

    method: str
    values: dict[str, np.ndarray]
    groups: int  # trajectories or Saltelli blocks used
    dropped: int
    note: str = ""
    paired: dict[str, float] = field(default_factory=dict)  # Sobol': factors whose A and B columns correlate

    @property
    def key(self) -> str:
        """The index factors are ranked by: mu* (Morris) or ST (Sobol')."""
        return "mu_star" if self.method == "morris" else "ST"

    def order(self) -> np.ndarray:
        v = np.nan_to_num(self.values[self.key], nan=-np.inf)
        second = np.nan_to_num(self.values["sigma" if self.method == "morris" else "S1"], nan=-np.inf)
        return np.lexsort((-second, -v))


def analyze(factors: Sequence[Factor], method: str, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> Indices:
    """Morris (mu, mu*, its interval, sigma) or Sobol' (S1, ST and intervals) indices of ``Y``."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    if method not in METHODS:
        raise unknown_choice("method", method, METHODS, "--method")
    k = len(factors)
    g = group_size(method, k)
    Y = np.asarray(Y, dtype=float)
    if Y.shape != (X.shape[0],) or X.shape[0] % g:
        raise ValueError(f"Y {Y.shape} does not match a {method} design of {X.shape[0]} samples")
    ok = np.isfinite(Y.reshape(-1, g)).all(axis=1)
    dropped = int((~ok).sum())
    if not ok.any():
        raise KetasimError(
            "the model failed for every sample", argument="sensitivity", fix="narrow the ranges"
        )
    rows = np.repeat(ok, g)
    X, Y = X[rows], Y[rows]
    prob = problem(factors)
    names = (
        ("mu", "mu_star", "mu_star_conf", "sigma")
        if method == "morris"
        else ("S1", "S1_conf", "ST", "ST_conf")
    )
    if np.ptp(Y) == 0.0:
        zero = {n: np.zeros(k) for n in names}
        return Indices(method, zero, int(ok.sum()), dropped, "the output does not vary over the ranges")
    if method == "morris":
        res = morris_analyze.analyze(
            prob, X, Y, num_resamples=BOOTSTRAP, conf_level=CONF_LEVEL, num_levels=MORRIS_LEVELS, seed=seed
        )
    else:
        res = sobol_analyze.analyze(
            prob, Y, calc_second_order=False, num_resamples=BOOTSTRAP, conf_level=CONF_LEVEL, seed=seed
        )
    values = {n: np.asarray(res[n], dtype=float) for n in names}
    paired = pairing(factors, X) if method == "sobol" else {}
    return Indices(method, values, int(ok.sum()), dropped, paired=paired)


PAIRING_LIMIT = 0.1
PAIRING_ADVICE = (
    "the design's A and B columns correlate for some factors, which biases their Sobol' indices; "
    "use a larger --n or fewer --params (screen with morris first)"
)


def pairing(factors: Sequence[Factor], X: np.ndarray, limit: float = PAIRING_LIMIT) -> dict[str, float]:
    """Factors whose values in the two Saltelli matrices A and B correlate (|r| > ``limit``).

    The estimators assume A and B independent. With few base samples and many factors, some pairs of
    dimensions of a scrambled Sobol' sequence (column j of A is dimension j, of B dimension j + k)
    are far from it (r = -0.37 for the 42nd of 42 factors at n = 256), which biases that factor's
    indices (ST of a factor that alone sets the output comes out near 1.4). A larger n or fewer
    factors removes it."""
    k = len(factors)
    A, B = X[0 :: k + 2], X[k + 1 :: k + 2]
    out = {}
    for j, f in enumerate(factors):
        r = float(np.corrcoef(A[:, j], B[:, j])[0, 1])
        if abs(r) > limit:
            out[f.name] = round(r, 3)
    return out


# ------------------------------------------------------------------------------------- evaluation
def _batches(
    scenario: Scenario,
    arm: str,
    factors: Sequence[Factor],
    values: np.ndarray,
    outputs: tuple[str, ...],
    mechanisms: frozenset[str] | None,
    chunk_size: int,
) -> list[tuple[np.ndarray, Batch]]:
    """(sample rows, batch) chunks: samples that share cascade and PK values share one model run."""
    from ketasim.population import load_population

    cas = [j for j, f in enumerate(factors) if f.scale == "cascade"]
    pk = [j for j, f in enumerate(factors) if f.scale == "pk"]
    clin = [j for j, f in enumerate(factors) if f.scale == "clinical"]
    mech = cas + pk
    if mech:
        unique, run_of = np.unique(values[:, mech], axis=0, return_inverse=True)
        run_of = np.asarray(run_of).reshape(-1)
    else:  # clinical parameters only: one model run for every sample
        unique, run_of = np.zeros((1, 0)), np.zeros(values.shape[0], dtype=int)
    spec = load_population(str(scenario.population.get("name", "trd")))
    baseline = float(spec["madrs_baseline.mean"])
    out = []
    for start in range(0, unique.shape[0], chunk_size):
        ids = np.arange(start, min(start + chunk_size, unique.shape[0]))
        rows = np.flatnonzero((run_of >= ids[0]) & (run_of <= ids[-1]))
        batch = Batch(
            scenario=scenario,
            arm=arm,
            mechanisms=mechanisms,
            cascade_names=tuple(factors[j].name for j in cas),
            pk_names=tuple(factors[j].name for j in pk),
            runs=unique[ids],
            clinical_names=tuple(factors[j].name for j in clin),
            clinical=values[np.ix_(rows, clin)],
            run_of=run_of[rows] - ids[0],
            outputs=outputs,
            baseline_madrs=baseline,
        )
        out.append((rows, batch))
    return out


@dataclass
class Evaluation:
    """Outputs of every sample (n, n_outputs), model runs made, parameter hash of the arm."""

    Y: np.ndarray
    simulations: int
    parameter_hash: str


def evaluate_design(
    scenario: Scenario,
    arm: str,
    factors: Sequence[Factor],
    values: np.ndarray,
    outputs: Sequence[str],
    mechanisms: frozenset[str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int = 48,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Evaluate every sample (row of ``values``) as one virtual patient, in chunks of model runs."""
    chunks = _batches(scenario, arm, factors, values, tuple(outputs), mechanisms, max(1, int(chunk_size)))
    Y = np.full((values.shape[0], len(outputs)), np.nan)
    digest = ""
    results = map_chunks(evaluate, [b for _, b in chunks], scheduler=scheduler, workers=workers)
    paired = track(zip(chunks, results, strict=True), "sensitivity chunks", total=len(chunks))
    for i, ((rows, _), (y, d)) in enumerate(paired):
        Y[rows] = y
        digest = digest or d
        if progress is not None:
            progress(i + 1, len(chunks))
    return Evaluation(Y, sum(b.runs.shape[0] for _, b in chunks), digest)


# ---------------------------------------------------------------------------------------- results
@dataclass
class SensitivityResult:
    """Ranked indices of one output, with what was run."""

    method: str
    output: str
    n: int
    factors: list[Factor]
    indices: Indices
    scenario: str
    arm: str
    seed: int
    evaluations: int
    simulations: int
    output_values: np.ndarray
    meta: dict = field(default_factory=dict)

    def ranked(self) -> list[dict]:
        rows = []
        for rank, j in enumerate(self.indices.order(), start=1):
            f = self.factors[j]
            row = {"rank": rank, "name": f.name, "scale": f.scale}
            row.update({k: float(v[j]) for k, v in self.indices.values.items()})
            row.update({"low": f.low, "high": f.high, "unit": f.unit, "sampling": f.sampling, "base": f.base})
            row["status"] = f.status
            rows.append(row)
        return rows

    def document(self) -> dict:
        """The ``ketasim sensitivity --json`` document."""
        o = OUTPUTS[self.output]
        y = self.output_values[np.isfinite(self.output_values)]
        doc = {
            "method": self.method,
            "output": self.output,
            "output_description": o.description,
            "output_unit": o.unit,
            "scenario": self.scenario,
            "arm": self.arm,
            "n": self.n,
            "seed": self.seed,
            "evaluations": self.evaluations,
            "simulations": self.simulations,
            "dropped": self.indices.dropped,
            "ranked_by": self.indices.key,
            "parameters": self.ranked(),
            "output_summary": {
                "mean": float(y.mean()) if y.size else None,
                "sd": float(y.std()) if y.size else None,
                "min": float(y.min()) if y.size else None,
                "max": float(y.max()) if y.size else None,
            },
        }
        if self.method == "sobol":
            doc["sum_s1"] = float(np.nansum(self.indices.values["S1"]))
        if self.indices.note:
            doc["note"] = self.indices.note
        if self.indices.paired:
            doc["design_warning"] = {"correlated_ab_columns": self.indices.paired, "message": PAIRING_ADVICE}
        doc.update(self.meta)
        return doc

    def table(self) -> str:
        """A ranked text table."""
        d = self.document()
        lines = [
            f"{self.scenario}: arm '{self.arm}'",
            f"output {self.output} ({d['output_unit']}): {d['output_description']}",
            f"{self.method}, n = {self.n}: {self.evaluations} samples, model runs: {self.simulations}"
            + (f", {self.indices.dropped} groups dropped (model failed)" if self.indices.dropped else ""),
        ]
        s = d["output_summary"]
        if s["mean"] is not None:
            lines.append(
                f"output over the design: mean {s['mean']:.4g}, sd {s['sd']:.4g}, "
                f"range {s['min']:.4g} to {s['max']:.4g}"
            )
        if self.indices.note:
            lines.append(self.indices.note)
        if self.indices.paired:
            cells = ", ".join(f"{k} (r = {v:.2f})" for k, v in self.indices.paired.items())
            lines.append(f"warning: {PAIRING_ADVICE}: {cells}")
        if self.method == "morris":
            cols, labels = ("mu_star", "mu_star_conf", "mu", "sigma"), ("mu*", "+-95%", "mu", "sigma")
        else:
            cols, labels = ("ST", "ST_conf", "S1", "S1_conf"), ("ST", "+-95%", "S1", "+-95%")
        head = f"{'rank':>4}  {'parameter':<40}{'scale':<9}{'status':<10}"
        head += "".join(f"{x:>10}" for x in labels)
        lines += ["", head, "-" * len(head)]
        for r in d["parameters"]:
            cells = "".join(f" {r[c]:9.3g}" for c in cols)
            lines.append(f"{r['rank']:>4}  {r['name']:<40}{r['scale']:<9}{r['status']:<10}{cells}")
        if self.method == "sobol":
            lines.append(f"\nsum of S1: {d['sum_s1']:.3f}")
        skipped = self.meta.get("not_varied", {})
        if skipped:
            lines.append("not varied: " + ", ".join(f"{k} ({v})" for k, v in skipped.items()))
        lines.append(
            f"ketasim {self.meta.get('ketasim_version')}, parameters {self.meta.get('parameter_hash')}, "
            f"ranges {self.meta.get('ranges_hash')}, {self.meta.get('elapsed_s', 0):.1f} s"
        )
        return "\n".join(lines)


def check_outputs(scenario: Scenario, outputs: Sequence[str]) -> tuple[str, ...]:
    """Known outputs that the scenario's species and horizon allow."""
    for name in outputs:
        if name not in OUTPUTS:
            raise unknown_choice("output", name, OUTPUTS, "--output")
        o = OUTPUTS[name]
        if o.clinical and scenario.species != "human":
            raise KetasimError(
                f"'{name}' is a clinical score and the scenario's species is {scenario.species}",
                argument="--output",
                fix="use a mechanistic output such as spine_density_24h or mtorc1_peak",
            )
        if o.hours > scenario.horizon_h + 1e-9:
            raise KetasimError(
                f"'{name}' needs a horizon of {o.hours:g} h, the scenario has {scenario.horizon_h:g} h",
                argument="--output",
                fix="lengthen the scenario's horizon or choose an earlier output",
            )
    if not outputs:
        raise KetasimError("no output given", argument="--output", fix="e.g. --output madrs_change_24h")
    return tuple(outputs)


def default_arm(scenario: Scenario) -> str:
    """The first arm with doses (else the first arm)."""
    for a in scenario.arms:
        if a.regimen.doses:
            return a.name
    return scenario.arms[0].name


def run_sensitivity(
    scenario: Scenario,
    outputs: str | Sequence[str],
    method: str = "morris",
    n: int | None = None,
    arm: str | None = None,
    seed: int = 0,
    params: Sequence[str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int = 48,
    mechanisms: frozenset[str] | None = None,
    ranges: str | Path = RANGES,
    progress: Callable[[int, int], None] | None = None,
) -> list[SensitivityResult]:
    """Sample, evaluate and analyse: one :class:`SensitivityResult` per output (one shared design)."""
    started = time.perf_counter()
    outputs = check_outputs(scenario, [outputs] if isinstance(outputs, str) else list(outputs))
    if method not in METHODS:
        raise unknown_choice("method", method, METHODS, "--method")
    n = check_n(method, DEFAULT_N[method] if n is None else n)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise KetasimError(f"seed must be a non-negative whole number, got {seed}", argument="--seed")
    arm_name = scenario.arm(arm).name if arm is not None else default_arm(scenario)
    on = scenario.mechanisms if mechanisms is None else mechanisms
    factors, skipped = select(load_factors(ranges), params, on)
    X = sample(factors, method, n, seed)
    values = to_values(factors, X)
    ev = evaluate_design(
        scenario, arm_name, factors, values, outputs, mechanisms, scheduler, workers, chunk_size, progress
    )
    meta = {
        "not_varied": skipped,
        "ketasim_version": __version__,
        "git_revision": git_revision(),
        "scenario_hash": scenario.digest(),
        "salib_version": version("SALib"),
        "parameter_hash": ev.parameter_hash,
        "clinical_parameter_hash": packaged("clinical").digest(),
        "ranges_hash": ranges_digest(ranges),
        "mechanisms": sorted(on),
    }
    results = []
    for i, name in enumerate(outputs):
        idx = analyze(factors, method, X, ev.Y[:, i], seed)
        results.append(
            SensitivityResult(
                method,
                name,
                n,
                factors,
                idx,
                scenario.name,
                arm_name,
                int(seed),
                values.shape[0],
                ev.simulations,
                ev.Y[:, i],
                dict(meta),
            )
        )
    elapsed = time.perf_counter() - started
    for r in results:
        r.meta["elapsed_s"] = round(elapsed, 2)
    return results
