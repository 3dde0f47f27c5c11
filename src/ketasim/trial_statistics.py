"""Statistics for virtual trials: intervals, effect sizes, tests and power by simulation.

Pure functions on numpy arrays; counts and samples may carry leading axes (for example one row per
simulated trial) and results broadcast over them.

Binary endpoints (counts ``x`` of ``n``):

- :func:`wilson_ci`: Wilson score interval (Wilson 1927, J Am Stat Assoc 22:209; method 3 of Newcombe
  1998, Stat Med 17:857);
- :func:`proportion_difference_ci`: p1 - p2 with Newcombe's hybrid score interval (method 10 of Newcombe
  1998, Stat Med 17:873): the Wilson limits of each proportion combined by square-and-add;
- :func:`odds_ratio`: Woolf's log interval (Woolf 1955, Ann Hum Genet 19:251), with the Haldane-Anscombe
  correction (0.5 added to every cell of a table with a zero cell; Haldane 1956, Ann Hum Genet 20:309);
- :func:`risk_ratio`: the log (Katz) interval (Katz et al. 1978, Biometrics 34:469), same zero-cell rule;
- :func:`two_proportion_z_test` (pooled variance) and :func:`fisher_exact_test` (scipy).

Continuous endpoints: :func:`cohens_d` and :func:`hedges_g` with the large-sample variance of Hedges &
Olkin 1985 (Statistical Methods for Meta-Analysis, eq. 5.14), var(d) = (n1 + n2)/(n1 n2) + d^2/(2(n1 + n2)),
and :func:`welch_t_test` (Welch 1947, Biometrika 34:28).

Clinical endpoints on MADRS (Montgomery & Asberg 1979, Br J Psychiatry 134:382): :func:`responders`
(a reduction of at least 50% from baseline, the response definition of ketamine trials, e.g. Murrough
et al. 2013, Am J Psychiatry 170:1134) and :func:`remitters` (score at or below a threshold; 10 by
default, a convention: trials use 10 or 12, so it is a parameter).

Power: :func:`power_by_simulation` runs a user's trial simulator ``n_trials`` times, applies a test and
reports the rejection rate with a Wilson interval as its Monte-Carlo uncertainty (Morris, White &
Crowther 2019, Stat Med 38:2074); :func:`sample_size_for_power` bisects over the number per arm with
common random numbers (trial i uses the same random stream at every n). :func:`power_two_proportions`
gives the closed-form normal-approximation power of the pooled z test (Fleiss, Levin & Paik 2003,
Statistical Methods for Rates and Proportions, 3rd ed., section 4.2) for checking and planning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from ketasim.errors import KetasimError, unknown_choice

ArrayLike = float | int | np.ndarray | Sequence[float]

TESTS = ("z", "fisher", "welch")
ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval (floats, or arrays of one shape).

    Unpacks as ``estimate, lower, upper = interval``.
    """

    estimate: Any
    lower: Any
    upper: Any
    confidence: float = 0.95

    def __iter__(self):
        return iter((self.estimate, self.lower, self.upper))


@dataclass(frozen=True)
class PowerResult:
    """Estimated power (rejection rate) with a Wilson interval for its Monte-Carlo error."""

    power: float
    lower: float
    upper: float
    n_per_arm: Any
    n_trials: int
    alpha: float
    test: str
    p_values: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class SampleSizeResult:
    """Smallest number per arm found to reach the target power, and every power evaluated."""

    n_per_arm: int
    power: PowerResult
    target_power: float
    evaluated: dict[int, float]


# ------------------------------------------------------------------------------------------ checking


