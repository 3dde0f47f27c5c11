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
persistent_spines  part of spine_density carried by persistent spines (all of it at rest); the rest,
                   spine_density - persistent_spines, is new spines (``new_spines`` in results)
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
from numba import njit
from scipy.integrate import solve_ivp
from scipy.sparse import block_diag, csr_matrix

from ketasim.kernel_cache import configure
from ketasim.structure.spines import baseline_density, condition_factors, turnover

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
    "persistent_spines",
)
INPUTS = ("ca", "ampa", "lyso", "nic", "sigma", "opioid", "chaperone")
IX = {n: i for i, n in enumerate(STATES)}
UX = {n: i for i, n in enumerate(INPUTS)}
DRUG_FREE = {"ca": 1.0, "ampa": 1.0, "lyso": 0.0, "nic": 0.0, "sigma": 0.0, "opioid": 0.0, "chaperone": 0.0}


# Parameters the equations use, in the order of the packed parameter vector (see :func:`pack`); the
# last two entries are the spine formation and elimination factors of the subject's condition.
PARAMS = (
    "eef2k.expression",
    "eef2k.ca_half",
    "eef2k.ca_hill",
    "eef2k.s6k_inhibition",
    "eef2k.rate",
    "eef2.baseline_phospho",
    "eef2.dephospho_rate",
    "bdnf.turnover",
    "bdnf.expression",
    "bdnf.elongation_exponent",
    "bdnf.release_exponent",
    "bdnf.activity_share",
    "bdnf.release_factor",
    "mechanism.sigma1.params.gain",
    "growth_factors.vegf_share",
    "growth_factors.trkb_expression",
    "mechanism.opioid.params.gain",
    "growth_factors.effector_rate",
    "mechanism.lysosomal_mtor.params.gain",
    "mechanism.nicotinic.params.gain",
    "mtorc1.feedback_strength",
    "mtorc1.rapamycin_inhibition",
    "mtorc1.half_activation",
    "mtorc1.hill",
    "mtorc1.rate",
    "mtorc1.feedback_rate",
    "gsk3.akt_inhibition",
    "gsk3.lithium_inhibition",
    "gsk3.akt_sensitive",
    "gsk3.rate",
    "synaptic_protein.initiation_exponent",
    "synaptic_protein.elongation_exponent",
    "synaptic_protein.transport_rate",
    "mechanism.er_chaperone.params.gain",
    "synaptic_protein.synaptic_rate",
    "ampa.regulated_share",
    "ampa.trkb_gain",
    "ampa.rate",
    "mechanism.er_chaperone.params.rate",
    "turnover.elimination",
    "turnover.formation_gain",
    "turnover.formation_max",
    "turnover.new_spine_loss",
    "turnover.new_spine_consolidation",
)
N_PARAMS = len(PARAMS) + 2
PHI, SIGMA = len(PARAMS), len(PARAMS) + 1


def pack(p: Mapping[str, float], depressed: bool, n: int) -> np.ndarray:
    """Parameter matrix (n, N_PARAMS) of ``n`` subjects (values of ``p`` may be per-subject arrays)."""
    q = np.empty((n, N_PARAMS))
    for i, key in enumerate(PARAMS):
        q[:, i] = p[key]
    q[:, PHI], q[:, SIGMA] = condition_factors(p, depressed)
    return q


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def _pow(x, n):
    """x ** n, with the integer exponents the parameter files use done by multiplication."""
    if n == 1.0:
        return x
    if n == 2.0:
        return x * x
    if n == 3.0:
        return x * x * x
    return x**n


@njit(cache=True)
def _hill_rel(x, half, n):
    """x^n / (x^n + K^n), scaled to 1 at x = 1."""
    xn = _pow(max(x, 0.0), n)
    kn = _pow(half, n)
    return xn * (1.0 + kn) / (xn + kn)


