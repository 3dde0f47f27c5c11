"""Structural checks of the PK system: analytic solutions, two solvers, mass balance, covariates."""

import math

import numpy as np
import pytest

from ketasim.dosing import Dose, Regimen
from ketasim.engine.linear import solve_linear
from ketasim.engine.reference import solve_reference
from ketasim.engine.schedule import build_schedule
from ketasim.errors import KetasimError
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.pk.model import build_model
from ketasim.pk.simulate import mass_balance, simulate

ROUTE_DOSES = [
    ("iv", None),
    ("iv", "40 min"),
    ("im", None),
    ("oral", None),
    ("intranasal", None),
    ("sublingual", None),
]


def _run(library, regimen, times, cov=None):
    model = build_model(regimen, cov or Covariates.single(), library)
    sched = build_schedule(model, regimen, library)
    return model, sched


def test_one_compartment_bolus_matches_analytic(synthetic):
    reg = Regimen.single(Dose.parse("drugone", "20 mg", "iv"))
    t = np.linspace(0, 24, 49)
    ds = simulate(reg, times=t, library=synthetic)
    c0 = 20 / 200 * 1000 / 50  # µmol / L
    expected = c0 * np.exp(-10 / 50 * t)
    np.testing.assert_allclose(ds.plasma.sel(patient=0, analyte="DRUGONE").values, expected, rtol=1e-10)


def test_one_compartment_infusion_matches_analytic(synthetic):
    reg = Regimen.single(Dose.parse("drugone", "20 mg", "iv", duration="2 h"))
    t = np.array([0.5, 1.0, 2.0, 3.0, 10.0])
    c = simulate(reg, times=t, library=synthetic).plasma.sel(patient=0, analyte="DRUGONE").values
    k, rate = 10 / 50, 100 / 2  # 1/h, µmol/h
    during = rate / 10 * (1 - np.exp(-k * t))
    after = rate / 10 * (1 - np.exp(-k * 2)) * np.exp(-k * (t - 2))
    np.testing.assert_allclose(c, np.where(t <= 2, during, after), rtol=1e-10)


def test_parent_metabolite_matches_bateman(synthetic):
    reg = Regimen.single(Dose.parse("parent", "10 umol", "iv"))
    t = np.linspace(0.1, 30, 40)
    c = simulate(reg, times=t, library=synthetic).plasma.sel(patient=0, analyte="DAUGHTER").values
    k1, k2 = 20 / 40, 5 / 80
    amount = 10 * k1 / (k2 - k1) * (np.exp(-k1 * t) - np.exp(-k2 * t))
    np.testing.assert_allclose(c, amount / 80, rtol=1e-9)


def test_oral_bioavailability_follows_well_stirred_liver(synthetic):
    """F = fa * fg * (1 - E_H), E_H from the liver clearance and hepatic blood flow: an output."""
    reg = Regimen.single(Dose.parse("hepatic", "100 mg", "oral"))
    t = np.linspace(0, 200, 4001)
    ds = simulate(reg, times=t, library=synthetic)
    qh = default_physiology()["liver.hepatic_blood_flow"]
    fh = 1 - 45 / qh
    # AUC * CL = amount that reached the circulation
    auc = np.trapezoid(ds.plasma.sel(patient=0, analyte="HEPATIC").values, t)
    f = auc * 45 / (100 / 200 * 1000)
    assert f == pytest.approx(0.9 * 0.8 * fh, rel=2e-3)


@pytest.mark.parametrize(("route", "duration"), ROUTE_DOSES)
def test_exact_solver_agrees_with_reference(library, route, duration):
    reg = Regimen.single(Dose.parse("ketamine", "35 mg", route, duration=duration))
    t = np.array([0.1, 0.5, 0.6667, 1, 2, 4, 8, 24, 48])
    model, sched = _run(library, reg, t)
    a = solve_linear(model.A, sched, t)
    b = solve_reference(model.A, sched, t)
    scale = np.abs(b).max(axis=1, keepdims=True) + 1e-300
    assert np.max(np.abs(a - b) / scale) < 1e-7


@pytest.mark.parametrize(("route", "duration"), ROUTE_DOSES)
def test_mass_balance_closes_for_every_route(library, route, duration):
    """Dose = amount in the body + depots + eliminated + unabsorbed, to 1e-9 relative."""
    reg = Regimen.repeated(Dose.parse("ketamine", "0.5 mg/kg", route, duration=duration), "12 h", 3)
    t = np.linspace(0, 72, 145)
    for solver in ("exact", "reference"):
        model, sched = _run(library, reg, t)
        x = (solve_linear if solver == "exact" else solve_reference)(model.A, sched, t)
        total = mass_balance(model, x)[0]
        dosed = np.array(
            [sum(0.5 * 70 / 237.73 * 1000 for d in reg.doses if d.time + d.duration <= tt) for tt in t]
        )
        done = np.array([all(d.time + d.duration <= tt or d.time > tt for d in reg.doses) for tt in t])
        np.testing.assert_allclose(total[done], dosed[done], rtol=1e-9)
        assert np.all(x[0][:, model.amount_mask] > -1e-9 * dosed.max())


