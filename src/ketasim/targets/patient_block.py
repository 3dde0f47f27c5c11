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

from ketasim.compounds import Library, Species, default_library
from ketasim.targets.cell_types import CellType, cell_types
from ketasim.targets.nmda_kinetics import blocker_for, modulator_for
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


def _phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1 - e^-x) / x and (x - 1 + e^-x) / x^2, accurate for small x."""
    small = x < 1e-4
    xs = np.where(small, 1.0, x)
    p1 = np.where(small, 1.0 - x / 2.0 + x * x / 6.0, -np.expm1(-xs) / xs)
    p2 = np.where(small, 0.5 - x / 6.0 + x * x / 24.0, (xs + np.expm1(-xs)) / (xs * xs))
    return p1, p2


def solve_block(
    conc: np.ndarray, t: np.ndarray, on: np.ndarray, off: np.ndarray, chunk: int = 64
) -> np.ndarray:
    """Blocked fractions (P, T, k) for concentrations ``conc`` (P, T, k) µM, rates in 1/h.

    db/dt = a(t) - K b with a = on * C, C linear between grid points, and K = diag(off) + a_m 1^T
    taken at the interval mean a_m. On each interval the linear system is solved exactly for the
    linear forcing: b(t + h) = exp(-K h) b(t) + h phi1(K h) a(t) + h phi2(K h) (a(t + h) - a(t)), with
    phi1(x) = (1 - e^-x)/x and phi2(x) = (x - 1 + e^-x)/x^2 (an exponential integrator; Hochbruck M,
    Ostermann A 2010, Acta Numerica 19:209). The linear forcing keeps the block of fast-unbinding
    species in step with the concentration (holding the interval mean lags by half an interval).
    K is similar to the symmetric diag(off) + sqrt(a_m) sqrt(a_m)^T, so exp(-K h) comes from one
    batched symmetric eigendecomposition for all patients and many intervals at once. Binding rates
    are floored at 1e-12 x (off + 1) per hour so the similarity transform stays finite (a change far
    below round-off of any blocked fraction).
    """
    P, T, k = conc.shape
    b = np.zeros((P, T, k))
    x = np.zeros((P, k))
    for start in range(1, T, chunk):
        stop = min(start + chunk, T)
        h = (t[start:stop] - t[start - 1 : stop - 1])[None, :, None]  # (1, n, 1)
        a0 = conc[:, start - 1 : stop - 1] * on  # (P, n, k)
        a1 = conc[:, start:stop] * on
        a = np.maximum(0.5 * (a0 + a1), 1e-12 * (off + 1.0))
        # intervals with negligible binding (sum a/(off+1) < 1e-9 per hour): species decouple exactly
        # up to a relative error of that size, and need no eigendecomposition
        weak = (a / (off + 1.0)).sum(axis=-1) < 1e-9
        r = np.sqrt(a)
        n = stop - start
        lam = np.broadcast_to(off + a, (P, n, k)).copy()
        V = np.broadcast_to(np.eye(k), (P, n, k, k)).copy()
        strong = ~weak
        if strong.any():
            S = np.einsum("mi,mj->mij", r[strong], r[strong])
            S[:, np.arange(k), np.arange(k)] += off
            lam[strong], V[strong] = np.linalg.eigh(S)
        # exp(-K h) v = r * V (exp(-lam h) * V^T (v / r)), and likewise for phi1, phi2
        decay = np.exp(-lam * h)
        p1, p2 = _phi(lam * h)
        p1, p2 = h * p1, h * p2
        # forcing part: h phi1(Kh) a0 + h phi2(Kh) (a1 - a0), for all intervals at once
        Vt_f1 = np.einsum("pnji,pnj->pni", V, a0 / r)
        Vt_f2 = np.einsum("pnji,pnj->pni", V, (a1 - a0) / r)
        forced = r * np.einsum("pnij,pnj->pni", V, p1 * Vt_f1 + p2 * Vt_f2)
        for j in range(n):
            y = x / r[:, j]
            y = np.einsum("pij,pj->pi", V[:, j], decay[:, j] * np.einsum("pji,pj->pi", V[:, j], y))
            x = r[:, j] * y + forced[:, j]
            b[:, start + j] = x
    return b


def nam_inhibition(
    ds: xr.Dataset, library: Library, subunits: list[str], variable: str = "brain_ecf"
) -> np.ndarray:
    """Fraction of each subunit's current removed by negative allosteric modulators (patient, time, subunit).

    Modulators compete for one allosteric site (the ifenprodil site of GluN2B) and are taken at
    equilibrium with the brain extracellular concentration (their unbinding, ~minutes, is fast on the
    scale of the output grid); a bound modulator removes the fraction ``nam_efficacy`` of the current.
    """
    P, T = ds.sizes["patient"], ds.sizes["time"]
    out = np.zeros((P, T, len(subunits)))
    by_analyte = {c.analyte: c for c in library.compounds.values() if isinstance(c, Species)}
    for si, sub in enumerate(subunits):
        ratio = np.zeros((P, T))
        weighted = np.zeros((P, T))
        for a in ds.analyte.values:
            sp = by_analyte.get(str(a))
            mod = modulator_for(sp, sub) if sp is not None else None
            if mod is None:
                continue
            r = np.clip(ds[variable].sel(analyte=a).values, 0.0, None) / mod.kd
            ratio += r
            weighted += r * mod.efficacy
        out[:, :, si] = weighted / (1.0 + ratio)
    return out


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
    nam = nam_inhibition(ds, library, subunits)
    return xr.Dataset(
        {
            "nam_inhibition": (
                ("patient", "time", "subunit"),
                nam,
                {"units": "1", "long_name": "fraction of NMDA current removed by allosteric modulators"},
            ),
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
