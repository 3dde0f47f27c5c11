"""The placebo response: onset, waning after the last administration, re-engagement by repeated ones."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.clinical import scores
from ketasim.parameter_sets import packaged


def _params(**changes: float) -> dict:
    p = dict(packaged("clinical"))
    p.update(changes)
    return p


def _reference(t: np.ndarray, administrations: np.ndarray, p: dict) -> np.ndarray:
    """du/dt = (exp(-(t - last dose) / wane_time) - u) / time_constant, u(0) = 0, by an ODE solver."""
    k, w = 1.0 / p["placebo.time_constant"], 1.0 / p["placebo.wane_time"]
    starts = np.unique(np.concatenate([[0.0], administrations]))

    def rhs(tt: float, u: np.ndarray) -> list[float]:
        last = starts[starts <= tt].max()
        return [k * (np.exp(-w * (tt - last)) - u[0])]

    sol = solve_ivp(rhs, (0.0, t[-1]), [0.0], t_eval=t, max_step=0.25, rtol=1e-10, atol=1e-13)
    return sol.y[0]


def test_single_and_repeated_administrations_match_an_ode_solver():
    p = _params()
    t = np.linspace(0.0, 42 * 24.0, 1500)
    size = p["placebo.base"] + p["placebo.active"]
    for administrations in (np.array([]), np.arange(8) * 84.0, np.array([30.0, 200.0])):
        got = scores.placebo_fraction(t, np.array([1.0]), np.ones(1), p, administrations)[0]
        np.testing.assert_allclose(got, size * _reference(t, administrations, p), atol=1e-6)


def test_without_waning_the_old_saturating_form_is_recovered():
    p = _params(**{"placebo.wane_time": 1e12})
    t = np.linspace(0.0, 336.0, 200)
    got = scores.placebo_fraction(t, np.array([0.0]), np.ones(1), p)[0]
    np.testing.assert_allclose(
        got, p["placebo.base"] * (1 - np.exp(-t / p["placebo.time_constant"])), rtol=1e-9
    )


def test_a_single_administration_wanes_and_repeated_ones_hold_it():
    p = _params()
    t = np.array([24.0, 168.0, 42 * 24.0])
    once = scores.placebo_fraction(t, np.array([1.0]), np.ones(1), p)[0]
    twice_weekly = scores.placebo_fraction(t, np.array([1.0]), np.ones(1), p, np.arange(12) * 84.0)[0]
    assert once[1] > 0.8 * once[0]  # still most of it at day 7 (docs/sources/placebo.md)
    assert once[2] < 0.6 * once[0]  # but fading by day 42 after one administration
    assert twice_weekly[2] > 0.95 * twice_weekly[0]  # re-engaged at each administration
    assert np.isclose(once[0], twice_weekly[0])  # the same until the second administration


def test_per_patient_time_constants_match_one_patient_at_a_time():
    p = _params()
    t = np.linspace(0.0, 500.0, 101)
    waning = np.array([300.0, 1440.0, 5000.0])
    together = scores.placebo_fraction(t, np.full(3, 0.5), np.ones(3), {**p, "placebo.wane_time": waning})
    for i, tw in enumerate(waning):
        alone = scores.placebo_fraction(t, np.full(1, 0.5), np.ones(1), {**p, "placebo.wane_time": tw})
        np.testing.assert_allclose(together[i], alone[0], rtol=1e-12)


def test_sensitivity_outputs_take_the_arms_administrations():
    """The sensitivity analysis scores the placebo with the arm's dose times: a second administration
    re-engages it, so the 7-day MADRS change is larger (more negative) than with one dose."""
    from ketasim.sensitivity_eval import read_outputs

    t = np.linspace(0.0, 336.0, 337)
    flat = np.ones((2, t.size))
    # no drug: synaptic strength stays at its depressed baseline, so only the placebo moves MADRS
    traces = {"surface_ampa": flat, "spine_density": 0.85 * flat, "block": 0 * flat, "sedation": 0 * flat}
    clinical = _params(**{"placebo.wane_time": 48.0})
    names = ("madrs_change_7d",)
    once = read_outputs(t, traces, clinical, names, 30.0)
    twice = read_outputs(t, traces, clinical, names, 30.0, (0.0, 120.0))
    assert np.all(twice < once - 0.1)
