"""Fast exact PK for a population: the linear system in its eigenbasis (modal solution).

For dx/dt = A x + b with b constant between dosing breakpoints, write A = V diag(lam) V^-1 and
z = V^-1 x; each mode then obeys dz_j/dt = lam_j z_j + beta_j, solved exactly over a step h as
z_j <- exp(lam_j h) z_j + h phi(lam_j h) beta_j with phi(x) = (e^x - 1)/x. States that only collect
(sinks: eliminated and unabsorbed drug; their column of A is zero) are left out unless requested
(a kept sink has eigenvalue 0, handled by phi(0) = 1); only the requested states are transformed back. One
eigendecomposition per patient replaces a matrix exponential per patient and step length, and
each step costs O(modes) per patient instead of O(states^2).

A patient whose eigenvectors are ill conditioned (a defective or nearly defective matrix, e.g. two
compartments with identical rate constants in series) or whose spectrum is complex is solved by the
exact matrix-exponential method (:func:`ketasim.engine.linear.solve_linear`) instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ketasim.engine.linear import solve_linear
from ketasim.engine.schedule import Schedule
from ketasim.kernel_cache import configure

MAX_CONDITION = 1e10


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def _phi(x):
    """(e^x - 1) / x, accurate for small x."""
    if abs(x) < 1e-8:
        return 1.0 + 0.5 * x
    return np.expm1(x) / x


@njit(parallel=True, cache=True)
def _propagate(lam, Vrows, bol, rat, grid, k_of, out_of):
    """Modal states stepped over ``grid``; writes V[rows] z at the output times."""
    P, m = lam.shape
    r = Vrows.shape[1]
    T_out = 0
    for j in range(grid.size):
        if out_of[j] >= 0:
            T_out += 1
    out = np.zeros((P, T_out, r))
    for p in prange(P):
        z = np.zeros(m)
        decay = np.empty(m)
        gain = np.empty(m)
        h_last = -1.0
        for j in range(grid.size):
            k = k_of[j]
            if k >= 0 and (j == 0 or k_of[j - 1] != k):  # first grid point of segment k: its bolus
                for i in range(m):
                    z[i] += bol[k, p, i]
            o = out_of[j]
            if o >= 0:
                for a in range(r):
                    s = 0.0
                    for i in range(m):
                        s += Vrows[p, a, i] * z[i]
                    out[p, o, a] = s
            if j + 1 == grid.size:
                break
            h = grid[j + 1] - grid[j]
            kk = max(k, 0)
            if h != h_last:  # most steps repeat the previous length
                for i in range(m):
                    x = lam[p, i] * h
                    decay[i] = np.exp(x)
                    gain[i] = h * _phi(x)
                h_last = h
            for i in range(m):
                z[i] = decay[i] * z[i] + gain[i] * rat[kk, p, i]
    return out


def _topological_blocks(pattern: np.ndarray) -> list[np.ndarray]:
    """Strongly connected blocks of the flow graph (edge k -> j where A_jk != 0), upstream first."""
    from scipy.sparse.csgraph import connected_components

    n_blocks, label = connected_components(pattern.T, directed=True, connection="strong")
    succ = [set() for _ in range(n_blocks)]
    indeg = np.zeros(n_blocks, dtype=int)
    for j, k in zip(*np.nonzero(pattern), strict=True):
        a, b = label[k], label[j]
        if a != b and b not in succ[a]:
            succ[a].add(b)
            indeg[b] += 1
    order, ready = [], [c for c in range(n_blocks) if indeg[c] == 0]
    while ready:
        c = ready.pop(0)
        order.append(c)
        for d in sorted(succ[c]):
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    return [np.flatnonzero(label == c) for c in order]


def _solve_each(M: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve M x = rhs for each patient; singular systems give x = 0 and a True flag."""
    try:
        return np.linalg.solve(M, rhs[..., None])[..., 0], np.zeros(M.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        x = np.zeros(rhs.shape)
        singular = np.zeros(M.shape[0], dtype=bool)
        for i in range(M.shape[0]):
            try:
                x[i] = np.linalg.solve(M[i], rhs[i])
            except np.linalg.LinAlgError:
                singular[i] = True
        return x, singular


def _eigenbasis(Ac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real eigenvalues (P, m), eigenvectors (P, m, m) and which patients have a usable basis.

    The compartments form strongly connected blocks (a species' central and peripheral
    compartments; its brain, cytosol and lysosome; a depot) linked one way (parent to metabolite,
    plasma to brain). Each eigenpair of a block is extended to the blocks downstream of it by block
    back-substitution, v_d = (lam I - A_dd)^-1 sum_k A_dk v_k. Blocks with identical rate constants
    (the S- and R-enantiomer chains, the cell compartments of metabolites with the same pKa) then
    keep separate eigenvectors instead of a degenerate basis."""
    P, m, _ = Ac.shape
    blocks = _topological_blocks(np.any(Ac != 0.0, axis=0))
    lam = np.zeros((P, m))
    V = np.zeros((P, m, m))
    ok = np.ones(P, dtype=bool)
    col = 0
    for bi, idx in enumerate(blocks):
        w, v = np.linalg.eig(Ac[:, idx][:, :, idx])
        ok &= np.all(np.abs(w.imag) <= 1e-12 * np.abs(w), axis=1) & np.all(v.imag == 0.0, axis=(1, 2))
        w, v = w.real, v.real
        for e in range(idx.size):
            full = np.zeros((P, m))
            full[:, idx] = v[:, :, e]
            for jdx in blocks[bi + 1 :]:
                rhs = np.einsum("pij,pj->pi", Ac[:, jdx, :], full)
                if not np.any(rhs):
                    continue
                M = w[:, e, None, None] * np.eye(jdx.size) - Ac[:, jdx][:, :, jdx]
                full[:, jdx], singular = _solve_each(M, rhs)
                ok &= ~singular  # resonance: an eigenvalue repeats downstream (a Jordan block)
            lam[:, col] = w[:, e]
            V[:, :, col] = full
            col += 1
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(V)
    ok &= np.isfinite(cond) & (cond < MAX_CONDITION)
    return lam, V, ok


def solve_modal(A: np.ndarray, schedule: Schedule, times: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """States ``rows`` (R,) at ``times`` (T,) for every patient: array (P, T, R). ``A`` is (P, n, n)."""
    times = np.asarray(times, dtype=float)
    rows = np.asarray(rows, dtype=int)
    P, n, _ = A.shape
    sink = np.all(A == 0.0, axis=(0, 1))
    sink[rows] = False  # a requested state is kept even if nothing leaves it (its eigenvalue is 0)
    keep = np.flatnonzero(~sink)
    pos = np.full(n, -1)
    pos[keep] = np.arange(keep.size)
    lam, V, ok = _eigenbasis(A[:, keep][:, :, keep])
    out = np.empty((P, times.size, rows.size))
    if np.any(ok):
        idx = np.flatnonzero(ok)
        Vinv = np.linalg.inv(V[idx])
        bol = np.einsum("pij,kpj->kpi", Vinv, schedule.boluses[:, idx][:, :, keep])
        rat = np.einsum("pij,kpj->kpi", Vinv, schedule.rates[:, idx][:, :, keep])
        grid = np.unique(np.concatenate([schedule.breakpoints, times]))
        k_of = np.searchsorted(schedule.breakpoints, grid, side="right") - 1
        out_of = np.full(grid.size, -1)
        out_of[np.searchsorted(grid, times)] = np.arange(times.size)
        Vrows = np.ascontiguousarray(V[idx][:, pos[rows], :])
        out[idx] = _propagate(
            np.ascontiguousarray(lam[idx]),
            Vrows,
            np.ascontiguousarray(bol),
            np.ascontiguousarray(rat),
            grid,
            k_of,
            out_of,
        )
    if not np.all(ok):
        bad = np.flatnonzero(~ok)
        sub = Schedule(schedule.breakpoints, schedule.boluses[:, bad], schedule.rates[:, bad])
        out[bad] = solve_linear(A[bad], sub, times)[:, :, rows]
    return out
