"""Exchange of a drug between brain extracellular fluid (ECF), neuronal cytosol and lysosomes.

Each membrane is crossed by the neutral species only, at a first-order rate (1/h) times the
difference of neutral concentrations (see :mod:`ketasim.brain.partition`):

    dC_ecf/dt = k_bbb (f_p Cu_plasma - f_e C_ecf)
    dC_cyt/dt = k_cell (f_e C_ecf - f_c C_cyt) - phi k_lys (f_c C_cyt - f_l C_lys)
    dC_lys/dt = k_lys (f_c C_cyt - f_l C_lys)

with f_x the neutral fraction at each compartment's pH and phi = V_lys / V_cyt. At equilibrium
f_e C_ecf = f_c C_cyt = f_l C_lys (the pH-partition result). Lipid binding is neglected, so
accumulation is an upper bound (Trapp S et al. 2008, Eur Biophys J 37:1317).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from ketasim.brain.partition import neutral_fraction
from ketasim.compounds import Species
from ketasim.physiology import Physiology, default_physiology


@dataclass(frozen=True)
class CellRates:
    """Coefficients of the ECF/cytosol/lysosome exchange for one species (rates in 1/h)."""

    f_plasma: float
    f_ecf: float
    f_cyt: float
    f_lys: float
    k_bbb: float
    k_cell: float
    k_lys: float
    phi: float

    def cell_matrix(self) -> np.ndarray:
        """3x3 matrix for (ECF, cytosol, lysosome) without the plasma input."""
        return np.array(
            [
                [-self.k_bbb * self.f_ecf, 0.0, 0.0],
                [
                    self.k_cell * self.f_ecf,
                    -(self.k_cell + self.phi * self.k_lys) * self.f_cyt,
                    self.phi * self.k_lys * self.f_lys,
                ],
                [0.0, self.k_lys * self.f_cyt, -self.k_lys * self.f_lys],
            ]
        )


def cell_rates(species: Species, physiology: Physiology | None = None) -> CellRates:
    """Exchange coefficients for ``species`` from its pKa/ionisation and the physiology."""
    phys = physiology or default_physiology()
    pka = species.properties["pka"].value if "pka" in species.properties else None
    fn = {
        ph: float(neutral_fraction(species.ionization, pka, phys[f"ph.{ph}"]))
        for ph in ("plasma", "brain_ecf", "cytosol", "lysosome")
    }
    vf = phys["cell.lysosome_volume_fraction"]
    return CellRates(
        f_plasma=fn["plasma"],
        f_ecf=fn["brain_ecf"],
        f_cyt=fn["cytosol"],
        f_lys=fn["lysosome"],
        k_bbb=species.brain["k_bbb"].value if "k_bbb" in species.brain else phys["cell.k_bbb"],
        k_cell=species.brain["k_cell"].value if "k_cell" in species.brain else phys["cell.k_cell"],
        k_lys=phys["cell.k_lysosome"],
        phi=vf / (1 - vf),
    )


def bath_uptake(
    species: Species, ecf_um: float, hours: float, physiology: Physiology | None = None
) -> dict[str, float]:
    """Cytosol and lysosome concentrations (µM) after ``hours`` in a bath clamped at ``ecf_um``.

    A virtual in-vitro experiment (a slice or culture in drug-containing medium at the ECF pH):
    the extracellular concentration is held fixed and the cell compartments start empty.
    """
    r = cell_rates(species, physiology)
    M = r.cell_matrix()[1:, 1:]
    b = np.array([r.k_cell * r.f_ecf * ecf_um, 0.0])
    aug = np.zeros((3, 3))
    aug[:2, :2] = M
    aug[:2, 2] = b
    x = expm(aug * hours)[:2, 2]
    return {"cytosol_um": float(x[0]), "lysosome_um": float(x[1])}
