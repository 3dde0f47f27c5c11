"""The command line: the contract shapes, plots, and clear errors with exit status 2."""

import json
import subprocess
import sys

import pytest

from ketasim.cli import main

STANDARD = ["pk", "ketamine", "--dose", "0.5 mg/kg", "--route", "iv", "--duration", "40 min"]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_pk_json_contract(capsys):
    code, out, _ = run(capsys, *STANDARD, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["compound"] == "ketamine" and doc["route"] == "iv"
    for name in ("S-ketamine", "R-ketamine", "ketamine", "norketamine", "hydroxynorketamine"):
        row = doc["analytes"][name]
        assert set(row) >= {"cmax_ng_ml", "cmax_um", "tmax_h", "auc_ng_h_ml", "t_half_h"}
    k = doc["analytes"]["ketamine"]
    assert k["cmax_ng_ml"] == pytest.approx(k["cmax_um"] * 237.73, rel=1e-6)
    assert k["tmax_h"] == pytest.approx(40 / 60, abs=1e-9)
    assert doc["bioavailability"] is None
    assert doc["brain"]["ketamine"]["lysosome_cmax_um"] > doc["brain"]["ketamine"]["cytosol_cmax_um"]


def test_pk_oral_reports_bioavailability(capsys):
    code, out, _ = run(capsys, "pk", "esketamine", "--dose", "56 mg", "--route", "intranasal", "--json")
    assert code == 0
    f = json.loads(out)["bioavailability"]
    assert 0.3 < f < 0.9


def test_pk_table_and_plot(capsys, tmp_path):
    png = tmp_path / "k.png"
    code, out, _ = run(capsys, *STANDARD, "--plot", str(png))
    assert code == 0
    assert "S-ketamine" in out and "bioavailability" not in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_pk_affinity_hypothesis_and_potency_strip(capsys, tmp_path):
    """A contested affinity is selected by name (recorded in the result) and changes only its target;
    the potency strip of the dosed compound is written; an unknown name is a one-line error."""
    _, out, _ = run(capsys, *STANDARD, "--json")
    default = json.loads(out)
    png = tmp_path / "strip.png"
    code, out, err = run(
        capsys, *STANDARD, "--json", "--affinity-hypothesis", "d2high_seeman2005", "--potency", str(png)
    )
    assert code == 0 and "strip.png" in err
    seeman = json.loads(out)
    assert default["affinity_hypotheses"] == [] and seeman["affinity_hypotheses"] == ["d2high_seeman2005"]
    occ0, occ1 = default["receptors"]["peak_occupancy"], seeman["receptors"]["peak_occupancy"]
    assert occ0["d2_high"] < 0.1 < 0.8 < occ1["d2_high"]
    assert all(occ1[t] == occ0[t] for t in occ0 if t != "d2_high")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, *STANDARD, "--affinity-hypothesis", "d2high_seeman")
    assert code == 2 and "did you mean 'd2high_seeman2005'" in err and "Traceback" not in err


def test_stepped_and_repeated_regimens(capsys):
    code, out, _ = run(
        capsys, "pk", "ketamine", "--step", "0.28 mg/kg/h,1 h", "--step", "0.57 mg/kg/h,1 h", "--json"
    )
    assert code == 0 and json.loads(out)["analytes"]["ketamine"]["tmax_h"] == pytest.approx(2.0, abs=1e-9)
    code, out, _ = run(
        capsys,
        "pk",
        "esketamine",
        "--dose",
        "56 mg",
        "--route",
        "in",
        "--every",
        "3.5 d",
        "--count",
        "8",
        "--horizon",
        "30 d",
        "--json",
    )
    assert code == 0
    auc8 = json.loads(out)["analytes"]["S-ketamine"]["auc_ng_h_ml"]
    code, out, _ = run(
        capsys, "pk", "esketamine", "--dose", "56 mg", "--route", "in", "--horizon", "30 d", "--json"
    )
    auc1 = json.loads(out)["analytes"]["S-ketamine"]["auc_ng_h_ml"]
    assert auc8 == pytest.approx(8 * auc1, rel=0.01)  # linear kinetics: exposure adds up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pk", "ketamine", "--dose", "-1 mg", "--route", "iv"], "dose: amount must be zero or positive"),
        (["pk", "ketamin", "--dose", "1 mg", "--route", "iv"], "did you mean 'ketamine'"),
        (["pk", "ketamine", "--dose", "5 parsec", "--route", "iv"], "'5 parsec' does not convert to mass"),
        (["pk", "ketamine", "--dose", "1 mg", "--route", "rectal"], "unknown route 'rectal'"),
        (
            ["pk", "ketamine", "--dose", "1 mg", "--route", "oral", "--duration", "5 min"],
            "duration applies only",
        ),
        (["pk", "ketamine", "--dose", "1 mg", "--weight", "-70 kg"], "weight"),
        (["pk", "ketamine", "--dose", "1 mg", "--horizon", "3 kg"], "--horizon"),
        (["pk", "ketamine", "--dose", "1 mg", "--cyp2b6", "*9/*9"], "unknown CYP2B6 genotype"),
        (["pk", "ketamine", "--dose", "1 mg", "--plot", "out.jpg"], ".png"),
        (["pk", "ketamine"], "a dose is required"),
        (["pk", "ketamine", "--dose", "1 mg", "--bogus"], "unrecognized arguments"),
        (
            ["pk", "lanicemine", "--dose", "1 mg", "--route", "oral"],
            "no absorption parameters for route 'oral'",
        ),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_no_traceback_in_a_real_process():
    for args, hint in (
        (["pk", "ketamin", "--dose", "1 mg", "--route", "iv"], "ketamine"),
        (["pk", "ketamine", "--dose", "-1 mg", "--route", "iv"], "positive"),
        (["pk", "ketamine", "--dose", "5 parsec", "--route", "iv"], "mass"),
    ):
        p = subprocess.run(
            [sys.executable, "-m", "ketasim.cli", *args], capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 2
        assert (
            p.stdout == "" and p.stderr.count("\n") == 1 and hint in p.stderr and "Traceback" not in p.stderr
        )


def test_validate_json_contract(capsys):
    code, out, _ = run(capsys, "validate", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["total"] == len(doc["findings"]) > 10
    assert doc["passed"] == sum(f["passed"] for f in doc["findings"])
    assert set(doc["findings"][0]) >= {"id", "passed", "measured", "expected", "source"}