def test_same_dose_in_different_units_gives_the_same_result(library):
    t = np.linspace(0, 24, 97)
    variants = [
        Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min"),
        Dose.parse("ketamine", "35 mg", "iv", duration="2/3 h"),
        Dose.parse("ketamine", "35000 ug", "iv", duration="2400 s"),
        Dose.parse("ketamine", f"{35 / 237.73 * 1000} umol", "iv", duration="40 min"),
        Dose.parse("ketamine", "0.035 g", "iv", duration="0.6666666666666666 h"),
    ]
    curves = [simulate(Regimen.single(d), times=t).plasma.values for d in variants]
    for c in curves[1:]:
        np.testing.assert_allclose(c, curves[0], rtol=1e-9, atol=1e-15)


def test_infusion_tends_to_bolus(library):
    t = np.array([1.0, 2.0, 6.0, 24.0])
    bolus = simulate(Regimen.single(Dose.parse("ketamine", "35 mg", "iv")), times=t).plasma.values
    prev = math.inf
    for d in ("10 min", "1 min", "1 s"):
        inf = simulate(
            Regimen.single(Dose.parse("ketamine", "35 mg", "iv", duration=d)), times=t
        ).plasma.values
        err = np.max(np.abs(inf - bolus) / np.abs(bolus).max())
        assert err < prev
        prev = err
    assert prev < 1e-4


def test_repeated_doses_superpose(library):
    t = np.linspace(0, 96, 193)
    one = Dose.parse("esketamine", "56 mg", "intranasal")
    rep = simulate(Regimen.repeated(one, "3.5 d", 2), times=t).plasma.values
    a = simulate(Regimen.single(one), times=t).plasma.values
    shifted = np.interp(t - 84, t, a[0, :, 0], left=0.0)
    np.testing.assert_allclose(rep[0, :, 0], a[0, :, 0] + shifted, rtol=1e-6, atol=1e-12)


def test_weight_scaling(library):
    t = np.linspace(0, 72, 2000)
    reg = Regimen.single(Dose.parse("esketamine", "20 mg", "iv"))
    ds = simulate(reg, Covariates.batch([70.0, 140.0]), times=t)
    auc = np.trapezoid(ds.plasma.sel(analyte="S-ketamine").values, t, axis=1)
    # AUC = dose / CL and CL scales with (W/70)^0.75
    assert auc[0] / auc[1] == pytest.approx(2**0.75, rel=1e-3)


def test_cyp2b6_genotype_and_inhibitor_raise_exposure(library):
    t = np.linspace(0, 72, 2000)
    reg = Regimen.single(Dose.parse("ketamine", "35 mg", "iv", duration="40 min"))
    cov = Covariates.batch([70] * 4, ["*1/*1", "*1/*6", "*6/*6", "*1/*1"], {"CYP3A4": [1, 1, 1, 0.2]})
    ds = simulate(reg, cov, times=t)
    auc = np.trapezoid(ds.plasma.sel(analyte="ketamine").values, t, axis=1)
    assert auc[0] < auc[1] < auc[2]
    assert auc[3] > auc[0] * 1.1


def test_cyp_inhibitor_raises_oral_bioavailability_more_than_iv(library):
    from ketasim.pk.exposure import pk_run

    base = pk_run("ketamine", "50 mg", "oral").summary["bioavailability"]
    inh = pk_run("ketamine", "50 mg", "oral", enzyme_factors={"CYP3A4": 0.1}).summary["bioavailability"]
    assert inh > base


def test_unknown_route_and_missing_route_parameters(library, synthetic):
    with pytest.raises(KetasimError, match="unknown route 'rectal'"):
        Dose.parse("ketamine", "1 mg", "rectal")
    with pytest.raises(KetasimError, match="has no absorption parameters for route 'intranasal'"):
        simulate(Regimen.single(Dose.parse("drugone", "1 mg", "intranasal")), library=synthetic)


def test_bad_doses_are_refused():
    with pytest.raises(KetasimError, match="dose: amount must be zero or positive"):
        Dose.parse("ketamine", "-1 mg")
    with pytest.raises(KetasimError, match="does not convert"):
        Dose.parse("ketamine", "5 parsec")
    with pytest.raises(KetasimError, match="duration applies only to intravenous"):
        Dose.parse("ketamine", "5 mg", "oral", duration="10 min")
    with pytest.raises(KetasimError, match="weight"):
        Covariates.single(-3)


def test_hepatic_clearance_above_blood_flow_is_refused(tmp_path):
    from ketasim.compounds import load_library

    from .conftest import species_toml

    (tmp_path / "toofast.toml").write_text(species_toml("toofast", cl=200.0, organ="liver", enzyme="CYP3A4"))
    lib = load_library([tmp_path])
    with pytest.raises(KetasimError, match="reaches hepatic blood flow"):
        build_model(Regimen.single(Dose.parse("toofast", "1 mg")), library=lib)


