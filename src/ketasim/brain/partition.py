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


# Equations of the brain and cell scale, for the generated methods document (ketasim.methods_doc).
# ``code`` names the function that implements each one; tests/test_methods_doc.py checks several.
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Neutral fraction",
        "latex": r"f_n(\mathrm{pH}) = \frac{1}{1 + 10^{\,\mathrm{p}K_a - \mathrm{pH}}}\ \text{(base)},\quad "
        r"f_n = \frac{1}{1 + 10^{\,\mathrm{pH} - \mathrm{p}K_a}}\ \text{(acid)},\quad "
        r"f_n = 0\ \text{(permanent cation)}",
        "meaning": "Henderson-Hasselbalch fraction present as the membrane-permeant neutral species.",
        "source": "pH-partition hypothesis (de Duve C et al. 1974, Biochem Pharmacol 23:2495)",
        "code": "ketasim.brain.partition.neutral_fraction",
    },
    {
        "name": "Distribution coefficient",
        "latex": r"\log D(\mathrm{pH}) = \log P + \log_{10} f_n(\mathrm{pH})",
        "meaning": "Only the neutral species partitions into octanol; minus infinity for a permanent cation.",
        "source": "Standard definition of logD for an ionisable compound",
        "code": "ketasim.brain.partition.log_d",
    },
    {
        "name": "Ion trapping at equilibrium",
        "latex": r"\frac{C_{in}}{C_{out}} = \frac{f_n(\mathrm{pH}_{out})}{f_n(\mathrm{pH}_{in})}",
        "meaning": "Equal neutral concentrations on both sides of a membrane; zero for a permanent cation.",
        "source": "Trapp S et al. 2008, Eur Biophys J 37:1317 (lipid binding neglected: an upper bound)",
        "code": "ketasim.brain.partition.trapping_ratio",
    },
    {
        "name": "Brain extracellular fluid",
        "latex": r"\frac{dC_{ecf}}{dt} = k_{bbb}\left(f_{n,p}\, f_u \frac{A_c}{V_1}"
        r" - f_{n,e}\, C_{ecf}\right)",
        "meaning": "Unbound plasma drug (central amount A_c over V_1) exchanges with brain ECF as the "
        "neutral species; a concentration state that draws no mass from plasma.",
        "source": "Passive diffusion of the neutral species (ketasim.brain.cell, ketasim.pk.model)",
        "code": "ketasim.brain.cell.CellRates.cell_matrix",
    },
    {
        "name": "Cytosol",
        "latex": r"\frac{dC_{cyt}}{dt} = k_{cell}\left(f_{n,e} C_{ecf} - f_{n,c} C_{cyt}\right)"
        r" - \phi\, k_{lys}\left(f_{n,c} C_{cyt} - f_{n,l} C_{lys}\right),\quad "
        r"\phi = \frac{V_{lys}}{V_{cyt}}",
        "meaning": "Neuronal cytosol exchanges with the ECF and with lysosomes (volume ratio phi).",
        "source": "Trapp S et al. 2008, Eur Biophys J 37:1317 (structure); rates in data/physiology.toml",
        "code": "ketasim.brain.cell.CellRates.cell_matrix",
    },
    {
        "name": "Lysosome",
        "latex": r"\frac{dC_{lys}}{dt} = k_{lys}\left(f_{n,c} C_{cyt} - f_{n,l} C_{lys}\right)",
        "meaning": "Acidic lysosomes trap weak bases: at equilibrium f_c C_cyt = f_l C_lys.",
        "source": "de Duve C et al. 1974, Biochem Pharmacol 23:2495",
        "code": "ketasim.brain.cell.CellRates.cell_matrix",
    },
)
