"""The NMDA EPSC of a cell type's subunit mix, as measured in slices, and the subunit shares fitted to it.

A cell type's NMDA receptors are a mix of GluN2 subunits (``data/cell_types.toml``, fractions of
receptors). What slice recordings measure is the current those receptors carry after a synaptic
release event: the fraction of the NMDA EPSC removed by a saturating GluN2B-selective antagonist and
the EPSC decay. This module computes both from the detailed receptor model
(:mod:`ketasim.targets.nmda_kinetics`): one release event (``[synapse]`` glutamate pulse of
``data/nmda_receptors.toml``) on drug-free receptors in 0 Mg2+ (NMDA EPSCs are isolated at +40 mV
or in Mg2+-free solution), every subunit with the same unitary conductance (the smaller GluN2C/2D
conductances are not modelled). The GluN2B antagonist is a compound's negative allosteric modulator
pre-equilibrated at a saturating concentration, so its incomplete efficacy counts.

Functions:

- :func:`waveforms`: open probability per receptor of each subunit after one release event;
- :func:`nam_sensitive_fraction`: fraction of the EPSC peak removed by the GluN2B modulator;
- :func:`weighted_decay_ms`: area of the EPSC after its peak divided by the peak;
- :func:`fit_glun2b_share`, :func:`max_glun2d_share`: the shares fitted to these measurements
  (``python -m ketasim.targets.cell_epsc`` prints them; docs/sources/cell_types.md names the data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import expm
from scipy.optimize import brentq

from ketasim.errors import KetasimError
from ketasim.targets import ephys
from ketasim.targets.nmda_kinetics import generator, state_space, steady_state
from ketasim.targets.receptor_data import receptor_data

STEP_MS = 0.25  # grid on which the EPSC peak is searched
PEAK_WINDOW_MS = 1000.0
HORIZON_S = 60.0  # areas are integrated exactly to here (GluN2D deactivates over seconds)
SATURATING_FACTOR = 1000.0  # modulator concentration as a multiple of its Kd

# Calibration data (docs/sources/cell_types.md). Fraction of the NMDA/AMPA ratio of layer 4 -> 2/3
# synapses onto PV interneurons removed by ifenprodil at P45 (wild type; 0.63 control, 0.46 ifenprodil;
# Mierau SB, Patrizi A, Hensch TK, Fagiolini M 2016, Biol Psychiatry 79:746, Table 2).
PV_IFENPRODIL_FRACTION = 1.0 - 0.46 / 0.63
# GluN2D-lacking interneurons (Grin2d-/-) show no faster NMDA EPSC decay than wild type (Perszyk RE et al.
# 2016, Mol Pharmacol 90:689): the GluN2D share may slow the EPSC decay by at most this fraction
# (assumed detection limit of a between-group comparison of decay time constants).
GLUN2D_MAX_SLOWING = 0.2
GLUN2B_NAM = "ro-25-6981"


@dataclass(frozen=True)
class Waveform:
    """Open probability per receptor after one release event on a ``STEP_MS`` grid, and exact areas."""

    po: np.ndarray  # (steps,) open probability
    area_after: np.ndarray  # (steps,) ∫ Po from each grid time to HORIZON_S (ms)


@lru_cache(maxsize=32)
def _waveform(subunit: str, compound: str | None) -> Waveform:
    data = receptor_data()
    syn = data.synapse
    ag = ephys.agents(compound, subunit) if compound else ephys.Agents(state_space(()), (), 0.0)
    nam = SATURATING_FACTOR * ag.space.modulator.kd if ag.space.modulator else 0.0
    gating = data.subunit(subunit)
    drug = [0.0] * len(ag.space.blockers)
    q_rest = generator(ag.space, gating, 0.0, drug, 0.0, -60.0, data, nam_um=nam)
    q_pulse = generator(ag.space, gating, syn["glutamate_peak"], drug, 0.0, -60.0, data, nam_um=nam)
    is_open = ag.space.mask(gating="O", pore="empty").astype(float)
    p = steady_state(q_rest)  # pre-equilibrated with the modulator, no agonist
    p = expm(q_pulse * syn["pulse_duration"]) @ p
    n = len(p)
    step = expm(q_rest * STEP_MS / 1000.0)
    states = [p]
    for _ in range(round(PEAK_WINDOW_MS / STEP_MS)):
        states.append(step @ states[-1])
    P = np.array(states)
    M = np.zeros((n + 1, n + 1))
    M[:n, :n] = q_rest
    M[n, :n] = is_open
    row = expm(M * HORIZON_S)[n, :n]
    return Waveform(P @ is_open, 1000.0 * (P @ row))


def waveforms(subunit: str, compound: str | None = None) -> Waveform:
    """Drug-free (or modulator-bound, with ``compound``) response of one subunit to one release event."""
    return _waveform(subunit, compound)


def _check(mix: Mapping[str, float]) -> None:
    if not mix or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise KetasimError("a subunit mix needs non-negative shares with a positive sum", argument="mix")


def _epsc(mix: Mapping[str, float], nam: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    po = sum(f * waveforms(s, nam if s == "GluN2B" else None).po for s, f in mix.items())
    area = sum(f * waveforms(s, nam if s == "GluN2B" else None).area_after for s, f in mix.items())
    return np.asarray(po), np.asarray(area)


def nam_sensitive_fraction(mix: Mapping[str, float], compound: str = GLUN2B_NAM) -> float:
    """Fraction of the NMDA EPSC peak removed by ``compound`` (a GluN2B modulator) at saturation."""
    _check(mix)
    control, _ = _epsc(mix)
    drug, _ = _epsc(mix, compound)
    return float(1.0 - drug.max() / control.max())


def weighted_decay_ms(mix: Mapping[str, float]) -> float:
    """Weighted decay time constant (ms) of the NMDA EPSC: area after the peak / peak."""
    _check(mix)
    po, area = _epsc(mix)
    k = int(np.argmax(po))
    return float(area[k] / po[k])


def charge_shares(mix: Mapping[str, float]) -> dict[str, float]:
    """Share of the EPSC charge (one release event, 0 Mg2+) carried by each subunit."""
    _check(mix)
    q = {s: f * waveforms(s).area_after[0] for s, f in mix.items()}
    total = sum(q.values())
    return {s: v / total for s, v in q.items()}


def fit_glun2b_share(target: float, rest: Mapping[str, float], compound: str = GLUN2B_NAM) -> float:
    """GluN2B share x such that x GluN2B + (1 - x) ``rest`` (normalised) gives the NAM-sensitive
    fraction ``target`` of the EPSC peak."""
    total = sum(rest.values())
    if "GluN2B" in rest or total <= 0:
        raise KetasimError("rest must hold the other subunits' shares", argument="rest")

    def mix(x: float) -> dict[str, float]:
        return {"GluN2B": x, **{s: (1 - x) * f / total for s, f in rest.items()}}

    if not 0 < target < nam_sensitive_fraction({"GluN2B": 1.0}, compound):
        raise KetasimError(f"NAM-sensitive fraction {target} cannot be reached", argument="target")
    return float(brentq(lambda x: nam_sensitive_fraction(mix(x), compound) - target, 0.0, 1.0, xtol=1e-10))


def max_glun2d_share(base: Mapping[str, float], slowing: float = GLUN2D_MAX_SLOWING) -> float:
    """Largest GluN2D share s such that s GluN2D + (1 - s) ``base`` slows the EPSC decay of ``base``
    by the fraction ``slowing``."""
    if "GluN2D" in base or not slowing > 0:
        raise KetasimError("base must lack GluN2D and the slowing be positive", argument="base")
    total = sum(base.values())
    tau0 = weighted_decay_ms(base)

    def f(s: float) -> float:
        mix = {"GluN2D": s, **{k: (1 - s) * v / total for k, v in base.items()}}
        return weighted_decay_ms(mix) / tau0 - 1.0 - slowing

    return float(brentq(f, 0.0, 1.0, xtol=1e-12))


def _with_glun2d(base: Mapping[str, float], d: float) -> dict[str, float]:
    total = sum(base.values())
    return {**{k: (1 - d) * v / total for k, v in base.items()}, "GluN2D": d}


def _nam_gap(b: float, d: float, target: float) -> float:
    return nam_sensitive_fraction({"GluN2A": 1 - d - b, "GluN2B": b, "GluN2D": d}) - target


def fit_pv_shares(
    target: float = PV_IFENPRODIL_FRACTION, slowing: float = GLUN2D_MAX_SLOWING, tol: float = 1e-10
) -> dict[str, float]:
    """PV mix: GluN2D at the largest share that slows the GluN2A/2B EPSC decay by ``slowing``, GluN2B
    such that the whole mix gives the NAM-sensitive fraction ``target`` (alternating until both hold)."""
    d = 0.0
    for _ in range(50):
        b = brentq(_nam_gap, 0.0, 1.0 - d, args=(d, target), xtol=1e-12)
        base = {"GluN2A": 1 - d - b, "GluN2B": b}
        d_new = max_glun2d_share(base, slowing)
        if abs(d_new - d) < tol:
            return _with_glun2d(base, d_new)
        d = d_new
    raise RuntimeError("PV subunit fit did not converge")  # pragma: no cover


def fit_sst_shares(pyramidal: Mapping[str, float], slowing: float = GLUN2D_MAX_SLOWING) -> dict[str, float]:
    """SST mix: the pyramidal GluN2A/2B ratio with GluN2D at its largest share consistent with ``slowing``."""
    base = {s: pyramidal[s] for s in ("GluN2A", "GluN2B") if s in pyramidal}
    return _with_glun2d(base, max_glun2d_share(base, slowing))


def fitted_shares() -> dict[str, dict[str, float]]:
    """The interneuron subunit shares of data/cell_types.toml recomputed from their calibration data.

    PV: GluN2A/2B fitted to the ifenprodil-sensitive fraction of the EPSC (Mierau 2016) together with
    the largest GluN2D share consistent with no detectable slowing of the decay (Perszyk 2016). SST:
    the pyramidal GluN2A/2B mix (low-threshold-spiking interneurons resemble layer 2/3 pyramidal
    cells; no SST-specific antagonist fraction was found) with the same GluN2D bound.
    """
    from ketasim.targets.cell_types import cell_types

    return {"pv": fit_pv_shares(), "sst": fit_sst_shares(cell_types()["pyramidal"].subunits)}


if __name__ == "__main__":  # pragma: no cover - calibration printout
    for name, mix in fitted_shares().items():
        print(name, {k: round(v, 4) for k, v in mix.items()})
