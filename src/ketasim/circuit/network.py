"""Threshold-linear rate network of prefrontal pyramidal, PV and SST populations (pure equations).

Population firing changes within tens of milliseconds, far faster than drug levels change, so the
circuit is taken at its fixed point for the NMDA conductance available at each moment (a
quasi-steady-state reduction). For a threshold-linear network ``r = [W r + h]+`` the fixed point is
found exactly by trying each set of active populations (three populations, eight sets), solving the
linear system on that set and keeping the set that is self-consistent (Hahnloser R et al. 2000,
Nature 405:947 for the theory of threshold-linear networks). With the packaged weights exactly one
set is consistent for every combination of block (tested); if none or several are, the result is
NaN, never a silently chosen branch.

Every parameter may be a number or an array that broadcasts against the batch shape of
``available`` (its shape without the last axis), e.g. (P, 1) for one value per patient over a
(P, T) grid; numbers give exactly the same result as before.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ketasim.kernel_cache import configure

POPULATIONS = ("pyramidal", "pv", "sst")
E, P, S = range(3)
_TOL = 1e-9


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def _fixed_point_one(W, h, out, M, b, a, r):
    """Fixed point of one network by trying every active set (in itertools.product order);
    ``M``, ``b``, ``a``, ``r`` are work arrays."""
    n = h.size
    found = 0
    for code in range(2**n):
        # mask bits: population 0 is the most significant, as in itertools.product((0, 1), repeat=n)
        for i in range(n):
            a[i] = float((code >> (n - 1 - i)) & 1)
        for i in range(n):
            for j in range(n):
                M[i, j] = (1.0 if i == j else 0.0) - W[i, j] * a[i] * a[j]
            b[i] = h[i] * a[i]
        # Gaussian elimination with partial pivoting
        singular = False
        for k in range(n):
            piv = k
            for i in range(k + 1, n):
                if abs(M[i, k]) > abs(M[piv, k]):
                    piv = i
            if M[piv, k] == 0.0:
                singular = True
                break
            if piv != k:
                for j in range(n):
                    M[k, j], M[piv, j] = M[piv, j], M[k, j]
                b[k], b[piv] = b[piv], b[k]
            for i in range(k + 1, n):
                f = M[i, k] / M[k, k]
                for j in range(k, n):
                    M[i, j] -= f * M[k, j]
                b[i] -= f * b[k]
        if singular:
            continue
        for i in range(n - 1, -1, -1):
            s = b[i]
            for j in range(i + 1, n):
                s -= M[i, j] * r[j]
            r[i] = s / M[i, i]
        ok = True
        for i in range(n):
            u = h[i]
            for j in range(n):
                u += W[i, j] * r[j]
            if a[i] > 0.0 and not r[i] > -_TOL:
                ok = False
            if a[i] == 0.0 and not u <= _TOL:
                ok = False
        if ok:
            if found == 0:
                for i in range(n):
                    out[i] = max(r[i], 0.0)
            found += 1
    if found != 1:
        for i in range(n):
            out[i] = np.nan


@njit(parallel=True, cache=True)
def _fixed_points(W, h):
    out = np.empty_like(h)
    K, n = h.shape
    nthreads = 64
    per = (K + nthreads - 1) // nthreads
    for c in prange(nthreads):
        M = np.empty((n, n))
        b = np.empty(n)
        a = np.empty(n)
        r = np.empty(n)
        for k in range(c * per, min(K, (c + 1) * per)):
            _fixed_point_one(W[k], h[k], out[k], M, b, a, r)
    return out


def fixed_point(W: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Rates ``r`` with ``r = max(W r + h, 0)`` for batched ``W`` (..., n, n) and ``h`` (..., n).

    NaN where no set of active populations, or more than one, is self-consistent (compiled)."""
    W, h = np.broadcast_arrays(np.asarray(W, dtype=float), np.asarray(h, dtype=float)[..., None, :])
    shape = h.shape[:-2] + h.shape[-1:]
    n = shape[-1]
    Wf = np.array(W.reshape(-1, n, n), order="C")
    hf = np.array(h[..., 0, :].reshape(-1, n), order="C")
    return _fixed_points(Wf, hf).reshape(shape)


