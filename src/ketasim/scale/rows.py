"""Per-patient rows: what a chunk keeps of its patients once their time courses are reduced.

One row per patient (columns, unit in the name where there is one):

- ``patient``: the patient's number in the arm (0-based, as seeded by :mod:`ketasim.scale.seeding`);
- the covariates of :func:`ketasim.population.sample`: ``sex``, ``age_y``, ``height_cm``, ``bmi_kg_m2``,
  ``weight_kg``, ``cyp2b6``, ``bdnf`` (genotypes as text), ``fh_aud``, ``madrs_baseline``, ``eta_<name>``;
- for each report hour H (e.g. ``24``): ``madrs_Hh`` (MADRS points), ``response_Hh`` (fall of at least 50%
  from baseline) and ``remission_Hh`` (MADRS <= 10);
- ``cadss_peak`` (CADSS points), ``sbp_rise_peak_mmhg`` (systolic rise) and ``plasma_parent_peak_um``
  (peak plasma concentration of the dosed parent compounds, µM; 0 without doses), over the horizon.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ketasim.trial import ArmResult


def hour_key(hours: float) -> str:
    """The report hour as written in column names and summary keys: 2.0 -> '2', 0.5 -> '0.5'."""
    return f"{hours:g}"


def madrs_column(hours: float) -> str:
    return f"madrs_{hour_key(hours)}h"


def response_column(hours: float) -> str:
    return f"response_{hour_key(hours)}h"


def remission_column(hours: float) -> str:
    return f"remission_{hour_key(hours)}h"


def _covariate(values: pd.Series) -> pa.Array:
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
        return pa.array(values.astype(str).to_numpy(), type=pa.string())
    if values.dtype == bool:
        return pa.array(values.to_numpy(), type=pa.bool_())
    return pa.array(values.to_numpy(dtype=float), type=pa.float64())


def patient_rows(result: ArmResult, hours: Sequence[float]) -> pa.Table:
    """One row per patient of ``result``: covariates, MADRS and endpoints at ``hours``, peaks."""
    columns: dict[str, pa.Array] = {"patient": pa.array(result.frame.index.to_numpy(), type=pa.int64())}
    for name in result.frame.columns:
        columns[str(name)] = _covariate(result.frame[name])
    for h in hours:
        columns[madrs_column(h)] = pa.array(result.madrs[:, result.at(h)], type=pa.float64())
        columns[response_column(h)] = pa.array(result.response(h), type=pa.bool_())
        columns[remission_column(h)] = pa.array(result.remission(h), type=pa.bool_())
    columns["cadss_peak"] = pa.array(np.max(result.cadss, axis=1), type=pa.float64())
    columns["sbp_rise_peak_mmhg"] = pa.array(np.max(result.sbp_rise, axis=1), type=pa.float64())
    columns["plasma_parent_peak_um"] = pa.array(np.max(result.plasma_parent_um, axis=1), type=pa.float64())
    return pa.table(columns)
