"""NONMEM-style datasets: reading and validation, observed vs predicted, NCA from data and the VPC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketasim.cli import main
from ketasim.data_io.compare import observed_vs_predicted
from ketasim.data_io.nca_table import geometric_summary, nca_summary, observed_nca
from ketasim.datasets import from_frame, parse_dataset, read_dataset
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError
from ketasim.nca import nca
from ketasim.pk.covariates import Covariates
from ketasim.pk.simulate import simulate
from ketasim.population import load_population, sample
from ketasim.trial import patient_inputs
from ketasim.vpc import time_bins, vpc

ROOT = Path(__file__).resolve().parents[1]
HASAN = ROOT / "examples" / "data" / "hasan2021_s_ketamine_mean.csv"
KAMP = ROOT / "examples" / "data" / "kamp2020_racemic_mean.csv"
TIMES = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0])

VALID = """# units: TIME=h, AMT=mg, DV=ng/mL
# cmt: 1=iv:ketamine
# dv: S-ketamine
ID,TIME,AMT,RATE,EVID,CMT,DV,MDV,WT
1,0,20,40,1,1,.,1,70
1,1,.,.,0,1,50,0,70
1,4,.,.,0,1,10,0,70
2,0,10,0,1,1,.,1,80
2,2,.,.,0,1,5,0,80
"""


def _dataset_text(regimen: Regimen, weight: float, times: np.ndarray, dv: np.ndarray, sid: int = 1) -> str:
    """Records of one subject: its doses (mg, mg/h) and observations (ng/mL)."""
    ev = regimen.to_event_table(weight=weight, patient_id=sid)
    obs = pd.DataFrame(
        {"ID": sid, "TIME": times, "AMT": np.nan, "RATE": np.nan, "EVID": 0, "CMT": 1, "DV": dv}
    )
    ev = ev.assign(DV=np.nan)
    recs = pd.concat([ev, obs], ignore_index=True).sort_values(["TIME", "EVID"], ascending=[True, False])
    recs["WT"] = weight
    return recs[["ID", "TIME", "AMT", "RATE", "EVID", "CMT", "COMPOUND", "DV", "WT"]].to_csv(
        index=False, na_rep="."
    )


# --------------------------------------------------------------------------- reading


def test_round_trip_with_regimen_event_table():
    iv = Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min")
    reg = Regimen.repeated(iv, "3.5 d", 3) + Regimen.single(
        Dose.parse("esketamine", "56 mg", "intranasal", "2 h")
    )
    table = reg.to_event_table(weight=80.0)
    data = from_frame(table, units="TIME=h,AMT=mg")
    back = data.regimen(1)
    assert len(back.doses) == len(reg.doses)
    for a, b in zip(reg.doses, back.doses, strict=True):
        assert (a.compound, a.route) == (b.compound, b.route)
        assert b.amount == pytest.approx(a.amount * 80.0 if a.per_kg else a.amount, rel=1e-12)
        assert b.time == pytest.approx(a.time) and b.duration == pytest.approx(a.duration, rel=1e-12)
    # and back again through the event table: identical records
    again = back.to_event_table(weight=80.0)
    pd.testing.assert_frame_equal(again, table, check_exact=False, rtol=1e-12)


def test_units_convert_and_addl_expands():
    text = """# units: TIME=min, AMT=ug, DV=ug/L, DUR=min, II=d
