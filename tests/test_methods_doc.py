"""The methods document is current, and its equations say what the code computes.

Each numerical test below re-implements an equation from its written form in the ``EQUATIONS`` of
the module (and so in docs/methods.md) with the packaged parameters, and compares it with the
function that implements it: a change to either without the other fails here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim import mechanisms, methods_doc, perturbations
from ketasim.brain.partition import log_d, neutral_fraction, trapping_ratio
from ketasim.circuit import network
from ketasim.clinical import scores
from ketasim.compounds import default_library
from ketasim.model_assembly import base_cascade
from ketasim.parameter_sets import packaged
from ketasim.signalling import cascade
from ketasim.structure import spines
from ketasim.targets.nmda_kinetics import KAMPA_RT_F, RT_F, Blocker, mg_rates
from ketasim.targets.receptor_data import receptor_data

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "regenerate: python -m ketasim.docs_gen (from the repository root; it also writes methods.md)"


def test_committed_methods_document_is_current():
    committed = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert committed == methods_doc.methods_markdown(), f"docs/methods.md is stale; {REGENERATE}"


def test_every_equation_is_complete_and_names_existing_code():
    assert methods_doc.check_equations() == []
    for scale in methods_doc.scales():
        for module in scale.modules:
            assert methods_doc.equations(module), f"ketasim.{module} has no EQUATIONS"


def test_check_equations_reports_unknown_code(monkeypatch):
    from ketasim.structure import spines as module

    broken = ({**module.EQUATIONS[0], "code": "ketasim.structure.spines.no_such_function"},)
    monkeypatch.setattr(module, "EQUATIONS", broken)
    assert any("no_such_function" in p for p in methods_doc.check_equations())


def test_document_lists_every_state_switch_and_perturbation():
    text = methods_doc.methods_markdown()
    for state in cascade.STATES:
        assert f"| `{state}` |" in text, state
    assert set(methods_doc.switch_effects()) == set(mechanisms.catalogue())
    for name in mechanisms.catalogue():
        assert f"| `{name}` |" in text
    for name in perturbations.catalogue():
        assert f"| `{name}`:" in text


# ----------------------------------------------------------------------------- brain and cell
def test_neutral_fraction_log_d_and_trapping_follow_their_equations():
    props = default_library().get("esketamine").properties
    pka, logp = props["pka"].value, props["logp"].value
    for ph in (5.0, 7.2, 7.4):
        base = 1.0 / (1.0 + 10.0 ** (pka - ph))
        acid = 1.0 / (1.0 + 10.0 ** (ph - pka))
        assert neutral_fraction("base", pka, ph) == pytest.approx(base, rel=1e-12)
        assert neutral_fraction("acid", pka, ph) == pytest.approx(acid, rel=1e-12)
        assert neutral_fraction("permanent_cation", None, ph) == 0.0
        assert log_d(logp, "base", pka, ph) == pytest.approx(logp + math.log10(base), abs=1e-12)
    assert log_d(logp, "permanent_cation", None) == -math.inf
    expected = (1 + 10 ** (pka - 5.0)) / (1 + 10 ** (pka - 7.2))  # f_n(out) / f_n(in), in = lysosome
    assert trapping_ratio("base", pka, 5.0, 7.2) == pytest.approx(expected, rel=1e-12)
    assert trapping_ratio("permanent_cation", None, 5.0, 7.2) == 0.0


# ----------------------------------------------------------------------------- NMDA receptor
def test_mg_block_rates_follow_the_kampa_equation():
    data = receptor_data()
    mg = data.mg
    for subunit in ("GluN2A", "GluN2B"):
        gating = data.subunit(subunit)
        for v in (-90.0, -70.0, -40.0, 0.0, 40.0):
            kon, koff = mg_rates(v, gating, data)
            assert KAMPA_RT_F == 25.0
            assert kon == pytest.approx(mg["kon_40"] * math.exp(-2 * mg["delta_on"] * (v - 40) / 25.0))
            assert koff == pytest.approx(
                mg["koff_40"] * math.exp(2 * mg["delta_off"] * (v - 40) / 25.0) * gating.mg_factor
            )
    # the equilibrium Mg2+-free open fraction at 1 mM falls with hyperpolarisation, as measured
    gating = data.subunit("GluN2B")
    free = [1 / (1 + 1000.0 * np.divide(*mg_rates(v, gating, data))) for v in (-80.0, -40.0, 0.0)]
    assert free[0] < free[1] < free[2] < 1


def test_drug_block_rates_follow_the_woodhull_equation():
    b = Blocker("x", kd_ref=0.5, v_ref=-70.0, koff_ref=2.0, delta=0.8, membrane=0.1)
    s = 0.5
    for v in (-100.0, -70.0, -20.0, 30.0):
        kon, koff = b.rates(v, s)
        x = 0.8 * (v + 70.0) / RT_F
        assert kon == pytest.approx(2.0 / 0.5 * math.exp(-s * x), rel=1e-12)
        assert koff == pytest.approx(2.0 * math.exp((1 - s) * x), rel=1e-12)
    assert RT_F == pytest.approx(25.7)


# ----------------------------------------------------------------------------- circuit
def test_circuit_weights_baseline_and_fixed_point_follow_their_equations():
    p = packaged("circuit")
    g = np.array([0.7, 0.5, 0.9])  # NMDA conductance available per population
    W, h = network.connectivity(g, p)
    s = np.array([p["pyramidal.nmda_share"], p["pv.nmda_share"], p["sst.nmda_share"]])
    m = (1 - s) + s * g
    e_ext = 1 - p["pyramidal.w_ee"] + p["pyramidal.w_ep"] + p["pyramidal.w_es"]
    w_pe = 1 + p["pv.w_pp"] + p["pv.w_ps"] + p["pv.threshold"]
    w_se = 1 + p["sst.w_sp"] + p["sst.threshold"]
    expected_W = np.array(
        [
            [p["pyramidal.w_ee"] * m[0], -p["pyramidal.w_ep"], -p["pyramidal.w_es"]],
            [w_pe * m[1], -p["pv.w_pp"], -p["pv.w_ps"]],
            [w_se * m[2], -p["sst.w_sp"], 0.0],
        ]
    )
    np.testing.assert_allclose(W, expected_W, rtol=1e-14)
    np.testing.assert_allclose(h, [e_ext * m[0], -p["pv.threshold"], -p["sst.threshold"]], rtol=1e-14)
    r = network.rates(g, p)
    np.testing.assert_allclose(r, np.maximum(expected_W @ r + h, 0.0), atol=1e-9)
    np.testing.assert_allclose(network.rates(np.ones(3), p), np.ones(3), atol=1e-9)  # baseline condition
    adapted = np.array([0.5, 1.0, 1.0])
    kappa = p["homeostasis.compensation"]
    np.testing.assert_allclose(
        network.ampa_scaling(adapted, p), 1 + kappa * ((1 - s * adapted) / (1 - s) - 1), rtol=1e-14
    )


# ----------------------------------------------------------------------------- signalling and spines
def _hill(x: float, half: float, n: float) -> float:
    x = max(x, 0.0)
    return x**n * (1 + half**n) / (x**n + half**n)


def _cascade_as_written(y, u, p, phi, sigma, ref):
    """The cascade's EQUATIONS (docs/methods.md, section Signalling), term by term."""
    K, pe, B, E, M, F, G, N, P, A, c, S, S_p = y
    ca, ampa, lys, nic, sig, op, chap = u
    dK = p["eef2k.rate"] * (
        p["eef2k.expression"]
        * _hill(ca, p["eef2k.ca_half"], p["eef2k.ca_hill"])
        / (1 + p["eef2k.s6k_inhibition"] * max(M - 1, 0))
        - K
    )
    p0 = p["eef2.baseline_phospho"]
    dpe = p["eef2.dephospho_rate"] * (p0 / (1 - p0) * K * (1 - pe) - pe)
    f = max((1 - pe) / (1 - p0), 0.0)
    dB = p["bdnf.turnover"] * (p["bdnf.expression"] * f ** p["bdnf.elongation_exponent"] - B)
    alpha = max(ampa, 0.0) ** p["bdnf.release_exponent"]
    a = p["bdnf.activity_share"]
    R = B * (1 - a + a * p["bdnf.release_factor"] * alpha) * (1 + p["mechanism.sigma1.params.gain"] * sig)
    v = p["growth_factors.vegf_share"]
    drive = (
        (1 - v) * p["growth_factors.trkb_expression"] * R + v * alpha + p["mechanism.opioid.params.gain"] * op
    )
    dE = p["growth_factors.effector_rate"] * (drive - E)
    U = E + p["mechanism.lysosomal_mtor.params.gain"] * lys + p["mechanism.nicotinic.params.gain"] * nic
    target_m = (1 - p["mtorc1.rapamycin_inhibition"]) * _hill(
        U / max(F, 1e-9) ** p["mtorc1.feedback_strength"], p["mtorc1.half_activation"], p["mtorc1.hill"]
    )
    dM = p["mtorc1.rate"] * (target_m - M)
    dF = p["mtorc1.feedback_rate"] * (M - F)
    kappa = p["gsk3.akt_inhibition"]
    dG = p["gsk3.rate"] * (
        (1 - p["gsk3.lithium_inhibition"]) * (1 + kappa) / (1 + kappa * p["gsk3.akt_sensitive"] * E) - G
    )
    synth = (
        max(M, 0.0) ** p["synaptic_protein.initiation_exponent"]
        * f ** p["synaptic_protein.elongation_exponent"]
    )
    dN = p["synaptic_protein.transport_rate"] * (synth - N)
    dP = p["synaptic_protein.synaptic_rate"] * (N * (1 + p["mechanism.er_chaperone.params.gain"] * c) - P)
    r = p["ampa.regulated_share"]
    dA = p["ampa.rate"] * (max(1 - r + r * P * (1 + p["ampa.trkb_gain"] * (E - 1)), 0.0) - G * A)
    dc = p["mechanism.er_chaperone.params.rate"] * (chap - c)
    delivery = N * (1 + p["mechanism.er_chaperone.params.gain"] * c)
    dS, dS_p = _spines_as_written(S, S_p, delivery, ref, p, phi, sigma)
    return np.array([dK, dpe, dB, dE, dM, dF, dG, dN, dP, dA, dc, dS, dS_p])


