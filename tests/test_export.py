"""Tidy exports: long CSV/Parquet with units, NetCDF with units and provenance, for every kind of result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ketasim import scenario, trial
from ketasim.cli import main
from ketasim.data_io.compare import observed_vs_predicted
from ketasim.data_io.nca_table import observed_nca
from ketasim.datasets import read_dataset
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError
from ketasim.export import export, tidy
from ketasim.pk.covariates import Covariates
from ketasim.pk.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
KAMP = ROOT / "examples" / "data" / "kamp2020_racemic_mean.csv"


@pytest.fixture(scope="module")
def pk_result() -> xr.Dataset:
    reg = Regimen.single(Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min"))
    return simulate(reg, Covariates.batch([60.0, 90.0]), times=np.linspace(0, 12, 25))


def test_pk_result_long_table_has_one_row_per_patient_time_variable(pk_result, tmp_path):
    for suffix in ("csv", "parquet"):
        path = export(pk_result, tmp_path / f"pk.{suffix}")
        t = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
        assert list(t.columns[:2]) == ["patient", "time"]
        assert {"variable", "value", "unit"} <= set(t.columns)
        assert len(t) == sum(v.size for v in pk_result.data_vars.values())
        # values and units survive: one point checked against the Dataset
        row = t[(t.variable == "plasma_ng_ml") & (t.patient == 1) & (t.analyte == "S-ketamine")]
        row = row[np.isclose(row.time, 1.0)]
        expect = pk_result.plasma_ng_ml.sel(patient=1, analyte="S-ketamine").interp(time=1.0).item()
        assert row.value.item() == pytest.approx(expect, rel=1e-12)
        assert row.unit.item() == "ng/mL"
        assert set(t.loc[t.variable == "weight", "unit"]) == {"kg"}


def test_pk_result_netcdf_round_trip_keeps_values_units_and_provenance(pk_result, tmp_path):
    path = export(pk_result, tmp_path / "pk.nc")
    back = xr.open_dataset(path, engine="scipy")
    np.testing.assert_array_equal(back.plasma.values, pk_result.plasma.values)
    assert list(back.analyte.values) == list(pk_result.analyte.values)
    assert back.plasma_ng_ml.attrs["units"] == "ng/mL" and back.time.attrs["units"] == "h"
    for key in ("ketasim_version", "parameter_hash", "regimen", "sources"):
        assert back.attrs[key] == pk_result.attrs[key]
    back.close()


def test_trial_result_exports_with_arm_and_patient_attributes(tmp_path):
    res = trial.run_trial(scenario.load(str(ROOT / "examples" / "standard_infusion.toml")), n=3, seed=2)
    t = tidy(res)
    assert {"arm", "patient", "time", "sex", "variable", "value", "unit"} <= set(t.columns)
    madrs = t[t.variable == "madrs"]
    n_arms = len(res.arms)
    assert len(madrs) == 3 * n_arms * res.arms[next(iter(res.arms))].times.size
    assert set(madrs.unit) == {"points"}
    first = next(iter(res.arms.values()))
    got = madrs[(madrs.arm == first.name) & (madrs.patient == 0)].value.to_numpy()
    np.testing.assert_array_equal(got, first.madrs[0])
    export(res, tmp_path / "trial.parquet")
    back = xr.open_dataset(export(res, tmp_path / "trial.nc"), engine="scipy")
    assert back.attrs["seed"] == 2 and list(np.unique(back.arm.values)) == sorted(res.arms)
    back.close()


def test_dataset_analyses_export_long_with_units(tmp_path):
    d = read_dataset(KAMP)
    cmp_t = pd.read_csv(export(observed_vs_predicted(d), tmp_path / "cmp.csv"))
    assert set(cmp_t.variable) == {"DV", "PRED", "RES", "LRES"}
    assert set(cmp_t.loc[cmp_t.variable == "PRED", "unit"]) == {"uM"}
    nca_t = pd.read_parquet(export(observed_nca(d), tmp_path / "nca.parquet"))
    assert nca_t.loc[nca_t.variable == "auc_last", "unit"].unique().tolist() == ["uM*h"]
    ds = xr.open_dataset(export(observed_nca(d), tmp_path / "nca.nc"), engine="scipy")
    assert ds.cmax.attrs["units"] == "uM"
    ds.close()


def test_export_errors(pk_result, tmp_path):
    with pytest.raises(KetasimError, match=r"\.csv, \.parquet or \.nc"):
        export(pk_result, tmp_path / "x.xlsx")
    with pytest.raises(KetasimError, match="does not exist"):
        export(pk_result, tmp_path / "missing" / "x.csv")
    with pytest.raises(KetasimError, match="cannot export a dict"):
        export({"a": 1}, tmp_path / "x.csv")


def test_cli_pk_export(tmp_path, capsys):
    out = tmp_path / "pk.parquet"
    assert (
        main(["pk", "ketamine", "--dose", "20 mg", "--route", "iv", "--horizon", "6 h", "--export", str(out)])
        == 0
    )
    t = pd.read_parquet(out)
    assert "plasma_ng_ml" in set(t.variable)
    capsys.readouterr()
    assert main(["pk", "ketamine", "--dose", "20 mg", "--export", str(tmp_path / "pk.txt")]) == 2
    assert "--export" in capsys.readouterr().err
