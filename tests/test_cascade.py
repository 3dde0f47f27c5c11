"""Circuit, signalling and spines: must-shows of issue 4 (time courses from mechanism.md D1).

Calibration data (named in the parameter files and docs/calibration.md): Autry 2011 (BDNF up at
30 min), Li 2010 (timing of mTORC1, synaptic proteins, spines at 24 h), Moghaddam 1997 (glutamate
direction). Tests on those check the fit reproduces its calibration; the others (Gideons 2014
return by 8 h, spines at 7 days, memantine, knockouts, co-drugs, switches) are not fitted to.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from ketasim import mechanisms, model
from ketasim.circuit.network import connectivity, fixed_point, rates
from ketasim.cli import main
from ketasim.errors import KetasimError
from ketasim.parameter_sets import packaged
from ketasim.scenario import from_dict, load, to_toml
from ketasim.signalling import cascade


def dose(**kw) -> tuple:
    """A hashable dose (for the cached runs)."""
    return tuple(sorted(kw.items()))


KET = (dose(compound="ketamine", amount="10 mg/kg", route="ip"),)
HNK = (dose(compound="2r6r-hydroxynorketamine", amount="10 mg/kg", route="ip"),)
ALL = frozenset(mechanisms.NAMES)


def _scenario(doses=(), perts=(), species="mouse", horizon="7 d", condition="healthy"):
    return from_dict(
        {
            "species": species,
            "horizon": horizon,
            "condition": condition,
            "arms": [{"name": "a", "doses": [dict(d) for d in doses], "perturbations": list(perts)}],
        }
    )


@lru_cache(maxsize=64)
def run(doses=KET, perts=(), mech=None, species="mouse", horizon="7 d"):
    sc = _scenario(doses, perts, species, horizon)
    return model.run_arm(sc, "a", mechanisms=mech)


def at(ds, var, hours):
    j = int(np.argmin(np.abs(ds.time.values - hours)))
    return float(ds[var].values[0, j])


def effect(var, hours, perts=(), mech=None, doses=KET):
    """Drug minus vehicle in animals with the same perturbations."""
    return at(run(doses, perts, mech), var, hours) - at(run((), perts, mech), var, hours)


# --- circuit ---------------------------------------------------------------------------------------


def test_fixed_point_is_unique_and_matches_rate_dynamics():
    p = dict(packaged("circuit"))
    g = np.linspace(0, 1, 9)
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    r = rates(1 - grid, p)
    assert np.isfinite(r).all()  # exactly one consistent active set everywhere
    np.testing.assert_allclose(rates(np.ones(3), p), 1.0, atol=1e-12)
    # reference: integrate tau dr/dt = -r + [W r + h]+ to rest from the baseline
    W, h = connectivity(1 - grid, p)
    x = np.ones_like(grid)
    for _ in range(20000):
        x = x + 0.01 * (-x + np.clip(np.einsum("nij,nj->ni", W, x) + h, 0, None))
    np.testing.assert_allclose(x, r, atol=1e-6)


def test_fixed_point_reports_no_solution_as_nan():
    W = np.array([[2.0]])  # runaway excitation: no fixed point
    assert np.isnan(fixed_point(W, np.array([1.0]))).all()


def test_uniform_block_gives_inverted_u_glutamate():
    """Calibration check (Moghaddam 1997): up at moderate block, down near full block."""
    p = dict(packaged("circuit"))
    e = lambda b: rates(np.full(3, 1 - b), p)[0]  # noqa: E731
    assert e(0.3) > 1.1 and e(0.5) > 1.3
    assert e(0.95) < 0.8 and e(1.0) < e(0.5)
    # interneurons fall first (Homayoun & Moghaddam 2007)
    r = rates(np.full(3, 0.8), p)
    assert r[1] < 0.75 and r[0] > 1.05


@pytest.mark.parametrize(("amount", "direction"), [("10 mg/kg", 1), ("30 mg/kg", 1), ("200 mg/kg", -1)])
def test_rat_glutamate_up_at_subanaesthetic_and_down_at_anaesthetic_doses(amount, direction):
    """Moghaddam 1997 (rat mPFC, i.p.): calibration of the circuit; rat PK is assumed."""
    ds = run((dose(compound="ketamine", amount=amount, route="ip"),), species="rat", horizon="4 h")
    glu = ds.glutamate.values[0]
    if direction > 0:
        assert glu.max() > 1.1
    else:
        assert glu.min() < 0.9


# --- mouse 10 mg/kg time courses (default mechanisms) ----------------------------------------------


def test_mouse_p_eef2_down_at_30_min_and_back_by_8_h():
    ds = run()
    assert at(ds, "p_eef2_relative", 0.5) < 0.85  # Autry 2011 direction (calibration)
    assert abs(at(ds, "p_eef2_relative", 8) - 1) < 0.25  # Gideons 2014 (validation)


def test_mouse_bdnf_up_at_30_min_and_back_by_24_h():
    ds = run()
    assert at(ds, "bdnf", 0.5) > 1.1
    assert abs(at(ds, "bdnf", 24) - 1) < 0.05


def test_mouse_mtorc1_peaks_within_1_h_and_is_back_by_2_h():
    ds = run()
    m = ds.mtorc1.values[0]
    t = ds.time.values
    # peak size is a guard, not a datum (Li 2010 magnitudes not retrieved): 1.48 with interneuron subunit
    # shares fitted to slice data, 1.66 with the assumed GluN2D-rich ones (stronger disinhibition)
    assert m.max() > 1.4 and t[m.argmax()] <= 1.0
    assert at(ds, "mtorc1", 2) < 1.25


def test_mouse_synaptic_proteins_up_from_about_2_h():
    ds = run()
    assert at(ds, "synaptic_protein", 1) < at(ds, "synaptic_protein", 4)
    assert at(ds, "synaptic_protein", 2) > 1.01 and at(ds, "synaptic_protein", 6) > 1.04
    assert at(ds, "synaptic_protein", 24) > 1.02


def test_mouse_spines_up_at_24_h_and_at_7_days_after_ketamine_is_gone():
    ds = run()
    brain = ds.brain_ecf.sel(analyte="ketamine").values[0]
    assert brain[np.searchsorted(ds.time.values, 6.0)] < 0.01 * brain.max()
    assert at(ds, "spine_density", 24) > 1.03
    # Phoumthipphavong 2016 (direction only): still up at 7 days, carried by the consolidated part of the
    # new spines; most new spines are lost within days (Holtmaat 2005), so the density falls from day 1
    assert 1.005 < at(ds, "spine_density", 168) < at(ds, "spine_density", 24)
    assert at(ds, "new_spines", 168) < 0.1 * at(ds, "new_spines", 24)


def test_vehicle_stays_at_baseline():
    ds = run(())
    for v in ("p_eef2_relative", "bdnf", "mtorc1", "synaptic_protein", "surface_ampa", "spine_density"):
        np.testing.assert_allclose(ds[v].values, 1.0, atol=1e-6)


def test_all_mechanisms_example_runs_and_names_series():
    sc = load("examples/mouse_ketamine_10mgkg.toml")
    assert sc.mechanisms == ALL and sc.species == "mouse"
    ds = model.run_arm(sc, "ketamine")
    s = model.series(ds)
    for name in (
        "plasma_ketamine_um",
        "brain_ketamine_um",
        "nmda_block_pyramidal",
        "nmda_block_interneuron",
        "glutamate",
        "resting_nmda_ca",
        "p_eef2",
        "bdnf",
        "mtorc1",
        "synaptic_protein",
        "surface_ampa",
        "spine_density",
    ):
        assert len(s[name]) == ds.time.size and np.isfinite(s[name]).all(), name
    assert max(s["spine_density"]) > 1.05


# --- pharmacology and perturbations -----------------------------------------------------------------


def test_memantine_at_clinical_exposure_does_not_lower_p_eef2():
    """Gideons 2014: memantine does not lower p-eEF2 (validation); 20 mg/day orally for a week."""
    doses = (dose(compound="memantine", amount="20 mg", route="oral", every="24 h", count=7),)
    ds = run(doses, species="human", horizon="8 d")
    assert ds.plasma.sel(analyte="memantine").values.max() > 0.2  # clinical exposure reached (uM)
    assert ds.p_eef2_relative.values.min() > 0.95


def test_rapamycin_abolishes_the_spine_increase():
    assert effect("spine_density", 24) > 0.03
    assert effect("spine_density", 24, ("rapamycin",)) < 0.1 * effect("spine_density", 24)


def test_eef2k_knockout_abolishes_resting_route_but_not_disinhibition():
    rest, dis = frozenset({"resting_nmda"}), frozenset({"disinhibition"})
    assert effect("spine_density", 24, mech=rest) > 0.005
    assert effect("spine_density", 24, ("eef2k_knockout",), rest) == pytest.approx(0.0, abs=1e-6)
    assert effect("spine_density", 24, ("eef2k_knockout",), dis) > 0.5 * effect("spine_density", 24, mech=dis)


def test_nbqx_blocks_disinhibition_and_hnk_ampa_routes():
    dis, hnk = frozenset({"disinhibition"}), frozenset({"hnk_ampa"})
    # a sizeable disinhibition-only effect first (0.15; 0.25 with the assumed GluN2D-rich interneuron shares,
    # whose weakly Mg2+-blocked GluN2D receptors ketamine reached more easily than the GluN2B receptors the
    # sourced shares hold; 0.31 before GluN2B gating was fitted to its open probability)
    assert effect("mtorc1", 0.5, mech=dis) > 0.1
    assert effect("mtorc1", 0.5, ("nbqx",), dis) < 0.05 * effect("mtorc1", 0.5, mech=dis)
    assert effect("spine_density", 24, mech=hnk, doses=HNK) > 0.02
    assert effect("spine_density", 24, ("nbqx",), hnk, HNK) < 0.05 * effect(
        "spine_density", 24, mech=hnk, doses=HNK
    )


def test_bdnf_and_trkb_knockouts_remove_most_of_the_effect():
    # narrow since spine formation answers the delivery of new protein, which saturates formation at
    # 10 mg/kg in the wild type (ratio ~0.19; mech-bdnf-knockout-abolishes)
    full = effect("spine_density", 24)
    for pert in ("bdnf_knockout", "trkb_knockout"):
        assert effect("spine_density", 24, (pert,)) < 0.2 * full, pert


@pytest.mark.parametrize("pert", ["bdnf_knockout", "trkb_knockout"])
def test_bdnf_and_trkb_knockouts_remove_most_of_the_synaptic_protein_rise(pert):
    """What the knockouts do remove upstream of the spines (Autry 2011; validation)."""
    assert effect("synaptic_protein", 24, (pert,)) < 0.2 * effect("synaptic_protein", 24)


def test_glun2b_interneuron_knockdown_prevents_the_glutamate_surge():
    """Gerhard 2020. Passes with interneuron subunit shares fitted to slice data (Mierau 2016; GluN2B carries
    70% of PV and 56% of SST NMDA charge); failed at 17-20% with the assumed GluN2D-rich shares."""
    assert effect("glutamate", 0.25) > 0.1
    assert effect("glutamate", 0.25, ("glun2b_interneuron_knockout",)) < 0.25 * effect("glutamate", 0.25)


@pytest.mark.xfail(
    strict=True,
    reason="known failure mech-glun2b-interneuron-blocks (Gerhard 2020): after the chronic knock-down and "
    "homeostatic rescaling, ketamine lowers glutamate (effect ratio -0.67, tolerance -0.3 to 0.3)",
)
def test_glun2b_interneuron_knockdown_leaves_no_reversed_effect():
    assert effect("glutamate", 0.25, ("glun2b_interneuron_knockout",)) > -0.3 * effect("glutamate", 0.25)


def test_glun2b_pyramidal_deletion_mimics_ketamine_on_p_eef2():
    """Miller 2014: deletion lowers resting NMDA Ca2+ and p-eEF2 without drug."""
    ko = run((), ("glun2b_pyramidal_knockout",))
    assert at(ko, "resting_nmda_ca", 0) < 0.5
    assert at(ko, "p_eef2_relative", 0) < 0.5


def test_constitutively_active_gsk3_blunts_ampa_insertion():
    full = effect("surface_ampa", 2)
    assert effect("surface_ampa", 2, ("gsk3_constitutive",)) < 0.3 * full


def test_lysosomal_route_works_without_nmda_receptors_and_not_for_the_charged_analogue():
    lyso = frozenset({"lysosomal_mtor"})
    core = frozenset({"resting_nmda", "disinhibition"})
    assert effect("mtorc1", 0.5, ("no_nmda_receptors",), lyso) > 0.05
    assert effect("mtorc1", 0.5, ("no_nmda_receptors",), core) == pytest.approx(0.0, abs=1e-9)
    charged = (dose(compound="ketamine-methiodide", amount="0.5 mg/kg", route="iv"),)
    ket = (dose(compound="ketamine", amount="0.5 mg/kg", route="iv"),)
    q = run(charged, (), lyso, "human", "1 d")
    k = run(ket, (), lyso, "human", "1 d")
    assert q.input_lyso.values.max() < 1e-3 * k.input_lyso.values.max()


# --- switches -----------------------------------------------------------------------------------------

ROUTE_INPUT = {
    "resting_nmda": "input_ca",
    "disinhibition": "input_ampa",
    "hnk_ampa": "input_ampa",
    "lysosomal_mtor": "input_lyso",
    "er_chaperone": "input_chaperone",
    "sigma1": "input_sigma",
    "opioid": "input_opioid",
    "nicotinic": "input_nic",
}
INPUTS = sorted(set(ROUTE_INPUT.values()))


@pytest.mark.parametrize("switch", mechanisms.NAMES)
def test_each_switch_off_removes_its_route_and_nothing_else(switch):
    on, off, vehicle = run(KET, (), ALL), run(KET, (), ALL - {switch}), run((), (), ALL)
    mine = ROUTE_INPUT[switch]
    assert np.abs(on[mine].values - vehicle[mine].values).max() > 1e-3, "the route carries a signal"
    shared = [k for k, v in ROUTE_INPUT.items() if v == mine and k != switch]
    if shared:  # disinhibition and hnk_ampa both feed AMPA activation: what is left is the other's share
        np.testing.assert_allclose(off[mine].values, run(KET, (), frozenset(shared))[mine].values, atol=1e-12)
        assert np.abs(off[mine].values - on[mine].values).max() > 1e-3
    else:
        np.testing.assert_allclose(off[mine].values, vehicle[mine].values, atol=1e-12)
    for other in INPUTS:
        if other != mine:
            np.testing.assert_array_equal(off[other].values, on[other].values)
    for circuit_output in ("glutamate", "nmda_block", "resting_nmda_ca"):
        np.testing.assert_array_equal(off[circuit_output].values, on[circuit_output].values)


def test_disinhibition_off_leaves_ampa_drive_of_hnk_only():
    both = run(KET, (), frozenset({"disinhibition", "hnk_ampa"}))
    hnk_only = run(KET, (), frozenset({"hnk_ampa"}))
    none = run(KET, (), frozenset())
    np.testing.assert_allclose(none.input_ampa.values, 1.0, atol=1e-12)
    assert (hnk_only.input_ampa.values >= 1 - 1e-12).all()
    assert both.input_ampa.values.max() > hnk_only.input_ampa.values.max()


# --- cascade numerics ------------------------------------------------------------------------------


def test_steady_state_is_a_rest_point_and_integration_matches_a_tight_reference():
    from ketasim.model import base_cascade

    p = dict(base_cascade())
    u0 = np.array([[1.0, 1.0, 0, 0, 0, 0, 0]])
    y0 = cascade.steady_state(u0, p, False)
    assert np.abs(cascade.rhs(y0, u0, p, False, y0[:, cascade.IX["synaptic_protein"]])).max() < 1e-8
    t = np.linspace(0, 48, 97)
    u = np.repeat(u0[:, None, :], t.size, axis=1)
    u[:, :12, cascade.UX["ca"]] = 0.6
    u[:, :12, cascade.UX["ampa"]] = 1.4
    loose = cascade.integrate(t, u, y0, p, False)
    tight = cascade.integrate(t, u, y0, p, False, rtol=1e-10, max_step=0.05)
    np.testing.assert_allclose(loose, tight, rtol=1e-3, atol=1e-4)


def test_batched_patients_match_single_runs():
    from ketasim.model import base_cascade

    p = dict(base_cascade())
    u0 = np.array([[1.0, 1.0, 0, 0, 0, 0, 0], [0.5, 1.2, 0.1, 0, 0, 0, 0]])
    y0 = cascade.steady_state(u0, p, True)
    t = np.linspace(0, 24, 49)
    u = np.repeat(u0[:, None, :], t.size, axis=1)
    u[:, 2:10, cascade.UX["ampa"]] *= 1.5
    both = cascade.integrate(t, u, y0, p, True)
    one = cascade.integrate(t, u[1:], y0[1:], p, True)
    np.testing.assert_allclose(both[1:], one, rtol=1e-4, atol=1e-6)


def test_depressed_condition_starts_with_a_spine_deficit():
    p = packaged("spines")
    sc = _scenario(KET, condition="depressed")
    ds = model.run_arm(sc, "a")
    assert ds.spine_density.values[0, 0] == pytest.approx(
        p["depression.formation_factor"] / p["depression.elimination_factor"]
    )


# --- scenarios and command line ------------------------------------------------------------------------


def test_scenario_round_trip(tmp_path):
    sc = load("examples/mouse_ketamine_10mgkg.toml")
    f = tmp_path / "s.toml"
    f.write_text(to_toml(sc))
    assert load(f).record() == sc.record()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"arms": [{"name": "a"}], "speceis": "mouse"}, "did you mean 'species'"),
        ({"arms": [{"name": "a", "perturbations": ["rapamicin"]}]}, "did you mean 'rapamycin'"),
        ({"arms": [{"name": "a"}], "mechanisms": {"resting_nmda": "yes"}}, "true or false"),
        ({"arms": [{"name": "a"}], "mechanisms": {"disinhibiton": True}}, "did you mean 'disinhibition'"),
        ({"arms": [{"name": "a"}], "condition": "sad"}, "unknown condition"),
        ({"arms": []}, "at least one"),
        ({"arms": [{"name": "a", "doses": [{"compound": "ketamine", "amount": "-1 mg/kg"}]}]}, "positive"),
        ({"arms": [{"name": "a", "doses": [{"compound": "ketamin", "amount": "1 mg"}]}]}, "ketamine"),
        ({"arms": [{"name": "a"}], "horizon": "7 kg"}, "horizon"),
    ],
)
def test_bad_scenarios_name_the_problem(data, message):
    with pytest.raises(KetasimError, match=message):
        from_dict(data, "bad.toml")


def test_simulate_json_contract(capsys):
    assert main(["simulate", "examples/mouse_ketamine_10mgkg.toml", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["species"] == "mouse"
    assert len(doc["times_h"]) == len(doc["series"]["spine_density"])
    assert doc["parameter_hash"] and doc["ketasim_version"]


def test_simulate_errors_are_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("arms = [ {name = 'a', doses = [{compound='ketamine', amount='1 mg', rout='iv'}]} ]")
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'route'" in err
    assert main(["simulate", "examples/mouse_ketamine_10mgkg.toml", "--mechanisms", "restingnmda"]) == 2


def test_simulate_writes_tables_provenance_and_plots(tmp_path):
    assert main(["simulate", "examples/mouse_ketamine_10mgkg.toml", "--out", str(tmp_path)]) == 0
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert set(prov["arms"]) == {"ketamine", "vehicle"}
    assert all(p["parameters"] for p in prov["arms"].values())
    assert (tmp_path / "ketamine.png").stat().st_size > 10_000
    assert load(tmp_path / "scenario.toml").record() == load("examples/mouse_ketamine_10mgkg.toml").record()
