"""Tidy exports of any result: ``export(result, path)`` chooses the format by the file's suffix.

- ``.csv`` and ``.parquet``: a long ("tidy") table, one row per patient x time x variable (and per
  analyte, cell type, ... where a variable has such a dimension), with ``value`` and ``unit`` columns
  (Wickham H 2014, J Stat Softw 59(10), "Tidy data"; the ``id, time, output, value, unit`` shape that
  sbmlsim and ospsuite users know). Parquet uses pyarrow, already a dependency.
- ``.nc``: an xarray Dataset written as NetCDF with units in each variable's attributes and provenance
  (version, parameter hash, regimen or scenario, sources) in the global attributes. The writer is
  scipy's NetCDF-3 engine, so no netCDF4/h5netcdf dependency is needed; NetCDF-3 has no 64-bit
  integers and no strings, so integer coordinates are stored as 32-bit and text coordinates as
  characters (xarray reads both back unchanged).

Results understood: ``xarray.Dataset`` (``ketasim pk`` / ``ketasim simulate``),
:class:`ketasim.trial.TrialResult`, :class:`ketasim.data_io.compare.Comparison`,
:class:`ketasim.vpc.VPCResult`, an NCA table and any
``pandas.DataFrame`` (written as it is; a frame with ``attrs["units"]`` is melted to long form).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ketasim import __version__
from ketasim.errors import KetasimError
from ketasim.output_paths import checked_output

SUFFIXES = (".csv", ".parquet", ".nc")
TRIAL_UNITS = {
    "madrs": "points",
    "cadss": "points",
    "sbp_rise": "mmHg",
    "plasma_parent_um": "uM",
    "strength": "1 (relative to baseline)",
}


def export(result: Any, path: str | Path) -> Path:
    """Write ``result`` to ``path`` as tidy CSV, tidy Parquet or NetCDF (by suffix); return the path."""
    p = export_path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".nc":
            to_netcdf(to_xarray(result), p)
        else:
            table = tidy(result)
            if suffix == ".csv":
                table.to_csv(p, index=False)
            else:
                table.to_parquet(p, index=False)
    except OSError as exc:
        raise KetasimError(f"cannot write '{p}': {exc.strerror or exc}", argument="--export") from None
    return p


def export_path(path: str | Path, argument: str = "--export") -> Path:
    """``path`` if its suffix is .csv, .parquet or .nc and its folder exists (check before a long run)."""
    return checked_output(path, SUFFIXES, argument)


# --------------------------------------------------------------------------- long tables


def tidy(result: Any) -> pd.DataFrame:
    """``result`` as a long table with ``variable``, ``value`` and ``unit`` columns."""
    from ketasim.trial import TrialResult

    if isinstance(result, xr.Dataset):
        return dataset_to_long(result)
    if isinstance(result, TrialResult):
        return dataset_to_long(trial_to_xarray(result))
    table = _frame_of(result)
    units = table.attrs.get("units")
    if isinstance(units, dict) and units:
        ids = [c for c in table.columns if c not in units]
        long = table.melt(
            id_vars=ids, value_vars=[c for c in table.columns if c in units], var_name="variable"
        )
        long["unit"] = long["variable"].map(units)
        return long
    return table


def dataset_to_long(ds: xr.Dataset) -> pd.DataFrame:
    """One row per coordinate combination of every numeric data variable: its dims (and coordinates
    along them, e.g. ``arm``), ``variable``, ``value``, ``unit``. Text variables (e.g. ``sex``) become
    columns beside the dimensions they share, so ``value`` stays numeric."""
    text = [k for k, v in ds.data_vars.items() if v.dtype.kind not in "biuf"]
    ds = ds.set_coords(text)
    parts = []
    for name, var in ds.data_vars.items():
        if var.ndim == 0:
            frame = pd.DataFrame({"value": [var.values.item()]})
        else:
            frame = var.to_dataframe(name="value").reset_index()
            frame = frame[[c for c in frame.columns if c != "value"] + ["value"]]
        frame["value"] = frame["value"].astype(float)
        frame.insert(len(frame.columns) - 1, "variable", str(name))
        frame["unit"] = str(var.attrs.get("units", ""))
        parts.append(frame)
    if not parts:
        raise KetasimError("the result has no data variables", argument="export")
    long = pd.concat(parts, ignore_index=True, sort=False)
    dims = [d for d in ("arm", "patient", "time") if d in long.columns]
    others = [c for c in long.columns if c not in (*dims, "variable", "value", "unit")]
    return long[[*dims, *others, "variable", "value", "unit"]]


# --------------------------------------------------------------------------- labelled arrays


def to_xarray(result: Any) -> xr.Dataset:
    """``result`` as an xarray Dataset with units and provenance attributes."""
    from ketasim.trial import TrialResult

    if isinstance(result, xr.Dataset):
        return result
    if isinstance(result, TrialResult):
        return trial_to_xarray(result)
    table = _frame_of(result)
    ds = xr.Dataset.from_dataframe(table.reset_index(drop=True).rename_axis("row"))
    for c, u in (table.attrs.get("units") or {}).items():
        if c in ds:
            ds[c].attrs["units"] = u
    ds.attrs.update({k: v for k, v in _meta_of(result).items()})
    ds.attrs.setdefault("ketasim_version", __version__)
    return ds


def trial_to_xarray(trial) -> xr.Dataset:
    """A trial's patients (all arms along ``patient``, with an ``arm`` coordinate) x time."""
    arms = list(trial.arms.values())
    times = arms[0].times
    for a in arms[1:]:
        if a.times.shape != times.shape or not np.allclose(a.times, times):
            raise KetasimError("arms have different time grids", argument="export")
    data = {}
    for name, unit in TRIAL_UNITS.items():
        data[name] = (("patient", "time"), np.concatenate([getattr(a, name) for a in arms]), {"units": unit})
    frames = pd.concat([a.frame for a in arms], ignore_index=True)
    units = arms[0].frame.attrs.get("units", {})
    for col in frames.columns:
        values = frames[col]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
            values = values.astype(str)
        data[col] = (("patient",), values.to_numpy(), {"units": str(units.get(col, ""))})
    arm_names = np.concatenate([[a.name] * a.n for a in arms])
    ds = xr.Dataset(
        data,
        coords={
            "patient": np.arange(arm_names.size),
            "time": ("time", times, {"units": "h"}),
            "arm": ("patient", arm_names),
        },
    )
    ds.attrs.update(
        {
            "ketasim_version": __version__,
            "seed": int(trial.seed),
            "scenario": getattr(trial.scenario, "name", ""),
            "parameter_hash": json.dumps({a.name: a.parameter_hash for a in arms}),
            "summary": json.dumps(trial.summary(), default=str),
        }
    )
    return ds


