"""Signalling cascade of prefrontal pyramidal neurons, with the spine density it builds.

States (relative to the drug-free wild-type baseline = 1 unless stated):

=================  =================================================================================
eef2k              active eEF2K (Ca2+/CaM-activated, inhibited by S6K downstream of mTORC1)
p_eef2             fraction of eEF2 phosphorylated at Thr56 (not relative)
bdnf               dendritic BDNF protein (translation needs free eEF2; Autry AE et al. 2011)
effector           TrkB/VEGFR -> ERK/Akt activity (growth-factor signalling)
mtorc1             mTORC1 activity (S6K/4E-BP phosphorylation)
s6k_feedback       slow S6K negative feedback on the upstream (IRS/PI3K) drive of mTORC1
gsk3               active GSK3 (inhibited by Akt and lithium)
nascent            newly made synaptic proteins on their way to synapses
synaptic_protein   synaptic PSD-95/GluA1
surface_ampa       surface AMPA receptors at synapses
chaperone          ER-stress relief by intracellular drug (``er_chaperone`` route; 0 without it)
spine_density      dendritic spines relative to the healthy adult
=================  =================================================================================

Inputs (from :mod:`ketasim.model`): ``ca`` (resting NMDA Ca2+), ``ampa`` (AMPA receptor activation),
``lyso``, ``nic``, ``sigma``, ``opioid``, ``chaperone`` (route occupancies, 0 when off). Each enzyme
cycle of Jain P, Bhalla US 2009 (PLoS Comput Biol 5:e1000287) is reduced to a first-order relaxation
towards the steady state set by its inputs; parameters and their sources are in
``data/signalling.toml``, ``data/spines.toml`` and ``data/mechanisms.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import block_diag, csr_matrix

from ketasim.structure.spines import baseline_density, spine_rate

STATES = (
    "eef2k",
    "p_eef2",
    "bdnf",
    "effector",
    "mtorc1",
    "s6k_feedback",
    "gsk3",
    "nascent",
    "synaptic_protein",
    "surface_ampa",
    "chaperone",
    "spine_density",
)
INPUTS = ("ca", "ampa", "lyso", "nic", "sigma", "opioid", "chaperone")
IX = {n: i for i, n in enumerate(STATES)}
UX = {n: i for i, n in enumerate(INPUTS)}
DRUG_FREE = {"ca": 1.0, "ampa": 1.0, "lyso": 0.0, "nic": 0.0, "sigma": 0.0, "opioid": 0.0, "chaperone": 0.0}


def _hill_rel(x: np.ndarray, half: float, n: float) -> np.ndarray:
    """x^n / (x^n + K^n), scaled to 1 at x = 1."""
    xn = np.clip(x, 0.0, None) ** n
    return xn * (1.0 + half**n) / (xn + half**n)


def rhs(
    y: np.ndarray,
    u: np.ndarray,
    p: Mapping[str, float],
    depressed: bool,
    protein_ref: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Time derivatives (1/h) of the states ``y`` (P, n_states) for inputs ``u`` (P, n_inputs).

    ``protein_ref`` is the synaptic protein level each subject's spines are adapted to (see
    :mod:`ketasim.structure.spines`)."""
    s = {n: y[:, i] for n, i in IX.items()}
    i = {n: u[:, k] for n, k in UX.items()}
    d = np.empty_like(y)
    excess_mtor = np.clip(s["mtorc1"] - 1.0, 0.0, None)
    target_k = (
        p["eef2k.expression"]
        * _hill_rel(i["ca"], p["eef2k.ca_half"], p["eef2k.ca_hill"])
        / (1.0 + p["eef2k.s6k_inhibition"] * excess_mtor)
    )
    d[:, IX["eef2k"]] = p["eef2k.rate"] * (target_k - s["eef2k"])
    p0 = p["eef2.baseline_phospho"]
    rho = p0 / (1.0 - p0)
    d[:, IX["p_eef2"]] = p["eef2.dephospho_rate"] * (rho * s["eef2k"] * (1.0 - s["p_eef2"]) - s["p_eef2"])
    free = np.clip((1.0 - s["p_eef2"]) / (1.0 - p0), 0.0, None)
    d[:, IX["bdnf"]] = p["bdnf.turnover"] * (
        p["bdnf.expression"] * free ** p["bdnf.elongation_exponent"] - s["bdnf"]
    )
    activity = np.clip(i["ampa"], 0.0, None) ** p["bdnf.release_exponent"]
    a = p["bdnf.activity_share"]
    release = (
        s["bdnf"]
        * (1.0 - a + a * p["bdnf.release_factor"] * activity)
        * (1.0 + p["mechanism.sigma1.params.gain"] * i["sigma"])
    )
    v = p["growth_factors.vegf_share"]
    drive = (
        (1.0 - v) * p["growth_factors.trkb_expression"] * release
        + v * activity
        + p["mechanism.opioid.params.gain"] * i["opioid"]
    )
    d[:, IX["effector"]] = p["growth_factors.effector_rate"] * (drive - s["effector"])
    upstream = (
        s["effector"]
        + p["mechanism.lysosomal_mtor.params.gain"] * i["lyso"]
        + p["mechanism.nicotinic.params.gain"] * i["nic"]
    )
    feedback = np.clip(s["s6k_feedback"], 1e-9, None) ** p["mtorc1.feedback_strength"]
    target_m = (1.0 - p["mtorc1.rapamycin_inhibition"]) * _hill_rel(
        upstream / feedback, p["mtorc1.half_activation"], p["mtorc1.hill"]
    )
    d[:, IX["mtorc1"]] = p["mtorc1.rate"] * (target_m - s["mtorc1"])
    d[:, IX["s6k_feedback"]] = p["mtorc1.feedback_rate"] * (s["mtorc1"] - s["s6k_feedback"])
    kappa = p["gsk3.akt_inhibition"]
    target_g = (
        (1.0 - p["gsk3.lithium_inhibition"])
        * (1.0 + kappa)
        / (1.0 + kappa * p["gsk3.akt_sensitive"] * s["effector"])
    )
    d[:, IX["gsk3"]] = p["gsk3.rate"] * (target_g - s["gsk3"])
    synth = (
        np.clip(s["mtorc1"], 0.0, None) ** p["synaptic_protein.initiation_exponent"]
        * free ** p["synaptic_protein.elongation_exponent"]
    )
    d[:, IX["nascent"]] = p["synaptic_protein.transport_rate"] * (synth - s["nascent"])
    delivery = s["nascent"] * (1.0 + p["mechanism.er_chaperone.params.gain"] * s["chaperone"])
    d[:, IX["synaptic_protein"]] = p["synaptic_protein.synaptic_rate"] * (delivery - s["synaptic_protein"])
    r = p["ampa.regulated_share"]
    insertion = 1.0 - r + r * s["synaptic_protein"] * (1.0 + p["ampa.trkb_gain"] * (s["effector"] - 1.0))
    d[:, IX["surface_ampa"]] = p["ampa.rate"] * (
        np.clip(insertion, 0.0, None) - s["gsk3"] * s["surface_ampa"]
    )
    d[:, IX["chaperone"]] = p["mechanism.er_chaperone.params.rate"] * (i["chaperone"] - s["chaperone"])
    d[:, IX["spine_density"]] = spine_rate(
        s["spine_density"], s["synaptic_protein"], protein_ref, p, depressed
    )
    return d


