"""Trial summaries accumulated chunk by chunk, in memory that does not grow with the number of patients.

:class:`ArmSummary` takes the per-patient rows of :mod:`ketasim.scale.rows` one chunk at a time and keeps:

- exact counts: patients, responders and remitters at each report hour (rates with Wilson 95% intervals);
- sums with error compensation (each chunk's sum by ``math.fsum``, chunks added with Neumaier's
  compensated summation) and, for the MADRS change, the sum of squared deviations merged by Chan et al.'s
  pairwise formula: means agree with a one-pass mean over all patients to rounding (about 1e-15
  relative), and Hedges' g of the MADRS change against the control arm comes from these moments;
- a histogram of MADRS at each report hour on the 0-60 scale in :data:`N_BINS` bins of :data:`BIN_WIDTH`
  (0.1 points). Percentile q is read from it as the bin that holds the ``ceil(q N / 100)``-th smallest
  value (the inverted-CDF definition, ``numpy.percentile(..., method="inverted_cdf")``), interpolated
  linearly inside the bin: it is always within 0.1 MADRS points of the exact order statistic.

:func:`trial_document` turns the arm summaries into the ``ketasim trial --json`` document: the keys of
:meth:`ketasim.trial.TrialResult.summary` (same values up to rounding, for the same patients), plus
``response_ci``, ``remission_ci``, ``madrs_change_sd``, ``madrs_percentiles`` and
``plasma_parent_peak_mean_um`` per arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from scipy import special

from ketasim.errors import KetasimError
from ketasim.scale.rows import hour_key, madrs_column, remission_column, response_column
from ketasim.trial import failure_summary
from ketasim.trial_statistics import odds_ratio, proportion_difference_ci, wilson_ci

MADRS_MAX = 60.0
BIN_WIDTH = 0.1
N_BINS = 600
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
PERCENTILE_METHOD = (
    f"fixed-bin histogram over 0-{MADRS_MAX:g} MADRS points, bins of {BIN_WIDTH:g}; percentile q is the "
    "ceil(q N/100)-th smallest value (inverted CDF), interpolated inside its bin: within "
    f"{BIN_WIDTH:g} points of the exact value"
)


class Moments:
    """Count, compensated sum and sum of squared deviations of a stream of numbers, fed in batches."""

    def __init__(self) -> None:
        self.n = 0
        self._sum = 0.0
        self._comp = 0.0  # Neumaier compensation of the running sum
        self.m2 = 0.0

    @property
    def total(self) -> float:
        return self._sum + self._comp

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=float)
        if x.size == 0:
            return
        s = math.fsum(x)
        m = s / x.size
        m2 = float(np.sum((x - m) ** 2))
        if self.n:
            delta = m - self.mean
            self.m2 += m2 + delta * delta * self.n * x.size / (self.n + x.size)
        else:
            self.m2 = m2
        t = self._sum + s
        if abs(self._sum) >= abs(s):
            self._comp += (self._sum - t) + s
        else:
            self._comp += (s - t) + self._sum
        self._sum = t
        self.n += int(x.size)


class Histogram:
    """Counts of values on [0, :data:`MADRS_MAX`] in :data:`N_BINS` equal bins; NaN counted apart."""

    def __init__(self) -> None:
        self.counts = np.zeros(N_BINS, dtype=np.int64)
        self.missing = 0

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=float)
        ok = np.isfinite(x)
        self.missing += int(x.size - ok.sum())
        idx = np.clip(np.floor(x[ok] / BIN_WIDTH + 1e-9).astype(np.int64), 0, N_BINS - 1)
        self.counts += np.bincount(idx, minlength=N_BINS)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0 < q <= 100) as described in the module docstring (NaN if empty)."""
        total = int(self.counts.sum())
        if total == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100.0 * total - 1e-9))
        cum = np.cumsum(self.counts)
        k = int(np.searchsorted(cum, rank))
        before = int(cum[k - 1]) if k else 0
        return round(float((k + (rank - before) / int(self.counts[k])) * BIN_WIDTH), 6)


