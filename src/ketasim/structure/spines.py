"""Spine density of prefrontal pyramidal neurons (pure equations; parameters in ``data/spines.toml``).

dS/dt = k_e phi (1 + F(x)) - k_e sigma P - sigma k_t (S - P)
dP/dt = k_e phi - k_e sigma P + k_c (S - P),        x = g [d - s_ref]_+,   F(x) = x / (1 + x / F_max)

with S the density relative to the healthy adult, P the part of it carried by persistent spines and
N = S - P the part carried by new spines that have not (yet) become persistent, k_e the elimination
rate of persistent spines (formation balances it in health), d the delivery of newly made synaptic
protein to synapses, s_ref the level the spines are adapted to, g the formation gain, F_max the
largest rise of formation (saturation), phi, sigma the formation and elimination factors of the
depressed state (1 when healthy), k_t the loss rate of new spines and k_c the rate at which they
become persistent. The corner of [.]_+ is rounded over
RAMP_WIDTH (:func:`ramp`) so that the stiff solvers keep their error control.

New spines are mostly transient: thin spines appear and disappear over a few days while persistent
spines last months (Holtmaat AJGD et al. 2005, Neuron 45:279), and only a fraction of the spines a
single ketamine dose adds persists (Phoumthipphavong V et al. 2016, eNeuro 3:e0133-15.2016). So the
extra formation enters the new pool N, which is lost within days unless consolidated; the persistent
pool P turns over at the (depression-dependent) elimination rate. (The persistent pool, not N, is the
second state: N starts at exactly 0 with a growing rate, which CVODE handles badly.)

Formation answers the delivery of new synaptic protein (in wild-type units) above s_ref, the drug-free
steady state with the subject's chronic (genetic) perturbations but without acute co-drugs: spines
form while mTORC1-dependent synthesis supplies new protein (rapamycin blocks both; Li N et al. 2010,
Science 329:959), not while an earlier supply merely remains at synapses. Lifelong
differences are taken as compensated by homeostatic plasticity (Turrigiano GG 2008, Cell 135:422),
which keeps knockout lines at a normal spine density; an acute inhibitor (rapamycin) lowers
synaptic protein below s_ref and so prevents formation. Ketamine raises formation, not elimination
(Phoumthipphavong 2016; Moda-Sava RN et al. 2019, Science 364:eaat8078), so spines come after the
synthesis burst; most of them are lost within days and a consolidated fraction lasts for weeks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from ketasim.kernel_cache import configure


def condition_factors(p: Mapping[str, float], depressed: bool) -> tuple[float, float]:
    """(formation factor, elimination factor) for the subject's condition."""
    if depressed:
        return p["depression.formation_factor"], p["depression.elimination_factor"]
    return 1.0, 1.0


def baseline_density(p: Mapping[str, float], depressed: bool) -> float:
    phi, sigma = condition_factors(p, depressed)
    return phi / sigma


def spine_rate(
    S: np.ndarray,
    persistent: np.ndarray,
    delivery: np.ndarray,
    reference: np.ndarray,
    p: Mapping[str, float],
    depressed: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(dS/dt, dP/dt) (1/h) for density ``S``, its persistent part ``persistent``, the delivery of new
    synaptic protein ``delivery`` and its adapted level ``reference``."""
    phi, sigma = condition_factors(p, depressed)
    args = (
        p["turnover.elimination"],
        phi,
        sigma,
        p["turnover.formation_gain"],
        p["turnover.formation_max"],
        p["turnover.new_spine_loss"],
        p["turnover.new_spine_consolidation"],
    )
    rows = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (S, persistent, delivery, reference)))
    out = [turnover(*(float(a) for a in x), *args) for x in zip(*(r.ravel() for r in rows), strict=True)]
    shape = rows[0].shape
    return np.array([o[0] for o in out]).reshape(shape), np.array([o[1] for o in out]).reshape(shape)


# Width (in units of the wild-type delivery of synaptic protein) over which the formation threshold at
# s_ref is rounded: a numerical regularisation, not a biological parameter. A corner in the right-hand side
# defeats the error control of the compiled extrapolation solver when the delivery of new protein crosses
# s_ref (tests/test_engine.py, tight-tolerance check); 0.001 is a fiftieth of the excess after ketamine
# 0.5 mg/kg in humans (0.055) and changes the trial's response rates by under 0.03.
RAMP_WIDTH = 0.001


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def ramp(x, width):
    """Positive part of ``x`` with its corner rounded over ``width``: 0 below 0, x^2 / (2 w) up to w, then
    x - w / 2 (continuous with its first derivative)."""
    if x <= 0.0:
        return 0.0
    if x < width:
        return x * x / (2.0 * width)
    return x - 0.5 * width


@njit(cache=True)
def turnover(S, persistent, delivery, reference, k, phi, sigma, gain, formation_max, loss, consolidation):
    """(dS/dt, dP/dt) for scalars (compiled): extra formation k phi F(g ramp(d - s_ref)) adds new spines
    N = S - P, which are lost at sigma ``loss`` or become persistent at ``consolidation``; persistent
    spines P turn over at k sigma."""
    drive = gain * ramp(delivery - reference, RAMP_WIDTH)
    extra = k * phi * drive / (1.0 + drive / formation_max)
    new = S - persistent
    d_total = k * phi + extra - k * sigma * persistent - sigma * loss * new
    d_persistent = k * phi - k * sigma * persistent + consolidation * new
    return d_total, d_persistent


# Equations of the structure scale, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Spine turnover",
        "latex": r"\frac{dS}{dt} = k_e \phi \left(1 + \mathcal F\right) - k_e \sigma P - \sigma k_t (S - P),"
        r"\quad \frac{dP}{dt} = k_e \phi - k_e \sigma P + k_c (S - P),\quad "
        r"\mathcal F = \frac{x}{1 + x / F_{max}},\ x = g [d - s_{ref}]_+",
        "meaning": "Extra formation answers the delivery d of new synaptic protein above the level s_ref "
        "the spines are adapted to (saturating at F_max) and adds new spines S - P, which are lost "
        "(k_t) unless they join the persistent spines P (k_c); depression lowers formation (phi) and "
        "raises the elimination of persistent and new spines (sigma). The corner of [.]_+ is rounded "
        "over 0.001 (numerical).",
        "source": "Holtmaat AJGD et al. 2005, Neuron 45:279; Moda-Sava RN et al. 2019, Science "
        "364:eaat8078; Turrigiano GG 2008, Cell 135:422",
        "code": "ketasim.structure.spines.turnover",
    },
    {
        "name": "Baseline density",
        "latex": r"S_0 = \phi / \sigma",
        "meaning": "Drug-free spine density relative to the healthy adult (1 when healthy).",
        "source": "Steady state of the turnover equation; data/spines.toml",
        "code": "ketasim.structure.spines.baseline_density",
    },
)
