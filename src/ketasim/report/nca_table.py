"""NCA of every patient's plasma curves, summarised per arm and analyte as median and 5-95th percentiles.

Each patient's curve is analysed by :func:`ketasim.nca.nca` (linear-up/log-down AUC, terminal slope by
best adjusted R^2), in ng/mL as ``ketasim pk`` reports it. AUC is to infinity; where the terminal
phase cannot be estimated for a patient, that patient is left out of the AUC and half-life columns and
the number used is given.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import xarray as xr

from ketasim.nca import nca
from ketasim.report.figure_tools import BAND

METRICS = (
    ("cmax", "Cmax", "ng/mL"),
    ("tmax", "Tmax", "h"),
    ("auc_inf", "AUC0-inf", "ng·h/mL"),
    ("t_half", "t1/2", "h"),
)


def patient_nca(pk: xr.Dataset, analyte: str) -> dict[str, np.ndarray]:
    """Cmax, Tmax, AUC to infinity and half-life of every patient (NaN where not estimable)."""
    t = pk.time.values
    curves = np.clip(pk.plasma_ng_ml.sel(analyte=analyte).values, 0.0, None)
    rows = [nca(t, c) for c in curves]
    nan = float("nan")
    return {
        "cmax": np.array([r.cmax for r in rows]),
        "tmax": np.array([r.tmax for r in rows]),
        "auc_inf": np.array([nan if r.auc_inf is None else r.auc_inf for r in rows]),
        "t_half": np.array([nan if r.t_half is None else r.t_half for r in rows]),
    }


def nca_frame(pk_by_arm: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Tidy table: arm, analyte, metric, unit, n (patients with a value), median, p5, p95.

    Analytes that never reach 0.01 ng/mL in any patient are left out."""
    records = []
    for arm, pk in pk_by_arm.items():
        for a in pk.analyte.values:
            a = str(a)
            if float(pk.plasma_ng_ml.sel(analyte=a).max()) < 0.01:
                continue
            values = patient_nca(pk, a)
            for key, _, unit in METRICS:
                v = values[key][np.isfinite(values[key])]
                lo, med, hi = np.percentile(v, [BAND[0], 50.0, BAND[1]]) if v.size else (np.nan,) * 3
                records.append(
                    {
                        "arm": arm,
                        "analyte": a,
                        "metric": key,
                        "unit": unit,
                        "n": int(v.size),
                        "median": float(med),
                        "p5": float(lo),
                        "p95": float(hi),
                    }
                )
    return pd.DataFrame.from_records(
        records, columns=["arm", "analyte", "metric", "unit", "n", "median", "p5", "p95"]
    )


def _cell(row: pd.Series, n_patients: int) -> str:
    if not row["n"]:
        return "<td>-</td>"
    note = "" if row["n"] == n_patients else f" <small>(n={row['n']})</small>"
    return (
        f"<td data-median='{row['median']:.6g}' data-p5='{row['p5']:.6g}' data-p95='{row['p95']:.6g}'>"
        f"{row['median']:.4g} <small>({row['p5']:.4g}-{row['p95']:.4g})</small>{note}</td>"
    )


def nca_html(table: pd.DataFrame, n_by_arm: dict[str, int]) -> str:
    """The table as HTML: a row per arm and analyte, a column per metric, 'median (p5-p95)'."""
    if table.empty:
        return "<p>No arm has plasma concentrations (no doses).</p>"
    head = "".join(f"<th>{html.escape(label)} ({html.escape(unit)})</th>" for _, label, unit in METRICS)
    rows = []
    for (arm, analyte), g in table.groupby(["arm", "analyte"], sort=False):
        by = g.set_index("metric")
        cells = "".join(_cell(by.loc[key], n_by_arm[arm]) for key, _, _ in METRICS)
        rows.append(
            f"<tr data-arm='{html.escape(arm)}' data-analyte='{html.escape(analyte)}'>"
            f"<td>{html.escape(arm)}</td><td>{html.escape(analyte)}</td>{cells}</tr>"
        )
    return "<table class='nca'><tr><th>arm</th><th>analyte</th>" + head + "</tr>" + "".join(rows) + "</table>"