def _z(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise KetasimError(f"must be between 0 and 1, got {confidence!r}", argument="confidence")
    return float(special.ndtri(1.0 - (1.0 - confidence) / 2.0))


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise KetasimError(f"must be between 0 and 1, got {alpha!r}", argument="alpha")
    return float(alpha)


def _counts(x: ArrayLike, n: ArrayLike, x_name: str, n_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Successes and totals as float arrays, checked: whole numbers, n >= 1, 0 <= x <= n."""
    xa = np.asarray(x, dtype=float)
    na = np.asarray(n, dtype=float)
    for arr, name in ((xa, x_name), (na, n_name)):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise KetasimError("counts must be finite whole numbers", argument=name)
    if np.any(na < 1):
        raise KetasimError("every total must be at least 1", argument=n_name)
    if np.any(xa < 0) or np.any(xa > na):
        raise KetasimError(f"successes must lie between 0 and {n_name}", argument=x_name)
    return np.broadcast_arrays(xa, na)


def _out(a: np.ndarray) -> Any:
    return float(a) if np.ndim(a) == 0 else a


# --------------------------------------------------------------------------------------- proportions


def wilson_ci(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> Interval:
    """Proportion ``successes / n`` with the Wilson score interval (Wilson 1927, JASA 22:209).

    p_hat = x/n; limits (p_hat + z^2/2n +- z sqrt(p_hat(1-p_hat)/n + z^2/4n^2)) / (1 + z^2/n).
    Newcombe 1998 (Stat Med 17:857, Table I) gives 81/263 -> 0.2553 to 0.3662.
    """
    z = _z(confidence)
    x, nn = _counts(successes, n, "successes", "n")
    p = x / nn
    z2 = z * z
    denom = 1.0 + z2 / nn
    centre = (p + z2 / (2 * nn)) / denom
    half = z * np.sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom
    lower = np.where(x == 0, 0.0, centre - half)
    upper = np.where(x == nn, 1.0, centre + half)
    return Interval(_out(p), _out(lower), _out(upper), confidence)


def proportion_difference_ci(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, confidence: float = 0.95
) -> Interval:
    """Difference p1 - p2 with Newcombe's hybrid score interval (method 10, Stat Med 1998;17:873).

    With Wilson limits (l1, u1) and (l2, u2): lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2),
    upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2). Newcombe's Table II: 56/70 - 48/80 -> 0.0524 to 0.3339.
    """
    p1, l1, u1 = wilson_ci(x1, n1, confidence)
    p2, l2, u2 = wilson_ci(x2, n2, confidence)
    d = np.subtract(p1, p2)
    lower = d - np.sqrt(np.square(np.subtract(p1, l1)) + np.square(np.subtract(u2, p2)))
    upper = d + np.sqrt(np.square(np.subtract(u1, p1)) + np.square(np.subtract(p2, l2)))
    return Interval(_out(d), _out(np.maximum(lower, -1.0)), _out(np.minimum(upper, 1.0)), confidence)


def _cells(x1, n1, x2, n2, correction: float) -> tuple[np.ndarray, ...]:
    if isinstance(correction, bool) or not isinstance(correction, int | float) or correction < 0:
        raise KetasimError(f"must be zero or positive, got {correction!r}", argument="correction")
    a, m1 = _counts(x1, n1, "x1", "n1")
    c, m2 = _counts(x2, n2, "x2", "n2")
    a, m1, c, m2 = np.broadcast_arrays(a, m1, c, m2)
    b, d = m1 - a, m2 - c
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    k = np.where(zero, float(correction), 0.0)
    return a + k, b + k, c + k, d + k


def odds_ratio(
    x1: ArrayLike,
    n1: ArrayLike,
    x2: ArrayLike,
    n2: ArrayLike,
    confidence: float = 0.95,
    correction: float = 0.5,
) -> Interval:
    """Odds ratio of group 1 vs group 2 with Woolf's log interval (Ann Hum Genet 1955;19:251).

    Cells a = x1, b = n1 - x1, c = x2, d = n2 - x2; OR = ad/bc, SE(ln OR) = sqrt(1/a + 1/b + 1/c + 1/d).
    A table with a zero cell gets ``correction`` (0.5, Haldane 1956, Ann Hum Genet 20:309) added to every
    cell; ``correction=0`` turns this off (the estimate may then be 0 or infinite).
    """
    z = _z(confidence)
    a, b, c, d = _cells(x1, n1, x2, n2, correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_or = np.log(a) + np.log(d) - np.log(b) - np.log(c)
        se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        return Interval(
            _out(np.exp(log_or)), _out(np.exp(log_or - z * se)), _out(np.exp(log_or + z * se)), confidence
        )


def risk_ratio(
    x1: ArrayLike,
    n1: ArrayLike,
    x2: ArrayLike,
    n2: ArrayLike,
    confidence: float = 0.95,
    correction: float = 0.5,
) -> Interval:
    """Risk ratio p1/p2 with the log interval of Katz et al. (Biometrics 1978;34:469).

    SE(ln RR) = sqrt(1/a - 1/n1 + 1/c - 1/n2); tables with a zero cell get ``correction`` added to
    every cell (so n1 and n2 grow by twice the correction), as for :func:`odds_ratio`.
    """
    z = _z(confidence)
    a, b, c, d = _cells(x1, n1, x2, n2, correction)
    m1, m2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = np.log(a / m1) - np.log(c / m2)
        se = np.sqrt(1 / a - 1 / m1 + 1 / c - 1 / m2)
        return Interval(
            _out(np.exp(log_rr)), _out(np.exp(log_rr - z * se)), _out(np.exp(log_rr + z * se)), confidence
        )


def _check_alternative(alternative: str) -> str:
    if alternative not in ALTERNATIVES:
        raise unknown_choice("alternative", str(alternative), ALTERNATIVES, "alternative")
    return alternative


def two_proportion_z_test(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, alternative: str = "two-sided"
) -> Any:
    """p-value of the pooled two-proportion z test of p1 = p2 ("greater": p1 > p2).

    z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)), p the pooled proportion; a table with p = 0 or 1 has z = 0.
    """
    _check_alternative(alternative)
    a, m1 = _counts(x1, n1, "x1", "n1")
    c, m2 = _counts(x2, n2, "x2", "n2")
    pooled = (a + c) / (m1 + m2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / m1 + 1 / m2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (a / m1 - c / m2) / se, 0.0)
    return _out(_p_from_z(z, alternative))


def _p_from_z(z: np.ndarray, alternative: str) -> np.ndarray:
    if alternative == "greater":
        return special.ndtr(-z)
    if alternative == "less":
        return special.ndtr(z)
    return 2.0 * special.ndtr(-np.abs(z))


def fisher_exact_test(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, alternative: str = "two-sided"
) -> Any:
    """p-value of Fisher's exact test of the 2x2 table [[x1, n1-x1], [x2, n2-x2]] (scipy.stats.fisher_exact).

    Vectorised over tables; each distinct table is computed once.
    """
    _check_alternative(alternative)
    a, m1 = _counts(x1, n1, "x1", "n1")
    c, m2 = _counts(x2, n2, "x2", "n2")
    a, m1, c, m2 = np.broadcast_arrays(a, m1, c, m2)
    tables = np.stack([a, m1, c, m2], axis=-1).reshape(-1, 4).astype(np.int64)
    unique, inverse = np.unique(tables, axis=0, return_inverse=True)
    p_unique = np.array(
        [
            stats.fisher_exact([[t[0], t[1] - t[0]], [t[2], t[3] - t[2]]], alternative=alternative).pvalue
            for t in unique
        ]
    )
    return _out(p_unique[inverse.ravel()].reshape(a.shape))


# ---------------------------------------------------------------------------------------- continuous


def _two_samples(treatment: ArrayLike, control: ArrayLike, axis: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.moveaxis(np.asarray(treatment, dtype=float), axis, -1)
    c = np.moveaxis(np.asarray(control, dtype=float), axis, -1)
    for arr, name in ((t, "treatment"), (c, "control")):
        if arr.ndim == 0 or arr.shape[-1] < 2:
            raise KetasimError("needs at least 2 observations per group", argument=name)
        if not np.all(np.isfinite(arr)):
            raise KetasimError("observations must be finite", argument=name)
    return t, c


def cohens_d(treatment: ArrayLike, control: ArrayLike, confidence: float = 0.95, axis: int = -1) -> Interval:
    """Standardised mean difference (treatment - control) / pooled SD, with a normal-theory interval.

    Pooled SD with n - 1 weights; var(d) = (n1 + n2)/(n1 n2) + d^2/(2(n1 + n2)) (Hedges & Olkin 1985).
    Samples lie along ``axis``; other axes (e.g. simulated trials) broadcast.
    """
    z = _z(confidence)
    d, se, _ = _smd(treatment, control, axis)
    return Interval(_out(d), _out(d - z * se), _out(d + z * se), confidence)


def hedges_g(treatment: ArrayLike, control: ArrayLike, confidence: float = 0.95, axis: int = -1) -> Interval:
    """Hedges' g: Cohen's d times the exact small-sample factor J(df) (Hedges 1981, J Educ Stat 6:107).

    J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)), df = n1 + n2 - 2 (about 1 - 3/(4 df - 1));
    SE(g) = J SE(d).
    """
    z = _z(confidence)
    d, se, df = _smd(treatment, control, axis)
    j = np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))
    g = j * d
    return Interval(_out(g), _out(g - z * j * se), _out(g + z * j * se), confidence)


def _smd(treatment, control, axis) -> tuple[np.ndarray, np.ndarray, float]:
    t, c = _two_samples(treatment, control, axis)
    n1, n2 = t.shape[-1], c.shape[-1]
    df = n1 + n2 - 2
    pooled = np.sqrt(((n1 - 1) * t.var(axis=-1, ddof=1) + (n2 - 1) * c.var(axis=-1, ddof=1)) / df)
    if np.any(pooled == 0):
        raise KetasimError(
            "both groups have zero variance; the standardised difference is undefined", argument="treatment"
        )
    d = (t.mean(axis=-1) - c.mean(axis=-1)) / pooled
    se = np.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    return d, se, float(df)


def welch_t_test(
    treatment: ArrayLike, control: ArrayLike, alternative: str = "two-sided", axis: int = -1
) -> Any:
    """p-value of Welch's unequal-variance t test (scipy.stats.ttest_ind, equal_var=False).

    Samples along ``axis``; a comparison with zero variance in both groups (undefined t) gets p = 1.
    """
    _check_alternative(alternative)
    t, c = _two_samples(treatment, control, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.ttest_ind(t, c, axis=-1, equal_var=False, alternative=alternative).pvalue
    return _out(np.where(np.isnan(p), 1.0, p))


# ----------------------------------------------------------------------------------- clinical endpoints


def responders(baseline: ArrayLike, score: ArrayLike, reduction: float = 0.5) -> np.ndarray:
    """True where the score fell by at least ``reduction`` (50%) of the baseline: score <= (1 - r) baseline.

    ``baseline`` has one value per patient (shape (P,) or any leading shape of ``score``); ``score`` may
    add trailing axes (e.g. (P, T) over time). A missing (NaN) score counts as no response.
    """
    if isinstance(reduction, bool) or not isinstance(reduction, int | float) or not 0 < reduction <= 1:
        raise KetasimError(f"must be in (0, 1], got {reduction!r}", argument="reduction")
    b = np.asarray(baseline, dtype=float)
    s = np.asarray(score, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise KetasimError("baseline scores must be finite and positive", argument="baseline")
    if b.ndim > s.ndim or s.shape[: b.ndim] != b.shape:
        raise KetasimError(
            f"baseline shape {b.shape} does not match the leading axes of score shape {s.shape}",
            argument="baseline",
        )
    b = b.reshape(b.shape + (1,) * (s.ndim - b.ndim))
    with np.errstate(invalid="ignore"):
        return (b - s) >= reduction * b * (1 - 1e-12)


def remitters(score: ArrayLike, threshold: float = 10.0) -> np.ndarray:
    """True where the score is at or below ``threshold`` (MADRS <= 10 by default); NaN counts as False."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise KetasimError(f"must be a finite number, got {threshold!r}", argument="threshold")
    with np.errstate(invalid="ignore"):
        return np.asarray(score, dtype=float) <= threshold


