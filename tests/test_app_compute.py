"""The app's computation layer (ketasim.app.compute) and the ``ketasim app`` command's checks, no browser."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from ketasim import mechanisms
from ketasim.app import compute
from ketasim.cli import main
from ketasim.commands.app import check_port, websocket_origins
from ketasim.compounds import default_library
from ketasim.errors import KetasimError
from ketasim.trial import run_trial

SMALL = {"n": 20, "horizon_d": 2.0}


@pytest.fixture(scope="module")
def default_curves() -> compute.Curves:
    return compute.simulate(SMALL)


def test_band_is_the_percentiles_over_patients():
    values = np.repeat(np.arange(101.0)[:, None], 3, axis=1)  # patients 0..100, three times
    b = compute.Band.of(values)
    np.testing.assert_allclose(b.median, 50.0)
    np.testing.assert_allclose(b.low, 5.0)
    np.testing.assert_allclose(b.high, 95.0)


def test_default_controls_give_the_standard_infusion():
    sc = compute.scenario_from_controls({})
    (dose,) = sc.arms[0].regimen.doses
    assert (dose.compound, dose.route, dose.per_kg) == ("ketamine", "iv", True)
    assert dose.amount == pytest.approx(0.5)
    assert dose.duration == pytest.approx(40 / 60)
    assert sc.horizon_h == pytest.approx(168.0)
    assert sc.condition == "depressed"
    assert sc.mechanisms == mechanisms.defaults()
    assert sc.population == {"name": "trd", "n": 50, "seed": 1}


def test_repeated_regimen_and_switches_reach_the_scenario():
    sc = compute.scenario_from_controls(
        {
            "compound": "esketamine",
            "dose": 56,
            "dose_unit": "mg",
            "route": "intranasal",
            "duration_min": 0,
            "regimen": "repeated",
            "every_h": 84,
            "count": 4,
            "mechanisms": ["resting_nmda", "sigma1"],
            "perturbations": ["rapamycin"],
        }
    )
    doses = sc.arms[0].regimen.doses
    assert [d.time for d in doses] == pytest.approx([0.0, 84.0, 168.0, 252.0])
    assert all(d.amount == 56 and not d.per_kg and d.route == "intranasal" for d in doses)
    assert sc.mechanisms == {"resting_nmda", "sigma1"}
    assert sc.arms[0].perturbations == ("rapamycin",)


def test_microgram_doses_convert():
    (dose,) = compute.scenario_from_controls({"dose": 500, "dose_unit": "µg/kg"}).arms[0].regimen.doses
    assert dose.amount == pytest.approx(0.5) and dose.per_kg


@pytest.mark.parametrize(
    ("controls", "argument"),
    [
        ({"dose": 0}, "dose"),
        ({"dose": -1.0}, "dose"),
        ({"dose": "abc"}, "dose"),
        ({"dose": None}, "dose"),
        ({"dose_unit": "mg/L"}, "dose unit"),
        ({"route": "rectal"}, "route"),
        ({"route": "oral", "duration_min": 40}, "infusion duration"),
        ({"compound": "ketamin"}, "compound"),
        ({"n": 0}, "population size"),
        ({"n": 2.5}, "population size"),
        ({"n": compute.MAX_PATIENTS + 1}, "population size"),
        ({"horizon_d": 0.1}, "horizon"),
        ({"regimen": "repeated", "every_h": 0.2, "duration_min": 40}, "dose interval"),
        ({"regimen": "weekly"}, "regimen"),
        ({"mechanisms": ["telepathy"]}, "mechanisms"),
        ({"dosage": 1}, "controls"),
    ],
)
def test_bad_controls_are_user_errors_naming_the_control(controls, argument):
    with pytest.raises(KetasimError) as err:
        compute.scenario_from_controls(controls)
    assert err.value.argument == argument


def test_unknown_names_suggest_the_nearest():
    with pytest.raises(KetasimError, match="did you mean 'ketamine'"):
        compute.scenario_from_controls({"compound": "ketamin"})
    with pytest.raises(KetasimError, match="rapamycin"):
        compute.scenario_from_controls({"perturbations": ["rapamycine"]})


def test_peak_plasma_is_linear_in_dose(default_curves):
    """The PK is linear, so doubling the dose doubles every concentration."""
    double = compute.simulate({**SMALL, "dose": 1.0})
    assert double.peak_plasma_ng_ml / default_curves.peak_plasma_ng_ml == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_allclose(double.plasma_ng_ml.high, 2.0 * default_curves.plasma_ng_ml.high, rtol=1e-6)


def test_peak_plasma_of_the_standard_infusion_matches_the_literature(default_curves):
    """0.5 mg/kg over 40 min: 185 ng/mL at the end of the infusion, range 100-250 ng/mL
    (Zarate 2006 via Zanos 2018 Table 1; Krystal 1994; shared/reference/pk_clinical.md)."""
    assert 100.0 <= default_curves.peak_plasma_ng_ml <= 250.0
    t_peak = default_curves.times_h[np.argmax(default_curves.plasma_ng_ml.median)]
    assert t_peak == pytest.approx(40 / 60, abs=5 / 60)


def test_curves_match_the_trial_of_the_same_scenario(default_curves):
    """The app samples the same patients and noise as ``ketasim trial`` with the same seed."""
    sc = compute.scenario_from_controls(SMALL)
    mw = default_library().get("ketamine").mw
    arm = run_trial(sc, n=SMALL["n"], seed=compute.DEFAULTS["seed"]).arms["regimen"]
    np.testing.assert_allclose(default_curves.madrs.median, np.median(arm.madrs, axis=0))
    np.testing.assert_allclose(default_curves.cadss.high, np.percentile(arm.cadss, 95, axis=0))
    np.testing.assert_allclose(
        default_curves.plasma_ng_ml.median, np.median(arm.plasma_parent_um, axis=0) * mw
    )
    assert default_curves.n == SMALL["n"]


def test_outputs_have_the_expected_shape_and_range(default_curves):
    c = default_curves
    assert c.times_h[0] == 0.0 and c.times_h[-1] == pytest.approx(48.0)
    for band in (c.plasma_ng_ml, c.nmda_block_pct, c.madrs, c.cadss, c.sbp_rise_mmhg):
        assert band.median.shape == c.times_h.shape
        assert np.all(band.low <= band.median + 1e-12) and np.all(band.median <= band.high + 1e-12)
    assert c.plasma_ng_ml.median[0] == 0.0 and c.cadss.median[0] == 0.0
    assert c.response_pct[0] == 0.0  # nobody has responded before the dose acts
    assert 0.0 < c.nmda_block_pct.median.max() < 100.0
    s = c.summary()
    assert s["peak_plasma_ng_ml"] == pytest.approx(c.peak_plasma_ng_ml)


def test_switching_every_mechanism_off_removes_the_drug_effect_on_mood(default_curves):
    off = compute.simulate({**SMALL, "mechanisms": []})
    assert off.peak_plasma_ng_ml == pytest.approx(default_curves.peak_plasma_ng_ml)
    assert off.summary()["madrs_24h"] > default_curves.summary()["madrs_24h"]


def test_available_routes_are_those_with_absorption_data():
    assert compute.available_routes("ketamine") == list(compute.ROUTES)
    assert compute.available_routes("mk-801") == ["iv"]
    assert "oral" in compute.available_routes("memantine")
    compute.simulate({"compound": "memantine", "route": "oral", "duration_min": 0, "n": 2, "horizon_d": 1})
    with pytest.raises(KetasimError, match="no absorption parameters"):
        compute.simulate({"compound": "mk-801", "route": "oral", "duration_min": 0, "n": 2, "horizon_d": 1})


def test_regimen_label():
    label = compute.regimen_label(compute.merged({"regimen": "repeated", "every_h": 72, "count": 3}))
    assert label == "ketamine 0.5 mg/kg iv over 40 min, every 72 h x 3"


def test_port_and_origins():
    assert check_port(0) == 0 and check_port(65535) == 65535
    with pytest.raises(KetasimError):
        check_port(70000)
    assert websocket_origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert websocket_origins("0.0.0.0", 5006) == ["*"]


def test_other_host_warns_and_busy_port_is_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["app", "--host", "0.0.0.0", "--port", str(port), "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("ketasim app: warning: listening on 0.0.0.0")
    assert len(err) == 2 and err[1].startswith("ketasim: error: --port: cannot listen on")


def test_bad_port_is_refused_before_serving(capsys):
    assert main(["app", "--port", "70000", "--no-browser"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "ketasim: error: --port: must be between 0 and 65535, got 70000 (e.g. --port 5006)"
    ]


# The page's logic without a browser (the browser test covers the wiring to the page).


@pytest.fixture
def app():
    pytest.importorskip("panel")
    from ketasim.app.ui import App

    return App(SMALL)


def test_page_starts_with_the_defaults_and_shows_the_peak(app):
    assert app.controls() == compute.merged(SMALL)
    assert app.run == 1 and not app.error.visible
    assert f'data-peak-ng-ml="{app.current.peak_plasma_ng_ml:.6g}"' in app.readout.object
    src = app.plots.sources[("plasma_ng_ml", "current")]
    assert max(src.data["median"]) == pytest.approx(app.current.peak_plasma_ng_ml)


def test_page_route_and_compound_keep_the_controls_consistent(app):
    app.w["route"].value = "oral"
    assert app.w["duration_min"].value == 0 and app.w["duration_min"].disabled
    assert not app.error.visible
    app.w["route"].value = "iv"
    assert app.w["duration_min"].value == 40 and not app.w["duration_min"].disabled
    app.w["compound"].value = "mk-801"
    assert app.w["route"].options == ["iv"]


def test_page_shows_bad_values_as_a_message_and_keeps_the_last_result(app):
    run, peak = app.run, app.current.peak_plasma_ng_ml
    app.w["n"].value = 0
    assert app.error.visible and "population size" in app.error.object
    assert "Traceback" not in app.error.object
    assert app.run == run and app.current.peak_plasma_ng_ml == peak
    app.w["n"].value = 10
    assert not app.error.visible and app.run == run + 1


def test_page_comparison_slots(app):
    app.keep("B")
    assert len(app.plots.sources[("madrs", "B")].data["t"]) == app.current.times_h.size
    assert "(empty)" in app.table.object and app.current.label in app.table.object
    app.clear()
    assert len(app.plots.sources[("madrs", "B")].data["t"]) == 0
