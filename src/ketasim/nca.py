"""Non-compartmental analysis (NCA) of concentration-time curves.

Conventions follow common pharmacometric practice (e.g. PKNCA, Phoenix WinNonlin):

- Cmax and Tmax: the highest observed concentration and its first time.
- AUC by the linear-up/log-down trapezoidal rule: linear where the concentration rises or either
  end is zero, logarithmic where it falls.
- Terminal rate constant lambda_z: log-linear regression over the last n >= 3 positive points
  after Tmax; of all such windows, the one with the most points whose adjusted R^2 is within
  1e-4 of the best adjusted R^2.
- AUC to infinity: AUC_last + C_last / lambda_z; terminal half-life ln 2 / lambda_z.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ketasim.errors import KetasimError


@dataclass(frozen=True)
class NCAResult:
    cmax: float
    tmax: float
    auc_last: float
    auc_inf: float | None
    lambda_z: float | None
    t_half: float | None
    auc_extrapolated_pct: float | None
    n_lambda_z: int

    def as_dict(self) -> dict:
        return asdict(self)


def auc_linear_up_log_down(t: np.ndarray, c: np.ndarray) -> float:
    """AUC from the first to the last time by the linear-up/log-down rule."""
    t = np.asarray(t, dtype=float)
    c = np.asarray(c, dtype=float)
    dt = np.diff(t)
    c0, c1 = c[:-1], c[1:]
    lin = dt * (c0 + c1) / 2
    use_log = (c1 < c0) & (c1 > 0) & (c0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logpart = dt * (c0 - c1) / np.log(c0 / c1)
    return float(np.sum(np.where(use_log, logpart, lin)))


def lambda_z(t: np.ndarray, c: np.ndarray, after: int, tol: float = 1e-4) -> tuple[float | None, int]:
    """Terminal elimination rate constant and the number of points used (None, 0 if not estimable)."""
    t = np.asarray(t, dtype=float)[after + 1 :]
    c = np.asarray(c, dtype=float)[after + 1 :]
    keep = c > 0
    # only the trailing run of positive concentrations
    if not keep.all():
        last_zero = np.where(~keep)[0].max()
        t, c = t[last_zero + 1 :], c[last_zero + 1 :]
    if t.size < 3:
        return None, 0
    y = np.log(c)
    # suffix sums: window [i, end)
    rev = slice(None, None, -1)
    n = np.arange(1, t.size + 1)[rev].astype(float)
    sx = np.cumsum(t[rev])[rev]
    sy = np.cumsum(y[rev])[rev]
    sxx = np.cumsum((t * t)[rev])[rev]
    sxy = np.cumsum((t * y)[rev])[rev]
    syy = np.cumsum((y * y)[rev])[rev]
    vxx = sxx - sx * sx / n
    vxy = sxy - sx * sy / n
    vyy = syy - sy * sy / n
    valid = (n >= 3) & (vxx > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = vxy / vxx
        r2 = np.where(vyy > 0, vxy * vxy / (vxx * vyy), 1.0)
        adj = 1 - (1 - r2) * (n - 1) / (n - 2)
    valid &= slope < 0
    if not valid.any():
        return None, 0
    best = np.max(adj[valid])
    ok = valid & (adj >= best - tol)
    i = int(np.argmax(n * ok))  # the most points among near-best windows
    return float(-slope[i]), int(n[i])


def nca(t: np.ndarray, c: np.ndarray) -> NCAResult:
    """NCA of one curve (times in h, concentrations in any unit)."""
    t = np.asarray(t, dtype=float)
    c = np.asarray(c, dtype=float)
    if t.ndim != 1 or t.shape != c.shape or t.size < 2:
        raise KetasimError("times and concentrations must be 1-D arrays of equal length >= 2", argument="nca")
    if np.any(np.diff(t) <= 0):
        raise KetasimError("times must be strictly increasing", argument="nca")
    if np.any(~np.isfinite(c)) or np.any(c < 0):
        raise KetasimError("concentrations must be finite and non-negative", argument="nca")
    i = int(np.argmax(c))
    cmax, tmax = float(c[i]), float(t[i])
    auc_last = auc_linear_up_log_down(t, c)
    lz, nz = lambda_z(t, c, i)
    if lz is None or cmax == 0:
        return NCAResult(cmax, tmax, auc_last, None, None, None, None, 0)
    pos = np.where(c > 0)[0]
    clast = float(c[pos[-1]])
    auc_last = auc_linear_up_log_down(t[: pos[-1] + 1], c[: pos[-1] + 1])
    extra = clast / lz
    auc_inf = auc_last + extra
    return NCAResult(cmax, tmax, auc_last, auc_inf, lz, math.log(2) / lz, 100 * extra / auc_inf, nz)