def ampa_scaling(adapted: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Homeostatic scaling of the non-NMDA drive of each population (..., 3).

    A population that has lived with NMDA conductance ``adapted`` (relative to wild type; < 1 after
    a lifelong deletion) scales its other excitatory synapses so that its drug-free drive, and so its
    firing, return towards normal (synaptic scaling; Turrigiano GG 2008, Cell 135:422), by the
    fraction ``homeostasis.compensation`` of the deficit.
    """
    share = _shares(p)
    full = (1.0 - share * np.asarray(adapted)) / (1.0 - share)
    return 1.0 + np.asarray(p["homeostasis.compensation"], dtype=float)[..., None] * (full - 1.0)


def _shares(p: dict[str, float]) -> np.ndarray:
    """NMDA shares of the drive (..., 3); per-patient values keep their batch axes in front."""
    keys = ("pyramidal.nmda_share", "pv.nmda_share", "sst.nmda_share")
    return np.stack(np.broadcast_arrays(*(np.asarray(p[k], dtype=float) for k in keys)), axis=-1)


def connectivity(
    available: np.ndarray, p: dict[str, float], scaling: np.ndarray | float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and inputs of the network for NMDA conductance ``available`` (..., 3) relative to baseline.

    ``p`` holds the circuit parameters (``data/circuit.toml``); ``scaling`` multiplies the non-NMDA
    drive (:func:`ampa_scaling`). External drive of the pyramidal cells and the excitatory weights onto
    the interneurons are set by the baseline condition r = (1, 1, 1) at full NMDA conductance.
    """
    share = _shares(p)
    m = (1.0 - share) * scaling + share * available  # excitatory drive left, per population
    w_ee, w_ep, w_es = p["pyramidal.w_ee"], p["pyramidal.w_ep"], p["pyramidal.w_es"]
    w_pp, w_ps, th_p = p["pv.w_pp"], p["pv.w_ps"], p["pv.threshold"]
    w_sp, th_s = p["sst.w_sp"], p["sst.threshold"]
    e_ext = 1.0 - w_ee + w_ep + w_es
    w_pe = 1.0 + w_pp + w_ps + th_p
    w_se = 1.0 + w_sp + th_s
    shape = np.broadcast_shapes(m.shape[:-1], *(np.shape(w) for w in (e_ext, w_pe, w_se, w_ep, w_es, w_ps)))
    W = np.zeros((*shape, 3, 3))
    W[..., E, E] = w_ee * m[..., E]
    W[..., E, P] = -w_ep
    W[..., E, S] = -w_es
    W[..., P, E] = w_pe * m[..., P]
    W[..., P, P] = -w_pp
    W[..., P, S] = -w_ps
    W[..., S, E] = w_se * m[..., S]
    W[..., S, P] = -w_sp
    h = np.zeros((*shape, 3))
    h[..., E] = e_ext * m[..., E]
    h[..., P] = -th_p
    h[..., S] = -th_s
    return W, h


def rates(available: np.ndarray, p: dict[str, float], scaling: np.ndarray | float = 1.0) -> np.ndarray:
    """Relative firing rates (..., 3) of pyramidal, PV and SST populations."""
    available = np.asarray(available, dtype=float)
    if available.shape[-1] != 3:
        raise ValueError("available must end in an axis of 3 populations (pyramidal, pv, sst)")
    return fixed_point(*connectivity(available, p, scaling))


def pv_ampa_drive(r: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Gamma-power proxy: AMPA drive of PV cells by pyramidal cells, relative to baseline."""
    return p["outputs.gamma_ampa_share"] * r[..., E] + (1 - p["outputs.gamma_ampa_share"])


# Equations of the circuit scale, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Threshold-linear fixed point",
        "latex": r"\mathbf r = \left[W \mathbf r + \mathbf h\right]_+,\qquad \mathbf r = (r_E, r_P, r_S)",
        "meaning": "Relative firing of pyramidal, PV and SST populations at the quasi-steady state for "
        "the NMDA conductance available; solved exactly over the 8 active sets (NaN unless unique).",
        "source": "Hahnloser R et al. 2000, Nature 405:947",
        "code": "ketasim.circuit.network.fixed_point",
    },
    {
        "name": "Excitatory drive left",
        "latex": r"m_c = (1 - s_c)\,\lambda_c + s_c\, g_c",
        "meaning": "NMDA share s_c of population c's excitatory drive scales with the conductance "
        "available g_c; lambda_c is homeostatic scaling of the rest.",
        "source": "data/circuit.toml (nmda_share)",
        "code": "ketasim.circuit.network.connectivity",
    },
    {
        "name": "Weights and inputs",
        "latex": r"W = \begin{pmatrix} w_{EE} m_E & -w_{EP} & -w_{ES} \\ w_{PE} m_P & -w_{PP} & -w_{PS} \\"
        r" w_{SE} m_S & -w_{SP} & 0 \end{pmatrix},\quad "
        r"\mathbf h = \begin{pmatrix} e_{ext} m_E \\ -\theta_P \\ -\theta_S \end{pmatrix}",
        "meaning": "Pyramidal cells excite both interneuron classes, which inhibit them; PV cells inhibit "
        "themselves and SST cells.",
        "source": "data/circuit.toml",
        "code": "ketasim.circuit.network.connectivity",
    },
    {
        "name": "Baseline condition",
        "latex": r"e_{ext} = 1 - w_{EE} + w_{EP} + w_{ES},\quad w_{PE} = 1 + w_{PP} + w_{PS} + \theta_P,"
        r"\quad w_{SE} = 1 + w_{SP} + \theta_S",
        "meaning": "External drive and excitatory weights onto interneurons make r = (1, 1, 1) the "
        "drug-free fixed point.",
        "source": "Derived (normalisation to baseline)",
        "code": "ketasim.circuit.network.connectivity",
    },
    {
        "name": "Homeostatic scaling",
        "latex": r"\lambda_c = 1 + \kappa \left(\frac{1 - s_c\, \alpha_c}{1 - s_c} - 1\right)",
        "meaning": "A population adapted to NMDA conductance alpha_c (< 1 after a lifelong deletion) "
        "restores the fraction kappa of its lost drive.",
        "source": "Turrigiano GG 2008, Cell 135:422",
        "code": "ketasim.circuit.network.ampa_scaling",
    },
    {
        "name": "Gamma power proxy",
        "latex": r"\gamma = a\, r_E + (1 - a)",
        "meaning": "AMPA drive of PV cells by pyramidal cells, relative to baseline.",
        "source": "data/circuit.toml (outputs.gamma_ampa_share)",
        "code": "ketasim.circuit.network.pv_ampa_drive",
    },
)
