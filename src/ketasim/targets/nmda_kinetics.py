"""Detailed kinetic model of an NMDA receptor with Mg2+ block, drug pore block and GluN2B NAMs.

Gating (per GluN2 subunit; ``data/nmda_receptors.toml``): two glutamate binding steps, opening
and desensitisation, C0 <-> C1 <-> C2 <-> O and C2 <-> D (Lester & Jahr 1992, J Neurosci 12:635;
rates of Chen N et al. 2001, Mol Pharmacol 59:212 for GluN2A/2B). Glycine is taken as saturating.

The pore holds at most one occupant, so Mg2+ and drugs compete (Kotermanski & Johnson 2009):

- **Mg2+** binds the open channel with Kampa et al. 2004 (J Physiol 556:337) voltage-dependent
  rates, and agonist-bound closed or desensitised channels 1000x more slowly with the same
  affinity, so at saturating agonist Mg2+ competes with drugs in every state. Unliganded
  receptors (C0) hold no Mg2+ (assumption): the ion leaves with the agonist, and the reverse
  step (agonist binding with Mg2+ entry) has the rate detailed balance requires.
- **Deep site** (trapping): a protonated drug enters the open pore with Woodhull voltage
  dependence (charge +1, electrical distance ``delta``). Blocked channels gate like unblocked ones,
  so agonist can leave and the channel close around the drug: the drug is trapped (Blanpied 1997,
  J Neurophysiol 77:309; Mealing 1999, JPET 288:204). Closed channels are reached through the
  membrane (Orser 1997, Anesthesiology 86:903; Wilcox 2022, Nat Commun 13:4114) at a fraction of
  the open-pore rates equal to ``membrane_access`` x the drug's neutral fraction at pH 7.4, with
  the same affinity (so detailed balance holds on every cycle).
- **Superficial site** (optional, non-trapping; Kotermanski, Wood & Johnson 2009, J Physiol
  587:4589): reached in the open state only; a channel with a drug there cannot close (it must
  unbind first), so that fraction of the block is not trapped.
- **GluN2B negative allosteric modulators** bind outside the pore (amino-terminal domain) and
  lower the opening rate by ``nam_efficacy``; to keep detailed balance they unbind faster from
  open receptors by 1/(1 - efficacy). They act only on receptors whose subunit is GluN2B.

Rates here are in 1/s, concentrations in µM, voltage in mV. A state is (gating, pore, nam).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketasim.brain.partition import neutral_fraction
from ketasim.compounds import Species
from ketasim.errors import KetasimError
from ketasim.targets.receptor_data import PER_HOUR, Gating, ReceptorData, _normalise_subunit, receptor_data

GATING = ("C0", "C1", "C2", "O", "D")
RT_F = 25.7  # mV at about 25 degC (recordings at room temperature)
KAMPA_RT_F = 25.0  # mV, as in Kampa et al. 2004
PH_EXTRACELLULAR = 7.4


@dataclass(frozen=True)
class Blocker:
    """Pore-block parameters of one species at one subunit (1/s, µM, mV)."""

    name: str
    kd_ref: float  # µM at v_ref
    v_ref: float
    koff_ref: float  # 1/s at v_ref
    delta: float
    membrane: float  # closed-state access factor
    superficial_kd: float | None = None
    superficial_koff: float | None = None

    def rates(self, v: float, voltage_share: float) -> tuple[float, float]:
        """(kon in 1/(µM s), koff in 1/s) at membrane potential ``v`` (mV)."""
        kon_ref = self.koff_ref / self.kd_ref
        x = self.delta * (v - self.v_ref) / RT_F
        return kon_ref * math.exp(-voltage_share * x), self.koff_ref * math.exp((1 - voltage_share) * x)


@dataclass(frozen=True)
class Modulator:
    """GluN2B negative allosteric modulator (1/s, µM)."""

    name: str
    kd: float
    efficacy: float
    koff: float


def blocker_for(species: Species, subunit: str, data: ReceptorData | None = None) -> Blocker | None:
    """The pore-block parameters of ``species`` at ``subunit``, or None if it does not block."""
    data = data or receptor_data()
    n = species.nmda
    if "kd" not in n:
        return None
    sub = _normalise_subunit(subunit)
    key = f"kd_factor_{sub[-2:].lower()}"  # GluN2A is the reference (no factor)
    factor = n[key].value if key in n else 1.0
    pka = species.properties["pka"].value if "pka" in species.properties else None
    fn = float(neutral_fraction(species.ionization, pka, PH_EXTRACELLULAR))
    sup_kd = n["superficial_kd"].value * factor if "superficial_kd" in n else None
    sup_koff = n["superficial_koff"].value / PER_HOUR if "superficial_koff" in n else None
    return Blocker(
        name=species.id,
        kd_ref=n["kd"].value * factor,
        v_ref=n["v_ref"].value,
        koff_ref=n["koff"].value / PER_HOUR,
        delta=n["delta"].value,
        membrane=data.drug["membrane_access"] * fn,
        superficial_kd=sup_kd,
        superficial_koff=sup_koff,
    )


def modulator_for(species: Species, subunit: str) -> Modulator | None:
    """GluN2B NAM parameters of ``species`` if it has them and ``subunit`` is GluN2B."""
    n = species.nmda
    if "nam_kd" not in n or _normalise_subunit(subunit) != "GluN2B":
        return None
    koff = n["nam_koff"].value / PER_HOUR if "nam_koff" in n else 1.0
    return Modulator(species.id, n["nam_kd"].value, min(n["nam_efficacy"].value, 0.999), koff)


@dataclass(frozen=True)
class StateSpace:
    """Enumerated receptor states for a set of blockers and an optional NAM."""

    states: tuple[tuple[str, str, int], ...]  # (gating, pore occupant, nam bound)
    blockers: tuple[Blocker, ...]
    modulator: Modulator | None

    @property
    def index(self) -> dict[tuple[str, str, int], int]:
        return {s: i for i, s in enumerate(self.states)}

    def mask(
        self, gating: str | None = None, pore: str | None = None, prefix: str | None = None
    ) -> np.ndarray:
        return np.array(
            [
                (gating is None or g == gating)
                and (pore is None or p == pore)
                and (prefix is None or p.startswith(prefix))
                for g, p, _ in self.states
            ]
        )

    def blocked(self) -> np.ndarray:
        """Mask of states whose pore holds a drug (deep or superficial site)."""
        return self.mask(prefix="deep:") | self.mask(prefix="sup:")


def state_space(blockers: Sequence[Blocker], modulator: Modulator | None = None) -> StateSpace:
    pores = ["empty", "Mg"]
    for b in blockers:
        pores.append(f"deep:{b.name}")
        if b.superficial_kd is not None:
            pores.append(f"sup:{b.name}")
    nams = (0, 1) if modulator is not None else (0,)
    states = []
    for n in nams:
        for p in pores:
            for g in GATING:
                if p == "Mg" and g == "C0":
                    continue
                if p.startswith("sup:") and g != "O":
                    continue
                states.append((g, p, n))
    return StateSpace(tuple(states), tuple(blockers), modulator)


def mg_rates(v: float, gating: Gating, data: ReceptorData) -> tuple[float, float]:
    """Open-channel Mg2+ (kon per µM, koff) at ``v`` mV for a subunit (Kampa et al. 2004 form)."""
    mg = data.mg
    kon = mg["kon_40"] * math.exp(-2 * mg["delta_on"] * (v - 40) / KAMPA_RT_F)
    koff = mg["koff_40"] * math.exp(2 * mg["delta_off"] * (v - 40) / KAMPA_RT_F) * gating.mg_factor
    return kon, koff


def generator(
    space: StateSpace,
    gating: Gating,
    glutamate_um: float,
    drug_um: Sequence[float],
    mg_mm: float,
    v_mv: float,
    data: ReceptorData | None = None,
    nam_um: float = 0.0,
) -> np.ndarray:
    """Transition-rate matrix Q (1/s) with dp/dt = Q p; columns sum to zero."""
    data = data or receptor_data()
    if len(drug_um) != len(space.blockers):
        raise KetasimError("one concentration per blocker is needed", argument="drug_um")
    if glutamate_um < 0 or mg_mm < 0 or nam_um < 0 or any(c < 0 for c in drug_um):
        raise KetasimError("concentrations must be zero or positive", argument="concentration")
    idx = space.index
    n = len(space.states)
    Q = np.zeros((n, n))

    def add(src, dst, rate):
        if rate > 0 and src in idx and dst in idx:
            Q[idx[dst], idx[src]] += rate

    g_ = gating
    eff = space.modulator.efficacy if space.modulator else 0.0
    mg_on, mg_off = mg_rates(v_mv, gating, data)
    mg_c = mg_mm * 1000.0
    ca = data.mg["closed_access"]
    vs = data.drug["voltage_share"]
    for g, p, nb in space.states:
        s = (g, p, nb)
        # gating (same in every pore state; a superficial blocker holds the channel open)
        if not p.startswith("sup:"):
            ro = g_.ro * ((1 - eff) if nb else 1.0)
            trans = {
                "C0": [("C1", 2 * g_.rb * glutamate_um)],
                "C1": [("C0", g_.ru), ("C2", g_.rb * glutamate_um)],
                "C2": [("C1", 2 * g_.ru), ("O", ro), ("D", g_.rd)],
                "O": [("C2", g_.rc)],
                "D": [("C2", g_.rr)],
            }[g]
            for g2, rate in trans:
                add(s, (g2, p, nb), rate)
            # Unliganded receptors hold no Mg2+: agonist leaves a Mg2+-bound C1 together with the ion,
            # and the reverse step loads Mg2+ with the first agonist (rate fixed by detailed balance).
            if p == "Mg" and g == "C1":
                add(s, ("C0", "empty", nb), g_.ru)
            if p == "empty" and g == "C0" and mg_c > 0:
                add(s, ("C1", "Mg", nb), 2 * g_.rb * glutamate_um * mg_on * mg_c / mg_off)
        # pore occupancy changes from / to empty
        if p == "empty":
            if g != "C0":
                f = 1.0 if g == "O" else ca
                add(s, (g, "Mg", nb), f * mg_on * mg_c)
            for b, c in zip(space.blockers, drug_um, strict=True):
                kon, _ = b.rates(v_mv, vs)
                f = 1.0 if g == "O" else b.membrane
                add(s, (g, f"deep:{b.name}", nb), f * kon * c)
                if b.superficial_kd is not None and g == "O":
                    add(s, (g, f"sup:{b.name}", nb), b.superficial_koff / b.superficial_kd * c)
        elif p == "Mg":
            add(s, (g, "empty", nb), (1.0 if g == "O" else ca) * mg_off)
        elif p.startswith("deep:"):
            b = next(b for b in space.blockers if f"deep:{b.name}" == p)
            _, koff = b.rates(v_mv, vs)
            add(s, (g, "empty", nb), (1.0 if g == "O" else b.membrane) * koff)
        elif p.startswith("sup:"):
            b = next(b for b in space.blockers if f"sup:{b.name}" == p)
            add(s, (g, "empty", nb), b.superficial_koff)
        # allosteric modulator
        m = space.modulator
        if m is not None:
            koff_open = m.koff / (1 - m.efficacy)
            if nb == 0:
                add(s, (g, p, 1), m.koff / m.kd * nam_um)
            else:
                add(s, (g, p, 0), koff_open if g == "O" else m.koff)
    Q -= np.diag(Q.sum(axis=0))
    return Q


def steady_state(Q: np.ndarray) -> np.ndarray:
    """Stationary distribution p (Q p = 0, sum p = 1): one balance equation replaced by normalisation."""
    n = Q.shape[0]
    A = Q.copy()
    A[-1, :] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    p = np.linalg.solve(A, b)
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def periodic_state(phi: np.ndarray) -> np.ndarray:
    """Distribution left unchanged by one period's propagator ``phi`` (its eigenvector of eigenvalue 1)."""
    w, vecs = np.linalg.eig(phi)
    p = np.real(vecs[:, int(np.argmin(np.abs(w - 1.0)))])
    p = np.clip(p / p.sum(), 0.0, None)
    return p / p.sum()
