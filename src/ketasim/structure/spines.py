"""Spine density of prefrontal pyramidal neurons (pure equations; parameters in ``data/spines.toml``).

dS/dt = k_e * phi * (1 + g * max(s - 1, 0)) - k_e * sigma * S

with S the density relative to the healthy adult, k_e the elimination rate (formation balances it in
health), s the synaptic protein supply (relative), g the formation gain, and phi, sigma the formation
and elimination factors of the depressed state (1 when healthy). Ketamine raises formation, not
elimination (Phoumthipphavong V et al. 2016, eNeuro; Moda-Sava RN et al. 2019, Science 364:eaat8078),
so spines come after synaptic proteins and outlast them by the elimination time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def condition_factors(p: Mapping[str, float], depressed: bool) -> tuple[float, float]:
    """(formation factor, elimination factor) for the subject's condition."""
    if depressed:
        return p["depression.formation_factor"], p["depression.elimination_factor"]
    return 1.0, 1.0


def baseline_density(p: Mapping[str, float], depressed: bool) -> float:
    phi, sigma = condition_factors(p, depressed)
    return phi / sigma


def spine_rate(S: np.ndarray, protein: np.ndarray, p: Mapping[str, float], depressed: bool) -> np.ndarray:
    """dS/dt (1/h) for density ``S`` and synaptic protein ``protein`` (both relative)."""
    phi, sigma = condition_factors(p, depressed)
    k = p["turnover.elimination"]
    formation = k * phi * (1.0 + p["turnover.formation_gain"] * np.clip(protein - 1.0, 0.0, None))
    return formation - k * sigma * S