def initial_guess(p: Mapping[str, float], depressed: bool, n: int) -> np.ndarray:
    y = np.ones((n, len(STATES)))
    y[:, IX["p_eef2"]] = p["eef2.baseline_phospho"]
    y[:, IX["chaperone"]] = 0.0
    y[:, IX["spine_density"]] = baseline_density(p, depressed)
    return y


def _sparsity(n_patients: int) -> csr_matrix:
    block = np.ones((len(STATES), len(STATES)))
    return csr_matrix(block_diag([block] * n_patients))


def steady_state(
    u: np.ndarray, p: Mapping[str, float], depressed: bool, protein_ref: np.ndarray | None = None
) -> np.ndarray:
    """States at rest for constant inputs ``u`` (P, n_inputs): the drug-free state of each subject.

    Without ``protein_ref`` the spines are adapted to the steady synaptic protein itself."""
    P = u.shape[0]
    y0 = initial_guess(p, depressed, P)
    n = len(STATES)

    def f(t, x):
        y = x.reshape(P, n)
        ref = y[:, IX["synaptic_protein"]] if protein_ref is None else protein_ref
        return rhs(y, u, p, depressed, ref).ravel()

    sol = solve_ivp(
        f, (0.0, 2e5), y0.ravel(), method="BDF", rtol=1e-10, atol=1e-12, jac_sparsity=_sparsity(P)
    )
    if not sol.success:
        raise RuntimeError(f"signalling steady state failed: {sol.message}")
    return sol.y[:, -1].reshape(P, n)


def integrate(
    t: np.ndarray,
    u: np.ndarray,
    y0: np.ndarray,
    p: Mapping[str, float],
    depressed: bool,
    rtol: float = 1e-6,
    max_step: float = 0.25,
    protein_ref: np.ndarray | None = None,
) -> np.ndarray:
    """States (P, T, n_states) on the grid ``t`` for inputs ``u`` (P, T, n_inputs), linear between points.

    ``y0`` is the drug-free steady state (:func:`steady_state`); the spines' reference level is
    ``protein_ref`` or, if not given, the synaptic protein of ``y0``."""
    P, T, _ = u.shape
    n = len(STATES)
    ref = y0[:, IX["synaptic_protein"]].copy() if protein_ref is None else protein_ref

    def inputs_at(time: float) -> np.ndarray:
        j = int(np.clip(np.searchsorted(t, time, side="right") - 1, 0, T - 2))
        w = 0.0 if t[j + 1] == t[j] else (time - t[j]) / (t[j + 1] - t[j])
        w = min(max(w, 0.0), 1.0)
        return (1 - w) * u[:, j] + w * u[:, j + 1]

    def f(time, x):
        return rhs(x.reshape(P, n), inputs_at(time), p, depressed, ref).ravel()

    sol = solve_ivp(
        f,
        (t[0], t[-1]),
        y0.ravel(),
        method="BDF",
        t_eval=t,
        rtol=rtol,
        atol=1e-9,
        max_step=max_step,
        jac_sparsity=_sparsity(P),
    )
    if not sol.success:
        raise RuntimeError(f"signalling integration failed: {sol.message}")
    return sol.y.reshape(P, n, T).transpose(0, 2, 1)
