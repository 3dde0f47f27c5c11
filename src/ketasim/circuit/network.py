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

import itertools

import numpy as np

POPULATIONS = ("pyramidal", "pv", "sst")
E, P, S = range(3)
_TOL = 1e-9


def fixed_point(W: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Rates ``r`` with ``r = max(W r + h, 0)`` for batched ``W`` (..., n, n) and ``h`` (..., n)."""
    n = h.shape[-1]
    out = np.full(h.shape, np.nan)
    found = np.zeros(h.shape[:-1], dtype=int)
    eye = np.eye(n)
    for mask in itertools.product((0.0, 1.0), repeat=n):
        a = np.array(mask)
        M = eye - W * a[:, None] * a[None, :]
        r = np.linalg.solve(M, (h * a)[..., None])[..., 0]
        u = np.einsum("...ij,...j->...i", W, r) + h
        active_ok = np.where(a > 0, r > -_TOL, True).all(axis=-1)
        silent_ok = np.where(a > 0, True, u <= _TOL).all(axis=-1)
        ok = active_ok & silent_ok
        out = np.where((ok & (found == 0))[..., None], np.clip(r, 0, None), out)
        found += ok
    return np.where((found == 1)[..., None], out, np.nan)


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