# -------------------------------------------------------------------------------------------- power


def power_two_proportions(p1: float, p2: float, n_per_arm: ArrayLike, alpha: float = 0.05) -> Any:
    """Normal-approximation power of the two-sided pooled z test with ``n_per_arm`` in each group.

    power = Phi((|p1 - p2| - z sqrt(2 pbar qbar / n)) / sqrt((p1 q1 + p2 q2)/n)) + the (tiny) opposite
    tail, pbar = (p1 + p2)/2 (Fleiss, Levin & Paik 2003, sec. 4.2, without continuity correction).
    """
    alpha = _check_alpha(alpha)
    for p, name in ((p1, "p1"), (p2, "p2")):
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise KetasimError(f"must be a probability, got {p!r}", argument=name)
    n = np.asarray(n_per_arm, dtype=float)
    if np.any(n < 1):
        raise KetasimError("must be at least 1", argument="n_per_arm")
    z = special.ndtri(1 - alpha / 2)
    pbar = (p1 + p2) / 2
    se0 = np.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    delta = abs(p1 - p2)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = special.ndtr((delta - z * se0) / se1) + special.ndtr((-delta - z * se0) / se1)
    return _out(np.where(se1 > 0, power, float(delta > 0)))


def _binary(arm: Any, name: str) -> tuple[int, int]:
    a = np.asarray(arm)
    if a.ndim != 1 or a.size < 1:
        raise KetasimError(
            f"expected a 1-D array of per-patient outcomes, got shape {a.shape}", argument=name
        )
    if a.dtype != bool:
        if not np.all(np.isin(a, (0, 1))):
            raise KetasimError("a binary test needs outcomes that are True/False or 0/1", argument=name)
        a = a.astype(bool)
    return int(a.sum()), int(a.size)


