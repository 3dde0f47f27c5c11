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
    for p in range(P):
        Ap = A[p]
        out[p] = solve_segments(
            times,
            bp,
            np.zeros(n),
            lambda k, x, p=p: x + schedule.boluses[k, p],
            lambda k, Ap=Ap, p=p: lambda t, y, b=schedule.rates[k, p]: Ap @ y + b,
            method,
            rtol,
            atol,
            jac=Ap,
            what=f"patient {p}",
        )
    return out


def solve_segments(
    times: np.ndarray,
    breakpoints: np.ndarray,
    x0: np.ndarray,
    jump,
    rhs_of,
    method: str,
    rtol: float,
    atol: float,
    jac=None,
    what: str = "subject",
) -> np.ndarray:
    """States (T, n) of one subject at ``times``, integrating across dosing segments with scipy.

    At breakpoint ``k`` the state becomes ``jump(k, x)`` (boluses); on the segment that follows it
    obeys dx/dt = ``rhs_of(k)(t, x)``. Values at a breakpoint are those just after its jump."""
    ends = np.append(breakpoints[1:], max(times.max(), breakpoints[-1]))
    out = np.empty((times.size, x0.size))
    x = x0
    for k, (t0, t1) in enumerate(zip(breakpoints, ends, strict=True)):
        x = jump(k, x)
        last = k + 1 == breakpoints.size
        sel = (times >= t0) & ((times <= t1) if last else (times < t1))
        if t1 <= t0:
            out[sel] = x
            continue
        inner = times[sel]
        ends_on_t1 = inner.size > 0 and inner[-1] == t1
        t_eval = inner if ends_on_t1 else np.append(inner, t1)
        kw = {} if jac is None else {"jac": jac}
        sol = solve_ivp(rhs_of(k), (t0, t1), x, method=method, t_eval=t_eval, rtol=rtol, atol=atol, **kw)
        if not sol.success:
            raise RuntimeError(f"reference solver failed for {what}: {sol.message}")
        out[sel] = (sol.y if ends_on_t1 else sol.y[:, :-1]).T
        x = sol.y[:, -1].copy()
    return out
