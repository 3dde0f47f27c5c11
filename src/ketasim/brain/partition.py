"""pH partition of ionisable drugs (ion trapping).

Only the neutral species crosses membranes by passive diffusion (the pH-partition hypothesis;
de Duve C et al. 1974, Biochem Pharmacol 23:2495; Trapp S et al. 2008, Eur Biophys J 37:1317).
At equilibrium the neutral concentration is equal on both sides of a membrane, so the total
concentration in a compartment of pH ``pH`` is ``C_neutral / f_n(pH)``, where ``f_n`` is the
Henderson-Hasselbalch neutral fraction. For a base:

    f_n(pH) = 1 / (1 + 10**(pKa - pH))

A permanently charged (quaternary) cation has no neutral form, ``f_n = 0``: it cannot cross
membranes passively and stays outside cells. Binding to lipids and membrane permeation of the
cation, which Trapp's full model includes, are neglected; the ratios here are therefore upper
bounds for trapping.
"""

from __future__ import annotations

import math

import numpy as np

from ketasim.errors import KetasimError


def neutral_fraction(ionization: str, pka: float | None, ph: float | np.ndarray) -> float | np.ndarray:
    """Fraction of a compound present as its neutral species at ``ph`` (Henderson-Hasselbalch)."""
    ph = np.asarray(ph, dtype=float)
    if ionization == "neutral":
        out = np.ones_like(ph)
    elif ionization == "permanent_cation":
        out = np.zeros_like(ph)
    elif ionization == "base":
        out = 1.0 / (1.0 + 10.0 ** (float(pka) - ph))
    elif ionization == "acid":
        out = 1.0 / (1.0 + 10.0 ** (ph - float(pka)))
    else:
        raise KetasimError(f"unknown ionization '{ionization}'", argument="ionization")
    return float(out) if out.ndim == 0 else out


def log_d(logp: float, ionization: str, pka: float | None, ph: float = 7.4) -> float:
    """Distribution coefficient logD at ``ph``: logP corrected for the neutral fraction.

    ``logD = logP + log10(f_n(pH))`` (only the neutral species partitions into octanol). For a
    permanent cation this is minus infinity.
    """
    fn = neutral_fraction(ionization, pka, ph)
    return -math.inf if fn == 0 else logp + math.log10(fn)


def trapping_ratio(ionization: str, pka: float | None, ph_inside: float, ph_outside: float) -> float:
    """Equilibrium ratio of total concentration inside/outside a membrane separating two pH values.

    Equal neutral concentrations on both sides give ``f_n(outside) / f_n(inside)``. For a base with
    pKa 7.5, a lysosome at pH 5.0 against cytosol at 7.2 gives about 106. Zero for a permanent
    cation (it never gets in).
    """
    f_in = neutral_fraction(ionization, pka, ph_inside)
    f_out = neutral_fraction(ionization, pka, ph_outside)
    if f_in == 0:
        return 0.0
    return f_out / f_in