def power_by_simulation(
    simulate_trial: Callable[[np.random.Generator, Any], Sequence[np.ndarray]],
    n_per_arm: Any,
    n_trials: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    test: str = "z",
    alternative: str = "two-sided",
) -> PowerResult:
    """Power of a two-arm trial by simulation.

    ``simulate_trial(rng, n_per_arm)`` returns ``(treatment, control)``: per-patient outcomes of one trial
    (bool/0-1 for ``test="z"`` or ``"fisher"``, numbers for ``"welch"``). ``n_per_arm`` is passed through
    unchanged (an int, or e.g. a pair for unequal allocation). Trial i gets its own generator from
    ``numpy.random.SeedSequence(seed).spawn``, the same at every ``n_per_arm`` (common random numbers).
    Power is the fraction of trials with p < ``alpha``; its interval is the Wilson 95% interval.
    """
    if not callable(simulate_trial):
        raise KetasimError(
            "must be a function (rng, n_per_arm) -> (treatment, control)", argument="simulate_trial"
        )
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise KetasimError(f"must be a whole number >= 1, got {n_trials!r}", argument="n_trials")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise KetasimError(f"must be a non-negative integer, got {seed!r}", argument="seed")
    alpha = _check_alpha(alpha)
    if test not in TESTS:
        raise unknown_choice("test", str(test), TESTS, "test")
    _check_alternative(alternative)

    streams = np.random.SeedSequence(int(seed)).spawn(int(n_trials))
    binary = test in ("z", "fisher")
    counts = np.empty((n_trials, 4), dtype=np.int64)
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    for i, ss in enumerate(streams):
        out = simulate_trial(np.random.default_rng(ss), n_per_arm)
        is_pair = isinstance(out, Sequence) and len(out) == 2
        if not (is_pair or (isinstance(out, np.ndarray) and out.ndim == 2 and out.shape[0] == 2)):
            raise KetasimError("must return two arrays (treatment, control)", argument="simulate_trial")
        if binary:
            x1, m1 = _binary(out[0], "treatment")
            x2, m2 = _binary(out[1], "control")
            counts[i] = (x1, m1, x2, m2)
        else:
            t, c = np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float)
            if t.ndim != 1 or c.ndim != 1:
                raise KetasimError(
                    "must return two 1-D arrays of per-patient outcomes", argument="simulate_trial"
                )
            samples.append((t, c))

    if test == "z":
        p = np.asarray(two_proportion_z_test(*counts.T, alternative=alternative))
    elif test == "fisher":
        p = np.asarray(fisher_exact_test(*counts.T, alternative=alternative))
    else:
        shapes = {(t.shape, c.shape) for t, c in samples}
        if len(shapes) == 1:
            p = np.asarray(
                welch_t_test(
                    np.stack([t for t, _ in samples]), np.stack([c for _, c in samples]), alternative
                )
            )
        else:
            p = np.array([welch_t_test(t, c, alternative) for t, c in samples])
    rejections = int(np.count_nonzero(p < alpha))
    rate, lo, hi = wilson_ci(rejections, n_trials)
    return PowerResult(rate, lo, hi, n_per_arm, int(n_trials), alpha, test, np.atleast_1d(p))


