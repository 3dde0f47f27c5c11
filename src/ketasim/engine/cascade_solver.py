"""Compiled adaptive stiff solver for the signalling cascade, one independent solve per patient.

Method: extrapolated linearly implicit Euler (Deuflhard P 1985, SIAM Rev 27:505; the LIMEX/SEULEX
family, Hairer E, Wanner G, Solving ODEs II, section IV.9) with the harmonic step sequence 1, 2, 3, 4
and a fixed number of columns, so each macro step has order 4; the difference between the last two
columns estimates the error. The Jacobian is taken by forward differences once per macro step.
Output between steps comes from cubic Hermite interpolation of the step's end points and slopes.
Inputs are linear between their grid points; steps end exactly at ``stops`` (dose times), so a dose
that starts after a long quiet spell is never stepped over.

Each patient is integrated on its own (numba ``prange``), so a patient's result does not depend on
which other patients share the batch.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ketasim.kernel_cache import configure
from ketasim.signalling.cascade import N_PARAMS, STATES, derivatives

# The number of states is frozen into the compiled functions; the compiled cache is keyed by this file
# and by signalling/cascade.py among others (ketasim.kernel_cache), so a change to STATES recompiles.
NS = len(STATES)
SEQ = (1, 2, 3, 4)
KCOLS = len(SEQ)
JAC_EVERY = 3


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def _input(tt, t, u, j):
    """Inputs at time ``tt`` (linear between grid points) and the updated grid index ``j``."""
    T = t.size
    while j + 2 < T and t[j + 1] <= tt:
        j += 1
    while j > 0 and t[j] > tt:
        j -= 1
    h = t[j + 1] - t[j]
    w = 0.0 if h <= 0.0 else (tt - t[j]) / h
    w = min(max(w, 0.0), 1.0)
    return (1.0 - w) * u[j] + w * u[j + 1], j


@njit(cache=True)
def _lu(M, piv):
    """In-place LU factorisation with partial pivoting."""
    n = M.shape[0]
    for k in range(n):
        p = k
        big = abs(M[k, k])
        for i in range(k + 1, n):
            if abs(M[i, k]) > big:
                big = abs(M[i, k])
                p = i
        piv[k] = p
        if p != k:
            for c in range(n):
                tmp = M[k, c]
                M[k, c] = M[p, c]
                M[p, c] = tmp
        if M[k, k] == 0.0:
            continue
        for i in range(k + 1, n):
            M[i, k] /= M[k, k]
            f = M[i, k]
            for c in range(k + 1, n):
                M[i, c] -= f * M[k, c]


@njit(cache=True)
def _solve(M, piv, b):
    n = M.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        for c in range(i):
            b[i] -= M[i, c] * b[c]
    for i in range(n - 1, -1, -1):
        for c in range(i + 1, n):
            b[i] -= M[i, c] * b[c]
        b[i] /= M[i, i]


@njit(cache=True)
def _one(t, u, y0, q, ref, stops, rtol, atol, h_max, out):
    """Integrate one patient over the grid ``t``; writes states at every grid time into ``out`` (T, NS)."""
    T = t.size
    y = y0.copy()
    out[0] = y
    f0 = np.empty(NS)
    f1 = np.empty(NS)
    ftmp = np.empty(NS)
    yp = np.empty(NS)
    J = np.empty((NS, NS))
    M = np.empty((NS, NS))
    piv = np.empty(NS, dtype=np.int64)
    table = np.empty((KCOLS, KCOLS, NS))
    yi = np.empty(NS)
    rhs = np.empty(NS)
    tc = t[0]
    j_in = 0
    ui, j_in = _input(tc, t, u, j_in)
    derivatives(y, ui, q, ref, f0)
    H = 1e-3
    nxt = 1  # next output index
    s_idx = 0
    while s_idx < stops.size and stops[s_idx] <= tc:
        s_idx += 1
    steps = 0
    jac_age = JAC_EVERY
    while nxt < T:
        t_end = t[T - 1]
        if s_idx < stops.size:
            t_end = min(t_end, stops[s_idx])
        H = min(H, h_max, t_end - tc)
        last = tc + H >= t_end - 1e-12 * max(1.0, abs(t_end))
        if last:
            H = t_end - tc
        # Jacobian by forward differences, refreshed every JAC_EVERY accepted steps and after a rejection
        # (linearly implicit Euler stays consistent with an approximate Jacobian)
        if jac_age >= JAC_EVERY:
            jac_age = 0
            for c in range(NS):
                dy = 1e-7 * max(abs(y[c]), 1.0)
                yp[:] = y
                yp[c] += dy
                ui, j_in = _input(tc, t, u, j_in)
                derivatives(yp, ui, q, ref, ftmp)
                for r in range(NS):
                    J[r, c] = (ftmp[r] - f0[r]) / dy
        for k in range(KCOLS):
            n = SEQ[k]
            h = H / n
            for r in range(NS):
                for c in range(NS):
                    M[r, c] = -h * J[r, c]
                M[r, r] += 1.0
            _lu(M, piv)
            yi[:] = y
            for i in range(n):
                if i == 0:
                    for r in range(NS):
                        rhs[r] = h * f0[r]
                else:
                    ui, j_in = _input(tc + i * h, t, u, j_in)
                    derivatives(yi, ui, q, ref, ftmp)
                    for r in range(NS):
                        rhs[r] = h * ftmp[r]
                _solve(M, piv, rhs)
                for r in range(NS):
                    yi[r] += rhs[r]
            table[k, 0] = yi
            # Aitken-Neville: T[k, m] = T[k, m-1] + (T[k, m-1] - T[k-1, m-1]) / (n_k / n_(k-m) - 1)
            for m in range(1, k + 1):
                ratio = SEQ[k] / SEQ[k - m] - 1.0
                for r in range(NS):
                    prev = table[k, m - 1, r]
                    table[k, m, r] = prev + (prev - table[k - 1, m - 1, r]) / ratio
        K = KCOLS - 1
        best = table[K, K]
        err = 0.0
        for r in range(NS):
            sc = atol + rtol * max(abs(y[r]), abs(best[r]))
            e = (best[r] - table[K, K - 1, r]) / sc
            err += e * e
        err = np.sqrt(err / NS)
        steps += 1
        if not np.isfinite(err) or (err > 1.0 and H <= 1e-10):
            # non-finite states or a step size that cannot meet the tolerance: this patient's solve
            # has failed; its remaining outputs are NaN and the caller records the failure
            out[nxt:, :] = np.nan
            return -1
        if err <= 1.0:
            t_new = tc + H
            ui, j_in = _input(t_new, t, u, j_in)
            derivatives(best, ui, q, ref, f1)
            # cubic Hermite output on (tc, t_new]
            while nxt < T and t[nxt] <= t_new + 1e-12 * max(1.0, abs(t_new)):
                s = (t[nxt] - tc) / H
                h00 = (1.0 + 2.0 * s) * (1.0 - s) ** 2
                h10 = s * (1.0 - s) ** 2
                h01 = s * s * (3.0 - 2.0 * s)
                h11 = s * s * (s - 1.0)
                for r in range(NS):
                    out[nxt, r] = h00 * y[r] + h10 * H * f0[r] + h01 * best[r] + h11 * H * f1[r]
                nxt += 1
            y[:] = best
            f0[:] = f1
            tc = t_new
            if last and s_idx < stops.size and abs(tc - stops[s_idx]) <= 1e-12 * max(1.0, abs(tc)):
                s_idx += 1
            fac = 4.0 if err == 0.0 else min(4.0, max(0.2, 0.9 * err ** (-1.0 / KCOLS)))
            H = H * fac
            jac_age += 1
        else:
            H = H * max(0.2, 0.9 * err ** (-1.0 / KCOLS))
            jac_age = JAC_EVERY
    return steps


@njit(parallel=True, cache=True)
def _all(t, u, y0, q, ref, stops, rtol, atol, h_max):
    P = y0.shape[0]
    out = np.empty((P, t.size, NS))
    steps = np.zeros(P, dtype=np.int64)
    for p in prange(P):
        steps[p] = _one(t, u[p], y0[p], q[p], ref[p], stops, rtol, atol, h_max, out[p])
    return out, steps


def integrate(
    t: np.ndarray,
    u: np.ndarray,
    y0: np.ndarray,
    p: dict,
    depressed: bool,
    protein_ref: np.ndarray,
    stops: np.ndarray | None = None,
    rtol: float = 4e-6,
    atol: float = 1e-9,
    h_max: float = 12.0,
) -> np.ndarray:
    """States (P, T, n_states) on the grid ``t`` for inputs ``u`` (P, T, n_inputs), linear between points."""
    from ketasim.signalling.cascade import pack

    P = y0.shape[0]
    q = pack(p, depressed, P)
    assert q.shape[1] == N_PARAMS
    stops = np.zeros(0) if stops is None else np.asarray(stops, dtype=float)
    out, _ = _all(
        np.ascontiguousarray(t, dtype=float),
        np.ascontiguousarray(u, dtype=float),
        np.ascontiguousarray(y0, dtype=float),
        q,
        np.ascontiguousarray(protein_ref, dtype=float),
        np.sort(stops),
        rtol,
        atol,
        h_max,
    )
    return out


def steady_state(
    u: np.ndarray,
    q: np.ndarray,
    y_guess: np.ndarray,
    protein_ref: np.ndarray,
    horizon: float = 2e5,
    rtol: float = 1e-10,
    atol: float = 1e-13,
) -> np.ndarray:
    """Resting states (P, n_states) for constant inputs ``u`` (P, n_inputs) and packed parameters
    ``q``: the solution after ``horizon`` hours (many times the slowest time constant, spine
    turnover of ~10 days) from ``y_guess``. A reference of +inf turns off spine formation above the
    adapted level, which is what adaptation to one's own synaptic protein means."""
    P = u.shape[0]
    uu = np.ascontiguousarray(np.repeat(np.asarray(u, dtype=float)[:, None, :], 2, axis=1))
    out, _ = _all(
        np.array([0.0, horizon]),
        uu,
        np.ascontiguousarray(y_guess, dtype=float),
        np.ascontiguousarray(q, dtype=float),
        np.ascontiguousarray(protein_ref, dtype=float),
        np.zeros(0),
        rtol,
        atol,
        horizon,
    )
    return out[:, -1].reshape(P, NS)
