"""Visual predictive check (VPC) of a virtual population against a dataset's observations.

The standard percentile VPC (Holford N, PAGE 14 (2005) abstr 738; Bergstrand M et al. 2011, AAPS J
13:143; conventions of the R packages ``vpc`` and ``tidyvpc``):

1. The dataset's design is simulated ``n`` times: each replicate gives every subject a new virtual
   patient from a population (:mod:`ketasim.population`; its PK factors, e.g. clearance and central
   volume, and CYP2B6 genotype as the trial uses them, :func:`ketasim.trial.patient_inputs`) with the
   subject's own doses, sampling times
   and, when the dataset has them, body weight (WT) and CYP2B6 genotype.
2. An optional proportional residual error (lognormal, ``residual_cv``; default 0: the model has no
   assay-error parameter, so simulated observations are model concentrations).
3. Observation times are binned (one bin per nominal time when there are few, else quantile bins).
   In each bin the 5th, 50th and 95th percentiles of the observations are set against the 90%
   prediction interval (5th-95th percentile over replicates) of the same percentiles of the simulated
   observations.

Also reported: the fraction of observations outside their own 90% prediction interval (5th-95th
percentile of the ``n`` simulated values at that subject and time), ~10% when model and data agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ketasim.compounds import Library, default_library
from ketasim.data_io.simulate import check_compounds, check_observed_analytes, concentrations, design_groups
from ketasim.datasets import PKDataset
from ketasim.errors import KetasimError, unknown_choice
from ketasim.pk.covariates import Covariates
from ketasim.population import PopulationSpec, load_population, sample

QUANTILES = (0.05, 0.5, 0.95)
PI = (0.05, 0.95)
MAX_NOMINAL_BINS = 12


@dataclass(frozen=True)
class VPCResult:
    """``bins``: one row per bin x quantile (observed and simulated PI); ``observations``: one row per
    observation with its own prediction interval; ``summary()`` for ``--json``."""

    bins: pd.DataFrame
    observations: pd.DataFrame
    analyte: str
    dv_unit: str
    n: int
    seed: int
    population: str
    residual_cv: float

    def summary(self) -> dict:
        obs = self.observations
        b = self.bins
        missed = b[(b["observed"] < b["sim_lo"]) | (b["observed"] > b["sim_hi"])]
        return {
            "analyte": self.analyte,
            "dv_unit": self.dv_unit,
            "n": self.n,
            "seed": self.seed,
            "population": self.population,
            "residual_cv": self.residual_cv,
            "observations": len(obs),
            "bins": int(b["bin"].nunique()),
            "fraction_outside_90pi": float(obs["OUTSIDE"].mean()) if len(obs) else None,
            "fraction_below_90pi": float((obs["DV"] < obs["PI_LO"]).mean()) if len(obs) else None,
            "fraction_above_90pi": float((obs["DV"] > obs["PI_HI"]).mean()) if len(obs) else None,
            "observed_percentiles_outside_their_pi": len(missed),
            "percentiles_checked": len(b),
        }


def time_bins(times: np.ndarray, bins: int | Sequence[float] | None = None) -> np.ndarray:
    """Bin edges (h). None: one bin per distinct time if there are at most 12, else 8 quantile bins;
    an int: that many quantile bins; a sequence: the edges themselves (increasing)."""
    t = np.asarray(times, dtype=float)
    u = np.unique(t)
    if bins is None and u.size <= MAX_NOMINAL_BINS:
        mids = (u[1:] + u[:-1]) / 2
        return np.r_[u[0] - 1.0, mids, u[-1] + 1.0] if u.size > 1 else np.array([u[0] - 1.0, u[0] + 1.0])
    if bins is None or isinstance(bins, int | np.integer):
        k = 8 if bins is None else int(bins)
        if k < 1:
            raise KetasimError(f"bins must be >= 1, got {k}", argument="bins")
        edges = np.unique(np.quantile(t, np.linspace(0, 1, k + 1)))
        edges[0], edges[-1] = edges[0] - 1e-9, edges[-1] + 1e-9
        return edges
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise KetasimError("bin edges must be an increasing list of at least two times", argument="bins")
    return edges


def _virtual_covariates(frame: pd.DataFrame, data: PKDataset, subjects: list, n: int) -> Covariates:
    """Covariates of ``n`` replicates per subject (subject-major): the frame's eta_cl and genotype, the
    dataset's WT and CYP2B6 where given."""
    from ketasim.trial import patient_inputs

    cov, _ = patient_inputs(frame)
    weight = cov.weight.copy()
    geno = list(cov.cyp2b6)
    for k, s in enumerate(subjects):
        sl = slice(k * n, (k + 1) * n)
        w = data.weight(s, np.nan)
        if np.isfinite(w):
            weight[sl] = w
        g = data.covariate(s, "CYP2B6")
        if g is not None:
            geno[sl] = [g] * n
    return replace(cov, weight=weight, cyp2b6=tuple(geno))  # keeps every other sampled factor