def sample_size_for_power(
    simulate_trial: Callable[[np.random.Generator, int], Sequence[np.ndarray]],
    target_power: float = 0.8,
    alpha: float = 0.05,
    n_trials: int = 1000,
    seed: int = 0,
    test: str = "z",
    alternative: str = "two-sided",
    n_min: int = 2,
    n_max: int = 5000,
) -> SampleSizeResult:
    """Smallest n per arm whose simulated power reaches ``target_power``.

    n doubles from ``n_min`` until the target is reached (never beyond ``n_max``), then bisection
    between the last n that fell short and the first that reached it finds the smallest.

    Every evaluation uses the same seed, so trial i sees the same random stream at every n (common
    random numbers) and the estimated power curve is smooth enough to bisect. The answer carries the
    Monte-Carlo error of the power at that n (``result.power.lower``/``upper``); raise ``n_trials``
    to narrow it. Raises :class:`KetasimError` if even ``n_max`` falls short.
    """
    if (
        isinstance(target_power, bool)
        or not isinstance(target_power, int | float)
        or not 0 < target_power < 1
    ):
        raise KetasimError(f"must be between 0 and 1, got {target_power!r}", argument="target_power")
    for v, name in ((n_min, "n_min"), (n_max, "n_max")):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise KetasimError(f"must be a whole number >= 1, got {v!r}", argument=name)
    if n_min >= n_max:
        raise KetasimError(f"n_min ({n_min}) must be below n_max ({n_max})", argument="n_min")

    evaluated: dict[int, float] = {}
    results: dict[int, PowerResult] = {}

    def power_at(n: int) -> float:
        if n not in results:
            results[n] = power_by_simulation(simulate_trial, n, n_trials, alpha, seed, test, alternative)
            evaluated[n] = results[n].power
        return evaluated[n]

    # grow n geometrically until the target is reached, then bisect between the last miss and the hit
    lo, n = 0, int(n_min)
    while power_at(n) < target_power:
        if n >= n_max:
            raise KetasimError(
                f"power at n_max = {n_max} per arm is {evaluated[n]:.3f}, below {target_power}",
                argument="n_max",
                fix="raise n_max or check the simulated effect",
            )
        lo, n = n, min(2 * n, int(n_max))
    hi = n
    while lo and hi - lo > 1:
        mid = (lo + hi) // 2
        if power_at(mid) >= target_power:
            hi = mid
        else:
            lo = mid
    return SampleSizeResult(hi, results[hi], float(target_power), dict(sorted(evaluated.items())))