def to_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write with scipy's NetCDF-3 engine: attributes as text or numbers, no 64-bit integers."""
    out = ds.copy()
    out.attrs = {k: _nc_attr(v) for k, v in ds.attrs.items()}
    out.attrs.setdefault("ketasim_version", __version__)
    for name in list(out.variables):
        v = out[name]
        v.attrs = {k: _nc_attr(x) for k, x in v.attrs.items()}
        if v.dtype.kind in "iu" and v.dtype.itemsize > 4:
            if v.size and (
                v.values.max() > np.iinfo(np.int32).max or v.values.min() < np.iinfo(np.int32).min
            ):
                out[name] = v.astype(np.float64)
            else:
                out[name] = v.astype(np.int32)
        elif v.dtype.kind == "b":
            out[name] = v.astype(np.int8)
        elif v.dtype == object:
            out[name] = v.astype(str)
    out.to_netcdf(path, engine="scipy")


def _nc_attr(v: Any) -> Any:
    if isinstance(v, str | int | float | np.integer | np.floating):
        return v
    if isinstance(v, bool | np.bool_):
        return int(v)
    return json.dumps(v, default=str)


def _frame_of(result: Any) -> pd.DataFrame:
    """The table behind a result object (Comparison, VPCResult, DataFrame)."""
    from ketasim.data_io.compare import Comparison
    from ketasim.vpc import VPCResult

    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, Comparison):
        t = result.table.copy()
        t.attrs["units"] = {"DV": result.dv_unit, "PRED": result.dv_unit, "RES": result.dv_unit, "LRES": ""}
        t = t.drop(columns=["UNIT"])
        t.attrs["meta"] = {"source": result.source}
        return t
    if isinstance(result, VPCResult):
        t = result.bins.drop(columns=["unit"]).copy()
        t.attrs["units"] = {k: result.dv_unit for k in ("observed", "sim_lo", "sim_median", "sim_hi")}
        t.attrs["meta"] = {k: v for k, v in result.summary().items() if v is not None}
        return t
    raise KetasimError(
        f"cannot export a {type(result).__name__}",
        argument="export",
        fix="export an xarray Dataset, a trial result, a comparison, a VPC or a table",
    )


def _meta_of(result: Any) -> dict:
    try:
        return dict(_frame_of(result).attrs.get("meta", {}))
    except KetasimError:
        return {}