def _spines_as_written(S, S_p, d, s_ref, p, phi, sigma):
    """Spine turnover as in docs/methods.md: (dS/dt, dP/dt), new spines N = S - P."""
    k, g, fmax = p["turnover.elimination"], p["turnover.formation_gain"], p["turnover.formation_max"]
    k_t, k_c = p["turnover.new_spine_loss"], p["turnover.new_spine_consolidation"]
    z, w = d - s_ref, spines.RAMP_WIDTH  # positive part with its corner rounded (quadratic up to w)
    x = g * (0.0 if z <= 0 else z * z / (2 * w) if z < w else z - w / 2)
    N = S - S_p
    return (
        k * phi * (1 + x / (1 + x / fmax)) - k * sigma * S_p - sigma * k_t * N,
        k * phi - k * sigma * S_p + k_c * N,
    )


@pytest.mark.parametrize("depressed", [False, True])
def test_cascade_derivatives_follow_their_equations(depressed):
    p = base_cascade()
    phi, sigma = spines.condition_factors(p, depressed)
    rng = np.random.default_rng(3)
    y = rng.uniform(0.3, 1.8, size=(6, len(cascade.STATES)))
    y[:, cascade.IX["p_eef2"]] = rng.uniform(0.05, 0.6, size=6)
    u = rng.uniform(0.0, 1.6, size=(6, len(cascade.INPUTS)))
    ref = rng.uniform(0.8, 1.2, size=6)
    got = cascade.rhs(y, u, p, depressed, ref)
    for i in range(6):
        np.testing.assert_allclose(got[i], _cascade_as_written(y[i], u[i], p, phi, sigma, ref[i]), rtol=1e-10)


