"""Exact solution of batched linear systems dx/dt = A x + b with piecewise-constant b.

On an interval of length h with constant input b, the augmented matrix
M = [[A, b], [0, 0]] gives [x(t+h); 1] = expm(M h) [x(t); 1] (Van Loan C 1978, IEEE Trans Autom
Control 23:395), which is exact for singular A too (our sink states make A singular). One
exponential is computed per distinct (interval length, input) pair for the whole batch, so a
uniform output grid costs one exponential per dosing segment.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from ketasim.engine.schedule import Schedule


def _grid(schedule: Schedule, times: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([schedule.breakpoints, times]))


def solve_linear(
    A: np.ndarray, schedule: Schedule, times: np.ndarray, x0: np.ndarray | None = None
) -> np.ndarray:
    """States at ``times`` (T,) for every patient: array (P, T, n). ``A`` is (P, n, n)."""
    times = np.asarray(times, dtype=float)
    P, n, _ = A.shape
    grid = _grid(schedule, times)
    x = np.zeros((P, n)) if x0 is None else np.array(x0, dtype=float)
    out = np.empty((P, times.size, n))
    want = {float(t): i for i, t in enumerate(times)}
    cache: dict[tuple[int, float], np.ndarray] = {}
    bp = schedule.breakpoints
    for j, t in enumerate(grid):
        k = int(np.searchsorted(bp, t, side="right") - 1)
        if k >= 0 and bp[k] == t:
            x = x + schedule.boluses[k]
        if float(t) in want:
            out[:, want[float(t)], :] = x
        if j + 1 == grid.size:
            break
        h = float(grid[j + 1] - t)
        key = (k, round(h, 12))
        E = cache.get(key)
        if E is None:
            M = np.zeros((P, n + 1, n + 1))
            M[:, :n, :n] = A
            M[:, :n, n] = schedule.rates[k]
            E = expm(M * h)
            cache[key] = E
        x = np.einsum("pij,pj->pi", E[:, :n, :n], x) + E[:, :n, n]
    return out
