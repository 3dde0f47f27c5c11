"""NMDA receptor block in a simulated patient, by cell type and subunit, over time.

Drives the reduced two-state block (:mod:`ketasim.targets.nmda_reduced`) with the brain
extracellular concentrations of every pore-blocking species in a PK result (parent and
metabolites compete for the pore). Rates come per release period from the detailed model for each
cell type's activity, potential and Mg2+ (``data/cell_types.toml``). Between output times the
concentrations are held at the interval mean and the linear block equations are solved exactly.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.linalg import expm

from ketasim.compounds import Library, Species, default_library
from ketasim.targets.cell_types import CellType, cell_types
from ketasim.targets.nmda_kinetics import blocker_for
from ketasim.targets.nmda_reduced import per_period_rates
from ketasim.targets.receptor_data import PER_HOUR


def _blocking_species(ds: xr.Dataset, library: Library) -> list[tuple[str, Species]]:
    by_analyte = {c.analyte: c for c in library.compounds.values() if isinstance(c, Species)}
    out = []
    for a in ds.analyte.values:
        sp = by_analyte.get(str(a))
        if sp is not None and "kd" in sp.nmda:
            out.append((str(a), sp))
    return out


def solve_block(conc: np.ndarray, t: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Blocked fractions (P, T, k) for concentrations ``conc`` (P, T, k) µM, rates in 1/h.

    db/dt = on * C * (1 - sum b) - off * b, exactly on each interval with C at its mean.
    """
    P, T, k = conc.shape
    b = np.zeros((P, T, k))
    x = np.zeros((P, k))
    for j in range(1, T):
        h = t[j] - t[j - 1]
        c = 0.5 * (conc[:, j - 1] + conc[:, j]) * on  # (P, k) binding rates
        M = np.zeros((P, k + 1, k + 1))
        M[:, :k, :k] = -c[:, :, None] - np.diag(off)[None]
        M[:, :k, k] = c
        E = expm(M * h)
        x = np.einsum("pij,pj->pi", E[:, :k, :k], x) + E[:, :k, k]
        b[:, j] = x
    return b


def nmda_block(
    ds: xr.Dataset,
    library: Library | None = None,
    cells: dict[str, CellType] | None = None,
    variable: str = "brain_ecf",
) -> xr.Dataset:
    """Fraction of NMDA receptors blocked, by cell type (and subunit), for every patient and time."""
    library = library or default_library()
    cells = cells or cell_types()
    species = _blocking_species(ds, library)
    t = ds.time.values
    P = ds.sizes["patient"]
    subunits = sorted({s for c in cells.values() for s in c.subunits})
    by_sub = np.full((P, t.size, len(cells), len(subunits)), np.nan)
    total = np.zeros((P, t.size, len(cells)))
    if species:
        conc = np.stack([ds[variable].sel(analyte=a).values for a, _ in species], axis=-1)
        for ci, cell in enumerate(cells.values()):
            for si, sub in enumerate(subunits):
                if sub not in cell.subunits:
                    continue
                rates = [
                    per_period_rates(
                        blocker_for(sp, sub), sub, cell.activity_hz, cell.potential_mv, cell.mg_mm
                    )
                    for _, sp in species
                ]
                on = np.array([r[0] for r in rates]) * PER_HOUR
                off = np.array([r[1] for r in rates]) * PER_HOUR
                b = solve_block(np.clip(conc, 0, None), t, on, off).sum(axis=-1)
                by_sub[:, :, ci, si] = b
                total[:, :, ci] += cell.subunits[sub] * b
    return xr.Dataset(
        {
            "nmda_block": (
                ("patient", "time", "cell_type"),
                total,
                {"units": "1", "long_name": "fraction of NMDA receptors blocked"},
            ),
            "nmda_block_by_subunit": (("patient", "time", "cell_type", "subunit"), by_sub, {"units": "1"}),
        },
        coords={
            "patient": ds.patient.values,
            "time": ds.time.values,
            "cell_type": list(cells),
            "subunit": subunits,
        },
        attrs={"blockers": ", ".join(a for a, _ in species), "concentration": variable},
    )