@njit(cache=True)
def derivatives(y, u, q, ref, d):
    """Write dy/dt (1/h) of one subject into ``d``: states ``y``, inputs ``u``, packed parameters ``q``,
    adapted synaptic protein ``ref`` (see :mod:`ketasim.structure.spines`). Compiled with numba; the
    single implementation of the cascade equations."""
    eef2k, p_eef2, bdnf, effector = y[0], y[1], y[2], y[3]
    mtorc1, s6k, gsk3, nascent = y[4], y[5], y[6], y[7]
    protein, ampa, chaperone, spines, persistent = y[8], y[9], y[10], y[11], y[12]
    ca, act_in, lyso, nic, sigma, opioid, chap_in = u[0], u[1], u[2], u[3], u[4], u[5], u[6]
    excess_mtor = max(mtorc1 - 1.0, 0.0)
    target_k = q[0] * _hill_rel(ca, q[1], q[2]) / (1.0 + q[3] * excess_mtor)
    d[0] = q[4] * (target_k - eef2k)
    p0 = q[5]
    rho = p0 / (1.0 - p0)
    d[1] = q[6] * (rho * eef2k * (1.0 - p_eef2) - p_eef2)
    free = max((1.0 - p_eef2) / (1.0 - p0), 0.0)
    d[2] = q[7] * (q[8] * _pow(free, q[9]) - bdnf)
    activity = _pow(max(act_in, 0.0), q[10])
    a = q[11]
    release = bdnf * (1.0 - a + a * q[12] * activity) * (1.0 + q[13] * sigma)
    v = q[14]
    drive = (1.0 - v) * q[15] * release + v * activity + q[16] * opioid
    d[3] = q[17] * (drive - effector)
    upstream = effector + q[18] * lyso + q[19] * nic
    feedback = _pow(max(s6k, 1e-9), q[20])
    target_m = (1.0 - q[21]) * _hill_rel(upstream / feedback, q[22], q[23])
    d[4] = q[24] * (target_m - mtorc1)
    d[5] = q[25] * (mtorc1 - s6k)
    kappa = q[26]
    target_g = (1.0 - q[27]) * (1.0 + kappa) / (1.0 + kappa * q[28] * effector)
    d[6] = q[29] * (target_g - gsk3)
    synth = _pow(max(mtorc1, 0.0), q[30]) * _pow(free, q[31])
    d[7] = q[32] * (synth - nascent)
    delivery = nascent * (1.0 + q[33] * chaperone)
    d[8] = q[34] * (delivery - protein)
    r = q[35]
    insertion = 1.0 - r + r * protein * (1.0 + q[36] * (effector - 1.0))
    d[9] = q[37] * (max(insertion, 0.0) - gsk3 * ampa)
    d[10] = q[38] * (chap_in - chaperone)
    d[11], d[12] = turnover(
        spines, persistent, delivery, ref, q[39], q[PHI], q[SIGMA], q[40], q[41], q[42], q[43]
    )


@njit(cache=True)
def _rhs_batch(y, u, q, ref):
    out = np.empty_like(y)
    for i in range(y.shape[0]):
        derivatives(y[i], u[i], q[i], ref[i], out[i])
    return out


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
    y = np.ascontiguousarray(y, dtype=float)
    P = y.shape[0]
    ref = np.broadcast_to(np.asarray(protein_ref, dtype=float), (P,)).copy()
    return _rhs_batch(y, np.ascontiguousarray(u, dtype=float), pack(p, depressed, P), ref)


def initial_guess(p: Mapping[str, float], depressed: bool, n: int) -> np.ndarray:
    y = np.ones((n, len(STATES)))
    y[:, IX["p_eef2"]] = p["eef2.baseline_phospho"]
    y[:, IX["chaperone"]] = 0.0
    y[:, IX["spine_density"]] = baseline_density(p, depressed)
    y[:, IX["persistent_spines"]] = baseline_density(p, depressed)
    return y


def _sparsity(n_patients: int) -> csr_matrix:
    block = np.ones((len(STATES), len(STATES)))
    return csr_matrix(block_diag([block] * n_patients))


