"""Reduced NMDA receptor block for the whole-patient simulation.

The detailed model (:mod:`ketasim.targets.nmda_kinetics`) resolves milliseconds; a patient
simulation spans weeks. Because drug binding and unbinding are slow compared with gating, the
blocked fraction ``b_i`` of each drug obeys, to a good approximation, a two-state equation whose
rates are the detailed rates averaged over the gating and Mg2+ occupancy of drug-free receptors
under the prevailing activity (time scale separation):

    db_i/dt = kon_i(V) * C_i * (P_open,free + a_i * P_closed,free) * (1 - sum_j b_j)
              - koff_i(V) * (P_open + a_i * (1 - P_open)) * b_i

with ``a_i`` the closed-state (membrane) access factor. ``P_open,free`` and ``P_closed,free``
are the time-averaged fractions of drug-free receptors that are open or closed with an empty pore
(Mg2+-occupied receptors cannot bind); ``P_open`` is the open fraction of a blocked receptor,
which gates like a receptor in Mg2+-free solution (its pore holds the drug, not Mg2+).

:func:`effective_rates` gives these averages; :func:`per_period_rates` (used by
:func:`steady_block`) instead takes the rates per release period from the detailed model, which
keeps the correlation between release events and gating and is the more accurate reduction.
Both come from the same parameters as the detailed model; nothing is fitted here. A test checks
the reduced steady state against the detailed periodic steady state (within 5 percentage points).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import expm

from ketasim.targets.nmda_kinetics import Blocker, generator, periodic_state, state_space
from ketasim.targets.receptor_data import receptor_data


@dataclass(frozen=True)
class Occupancy:
    """Time-averaged state fractions of drug-free receptors under periodic activity."""

    open_free: float
    closed_free: float
    open_gating: float


@lru_cache(maxsize=4096)
def activity_averages(subunit: str, rate_hz: float, v_mv: float, mg_mm: float) -> Occupancy:
    """Averages over one period of glutamate pulses (``rate_hz``; 0 means no release)."""
    data = receptor_data()
    syn = data.synapse
    space = state_space(())
    gating = data.subunit(subunit)
    is_open = space.mask(gating="O").astype(float)
    open_free = space.mask(gating="O", pore="empty").astype(float)
    empty = space.mask(pore="empty").astype(float)
    closed_free = empty - open_free
    Qr = generator(space, gating, 0.0, [], mg_mm, v_mv)
    n = Qr.shape[0]
    if rate_hz <= 0:
        p = np.zeros(n)
        p[space.index[("C0", "empty", 0)]] = 1.0
        return Occupancy(0.0, 1.0, 0.0)
    Qp = generator(space, gating, syn["glutamate_peak"], [], mg_mm, v_mv)
    pulse, period = syn["pulse_duration"], 1.0 / rate_hz
    C = np.vstack([open_free, closed_free, is_open])

    def seg(Q, h):
        M = np.zeros((n + 3, n + 3))
        M[:n, :n] = Q
        M[n:, :n] = C
        E = expm(M * h)
        return E[:n, :n], E[n:, :n]

    Ep, ip = seg(Qp, pulse)
    Er, ir = seg(Qr, period - pulse)
    p0 = periodic_state(Er @ Ep)
    avg = (ip @ p0 + ir @ (Ep @ p0)) / period
    open_gating = float(avg[2]) if mg_mm == 0 else activity_averages(subunit, rate_hz, v_mv, 0.0).open_gating
    return Occupancy(float(avg[0]), float(avg[1]), open_gating)


def effective_rates(blocker: Blocker, occ: Occupancy, v_mv: float) -> tuple[float, float]:
    """(binding rate per µM, unbinding rate), both in 1/s, of the reduced two-state model."""
    kon, koff = blocker.rates(v_mv, receptor_data().drug["voltage_share"])
    a = blocker.membrane
    return kon * (occ.open_free + a * occ.closed_free), koff * (occ.open_gating + a * (1 - occ.open_gating))


@lru_cache(maxsize=4096)
def per_period_rates(
    blocker: Blocker, subunit: str, rate_hz: float, v_mv: float, mg_mm: float
) -> tuple[float, float]:
    """(binding rate per µM, unbinding rate) in 1/s, taken per release period from the detailed model.

    Unlike :func:`effective_rates` this keeps the correlation between release events and gating: the
    unbinding rate is the decay, over one period without drug, of receptors blocked as at steady
    state; the binding rate follows from the periodic steady state at a trace concentration.
    """
    data = receptor_data()
    if rate_hz <= 0:
        kon, koff = blocker.rates(v_mv, data.drug["voltage_share"])
        return kon * blocker.membrane, koff * blocker.membrane
    syn = data.synapse
    space = state_space((blocker,))
    gating = data.subunit(subunit)
    blocked = space.blocked().astype(float)
    pulse, period = syn["pulse_duration"], 1.0 / rate_hz
    c0 = 1e-3 * blocker.kd_ref

    def propagator(c):
        Ep = expm(generator(space, gating, syn["glutamate_peak"], [c], mg_mm, v_mv) * pulse)
        Er = expm(generator(space, gating, 0.0, [c], mg_mm, v_mv) * (period - pulse))
        return Er @ Ep

    p = periodic_state(propagator(c0))
    b = float(blocked @ p)
    start = p * blocked / b
    survive = float(blocked @ (propagator(0.0) @ start))
    off = -np.log(survive) / period
    on = off * b / ((1 - b) * c0)
    return float(on), float(off)


def steady_block(
    blockers: list[Blocker], conc_um: list[float], subunit: str, rate_hz: float, v_mv: float, mg_mm: float
) -> np.ndarray:
    """Steady blocked fraction of each drug (competitive for the pore)."""
    ratios = []
    for b, c in zip(blockers, conc_um, strict=True):
        on, off = per_period_rates(b, subunit, rate_hz, v_mv, mg_mm)
        ratios.append(on * c / off if off > 0 else np.inf)
    r = np.array(ratios)
    return r / (1 + r.sum())


def block_rhs(b: np.ndarray, conc_um: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """db/dt (1/s) for blocked fractions ``b`` (..., drugs); pure, vectorised over patients."""
    free = 1 - b.sum(axis=-1, keepdims=True)
    return on * conc_um * free - off * b


# Equations of the NMDA receptor block scale, for the generated methods document (ketasim.methods_doc).
# ``code`` names the function that implements each one; tests/test_methods_doc.py checks several.
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Mg2+ block rates",
        "latex": r"k_{on}^{Mg}(V) = k_{on,40}\, e^{-2\delta_{on}(V - 40)/25\,\mathrm{mV}},\quad "
        r"k_{off}^{Mg}(V) = k_{off,40}\, e^{\,2\delta_{off}(V - 40)/25\,\mathrm{mV}}\, m_s",
        "meaning": "Open-channel Mg2+ entry and exit (m_s: subunit factor on exit); the Mg2+-free open "
        "fraction at equilibrium is 1 / (1 + [Mg] k_on / k_off).",
        "source": "Kampa BM et al. 2004, J Physiol 556:337; values in data/nmda_receptors.toml [mg]",
        "code": "ketasim.targets.nmda_kinetics.mg_rates",
    },
    {
        "name": "Drug pore block rates (Woodhull)",
        "latex": r"k_{on}(V) = \frac{k_{off,ref}}{K_{d,ref}}\, e^{-s\,\delta (V - V_{ref})/(RT/F)},\quad "
        r"k_{off}(V) = k_{off,ref}\, e^{(1 - s)\,\delta (V - V_{ref})/(RT/F)}",
        "meaning": "A protonated drug (charge +1) senses the fraction delta of the field; s is the share "
        "of the voltage dependence on entry; RT/F = 25.7 mV.",
        "source": "Woodhull AM 1973, J Gen Physiol 61:687; values in data/compounds/*.toml [nmda]",
        "code": "ketasim.targets.nmda_kinetics.Blocker.rates",
    },
    {
        "name": "Reduced two-state block",
        "latex": r"\frac{db_i}{dt} = k_{on,i}(V)\, C_i \left(\bar P_{O,free} + a_i \bar P_{C,free}\right)"
        r"\Big(1 - \sum_j b_j\Big) - k_{off,i}(V) \left(\bar P_O + a_i (1 - \bar P_O)\right) b_i",
        "meaning": "Blocked fraction of drug i, with rates averaged over gating and Mg2+ occupancy of "
        "drug-free receptors under the cell's activity (time-scale separation); a_i is membrane access.",
        "source": "Reduction of the detailed model (ketasim.targets.nmda_kinetics); nothing fitted",
        "code": "ketasim.targets.nmda_reduced.effective_rates",
    },
    {
        "name": "Rates per release period",
        "latex": r"k_{off} = -\frac{\ln s_T}{T},\qquad k_{on} = \frac{k_{off}\, b^*}{(1 - b^*)\, c_0}",
        "meaning": "Used in the patient: s_T is the fraction of steady-state-blocked receptors still "
        "blocked after one release period T without drug; b* the periodic steady block at a trace "
        "concentration c_0 (keeps the correlation between release and gating).",
        "source": "Computed from the detailed model; nothing fitted",
        "code": "ketasim.targets.nmda_reduced.per_period_rates",
    },
    {
        "name": "Competitive steady block",
        "latex": r"b_i^{ss} = \frac{r_i}{1 + \sum_j r_j},\qquad r_i = \frac{k_{on,i} C_i}{k_{off,i}}",
        "meaning": "Species compete for one site in the pore.",
        "source": "Single-site competition",
        "code": "ketasim.targets.nmda_reduced.steady_block",
    },
)
