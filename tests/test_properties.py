"""Issue 8: properties of the PK model over random regimens, doses, weights and units (hypothesis).

Every example is solved with the fast modal solver (:func:`ketasim.engine.modal.solve_modal`), all
states requested. The properties hold for any linear mammillary model with first-order absorption and
mole-conserving metabolism, so they are checked against the physics, not against stored numbers:

- mass balance: the µmol in all amount states (body, depots, eliminated and unabsorbed drug) equal the
  µmol dosed so far (bolus at its time, infusion pro rata), at every time;
- every state (amounts and brain or cell concentrations) is non-negative;
- more dose never gives less exposure: scaling every dose up raises AUC and Cmax of every analyte, and
  adding a dose raises the concentration at every time;
- unit invariance: "0.5 mg/kg" at 70 kg, "35 mg", "35000 ug", "0.035 g" and the same µmol agree;
- an infusion of length -> 0 tends to the bolus, its error falling with the length.

Example counts are bounded (``max_examples``) so the file runs in well under 30 s.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketasim.compounds import default_library
from ketasim.dosing import Dose, Regimen
from ketasim.engine.modal import solve_modal
from ketasim.engine.schedule import build_schedule
from ketasim.pk.covariates import Covariates
from ketasim.pk.model import build_model

LIB = default_library()
COMPOUNDS = ("ketamine", "esketamine")  # every route has absorption data for both
EXTRAVASCULAR = ("im", "intranasal", "oral", "sublingual")
TIMES = np.concatenate([np.linspace(0.0, 2.0, 49), np.linspace(2.25, 48.0, 184)])
FAST = settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
UNITS = settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

doses_mg = st.floats(min_value=0.05, max_value=500.0, allow_nan=False, allow_infinity=False)
weights = st.floats(min_value=40.0, max_value=150.0)
starts_h = st.sampled_from([0.0, 0.25, 1.0, 3.5])


@st.composite
def regimens(draw) -> Regimen:
    """A random regimen of one of the kinds of issue 8 (the amount in mg, absolute or per kg)."""
    compound = draw(st.sampled_from(COMPOUNDS))
    kind = draw(st.sampled_from(("bolus", "infusion", "stepped", "extravascular", "repeated")))
    mg = draw(doses_mg)
    start = draw(starts_h)
    if kind == "stepped":
        steps = draw(
            st.lists(
                st.tuples(st.floats(0.01, 2.0), st.sampled_from(["10 min", "30 min", "1 h", "2 h"])),
                min_size=2,
                max_size=3,
            )
        )
        return Regimen.stepped_infusion(compound, [(f"{r} mg/kg/h", d) for r, d in steps], start)
    route = "iv"
    duration = None
    if kind == "infusion":
        duration = draw(st.sampled_from(["1 min", "40 min", "100 min", "4 h"]))
    elif kind in ("extravascular", "repeated"):
        route = draw(
            st.sampled_from(("iv", *EXTRAVASCULAR)) if kind == "repeated" else st.sampled_from(EXTRAVASCULAR)
        )
    dose = Dose(compound, mg, route, start, 0.0)
    if duration is not None:
        dose = Dose.parse(compound, f"{mg} mg", route, f"{start} h", duration)
    if kind == "repeated":
        every = draw(st.sampled_from(["4 h", "8 h", "12 h", "24 h"]))
        return Regimen.repeated(dose, every, draw(st.integers(2, 4)))
    return Regimen.single(dose)


def states(regimen: Regimen, weight: float, times: np.ndarray = TIMES):
    """The PK model and every state (1, T, n) from the fast modal solver."""
    model = build_model(regimen, Covariates.single(weight), LIB)
    schedule = build_schedule(model, regimen, LIB)
    return model, solve_modal(model.A, schedule, times, np.arange(model.n_states))


def dosed_umol(regimen: Regimen, weight: float, times: np.ndarray) -> np.ndarray:
    """µmol given by each time: boluses from their time on, infusions pro rata (independent of the model)."""
    out = np.zeros(times.size)
    for d in regimen.doses:
        total = float(d.micromoles(LIB.get(d.compound).mw, weight))
        if d.duration > 0:
            out += total * np.clip((times - d.time) / d.duration, 0.0, 1.0)
        else:
            out += total * (times >= d.time)
    return out


def plasma(model, x: np.ndarray) -> np.ndarray:
    """Total plasma concentration (T, species) µM."""
    central = [model.state(sp.id, "central") for sp in model.species]
    return x[0][:, central] / model.v1[0]


@FAST
@given(regimens(), weights)
def test_mass_balance_closes_at_every_time(regimen, weight):
    model, x = states(regimen, weight)
    total = x[0][:, model.amount_mask].sum(axis=1)
    dosed = dosed_umol(regimen, weight, TIMES)
    np.testing.assert_allclose(total, dosed, rtol=1e-8, atol=1e-10 * dosed.max())


@FAST
@given(regimens(), weights)
def test_every_state_is_non_negative(regimen, weight):
    model, x = states(regimen, weight)
    amounts = x[0][:, model.amount_mask]
    conc = x[0][:, ~model.amount_mask]
    scale = dosed_umol(regimen, weight, TIMES).max()
    assert amounts.min() >= -1e-10 * scale
    # concentrations (µM) against the largest one of the run
    assert conc.min() >= -1e-10 * max(conc.max(), 1e-300)
    assert np.all(np.isfinite(x))


@FAST
@given(regimens(), weights, st.floats(1.01, 20.0))
def test_more_dose_never_gives_less_exposure(regimen, weight, factor):
    model, x = states(regimen, weight)
    bigger = Regimen(
        tuple(
            Dose(d.compound, d.amount * factor, d.route, d.time, d.duration, d.per_kg) for d in regimen.doses
        )
    )
    _, y = states(bigger, weight)
    c, cb = plasma(model, x), plasma(model, y)
    auc, auc_b = np.trapezoid(c, TIMES, axis=0), np.trapezoid(cb, TIMES, axis=0)
    assert np.all(auc_b >= auc) and np.all(cb.max(axis=0) >= c.max(axis=0))
    assert np.all(auc_b[auc > 0] > auc[auc > 0])  # strictly: exposure rises with dose
    # the PK is linear: exposure scales with the dose
    np.testing.assert_allclose(auc_b, factor * auc, rtol=1e-7, atol=1e-12 * auc_b.max())


@FAST
@given(
    regimens(), weights, st.floats(0.0, 30.0), st.floats(0.05, 100.0), st.sampled_from(("iv", *EXTRAVASCULAR))
)
def test_adding_a_dose_raises_the_concentration_at_every_time(regimen, weight, at, mg, route):
    model, x = states(regimen, weight)
    extra = regimen + Regimen.single(Dose(regimen.doses[0].compound, mg, route, at))
    model_e, y = states(extra, weight)
    c, ce = plasma(model, x), plasma(model_e, y)
    names, names_e = [sp.id for sp in model.species], [sp.id for sp in model_e.species]
    ce = ce[:, [names_e.index(n) for n in names]]  # the same species, in the first model's order
    assert np.all(ce >= c - 1e-9 * c.max())
    assert np.all(ce[TIMES > at + 0.1].sum(axis=1) > c[TIMES > at + 0.1].sum(axis=1))


@UNITS
@given(
    st.sampled_from(COMPOUNDS),
    st.floats(0.05, 2.0),
    weights,
    st.sampled_from(("iv", *EXTRAVASCULAR)),
    st.sampled_from([None, "40 min"]),
)
def test_the_same_dose_in_equivalent_units_gives_the_same_states(compound, mg_kg, weight, route, duration):
    if route != "iv":
        duration = None
    mg = mg_kg * weight
    umol = mg * 1000.0 / LIB.get(compound).mw
    variants = [
        f"{mg_kg!r} mg/kg",
        f"{mg!r} mg",
        f"{mg * 1000.0!r} ug",
        f"{mg / 1000.0!r} g",
        f"{umol!r} umol",
    ]
    runs = [
        states(Regimen.single(Dose.parse(compound, v, route, duration=duration)), weight)[1] for v in variants
    ]
    for r in runs[1:]:
        np.testing.assert_allclose(r, runs[0], rtol=1e-9, atol=1e-12 * np.abs(runs[0]).max())


@settings(max_examples=6, deadline=None, database=None)
@given(st.sampled_from(COMPOUNDS), doses_mg, weights)
def test_an_infusion_of_length_to_zero_tends_to_the_bolus(compound, mg, weight):
    t = np.array([0.5, 1.0, 2.0, 6.0, 24.0])
    model, bolus = states(Regimen.single(Dose(compound, mg, "iv")), weight, t)
    ref = plasma(model, bolus)
    errors = []
    for minutes in (10.0, 1.0, 1.0 / 60.0):
        _, x = states(Regimen.single(Dose(compound, mg, "iv", 0.0, minutes / 60.0)), weight, t)
        errors.append(np.max(np.abs(plasma(model, x) - ref)) / np.abs(ref).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-4  # a 1-s infusion: within 0.05 % of the bolus peak, from 30 min on
    # first order in the length: 10 and 60 times shorter, about 10 and 60 times closer
    assert 5.0 < errors[0] / errors[1] < 20.0
    assert 30.0 < errors[1] / errors[2] < 120.0
