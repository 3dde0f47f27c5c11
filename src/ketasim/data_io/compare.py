"""Observed against predicted: each subject's own dosing and covariates, simulated with typical parameters.

Residuals follow the usual goodness-of-fit conventions (e.g. the OSP and xpose plot sets): ``RES = DV - PRED``
in the DV unit and the log residual ``LRES = ln(DV) - ln(PRED)`` (undefined where either is zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketasim.compounds import Library, default_library
from ketasim.data_io.simulate import (
    check_compounds,
    check_observed_analytes,
    concentrations,
    design_groups,
    subject_covariates,
)
from ketasim.datasets import PKDataset
from ketasim.physiology import default_physiology


@dataclass(frozen=True)
class Comparison:
    """The tidy table (one row per observation) and its summary."""

    table: pd.DataFrame
    dv_unit: str
    source: str

    def summary(self) -> dict:
        """Per analyte: n, median |LRES|, geometric mean DV/PRED, fraction within 2-fold, RMSE of LRES."""
        out: dict = {"source": self.source, "dv_unit": self.dv_unit, "n": len(self.table), "analytes": {}}
        for a, g in self.table.groupby("ANALYTE", sort=True):
            lr = g["LRES"].dropna().to_numpy()
            out["analytes"][str(a)] = {
                "n": len(g),
                "n_log": int(lr.size),
                "median_abs_log_residual": float(np.median(np.abs(lr))) if lr.size else None,
                "geometric_mean_ratio_obs_pred": float(np.exp(np.mean(lr))) if lr.size else None,
                "fraction_within_2fold": float(np.mean(np.abs(lr) <= np.log(2.0))) if lr.size else None,
                "rmse_log_residual": float(np.sqrt(np.mean(lr**2))) if lr.size else None,
            }
        return out


def observed_vs_predicted(data: PKDataset, library: Library | None = None) -> Comparison:
    """Simulate every subject's dosing with its WT (and CYP2B6, if given) and compare with its DV."""
    check_observed_analytes(data)
    library = library or default_library()
    check_compounds(data, library)
    ref_w = default_physiology("human")["body.reference_weight"]
    obs = data.observations()
    parts = []
    for regimen, subjects in design_groups(data):
        rows = obs[obs["ID"].isin(subjects)]
        if rows.empty:
            continue
        times = np.unique(rows["TIME"].to_numpy())
        conc = concentrations(
            regimen, subject_covariates(data, subjects, ref_w), times, sorted(set(rows["ANALYTE"])),
            data.dv_unit, library,
        )  # fmt: skip
        index = {s: k for k, s in enumerate(subjects)}
        ti = np.searchsorted(times, rows["TIME"].to_numpy())
        pi = rows["ID"].map(index).to_numpy()
        pred = np.empty(len(rows))
        for a in set(rows["ANALYTE"]):
            m = (rows["ANALYTE"] == a).to_numpy()
            pred[m] = conc[a][pi[m], ti[m]]
        part = rows[["ID", "TIME", "ANALYTE", "DV", "ROW"]].copy()
        part["PRED"] = pred
        parts.append(part)
    table = pd.concat(parts).sort_values(["ID", "TIME", "ROW"], kind="stable").reset_index(drop=True)
    dv, pred = table["DV"].to_numpy(), table["PRED"].to_numpy()
    table["RES"] = dv - pred
    with np.errstate(divide="ignore", invalid="ignore"):
        table["LRES"] = np.where((dv > 0) & (pred > 0), np.log(dv) - np.log(pred), np.nan)
    table["UNIT"] = data.dv_unit
    columns = ["ID", "TIME", "ANALYTE", "DV", "PRED", "RES", "LRES", "UNIT", "ROW"]
    return Comparison(table[columns], data.dv_unit, data.source)
