"""Virtual trial of the standard infusion (issue 5 must-show) and the clinical layer's pieces."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from ketasim import scenario, trial
from ketasim.cli import main
from ketasim.clinical import scores

EXAMPLE = "examples/standard_infusion.toml"


@lru_cache(maxsize=4)
def summary(n: int, seed: int) -> dict:
    return trial.run_trial(scenario.load(EXAMPLE), n=n, seed=seed).summary()


def test_standard_infusion_response_at_24_h_must_show():
    s = summary(500, 1)["arms"]
    ket, sal, mid = (s[a]["response_rate"]["24"] for a in ("ketamine", "saline", "midazolam"))
    assert 0.5 <= ket <= 0.8
    assert sal < 0.2
    assert sal < mid < ket


def test_same_seed_same_numbers_other_seed_differs():
    a = trial.run_trial(scenario.load(EXAMPLE), n=40, seed=3).summary()
    b = trial.run_trial(scenario.load(EXAMPLE), n=40, seed=3).summary()
    c = trial.run_trial(scenario.load(EXAMPLE), n=40, seed=4).summary()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a["arms"], sort_keys=True) != json.dumps(c["arms"], sort_keys=True)


def test_infusion_dissociates_and_raises_blood_pressure_placebos_do_not():
    s = summary(500, 1)["arms"]
    assert 5 < s["ketamine"]["dissociation_peak_mean"] < 30
    assert s["saline"]["dissociation_peak_mean"] == 0 and s["midazolam"]["dissociation_peak_mean"] < 1
    assert 2 < s["ketamine"]["systolic_rise_peak_mean"] < 20


def test_trial_json_contract(capsys):
    assert main(["trial", EXAMPLE, "--n", "10", "--seed", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["seed"] == 2
    for arm in ("ketamine", "saline", "midazolam"):
        a = doc["arms"][arm]
        assert a["n"] == 10
        assert set(a["response_rate"]) == set(a["remission_rate"]) == set(a["madrs_change_mean"])
        assert "24" in a["response_rate"] and isinstance(a["dissociation_peak_mean"], float)


def test_trial_report_is_written(tmp_path):
    assert main(["trial", EXAMPLE, "--n", "5", "--report", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64") >= 8 and "Murrough" in page  # literature points shown
    assert json.loads((tmp_path / "summary.json").read_text())["n_per_arm"] == 5


@pytest.mark.parametrize(("args", "message"), [(["--n", "0"], "--n"), (["--seed", "x"], "--seed")])
def test_trial_bad_arguments(capsys, args, message):
    assert main(["trial", EXAMPLE, *args]) == 2
    assert message in capsys.readouterr().err


def test_effect_site_matches_analytic_step_response():
    t = np.linspace(0, 10, 201)
    x = np.where(t > 0, 1.0, 0.0)[None, :]
    x[:, 0] = 0.0
    y = scores.effect_site(t, x, 0.7)
    # input ramps from 0 to 1 over the first step, then stays: compare after the ramp
    h = t[1]
    exact = 1 - (1 - np.exp(-0.7 * h)) / (0.7 * h) * np.exp(-0.7 * (t - h))
    np.testing.assert_allclose(y[0, 1:], exact[1:], rtol=1e-10, atol=1e-12)


def test_bolus_dissociates_more_than_infusion_of_the_same_dose():
    """Seed 001 (validation): the same 0.5 mg/kg as a 1-min bolus gives more dissociation than over 40 min."""
    from ketasim.model import run_arm
    from ketasim.parameter_sets import packaged

    out = {}
    for label, extra in (("bolus", {}), ("infusion", {"duration": "40 min"})):
        sc = scenario.from_dict(
            {
                "species": "human",
                "horizon": "6 h",
                "arms": [
                    {
                        "name": "a",
                        "doses": [{"compound": "ketamine", "amount": "0.5 mg/kg", "route": "iv", **extra}],
                    }
                ],
            }
        )
        ds = run_arm(sc, "a")
        block = ds.nmda_block.sel(cell_type="pyramidal").values
        out[label] = scores.dissociation(ds.time.values, block, packaged("clinical")).max()
    assert out["bolus"] > out["infusion"]


def test_madrs_stays_on_the_scale():
    s = scores.madrs(
        np.array([58.0, 25.0]), np.zeros((2, 3)), np.array([[0, -0.5, 1.0]] * 2), np.full((2, 3), 5.0)
    )
    assert s.min() >= 0 and s.max() <= 60


def test_power_grows_with_n_and_control_can_be_chosen():
    res = trial.run_trial(scenario.load(EXAMPLE), n=60, seed=5, control="midazolam")
    assert res.control == "midazolam"
    power = res.power("ketamine", [5, 20, 60], n_trials=200)
    p = [power[n]["power"] for n in (5, 20, 60)]
    assert p[0] < p[1] < p[2] or p[2] > 0.95
    s = res.summary()["comparisons"]["ketamine vs midazolam"]
    g, d = s["madrs_change_hedges_g"], s["response_difference"]
    assert g[1] <= g[0] <= g[2] and g[0] < 0  # ketamine lowers MADRS more
    assert d[1] <= d[0] <= d[2] and d[0] > 0
    with pytest.raises(Exception, match="did you mean 'midazolam'"):
        trial.run_trial(scenario.load(EXAMPLE), n=5, control="midazolm")


def test_power_option_on_the_command_line(capsys):
    assert main(["trial", EXAMPLE, "--n", "20", "--power", "10,30", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    table = doc["power_24h"]["ketamine vs saline"]
    assert set(table) == {"10", "30"} and 0 <= table["10"]["power"] <= table["30"]["power"] <= 1
    assert main(["trial", EXAMPLE, "--power", "0"]) == 2


def test_a_trial_in_healthy_subjects_is_refused_not_scored():
    """Without the depressed state's synaptic deficit there is nothing for the mood model to relieve."""
    from ketasim.errors import KetasimError

    sc = scenario.from_dict({"condition": "healthy", "arms": [{"name": "a", "doses": []}]}, "healthy.toml")
    with pytest.raises(KetasimError, match="depressed"):
        trial.run_trial(sc, n=3, seed=1)
