"""Reference solver: scipy's implicit Radau method per patient, restarted at every dose event.

Slow but independent of the exact linear solver, so the two check each other. Linear invariants
(the mass balance) are preserved by Runge-Kutta methods up to round-off.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.engine.schedule import Schedule


def solve_reference(
    A: np.ndarray,
    schedule: Schedule,
    times: np.ndarray,
    rtol: float = 1e-10,
    atol: float = 1e-14,
    method: str = "Radau",
) -> np.ndarray:
    """States at ``times`` for every patient, (P, T, n), integrating each patient separately."""
    times = np.asarray(times, dtype=float)
    P, n, _ = A.shape
    out = np.empty((P, times.size, n))
    bp = schedule.breakpoints
    ends = np.append(bp[1:], max(times.max(), bp[-1]))
    for p in range(P):
        Ap = A[p]
        x = np.zeros(n)
        for k, (t0, t1) in enumerate(zip(bp, ends, strict=True)):
            x = x + schedule.boluses[k, p]
            b = schedule.rates[k, p]
            last = k + 1 == bp.size
            sel = (times >= t0) & ((times <= t1) if last else (times < t1))
            if t1 <= t0:
                out[p, sel] = x
                continue
            inner = times[sel]
            ends_on_t1 = inner.size > 0 and inner[-1] == t1
            t_eval = inner if ends_on_t1 else np.append(inner, t1)
            sol = solve_ivp(
                lambda t, y, Ap=Ap, b=b: Ap @ y + b,
                (t0, t1),
                x,
                method=method,
                t_eval=t_eval,
                rtol=rtol,
                atol=atol,
                jac=Ap,
            )
            if not sol.success:
                raise RuntimeError(f"reference solver failed for patient {p}: {sol.message}")
            out[p, sel] = (sol.y if ends_on_t1 else sol.y[:, :-1]).T
            x = sol.y[:, -1]
    return out