def steady_state(
    u: np.ndarray, p: Mapping[str, float], depressed: bool, protein_ref: np.ndarray | None = None
) -> np.ndarray:
    """States at rest for constant inputs ``u`` (P, n_inputs): the drug-free state of each subject.

    Without ``protein_ref`` the spines are adapted to the steady synaptic protein itself. The rest
    state is the solution after 2e5 h (far beyond the slowest time constant) from the drug-free
    guess, by the compiled solver of :mod:`ketasim.engine.cascade_solver`. Subjects with identical
    parameters, inputs and reference share one solve (a trial has a few genotypes, not thousands of
    distinct resting states); each distinct subject is solved on its own, so the result does not
    depend on the batch. A subject whose rest state cannot be found gets NaN states."""
    from ketasim.engine.cascade_solver import steady_state as solve_rest

    u = np.asarray(u, dtype=float)
    P = u.shape[0]
    ref = np.full(P, np.inf) if protein_ref is None else np.broadcast_to(protein_ref, (P,)).astype(float)
    q = pack(p, depressed, P)
    key = np.concatenate([q, u, ref[:, None]], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    guess = initial_guess(p, depressed, first.size)
    rest = solve_rest(u[first], q[first], guess, ref[first])
    # a subject whose rest state cannot be found keeps NaN states: its solve then fails visibly and a
    # trial records it (ketasim.trial.failure_reasons) instead of stopping every other subject
    return rest[inverse.ravel()]


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


# Equations of the signalling scale, for the generated methods document (ketasim.methods_doc).
# H(x; K, n) = x^n (1 + K^n) / (x^n + K^n) is a Hill function scaled to 1 at x = 1; [x]_+ = max(x, 0).
# tests/test_methods_doc.py evaluates these against ``derivatives``.
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "eEF2K",
        "latex": r"\frac{dK}{dt} = k_K \left(\frac{E_K\, H(u_{ca}; K_{ca}, n_{ca})}"
        r"{1 + \sigma_{S6K} [M - 1]_+} - K\right)",
        "meaning": "Ca2+/calmodulin-activated eEF2K follows resting NMDA Ca2+; S6K above baseline "
        "inhibits it.",
        "source": "Jain P, Bhalla US 2009, PLoS Comput Biol 5:e1000287 (reduced); data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "eEF2 phosphorylation",
        "latex": r"\frac{dp}{dt} = k_p \left(\frac{p_0}{1 - p_0} K (1 - p) - p\right),\qquad "
        r"f = \left[\frac{1 - p}{1 - p_0}\right]_+",
        "meaning": "Fraction of eEF2 phosphorylated at Thr56 (baseline p_0); f is free eEF2 relative to "
        "baseline, which elongation needs.",
        "source": "Autry AE et al. 2011, Nature 475:91; data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "BDNF",
        "latex": r"\frac{dB}{dt} = k_B \left(E_B f^{\,n_B} - B\right)",
        "meaning": "Dendritic BDNF translation rises when eEF2 is dephosphorylated.",
        "source": "Autry AE et al. 2011, Nature 475:91; data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "Growth-factor effector (TrkB/VEGFR -> ERK/Akt)",
        "latex": r"\frac{dE}{dt} = k_E \left((1 - v)\, T\, R + v\, \alpha + g_{op} u_{op} - E\right),\quad "
        r"R = B \left(1 - a + a\, \beta\, \alpha\right)(1 + g_\sigma u_\sigma),\quad "
        r"\alpha = [u_{ampa}]_+^{\,n_r}",
        "meaning": "Activity-dependent BDNF release R (regulated share a, Val66Met factor beta, sigma-1 "
        "route) and VEGF share v drive TrkB expression T-weighted signalling; opioid route adds drive.",
        "source": "Jain & Bhalla 2009 (reduced); seeds 001, 002, 004; data/signalling.toml, mechanisms.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "mTORC1",
        "latex": r"\frac{dM}{dt} = k_M \left((1 - \rho)\, H\!\left("
        r"\frac{E + g_{lys} u_{lys} + g_{nic} u_{nic}}"
        r"{[F]^{\,\phi}}; K_M, n_M\right) - M\right)",
        "meaning": "Upstream drive (effector plus lysosomal and nicotinic routes) divided by S6K feedback "
        "F; rapamycin removes the fraction rho.",
        "source": "Li N et al. 2010, Science 329:959 (mTORC1 needed); data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "S6K feedback",
        "latex": r"\frac{dF}{dt} = k_F (M - F)",
        "meaning": "Slow negative feedback of S6K on the upstream (IRS/PI3K) drive.",
        "source": "data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "GSK3",
        "latex": r"\frac{dG}{dt} = k_G \left(\frac{(1 - \ell)(1 + \kappa)}{1 + \kappa\, \chi_{Akt} E}"
        r" - G\right)",
        "meaning": "Active GSK3 is inhibited by Akt (kappa, sensitive share chi) and by lithium (ell).",
        "source": "Beurel E et al. 2011, Mol Psychiatry 16:1068; data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "Nascent synaptic protein",
        "latex": r"\frac{dN}{dt} = k_N \left([M]_+^{\,n_i} f^{\,n_e} - N\right)",
        "meaning": "Synthesis needs mTORC1 (initiation) and free eEF2 (elongation).",
        "source": "data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "Synaptic protein",
        "latex": r"\frac{dP}{dt} = k_P \left(N (1 + g_{er}\, c) - P\right)",
        "meaning": "Delivery of PSD-95/GluA1 to synapses; the ER-chaperone route c speeds delivery.",
        "source": "data/signalling.toml; mechanisms.toml (er_chaperone)",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "Surface AMPA receptors",
        "latex": r"\frac{dA}{dt} = k_A \left(\left[1 - r + r P \left(1 + g_T (E - 1)\right)\right]_+"
        r" - G A\right)",
        "meaning": "Regulated insertion (share r) follows synaptic protein and TrkB signalling; removal "
        "is GSK3-dependent.",
        "source": "Nosyreva E et al. 2013, J Neurosci 33:6990; data/signalling.toml",
        "code": "ketasim.signalling.cascade.derivatives",
    },
    {
        "name": "ER chaperone",
        "latex": r"\frac{dc}{dt} = k_c (u_{chap} - c)",
        "meaning": "Slow relief of ER stress by intracellular drug (er_chaperone switch; 0 when off).",
        "source": "Lester HA, Miwa JM, Srinivasan R 2012, Biol Psychiatry 72:907 (hypothesis)",
        "code": "ketasim.signalling.cascade.derivatives",
    },
)