def test_event_table_round_trip():
    reg = Regimen.stepped_infusion(
        "ketamine", [("0.28 mg/kg/h", "1 h"), ("0.57 mg/kg/h", "1 h")]
    ) + Regimen.single(Dose.parse("ketamine", "50 mg", "oral", time="6 h"))
    table = reg.to_event_table(weight=80)
    assert list(table.CMT) == [1, 1, 2]
    assert table.AMT.iloc[0] == pytest.approx(0.28 * 80)
    back = Regimen.from_event_table(table)
    t = np.linspace(0, 12, 49)
    cov = Covariates.single(80)
    np.testing.assert_allclose(
        simulate(back, cov, times=t).plasma.values,
        simulate(reg, cov, times=t).plasma.values,
        rtol=1e-9,
        atol=1e-15,
    )


def test_stepped_infusion_rates_in_any_unit_and_errors():
    a = Regimen.stepped_infusion("ketamine", [("0.5 mg/kg/h", "2 h")])
    b = Regimen.stepped_infusion("ketamine", [("35 mg/h", "120 min")])
    t = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(
        simulate(a, times=t).plasma.values, simulate(b, times=t).plasma.values, rtol=1e-12
    )
    with pytest.raises(KetasimError, match=r"steps\[0\].rate: '5 mg' is not an infusion rate"):
        Regimen.stepped_infusion("ketamine", [("5 mg", "1 h")])
    with pytest.raises(KetasimError, match=r"steps\[0\].duration"):
        Regimen.stepped_infusion("ketamine", [("5 mg/h", "-1 h")])


def test_species_disposition_and_intraperitoneal_route(tmp_path):
    """A [species.mouse] table replaces the disposition; i.p. doses meet the liver for the portal
    fraction only, so F(ip) = (1 - f_portal) + f_portal (1 - E_H); mass balance still closes."""
    from ketasim.compounds import load_library
    from ketasim.physiology import default_physiology

    from .conftest import P, species_toml

    mouse = (
        "[species.mouse.pk]\n"
        f'v1 = {{ value = 0.05, unit = "L", {P} }}\n'
        "[[species.mouse.pk.elimination]]\n"
        'organ = "liver"\nenzyme = "CYP3A4"\n'
        f'cl = {{ value = 0.06, unit = "L/h", {P} }}\n'
        "[species.mouse.absorption.ip]\n"
        f'ka = {{ value = 10, unit = "1/h", {P} }}\n'
        f'f_portal = {{ value = 0.8, unit = "", {P} }}\n'
    )
    (tmp_path / "murine.toml").write_text(species_toml("murine", extra=mouse))
    lib = load_library([tmp_path])
    with pytest.raises(KetasimError, match="no rat pharmacokinetics"):
        lib.species("murine").for_species("rat")
    with pytest.raises(KetasimError, match="unknown species 'dog'"):
        simulate(Regimen.single(Dose.parse("murine", "1 mg/kg", "iv")), library=lib, species="dog")
    t = np.linspace(0, 24, 4801)
    ip = simulate(
        Regimen.single(Dose.parse("murine", "10 mg/kg", "ip")), times=t, library=lib, species="mouse"
    )
    iv = simulate(
        Regimen.single(Dose.parse("murine", "10 mg/kg", "iv")), times=t, library=lib, species="mouse"
    )
    assert float(ip.weight[0]) == 0.025
    auc_ip = np.trapezoid(ip.plasma.isel(patient=0, analyte=0).values, t)
    auc_iv = np.trapezoid(iv.plasma.isel(patient=0, analyte=0).values, t)
    eh = 0.06 / default_physiology("mouse")["liver.hepatic_blood_flow"]
    assert auc_ip / auc_iv == pytest.approx(0.2 + 0.8 * (1 - eh), rel=2e-3)
    dosed = 10 * 0.025 / 200 * 1000
    np.testing.assert_allclose(ip.raw.isel(patient=0, time=-1).values[:5].sum(), dosed, rtol=1e-9)


@pytest.mark.parametrize("animal", ["mouse", "rat"])
def test_rodent_ketamine_ip_is_gone_from_brain_within_hours(animal):
    """Rodent i.p. dosing (assumed disposition, docs/sources/rodent_pk.md): brain ketamine peaks within
    30 min of 10 mg/kg i.p. and falls below 5% of its peak by 4 h (Lord 2013; mechanism.md C, D)."""
    t = np.linspace(0, 8, 961)
    ds = simulate(Regimen.single(Dose.parse("ketamine", "10 mg/kg", "ip")), times=t, species=animal)
    brain = ds.brain_ecf.sel(patient=0, analyte="ketamine").values
    assert t[np.argmax(brain)] < 0.5
    assert np.interp(4.0, t, brain) < 0.05 * brain.max()
    with pytest.raises(KetasimError, match="no absorption parameters for route 'ip'"):
        simulate(Regimen.single(Dose.parse("ketamine", "10 mg/kg", "ip")), times=t)  # humans: no i.p. data