def simulate_observations(
    data: PKDataset,
    analyte: str,
    n: int,
    seed: int,
    population: PopulationSpec,
    residual_cv: float = 0.0,
    library: Library | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The observations of ``analyte`` and an (n, n_obs) array of simulated values for them."""
    library = library or default_library()
    obs = data.observations()
    obs = obs[obs["ANALYTE"] == analyte].reset_index(drop=True)
    sims = np.empty((n, len(obs)))
    rng = np.random.default_rng(seed)
    offset = 0
    for regimen, subjects in design_groups(data):
        rows = obs[obs["ID"].isin(subjects)]
        if rows.empty:
            continue
        subjects = [s for s in subjects if s in set(rows["ID"])]
        frame = sample(population, n * len(subjects), seed + offset)
        offset += 1
        cov = _virtual_covariates(frame, data, subjects, n)
        times = np.unique(rows["TIME"].to_numpy())
        conc = concentrations(regimen, cov, times, [analyte], data.dv_unit, library)[analyte]
        ti = np.searchsorted(times, rows["TIME"].to_numpy())
        k = rows["ID"].map({s: i for i, s in enumerate(subjects)}).to_numpy()
        sims[:, rows.index.to_numpy()] = conc.reshape(len(subjects), n, times.size)[k, :, ti].T
    if residual_cv > 0:
        sigma = np.sqrt(np.log1p(residual_cv**2))
        sims = sims * np.exp(sigma * rng.standard_normal(sims.shape))
    return obs, sims


def vpc(
    data: PKDataset,
    analyte: str | None = None,
    n: int = 500,
    seed: int = 1,
    population: str | PopulationSpec = "trd",
    residual_cv: float = 0.0,
    bins: int | Sequence[float] | None = None,
    library: Library | None = None,
) -> VPCResult:
    """Percentile VPC of ``analyte`` (default: the dataset's only analyte)."""
    check_observed_analytes(data)
    names = data.analytes()
    if analyte is None:
        if len(names) != 1:
            raise KetasimError(
                f"the dataset has {len(names)} analytes",
                argument="analyte",
                fix="choose one with --analyte: " + ", ".join(names),
            )
        analyte = names[0]
    if analyte not in names:
        raise unknown_choice("observed analyte", analyte, names, "analyte")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 20:
        raise KetasimError(f"n must be a whole number >= 20, got {n!r}", argument="n", fix="e.g. --n 500")
    if not np.isfinite(residual_cv) or residual_cv < 0:
        raise KetasimError("residual CV must be zero or positive", argument="residual_cv")
    check_compounds(data, library)
    spec = population if isinstance(population, PopulationSpec) else load_population(population)
    obs, sims = simulate_observations(data, analyte, int(n), int(seed), spec, residual_cv, library)

    lo, hi = np.quantile(sims, PI, axis=0)
    obs_table = obs[["ID", "TIME", "DV", "ROW"]].copy()
    obs_table["PI_LO"], obs_table["PI_HI"] = lo, hi
    obs_table["OUTSIDE"] = (obs_table["DV"] < lo) | (obs_table["DV"] > hi)

    t = obs["TIME"].to_numpy()
    dv = obs["DV"].to_numpy()
    edges = time_bins(t, bins)
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, edges.size - 2)
    obs_table["BIN"] = which
    rows = []
    for b in np.unique(which):
        m = which == b
        observed = np.quantile(dv[m], QUANTILES)
        sim_q = np.quantile(sims[:, m], QUANTILES, axis=1)  # (3, n)
        pi = np.quantile(sim_q, (PI[0], 0.5, PI[1]), axis=1)  # (3 stats, 3 quantiles)
        for qi, q in enumerate(QUANTILES):
            rows.append(
                {
                    "bin": int(b),
                    "time": float(np.median(t[m])),
                    "time_lo": float(edges[b]),
                    "time_hi": float(edges[b + 1]),
                    "n_obs": int(m.sum()),
                    "quantile": q,
                    "observed": float(observed[qi]),
                    "sim_lo": float(pi[0, qi]),
                    "sim_median": float(pi[1, qi]),
                    "sim_hi": float(pi[2, qi]),
                    "unit": data.dv_unit,
                }
            )
    return VPCResult(
        pd.DataFrame(rows), obs_table, analyte, data.dv_unit, int(n), int(seed), spec.name, float(residual_cv)
    )
