"""NCA of observed profiles, one row per subject and analyte (:func:`ketasim.nca.nca`), with a summary.

Times are taken from the subject's first dose (observations before it are left out); replicate
samples at one time are averaged. Geometric means and geometric CVs (sqrt(exp(s^2) - 1), s the SD of the
logs) summarise the exposure metrics, as PKNCA and ncappc report them; Tmax is given as median and range.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ketasim.data_io.simulate import check_observed_analytes
from ketasim.datasets import PKDataset
from ketasim.nca import nca

METRICS = ("cmax", "tmax", "auc_last", "auc_inf", "lambda_z", "t_half", "auc_extrapolated_pct", "n_lambda_z")
GEOMETRIC = ("cmax", "auc_last", "auc_inf", "t_half")


def units(dv_unit: str, amount_unit: str) -> dict[str, str]:
    return {
        "cmax": dv_unit,
        "tmax": "h",
        "auc_last": f"{dv_unit}*h",
        "auc_inf": f"{dv_unit}*h",
        "lambda_z": "1/h",
        "t_half": "h",
        "auc_extrapolated_pct": "%",
        "n_lambda_z": "",
        "dose": amount_unit,
    }


def observed_nca(data: PKDataset) -> pd.DataFrame:
    """One row per (ID, ANALYTE): dose total, n observations and the NCA metrics (NaN if not estimable)."""
    check_observed_analytes(data)
    obs = data.observations()
    rows = []
    for (sid, analyte), g in obs.groupby(["ID", "ANALYTE"], sort=False):
        doses = data.doses(sid)
        t0 = float(doses["TIME"].min()) if len(doses) else 0.0
        g = g[g["TIME"] >= t0]
        prof = g.groupby("TIME")["DV"].mean()
        row = {"ID": sid, "ANALYTE": analyte, "dose": float(doses["AMT"].sum()), "n_obs": len(g)}
        if len(prof) >= 2:
            row.update(nca(prof.index.to_numpy() - t0, prof.to_numpy()).as_dict())
        rows.append(row)
    table = pd.DataFrame(rows, columns=["ID", "ANALYTE", "dose", "n_obs", *METRICS])
    table.attrs["units"] = units(data.dv_unit, data.amount_unit)
    return table


def geometric_summary(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {"n": 0, "geometric_mean": None, "geometric_cv_pct": None}
    lv = np.log(v)
    cv = 100.0 * math.sqrt(math.expm1(float(np.var(lv, ddof=1)))) if v.size > 1 else None
    return {"n": int(v.size), "geometric_mean": float(np.exp(lv.mean())), "geometric_cv_pct": cv}


def nca_summary(table: pd.DataFrame) -> dict:
    """Per analyte: geometric mean and CV of Cmax, AUClast, AUCinf, t1/2; Tmax median and range."""
    out = {}
    for a, g in table.groupby("ANALYTE", sort=True):
        s = {m: geometric_summary(g[m].to_numpy(dtype=float)) for m in GEOMETRIC}
        t = g["tmax"].dropna().to_numpy(dtype=float)
        s["tmax"] = {
            "n": int(t.size),
            "median": float(np.median(t)) if t.size else None,
            "min": float(t.min()) if t.size else None,
            "max": float(t.max()) if t.size else None,
        }
        out[str(a)] = s
    return {"units": table.attrs.get("units", {}), "analytes": out}
