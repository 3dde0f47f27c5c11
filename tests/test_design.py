"""Tests of the compound designer (ketasim.design, `ketasim design`)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from ketasim.compounds import parse_compound
from ketasim.design.build import SOURCE, design, terminal_half_life
from ketasim.design.files import compound_data, compound_library, to_toml
from ketasim.design.predict import Regimen, arm_result, exposure
from ketasim.design.properties import parse_overrides
from ketasim.errors import KetasimError
from ketasim.targets import ephys
from ketasim.targets.nmda_kinetics import blocker_for


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ketasim.cli", "design", *args], capture_output=True, text=True, timeout=300
    )


def test_no_override_reproduces_the_base_trial_exactly():
    d = design({})
    dose = {"compound": "ketamine", "amount": "0.5 mg/kg", "route": "iv", "duration": "40 min"}
    base = arm_result(dose, 8, 3, "2 d")
    with compound_library(d.compounds):
        same = arm_result({**dose, "compound": d.id}, 8, 3, "2 d")
    assert np.array_equal(same.madrs, base.madrs)
    assert np.array_equal(same.cadss, base.cadss)
    assert np.array_equal(same.plasma_parent_um, base.plasma_parent_um)
    assert base.plasma_parent_um.max() > 0


def test_clearance_gives_the_analytic_iv_auc_and_higher_clearance_lowers_it():
    # linear PK: AUC = dose / CL; 0.5 mg/kg x 70 kg = 35 mg; each enantiomer gets CL
    reg = Regimen("0.5 mg/kg", "iv", "40 min")
    aucs = {}
    for cl in (40.0, 80.0):
        d = design({"clearance": cl})
        aucs[cl] = exposure(d.id, reg, d.library, horizon_h=240.0)["plasma_auc_ng_h_ml"]
        assert aucs[cl] == pytest.approx(35.0e3 / cl, rel=0.02)
    assert aucs[80.0] < aucs[40.0]


def test_lower_clearance_raises_oral_bioavailability_through_hepatic_extraction():
    reg = Regimen("1 mg/kg", "oral", None)
    f = {
        cl: (lambda d: exposure(d.id, reg, d.library)["bioavailability"])(design({"clearance": cl}))
        for cl in (20.0, 80.0)
    }
    assert f[20.0] > f[80.0] > 0


@pytest.mark.parametrize("target", [0.3, 0.7, 0.95])
def test_trapped_fraction_is_reproduced_by_the_ephys_protocol(target):
    base_ic50 = ephys.ic50("ketamine")
    d = design({"trapped_fraction": target})
    got = ephys.trapping(d.id, library=d.library)["trapped_fraction"]
    assert got == pytest.approx(target, abs=0.03)
    # unless ic50 is given, potency is kept while trapping changes
    assert ephys.ic50(d.id, library=d.library) == pytest.approx(base_ic50, rel=1e-3)


def test_ic50_target_is_reproduced_and_scales_the_pcp_site():
    d = design(parse_overrides(["ic50=2 uM"]))
    assert ephys.ic50(d.id, library=d.library) == pytest.approx(2.0, rel=1e-4)
    sp = d.compounds["designed-esketamine"]
    assert sp.nmda["kd"].value > 0.43 and sp.nmda["kd"].status == "assumed"
    assert sp.nmda["kd"].source.startswith(SOURCE)
    assert sp.targets["nmda_pcp_site"].affinity > 0.3


def test_t_half_is_the_terminal_half_life_and_unchanged_parameters_keep_sources():
    d = design(parse_overrides(["t_half=12 h"]))
    for sp in d.species:
        assert terminal_half_life(sp) == pytest.approx(12.0, rel=1e-6)
        original = d.library.compounds[sp.id.removeprefix("designed-")]
        assert sp.pk["v1"] == original.pk["v1"]
        assert all(e.cl.source == SOURCE for e in sp.elimination)
    nca = exposure(d.id, Regimen("0.5 mg/kg", "iv", "40 min"), d.library, horizon_h=240.0)["plasma_t_half_h"]
    assert nca == pytest.approx(12.0, rel=0.1)


def test_lower_pka_raises_membrane_access_and_logp_is_not_used_by_the_dynamics():
    low = design({"pka": 6.5}).compounds["designed-esketamine"]
    high = design({"pka": 8.5}).compounds["designed-esketamine"]
    assert blocker_for(low, "GluN2A").membrane > blocker_for(high, "GluN2A").membrane
    # logP enters only reports (logD); the PK and receptor model do not read it (see the report)
    reg = Regimen("0.5 mg/kg", "iv", "40 min")
    a, b = design({"logp": 1.0}), design({"logp": 4.0})
    assert exposure(a.id, reg, a.library) == exposure(b.id, reg, b.library)


def test_ampa_potentiation_and_off_target_affinity_are_added():
    d = design(parse_overrides(["ampa_ec50=2 uM", "affinity.sigma1=1 uM"]))
    sp = d.compounds["designed-esketamine"]
    assert sp.targets["ampa_potentiation"].affinity == pytest.approx(2.0)
    assert sp.targets["ampa_potentiation"].params["emax"].value > 0
    assert sp.targets["sigma1"].affinity == pytest.approx(1.0)
    # the base's D2High record is a lower bound; the designed compound keeps it until a value is given
    assert sp.targets["d2_high"].bound == "lower"
    back = parse_compound(tomllib.loads(to_toml(sp)), "x")
    assert back.targets["d2_high"].bound == "lower"
    given = design(parse_overrides(["affinity.d2_high=2 uM"])).compounds["designed-esketamine"]
    assert given.targets["d2_high"].bound is None and given.targets["d2_high"].affinity == pytest.approx(2.0)


def test_compound_file_round_trip_is_exact():
    d = design(parse_overrides(["trapped_fraction=0.5", "t_half=9 h", "ka=0.3 1/h"]))
    for c in d.compounds.values():
        back = parse_compound(tomllib.loads(to_toml(c)), "x")
        assert back.params().keys() == c.params().keys()
        assert all(back.params()[k].value == p.value for k, p in c.params().items())
        assert compound_data(back) == compound_data(c)


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        (["ic5O=1 uM"], "did you mean 'ic50'"),
        (["t_half=12 uM"], "does not convert"),
        (["trapped_fraction=2"], "outside the range"),
        (["ic50"], "PROPERTY=VALUE"),
    ],
)
def test_bad_properties_are_errors(items, needle):
    with pytest.raises(KetasimError, match=needle):
        parse_overrides(items)


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["trapped_fractoin=0.5"], ["did you mean 'trapped_fraction'", "valid properties"]),
        (["ic50=1", "h"], ["ic50", "does not convert"]),
        (["--n", "many"], ["--n", "not a whole number"]),
        (["--plot", "x.png"], ["needs --sweep"]),
        (["--sweep", "t_half=48:8 h"], ["HI must be above LO"]),
    ],
)
def test_cli_errors_exit_2_with_one_line(argv, needles, capsys):
    from ketasim.cli import main

    assert main(["design", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_cli_readme_commands(tmp_path):
    # as a new user types them: units after a space, properties after options, no quotes
    single = (
        "ic50=1 uM t_half=12 h --route oral --dose 1 mg/kg trapped_fraction=0.5 --n 6 --horizon 8 d --json"
    )
    r = _cli(*shlex.split(single))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) >= {"designed", "ketamine", "saline", "changed", "definitions"}
    assert doc["overrides"]["t_half"] == {"value": 12.0, "unit": "h"}
    assert doc["regimen"] == "1 mg/kg oral"
    assert doc["designed"]["exposure"]["bioavailability"] > 0
    assert doc["ketamine"]["exposure"]["bioavailability"] is None
    png = tmp_path / "sweep.png"
    r = _cli(*shlex.split(f"--sweep t_half=8:48 h --points 2 --n 6 --horizon 8 d --plot {png}"))
    assert r.returncode == 0, r.stderr
    assert png.stat().st_size > 10_000
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["t_half", "(h)"] and "ketamine (ref.)" in r.stdout
    assert [float(line.split()[0]) for line in lines[1:3]] == [8.0, 48.0]


def test_sweep_records_unreachable_values_and_trapping_drives_dissociation():
    from ketasim.design.sweep import run_sweep

    out = run_sweep("t_half", np.array([2.0, 8.0]), {}, n=4, seed=1, horizon="1 d")
    assert "shortest terminal half-life" in out["rows"][0]["error"]
    assert out["rows"][1]["exposure"]["plasma_t_half_h"] > out["ketamine"]["exposure"]["plasma_t_half_h"]
    out = run_sweep("trapped_fraction", np.array([0.2, 0.9]), {}, n=6, seed=1, horizon="1 d")
    low, high = (r["dissociation_peak_mean"] for r in out["rows"])
    assert 0 < low < high
