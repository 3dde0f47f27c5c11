"""Piecewise-constant input schedules built from a regimen.

Between consecutive breakpoints the input rate vector is constant; at a breakpoint a bolus may be
added to the state. Values reported at a time ``t`` are taken just after any bolus at ``t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.compounds import Library
from ketasim.dosing import Regimen
from ketasim.pk.model import PKModel


@dataclass(frozen=True)
class Schedule:
    """Breakpoints, boluses at each breakpoint and the input rate on each following interval."""

    breakpoints: np.ndarray  # (K,) sorted, starting at 0
    boluses: np.ndarray  # (K, P, n) µmol added at each breakpoint
    rates: np.ndarray  # (K, P, n) µmol/h (or µM/h) on [breakpoint k, breakpoint k+1)

    def rate_at(self, t: float) -> np.ndarray:
        k = int(np.searchsorted(self.breakpoints, t, side="right") - 1)
        return self.rates[max(k, 0)]


def build_schedule(model: PKModel, regimen: Regimen, library: Library) -> Schedule:
    times = {0.0}
    for d in regimen.doses:
        times.add(d.time)
        if d.duration > 0:
            times.add(d.time + d.duration)
    bp = np.array(sorted(times))
    P, n = model.n_patients, model.n_states
    boluses = np.zeros((bp.size, P, n))
    rates = np.zeros((bp.size, P, n))
    for d in regimen.doses:
        vec, kind = model.dose_inputs(d, library)
        k0 = int(np.searchsorted(bp, d.time))
        if kind == "bolus":
            boluses[k0] += vec
        else:
            k1 = int(np.searchsorted(bp, d.time + d.duration))
            rates[k0:k1] += vec
    return Schedule(bp, boluses, rates)