def test_spine_rule_and_baseline_follow_their_equations():
    p = base_cascade()
    for depressed in (False, True):
        phi, sigma = spines.condition_factors(p, depressed)
        cases = (
            (1.0, 1.0, 1.0, 1.0),
            (0.8, 0.75, 1.4, 1.0),
            (1.1, 1.0, 0.7, 1.0),
            (0.9, 0.7, 3.0, 1.2),
            (0.9, 0.89, 1.003, 1.0),
        )
        for S, S_p, d, s_ref in cases:
            got = spines.spine_rate(
                np.array([S]), np.array([S_p]), np.array([d]), np.array([s_ref]), p, depressed
            )
            want = _spines_as_written(S, S_p, d, s_ref, p, phi, sigma)
            for g, w in zip(got, want, strict=True):
                assert g[0] == pytest.approx(w, rel=1e-12, abs=1e-15)
        S0 = spines.baseline_density(p, depressed)
        assert S0 == pytest.approx(phi / sigma)
        assert _spines_as_written(S0, S0, 1.0, 1.0, p, phi, sigma) == pytest.approx((0.0, 0.0), abs=1e-15)


def test_new_spines_are_lost_within_days_and_a_fraction_persists():
    """A pulse of new spines (no further formation) decays at sigma k_t + k_c; the persistent pool keeps
    the fraction k_c / (sigma k_t + k_c) of it, which then turns over at k sigma (analytic solution)."""
    from scipy.integrate import solve_ivp

    p = base_cascade()
    for depressed in (False, True):
        phi, sigma = spines.condition_factors(p, depressed)
        k, k_t, k_c = (
            p["turnover.elimination"],
            p["turnover.new_spine_loss"],
            p["turnover.new_spine_consolidation"],
        )
        S0, n0 = phi / sigma, 0.05

        def f(_t, y, depressed=depressed):
            d_total, d_p = spines.spine_rate(y[:1], y[1:], np.array([1.0]), np.array([1.0]), p, depressed)
            return [d_total[0], d_p[0]]

        t = np.array([0.0, 24.0, 72.0, 336.0])
        sol = solve_ivp(f, (0, 336), [S0 + n0, S0], t_eval=t, rtol=1e-10, atol=1e-13)
        a, b = sigma * k_t + k_c, k * sigma
        new = n0 * np.exp(-a * t)
        persistent_gain = n0 * k_c / (a - b) * (np.exp(-b * t) - np.exp(-a * t))
        np.testing.assert_allclose(sol.y[0] - sol.y[1], new, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(sol.y[1] - S0, persistent_gain, rtol=1e-6, atol=1e-12)
        assert new[2] < 0.5 * n0  # most new spines are gone by day 3


# ----------------------------------------------------------------------------- clinical
def test_effect_compartment_matches_the_ode():
    t = np.linspace(0.0, 10.0, 41)
    x = np.vstack([np.sin(t) + 1.0, 0.1 * t])
    rate = 0.7
    y = scores.effect_site(t, x, rate)
    for i in range(2):
        sol = solve_ivp(
            lambda tt, yy, i=i: rate * (np.interp(tt, t, x[i]) - yy),
            (0, 10),
            [x[i, 0]],
            t_eval=t,
            rtol=1e-10,
            atol=1e-12,
            max_step=0.05,
        )
        np.testing.assert_allclose(y[i], sol.y[0], atol=1e-6)


def test_dissociation_placebo_and_madrs_follow_their_equations():
    p = packaged("clinical")
    t = np.linspace(0.0, 48.0, 97)
    block = np.full((2, t.size), 0.06)
    block[1] = 0.12  # constant input: the effect site equals it
    b = block[:, :1]
    n, emax, b50 = p["dissociation.hill"], p["dissociation.emax"], p["dissociation.block50"]
    cadss = emax * b**n / (b50**n + b**n)
    np.testing.assert_allclose(
        scores.dissociation(t, block, p), np.broadcast_to(cadss, block.shape), rtol=1e-12
    )
    notice = np.array([0.0, 1.0])
    factor = np.array([1.0, 1.5])
    k, w = 1 / p["placebo.time_constant"], 1 / p["placebo.wane_time"]
    expected = (
        (p["placebo.base"] + p["placebo.active"] * notice[:, None])
        * factor[:, None]
        * k
        / (k - w)
        * (np.exp(-w * t) - np.exp(-k * t))
    )
    np.testing.assert_allclose(scores.placebo_fraction(t, notice, factor, p), np.clip(expected, 0, 0.95))
    age = np.array([30.0, 70.0])
    rise = (
        p["blood_pressure.gain"]
        * b
        * np.maximum(1 + p["blood_pressure.age_effect"] * (age[:, None] - 45), 0.2)
    )
    np.testing.assert_allclose(scores.systolic_rise(t, block, age, p), np.broadcast_to(rise, block.shape))
    m0 = np.array([30.0, 36.0])
    placebo, drug, noise = np.full((2, 3), 0.2), np.full((2, 3), 0.5), np.zeros((2, 3))
    np.testing.assert_allclose(
        scores.madrs(m0, placebo, drug, noise), np.repeat(m0[:, None] * 0.8 * 0.5, 3, 1)
    )
    noise[0, 0] = 50.0  # the scale's range clips the score
    assert scores.madrs(m0, placebo, drug, noise)[0, 0] == 60.0