# compound: ketamine
# dv: S-ketamine
ID,TIME,AMT,DUR,II,ADDL,EVID,CMT,DV
7,0,35000,40,1,2,1,1,.
7,60,.,.,.,.,0,1,120
"""
    d = parse_dataset(text)
    doses = d.doses(7)
    assert doses["TIME"].tolist() == pytest.approx([0.0, 24.0, 48.0])
    assert doses["AMT"].tolist() == pytest.approx([35.0] * 3)  # mg
    assert doses["DURATION"].tolist() == pytest.approx([40 / 60] * 3)
    obs = d.observations(7)
    assert obs["TIME"].item() == pytest.approx(1.0) and obs["DV"].item() == pytest.approx(120.0)
    assert d.dv_unit == "ng/mL"


def test_molar_units_and_declarations_on_the_command_line_override_the_file():
    d = parse_dataset(VALID, units={"DV": "nM"}, cmt=["1=iv:esketamine"])
    assert d.dv_unit == "uM"
    assert d.observations(1)["DV"].tolist() == pytest.approx([0.05, 0.01])
    assert set(d.doses(1)["COMPOUND"]) == {"esketamine"}
    # RATE in mg/h gives the infusion duration
    assert d.doses(1)["DURATION"].item() == pytest.approx(0.5)


BAD = [
    # (description, mutate(text) -> text, expected substrings in the message)
    ("non-numeric AMT", lambda t: t.replace("1,0,20,40", "1,0,abc,40"), ["row 1", "line 5", "column AMT"]),
    ("negative AMT", lambda t: t.replace("2,0,10,0", "2,0,-10,0"), ["row 4", "column AMT", "negative"]),
    (
        "unknown CMT",
        lambda t: t.replace("2,0,10,0,1,1", "2,0,10,0,1,9"),
        ["row 4", "column CMT", "declare it"],
    ),
    ("time decreasing", lambda t: t.replace("1,4,.", "1,0.5,."), ["row 3", "column TIME", "sort"]),
    ("missing column", lambda t: t.replace("EVID,", "EVD,").replace(",1,1,.", ",1,1,."), ["EVID", "line 4"]),
    ("non-numeric DV", lambda t: t.replace(",50,0,", ",fifty,0,"), ["row 2", "column DV"]),
    ("EVID 4", lambda t: t.replace("2,0,10,0,1,", "2,0,10,0,4,"), ["row 4", "column EVID"]),
    ("fractional CMT", lambda t: t.replace("2,0,10,0,1,1", "2,0,10,0,1,1.5"), ["row 4", "column CMT"]),
    ("obs without DV", lambda t: t.replace(",50,0,", ",.,0,"), ["row 2", "column DV", "MDV"]),
    ("weight out of range", lambda t: t.replace(",5,0,80", ",5,0,800"), ["row 5", "column WT"]),
    ("ID not contiguous", lambda t: t + "1,6,.,.,0,1,2,0,70\n", ["row 6", "column ID"]),
    ("too few fields", lambda t: t.replace("1,4,.,.,0,1,10,0,70", "1,4,.,.,0,1"), ["row 3", "line 7"]),
    (
        "infusion on oral route",
        lambda t: t.replace("# cmt: 1=iv:ketamine", "# cmt: 1=oral:ketamine"),
        ["row 1"],
    ),
    ("negative RATE", lambda t: t.replace("1,0,20,40", "1,0,20,-1"), ["row 1", "column RATE"]),
    ("ID missing", lambda t: t.replace("2,2,.", ",2,."), ["row 5", "column ID"]),
]


@pytest.mark.parametrize("name,mutate,expected", BAD, ids=[b[0] for b in BAD])
def test_every_error_names_row_and_column(name, mutate, expected):
    with pytest.raises(KetasimError) as exc:
        parse_dataset(mutate(VALID), source="d.csv")
    msg = str(exc.value)
    assert "d.csv" in msg
    for part in expected:
        assert part in msg, (name, msg)
    assert "(" in msg  # a fix is given


def test_unit_errors_name_the_column():
    with pytest.raises(KetasimError, match=r"column DV.*does not convert|does not convert.*column DV") as e1:
        parse_dataset(VALID, units="DV=mg")
    assert "DV=ng/mL" in str(e1.value)
    with pytest.raises(KetasimError, match="column TIME"):
        parse_dataset(VALID, units="TIME=parsec")
    with pytest.raises(KetasimError, match="unit of TIME is not declared"):
        parse_dataset(VALID.replace("# units: TIME=h, ", "# units: "))
    with pytest.raises(KetasimError, match="no unit can be declared for column 'TIMEX'"):
        parse_dataset(VALID, units="TIMEX=h")


def test_addl_without_ii_and_ss_are_refused():
    head = "# units: TIME=h, AMT=mg, DV=ng/mL\n# compound: ketamine\n# dv: S-ketamine\n"
    no_ii = head + "ID,TIME,AMT,ADDL,EVID,CMT,DV\n1,0,20,3,1,1,.\n1,2,.,0,0,1,5\n"
    with pytest.raises(KetasimError, match=r"row 1 \(line 5\), column ADDL: ADDL without an II"):
        parse_dataset(no_ii)
    empty_ii = head + "ID,TIME,AMT,ADDL,II,EVID,CMT,DV\n1,0,20,3,.,1,1,.\n1,2,.,0,.,0,1,5\n"
    with pytest.raises(KetasimError, match=r"row 1 \(line 5\), column II: ADDL needs a positive II"):
        parse_dataset(empty_ii)
    ss = head + "ID,TIME,AMT,SS,II,EVID,CMT,DV\n1,0,20,0,.,1,1,.\n1,2,.,1,12,0,1,5\n"
    with pytest.raises(KetasimError, match=r"row 2 \(line 6\), column SS: steady-state"):
        parse_dataset(ss)


# --------------------------------------------------------------------------- predictions


def test_dataset_from_a_simulated_subject_gives_pred_equal_to_dv():
    reg = Regimen.single(Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min")) + Regimen.single(
        Dose.parse("ketamine", "50 mg", "oral", "6 h")
    )
    weight = 85.0
    times = np.array([0.25, 0.5, 0.67, 1.0, 2.0, 5.0, 6.5, 8.0, 12.0, 24.0])
    sim = simulate(reg, Covariates.single(weight), times=times)
    dv = sim["plasma_ng_ml"].sel(analyte="S-ketamine").values[0]
    # a second subject with another design and weight, and a CYP2B6 genotype
    reg2 = Regimen.single(Dose.parse("esketamine", "28 mg", "intranasal", "1 h"))
    t2 = np.array([1.5, 2.0, 3.0, 9.0])
    dv2 = simulate(reg2, Covariates.single(55.0, "*6/*6"), times=t2)["plasma_ng_ml"].sel(analyte="S-ketamine")
    second = _dataset_text(reg2, 55.0, t2, dv2.values[0], sid=2).split("\n", 1)[1]
    second = "\n".join(line + ",*6/*6" for line in second.strip().splitlines()) + "\n"
    first = _dataset_text(reg, weight, times, dv).strip().splitlines()
    first = "\n".join(line + (",CYP2B6" if k == 0 else ",*1/*1") for k, line in enumerate(first))
    text = "# units: TIME=h, AMT=mg, RATE=mg/h, DV=ng/mL\n# dv: S-ketamine\n" + first + "\n" + second
    cmp = observed_vs_predicted(parse_dataset(text))
    np.testing.assert_allclose(cmp.table["PRED"], np.r_[dv, dv2.values[0]], rtol=1e-9)
    np.testing.assert_allclose(cmp.table["LRES"], 0.0, atol=1e-9)
    assert cmp.summary()["analytes"]["S-ketamine"]["median_abs_log_residual"] < 1e-9
    # the covariates are used: the same records at 60 kg, or with another genotype, predict differently
    other = observed_vs_predicted(parse_dataset(text.replace(",85.0,", ",60.0,")))
    assert np.max(np.abs(other.table["LRES"])) > 0.05
    geno = observed_vs_predicted(parse_dataset(text.replace(",*6/*6", ",*1/*1")))
    assert np.max(np.abs(geno.table.loc[geno.table.ID == 2, "LRES"])) > 0.05


def test_nca_from_data_equals_nca_of_the_arrays():
    d = read_dataset(HASAN)
    table = observed_nca(d)
    raw = pd.read_csv(ROOT / "src/ketasim/data/reference/hasan2021_fig1_s_ketamine.csv", comment="#")
    ref = nca(raw["time_h"].to_numpy(), raw["S_ketamine_ng_mL"].to_numpy())
    row = table.iloc[0]
    for k, v in ref.as_dict().items():
        assert row[k] == pytest.approx(v, rel=1e-12), k
    assert row["dose"] == pytest.approx(5.0)


def test_nca_summary_geometric_mean_and_cv():
    s = geometric_summary(np.array([1.0, 2.0, 4.0]))
    assert s["geometric_mean"] == pytest.approx(2.0)
    sd = np.std(np.log([1.0, 2.0, 4.0]), ddof=1)
    assert s["geometric_cv_pct"] == pytest.approx(100 * np.sqrt(np.expm1(sd**2)))
    summary = nca_summary(observed_nca(read_dataset(KAMP)))
    assert set(summary["analytes"]) == {"S-ketamine", "R-ketamine"}
    assert summary["units"]["auc_last"] == "uM*h"


def _population_dataset(n_subjects: int, seed: int, residual_cv: float, scale: float = 1.0) -> str:
    """Observed data drawn from the same model and population the VPC simulates."""
    reg = Regimen.single(Dose.parse("ketamine", "35 mg", "iv", duration="30 min"))
    frame = sample(load_population("trd"), n_subjects, seed)
    cov, _ = patient_inputs(frame)
    conc = simulate(reg, cov, times=TIMES)["plasma_ng_ml"].sel(analyte="S-ketamine").values
    rng = np.random.default_rng(seed + 1)
    conc = conc * np.exp(np.sqrt(np.log1p(residual_cv**2)) * rng.standard_normal(conc.shape)) * scale
    parts = [_dataset_text(reg, 70.0, TIMES, conc[i], sid=i + 1) for i in range(n_subjects)]
    body = parts[0] + "".join(p.split("\n", 1)[1] for p in parts[1:])
    body = "\n".join(",".join(line.split(",")[:-1]) for line in body.strip().splitlines())  # drop WT
    return "# units: TIME=h, AMT=mg, RATE=mg/h, DV=ng/mL\n# dv: S-ketamine\n" + body + "\n"


def test_vpc_of_data_from_the_same_model_has_the_nominal_coverage():
    # few subjects and patients, and an infusion ending on the solver grid (the batched exact solver
    # costs one matrix exponential per patient and distinct step; see data_io.simulate.solver_grid);
    # a residual error larger than the between-subject variability keeps observations nearly
    # independent, so 128 of them pin the coverage down to a few percent
    text = _population_dataset(16, seed=101, residual_cv=0.3)
    res = vpc(parse_dataset(text), n=60, seed=7, residual_cv=0.3)
    s = res.summary()
    assert s["observations"] == 16 * TIMES.size
    # nominal 10%; an interval from 60 draws covers a little less (about 12.7% outside expected);
    # data seeds 101-707 x VPC seeds 7, 8 gave 8-19%
    assert 0.03 <= s["fraction_outside_90pi"] <= 0.22, s
    assert s["bins"] == TIMES.size  # one bin per nominal time
    # the observed median lies inside the simulated interval of the median in most bins
    med = res.bins[res.bins["quantile"] == 0.5]
    assert ((med["observed"] >= med["sim_lo"]) & (med["observed"] <= med["sim_hi"])).mean() >= 0.75
    # a misspecified model (observations 3x higher) is caught
    wrong = vpc(parse_dataset(_population_dataset(16, seed=101, residual_cv=0.3, scale=3.0)), n=60, seed=7,
                residual_cv=0.3)  # fmt: skip
    assert wrong.summary()["fraction_outside_90pi"] > 0.6
    assert wrong.summary()["fraction_above_90pi"] > 0.6


def test_vpc_is_reproducible_and_checks_its_arguments():
    d = read_dataset(HASAN)
    a, b = vpc(d, n=40, seed=3).summary(), vpc(d, n=40, seed=3).summary()
    assert a == b
    with pytest.raises(KetasimError, match="n must be"):
        vpc(d, n=5)
    with pytest.raises(KetasimError, match="analytes"):
        vpc(read_dataset(KAMP), n=40)
    with pytest.raises(KetasimError, match="did you mean 'S-ketamine'"):
        vpc(read_dataset(KAMP), "S-ketamin", n=40)


def test_time_bins():
    assert time_bins(np.array([1.0, 1.0, 2.0, 4.0])).tolist() == [0.0, 1.5, 3.0, 5.0]
    edges = time_bins(np.linspace(0, 10, 101), 4)
    assert edges.size == 5
    with pytest.raises(KetasimError):
        time_bins(np.array([1.0, 2.0]), [3.0, 1.0])


# --------------------------------------------------------------------------- command line


def test_cli_data_commands_print_one_json_document(tmp_path, capsys):
    for argv in (
        ["data", "check", str(HASAN), "--json"],
        ["data", "nca", str(KAMP), "--json"],
        ["data", "compare", str(HASAN), "--json", "--plot-dir", str(tmp_path / "plots")],
        ["data", "vpc", str(HASAN), "--n", "40", "--json", "--plot", str(tmp_path / "vpc.png")],
    ):
        assert main(argv) == 0, argv
        doc = json.loads(capsys.readouterr().out)
        assert isinstance(doc, dict)
    assert (tmp_path / "plots" / "obs_vs_pred.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "residuals_vs_time.png").stat().st_size > 1000
    assert (tmp_path / "vpc.png").stat().st_size > 1000


def test_cli_data_errors_are_one_line_with_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(VALID.replace("1,0,20,40", "1,0,-20,40"))
    assert main(["data", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "row 1" in err and "column AMT" in err
    assert main(["data", "check", str(HASAN), "--units", "DV=parsec"]) == 2
    assert "column DV" in capsys.readouterr().err
    assert main(["data", "check", str(HASAN), "--cmt", "1=iv:ketamin"]) == 2
    assert "did you mean 'ketamine'" in capsys.readouterr().err
    assert main(["data", "compare", str(HASAN), "--dv", "S-ketamin"]) == 2
    assert "did you mean 'S-ketamine'" in capsys.readouterr().err
    assert main(["data", "vpc", str(HASAN), "--n", "40", "--export", str(tmp_path / "x.xlsx")]) == 2
    assert ".csv, .parquet or .nc" in capsys.readouterr().err
