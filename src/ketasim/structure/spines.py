"""Spine density of prefrontal pyramidal neurons (pure equations; parameters in ``data/spines.toml``).

dS/dt = k_e * phi * (1 + F(g * max(s - s_ref, 0))) - k_e * sigma * S,   F(x) = x / (1 + x / F_max)

with S the density relative to the healthy adult, k_e the elimination rate (formation balances it
in health), s the synaptic protein supply, s_ref the level the spines are adapted to, g the
formation gain, F_max the largest rise of formation (saturation), and phi, sigma the formation and
elimination factors of the depressed state (1 when healthy).

Formation answers a rise of synaptic protein (in wild-type units) above s_ref, the drug-free steady
state with the subject's chronic (genetic) perturbations but without acute co-drugs. Lifelong
differences are taken as compensated by homeostatic plasticity (Turrigiano GG 2008, Cell 135:422),
which keeps knockout lines at a normal spine density; an acute inhibitor (rapamycin) lowers
synaptic protein below s_ref and so prevents formation. Ketamine raises formation, not elimination
(Phoumthipphavong V et al. 2016, eNeuro; Moda-Sava RN et al. 2019, Science 364:eaat8078), so spines
come after synaptic proteins and outlast them by the elimination time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit


def condition_factors(p: Mapping[str, float], depressed: bool) -> tuple[float, float]:
    """(formation factor, elimination factor) for the subject's condition."""
    if depressed:
        return p["depression.formation_factor"], p["depression.elimination_factor"]
    return 1.0, 1.0


def baseline_density(p: Mapping[str, float], depressed: bool) -> float:
    phi, sigma = condition_factors(p, depressed)
    return phi / sigma


def spine_rate(
    S: np.ndarray, protein: np.ndarray, reference: np.ndarray, p: Mapping[str, float], depressed: bool
) -> np.ndarray:
    """dS/dt (1/h) for density ``S``, synaptic protein ``protein`` and its adapted level ``reference``."""
    phi, sigma = condition_factors(p, depressed)
    return turnover(
        S,
        protein,
        reference,
        p["turnover.elimination"],
        phi,
        sigma,
        p["turnover.formation_gain"],
        p["turnover.formation_max"],
    )


@njit(cache=True)
def turnover(S, protein, reference, k, phi, sigma, gain, formation_max):
    """dS/dt = k phi (1 + F(g max(s - s_ref, 0))) - k sigma S (scalars or arrays; compiled)."""
    drive = gain * np.maximum(protein - reference, 0.0)
    formation = k * phi * (1.0 + drive / (1.0 + drive / formation_max))
    return formation - k * sigma * S


# Equations of the structure scale, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Spine turnover",
        "latex": r"\frac{dS}{dt} = k_e \phi \left(1 + \mathcal F\left(g [s - s_{ref}]_+\right)\right)"
        r" - k_e \sigma S,\qquad \mathcal F(x) = \frac{x}{1 + x / F_{max}}",
        "meaning": "Formation answers synaptic protein s above the level s_ref the spines are adapted "
        "to (saturating at F_max); depression lowers formation (phi) and raises elimination (sigma).",
        "source": "Moda-Sava RN et al. 2019, Science 364:eaat8078; Turrigiano GG 2008, Cell 135:422",
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