class ArmSummary:
    """Endpoints of one arm, updated chunk by chunk from per-patient rows."""

    def __init__(self, name: str, hours: Sequence[float]) -> None:
        self.name = name
        self.hours = tuple(hours)
        self.n = 0
        self.responders = {h: 0 for h in self.hours}
        self.remitters = {h: 0 for h in self.hours}
        self.change = {h: Moments() for h in self.hours}
        self.madrs = {h: Histogram() for h in self.hours}
        self.cadss_peak = Moments()
        self.sbp_peak = Moments()
        self.parent_peak = Moments()
        self.fingerprint: tuple | None = None
        self.failed: dict[int, str] = {}  # patients whose solve failed -> reason (not in the counts)

    def update(self, rows: pa.Table, fingerprint: tuple | None = None) -> None:
        """Add a chunk's rows; ``fingerprint`` (parameter digests, version) must match earlier chunks'."""
        if fingerprint is not None:
            if self.fingerprint is None:
                self.fingerprint = fingerprint
            elif fingerprint != self.fingerprint:
                raise KetasimError(
                    f"chunks of arm '{self.name}' ran with different model parameters or ketasim versions "
                    f"({self.fingerprint} vs {fingerprint})",
                    argument="--scheduler",
                    fix="install the same ketasim on every Dask worker",
                )
        base = rows.column("madrs_baseline").to_numpy()
        for h in self.hours:
            madrs = rows.column(madrs_column(h)).to_numpy()
            self.responders[h] += int(np.sum(rows.column(response_column(h)).to_numpy()))
            self.remitters[h] += int(np.sum(rows.column(remission_column(h)).to_numpy()))
            self.change[h].add(madrs - base)
            self.madrs[h].add(madrs)
        self.cadss_peak.add(rows.column("cadss_peak").to_numpy())
        self.sbp_peak.add(rows.column("sbp_rise_peak_mmhg").to_numpy())
        self.parent_peak.add(rows.column("plasma_parent_peak_um").to_numpy())
        self.n += rows.num_rows

    @property
    def parameter_hash(self) -> str | None:
        return None if self.fingerprint is None else self.fingerprint[0]

    def as_dict(self) -> dict:
        """This arm's entry in the trial document."""
        hk = {h: hour_key(h) for h in self.hours}
        return {
            "n": self.n,
            "response_rate": {hk[h]: self.responders[h] / self.n for h in self.hours},
            "remission_rate": {hk[h]: self.remitters[h] / self.n for h in self.hours},
            "madrs_change_mean": {hk[h]: self.change[h].mean for h in self.hours},
            "dissociation_peak_mean": self.cadss_peak.mean,
            "systolic_rise_peak_mean": self.sbp_peak.mean,
            "response_ci_24h": _ci(self.responders[24.0], self.n) if 24.0 in self.hours else None,
            "response_ci": {hk[h]: _ci(self.responders[h], self.n) for h in self.hours},
            "remission_ci": {hk[h]: _ci(self.remitters[h], self.n) for h in self.hours},
            "madrs_change_sd": {hk[h]: math.sqrt(self.change[h].variance) for h in self.hours},
            "madrs_percentiles": {
                hk[h]: {f"p{q}": self.madrs[h].percentile(q) for q in PERCENTILES} for h in self.hours
            },
            "plasma_parent_peak_mean_um": self.parent_peak.mean,
            "failed": failure_summary(self.failed),
        }


def _ci(x: int, n: int) -> list[float]:
    ci = wilson_ci(int(x), int(n))
    return [float(ci.lower), float(ci.upper)]


def hedges_g_from_moments(t: Moments, c: Moments, confidence: float = 0.95) -> list[float]:
    """Hedges' g of ``t`` against ``c`` with its interval, as :func:`ketasim.trial_statistics.hedges_g`
    computes it from the samples, from counts, means and sums of squared deviations."""
    df = t.n + c.n - 2
    pooled = math.sqrt((t.m2 + c.m2) / df) if df > 0 else 0.0
    if pooled == 0:
        raise KetasimError(
            "both groups have zero variance; the standardised difference is undefined", argument="treatment"
        )
    d = (t.mean - c.mean) / pooled
    se = math.sqrt((t.n + c.n) / (t.n * c.n) + d * d / (2 * (t.n + c.n)))
    j = math.exp(special.gammaln(df / 2) - 0.5 * math.log(df / 2) - special.gammaln((df - 1) / 2))
    z = float(special.ndtri(1 - (1 - confidence) / 2))
    g = j * d
    return [g, g - z * j * se, g + z * j * se]


def comparisons(arms: Mapping[str, ArmSummary], control: str, hours: float = 24.0) -> dict:
    """Each arm against ``control`` on response and MADRS change at ``hours`` (a report hour)."""
    c = arms[control]
    out = {}
    for name, a in arms.items():
        if name == control:
            continue
        x1, x2 = a.responders[hours], c.responders[hours]
        o = odds_ratio(x1, a.n, x2, c.n)
        d = proportion_difference_ci(x1, a.n, x2, c.n)
        out[f"{name} vs {control}"] = {
            "response_odds_ratio_24h": float(o.estimate),
            "ci95": [float(o.lower), float(o.upper)],
            "madrs_change_hedges_g": hedges_g_from_moments(a.change[hours], c.change[hours]),
            "response_difference": [float(d.estimate), float(d.lower), float(d.upper)],
        }
    return out


def trial_document(arms: Mapping[str, ArmSummary], seed: int, control: str | None, meta: Mapping) -> dict:
    """The ``ketasim trial --json`` document from arm summaries (comparisons need a 24 h report hour)."""
    out: dict = {"arms": {name: a.as_dict() for name, a in arms.items()}, "seed": int(seed)}
    if control is not None:
        first = next(iter(arms.values()))
        out["comparisons"] = comparisons(arms, control) if 24.0 in first.hours else {}
    out.update(meta)
    return out
