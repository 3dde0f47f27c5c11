"""Virtual electrophysiology on the detailed NMDA receptor model.

Protocols (each a pure function of the compound, the receptor subunit and the conditions):

- :func:`ic50`: steady-state current in saturating glutamate at a holding potential, with and
  without drug in the same Mg2+; the concentration halving it (Kotermanski & Johnson 2009 design).
- :func:`trapping`: block to steady state in agonist, wash agonist and drug out for 120 s, and report
  the fraction of the block still present (Mealing et al. 1999, JPET 288:204 design).
- :func:`resting_block`: spontaneous, mEPSC-like glutamate pulses at rest in Mg2+; the fraction of
  the resting NMDA charge the drug removes at periodic steady state (Gideons et al. 2014, PNAS
  111:8649 design). By default the drug is applied at its 0-Mg2+ IC50 at the same potential.
- :func:`pulse_response`: a brief pulse of saturating glutamate on drug-free receptors, as in the
  single-channel and fast-application recordings of Erreger et al. 2005 (J Physiol 563:345): the
  peak open probability, the weighted deactivation time constant and the open time per receptor.

A compound that is a mixture (racemic ketamine) contributes each component at its share of the
concentration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm
from scipy.optimize import brentq

from ketasim.compounds import Library, Species, default_library
from ketasim.errors import KetasimError
from ketasim.targets.nmda_kinetics import (
    StateSpace,
    blocker_for,
    generator,
    modulator_for,
    periodic_state,
    state_space,
    steady_state,
)
from ketasim.targets.receptor_data import ReceptorData, receptor_data

SATURATING_GLUTAMATE_UM = 1000.0


@dataclass(frozen=True)
class Agents:
    """The blockers and NAM a compound brings to one subunit, with their concentration shares.

    ``data`` holds the receptor parameters used (the packaged ones unless a calibration overrides).
    """

    space: StateSpace
    shares: tuple[float, ...]  # blocker concentration per µM of compound
    nam_share: float
    data: ReceptorData | None = None

    def drug(self, conc_um: float) -> list[float]:
        return [s * conc_um for s in self.shares]


def agents(
    compound: str | Agents, subunit: str, library: Library | None = None, data: ReceptorData | None = None
) -> Agents:
    """Blockers and modulator of ``compound`` at ``subunit`` (an :class:`Agents` passes through)."""
    if isinstance(compound, Agents):
        return compound
    library = library or default_library()
    data = data or receptor_data()
    comp = library.get(compound, "--compound")
    blockers, shares = [], []
    nam, nam_share = None, 0.0
    for sid, frac in comp.components.items():
        sp = library.compounds[sid]
        assert isinstance(sp, Species)
        b = blocker_for(sp, subunit, data)
        if b is not None:
            blockers.append(b)
            shares.append(frac)
        m = modulator_for(sp, subunit)
        if m is not None:
            if nam is not None:
                raise KetasimError("only one allosteric modulator per experiment", argument="--compound")
            nam, nam_share = m, frac
    return Agents(state_space(blockers, nam), tuple(shares), nam_share, data)


def _free_open(space: StateSpace) -> np.ndarray:
    return space.mask(gating="O", pore="empty").astype(float)


def _Q(ag: Agents, subunit: str, glu: float, conc: float, mg: float, v: float) -> np.ndarray:
    data = ag.data or receptor_data()
    return generator(
        ag.space, data.subunit(subunit), glu, ag.drug(conc), mg, v, data, nam_um=ag.nam_share * conc
    )


def current_ratio(
    compound: str | Agents,
    conc_um: float,
    subunit: str = "GluN2A",
    mg_mm: float = 0.0,
    v_mv: float = -66.0,
    library: Library | None = None,
) -> float:
    """Steady-state current in saturating glutamate with drug / without, in the same Mg2+."""
    ag = agents(compound, subunit, library)
    c = _free_open(ag.space)
    with_drug = c @ steady_state(_Q(ag, subunit, SATURATING_GLUTAMATE_UM, conc_um, mg_mm, v_mv))
    control = c @ steady_state(_Q(ag, subunit, SATURATING_GLUTAMATE_UM, 0.0, mg_mm, v_mv))
    return float(with_drug / control)


def _concentration_at(compound, block, subunit, mg_mm, v_mv, library) -> float | None:
    """Concentration giving a steady-state ``block`` of the current, or None if never reached."""

    def f(logc: float) -> float:
        return 1 - current_ratio(compound, 10.0**logc, subunit, mg_mm, v_mv, library) - block

    if f(5.0) < 0:
        return None
    return float(10.0 ** brentq(f, -6.0, 5.0, xtol=1e-6))


def ic50(
    compound: str | Agents,
    subunit: str = "GluN2A",
    mg_mm: float = 0.0,
    v_mv: float = -66.0,
    library: Library | None = None,
) -> float | None:
    """Concentration (µM) that halves the steady-state current; None if the compound cannot."""
    _check_conditions(mg_mm, v_mv)
    return _concentration_at(compound, 0.5, subunit, mg_mm, v_mv, library)


def concentration_for_block(
    compound: str | Agents,
    block: float,
    subunit: str,
    mg_mm: float,
    v_mv: float,
    library: Library | None = None,
) -> float:
    """Concentration (µM) giving a steady-state ``block`` (0-1); an error if it cannot be reached."""
    c = _concentration_at(compound, block, subunit, mg_mm, v_mv, library)
    if c is None:
        raise KetasimError(f"'{compound}' cannot reach {block:.0%} block", argument="--compound")
    return c


def _blocked(space: StateSpace, p: np.ndarray) -> float:
    return float(p[space.blocked()].sum())


def trapping(
    compound: str | Agents,
    subunit: str = "GluN2A",
    mg_mm: float = 0.0,
    v_mv: float = -60.0,
    conc_um: float | None = None,
    wash_s: float = 120.0,
    library: Library | None = None,
) -> dict[str, float]:
    """Fraction of the block that survives ``wash_s`` of washout without agonist or drug.

    The drug is applied with saturating glutamate at ``conc_um`` (default: the concentration that
    blocks 80% at steady state, as in Mealing 1999) until steady state.
    """
    _check_conditions(mg_mm, v_mv)
    ag = agents(compound, subunit, library)
    if not ag.space.blockers:
        raise KetasimError(f"'{compound}' has no pore-block parameters", argument="--compound")
    c = (
        conc_um
        if conc_um is not None
        else concentration_for_block(compound, 0.8, subunit, mg_mm, v_mv, library)
    )
    p_block = steady_state(_Q(ag, subunit, SATURATING_GLUTAMATE_UM, c, mg_mm, v_mv))
    p_wash = expm(_Q(ag, subunit, 0.0, 0.0, mg_mm, v_mv) * wash_s) @ p_block
    before = _blocked(ag.space, p_block)
    return {
        "trapped_fraction": _blocked(ag.space, p_wash) / before,
        "conc_um": c,
        "block_before_wash": before,
    }


def _period(Q_pulse: np.ndarray, Q_rest: np.ndarray, c: np.ndarray, pulse_s: float, period_s: float):
    """Periodic steady state and the charge (∫ c·p dt) per period, exactly, by augmented expm."""
    n = Q_pulse.shape[0]

    def seg(Q, h):
        M = np.zeros((n + 1, n + 1))
        M[:n, :n] = Q
        M[n, :n] = c
        E = expm(M * h)
        return E[:n, :n], E[n, :n]

    Ep, qp = seg(Q_pulse, pulse_s)
    Er, qr = seg(Q_rest, period_s - pulse_s)
    p0 = periodic_state(Er @ Ep)
    charge = qp @ p0 + qr @ (Ep @ p0)
    return p0, float(charge)


def resting_block(
    compound: str | Agents,
    subunit: str = "GluN2B",
    mg_mm: float = 1.0,
    v_mv: float | None = None,
    conc_um: float | None = None,
    rate_hz: float | None = None,
    library: Library | None = None,
) -> dict[str, float]:
    """Fraction of the resting (spontaneous-release) NMDA charge removed at periodic steady state."""
    ag = agents(compound, subunit, library)
    syn = (ag.data or receptor_data()).synapse
    v = syn["resting_potential"] if v_mv is None else v_mv
    rate = syn["resting_event_rate"] if rate_hz is None else rate_hz
    _check_conditions(mg_mm, v)
    if not rate > 0:
        raise KetasimError("event rate must be positive", argument="--rate")
    c = conc_um if conc_um is not None else ic50(compound, subunit, 0.0, v, library)
    if c is None:
        raise KetasimError(f"'{compound}' never halves the current; give --conc", argument="--conc")
    mask = _free_open(ag.space)
    pulse, period = syn["pulse_duration"], 1.0 / rate
    glu = syn["glutamate_peak"]

    def charge(conc):
        return _period(
            _Q(ag, subunit, glu, conc, mg_mm, v), _Q(ag, subunit, 0.0, conc, mg_mm, v), mask, pulse, period
        )

    p_drug, q_drug = charge(c)
    _, q_ctrl = charge(0.0)
    return {
        "resting_block": 1 - q_drug / q_ctrl,
        "conc_um": c,
        "rate_hz": rate,
        "v_mv": v,
        "blocked_receptors": _blocked(ag.space, p_drug),
    }


def pulse_response(
    subunit: str,
    data: ReceptorData | None = None,
    pulse_ms: float = 5.0,
    glutamate_um: float = SATURATING_GLUTAMATE_UM,
    step_ms: float = 0.25,
    horizon_s: float = 30.0,
) -> dict[str, float]:
    """Open probability of drug-free receptors (0 Mg2+) after a ``pulse_ms`` pulse of glutamate.

    Returns the peak open probability (searched on a ``step_ms`` grid over the first second), the
    weighted deactivation time constant (area under the open probability from its peak divided by the
    peak, ms) and the open time per receptor (area under the whole waveform over ``horizon_s``, ms: the
    charge a receptor carries per pulse in units of its unitary current). Areas are exact (augmented expm).
    """
    if not 0 < pulse_ms < 1000 or not 0 < step_ms <= pulse_ms or not glutamate_um > 0:
        raise KetasimError("pulse and step must be positive (step <= pulse)", argument="pulse_ms")
    data = data or receptor_data()
    space = state_space(())
    gating = data.subunit(subunit)
    dt = step_ms / 1000.0
    q_on = generator(space, gating, glutamate_um, [], 0.0, -60.0, data)
    q_off = generator(space, gating, 0.0, [], 0.0, -60.0, data)
    is_open = _free_open(space)

    def area(Q: np.ndarray, p: np.ndarray, seconds: float) -> tuple[np.ndarray, float]:
        n = len(p)
        M = np.zeros((n + 1, n + 1))
        M[:n, :n] = Q
        M[n, :n] = is_open
        E = expm(M * seconds)
        return E[:n, :n] @ p, float(E[n, :n] @ p)

    p = np.zeros(len(space.states))
    p[space.index[("C0", "empty", 0)]] = 1.0
    p, during = area(q_on, p, pulse_ms / 1000.0)
    step = expm(q_off * dt)
    states, po = [p], [float(is_open @ p)]
    for _ in range(round(1.0 / dt)):
        states.append(step @ states[-1])
        po.append(float(is_open @ states[-1]))
    k = int(np.argmax(po))
    _, after_peak = area(q_off, states[k], horizon_s)
    _, after_pulse = area(q_off, states[0], horizon_s)
    return {
        "peak_open_probability": po[k],
        "deactivation_tau_ms": 1000.0 * after_peak / po[k],
        "open_time_ms": 1000.0 * (during + after_pulse),
    }


def _check_conditions(mg_mm: float, v_mv: float) -> None:
    if not np.isfinite(mg_mm) or mg_mm < 0 or mg_mm > 100:
        raise KetasimError(f"Mg2+ must be between 0 and 100 mM, got {mg_mm}", argument="--mg")
    if not np.isfinite(v_mv) or not -150 <= v_mv <= 100:
        raise KetasimError(f"voltage must be between -150 and 100 mV, got {v_mv}", argument="--voltage")
