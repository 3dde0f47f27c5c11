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
from numba import njit, prange

from ketasim.compounds import Library, Species, default_library
from ketasim.kernel_cache import configure
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


configure()  # before any kernel is defined: the compiled cache follows the kernel code


@njit(cache=True)
def _phi(x):
    """(1 - e^-x) / x and (x - 1 + e^-x) / x^2, accurate for small x."""
    if x < 1e-4:
        return 1.0 - x / 2.0 + x * x / 6.0, 0.5 - x / 6.0 + x * x / 24.0
    e = np.expm1(-x)
    return -e / x, (x + e) / (x * x)


@njit(cache=True)
def _step2(x0, x1, a0, a1, b0, b1, o0, o1, h):
    """One interval of two coupled groups (closed-form 2 x 2 eigendecomposition, no allocation)."""
    m0 = max(0.5 * (a0 + b0), 1e-12 * (o0 + 1.0))
    m1 = max(0.5 * (a1 + b1), 1e-12 * (o1 + 1.0))
    r0, r1 = np.sqrt(m0), np.sqrt(m1)
    sa, sb, sc = o0 + m0, r0 * r1, o1 + m1
    th = 0.5 * np.arctan2(2.0 * sb, sa - sc)
    cs, sn = np.cos(th), np.sin(th)
    l0 = sa * cs * cs + 2.0 * sb * sn * cs + sc * sn * sn
    l1 = sa * sn * sn - 2.0 * sb * sn * cs + sc * cs * cs
    # V = [[cs, -sn], [sn, cs]]; work in y = V^T (v / r)
    y0, y1 = x0 / r0, x1 / r1
    f0, f1 = a0 / r0, a1 / r1
    g0, g1 = (b0 - a0) / r0, (b1 - a1) / r1
    z0, z1 = cs * y0 + sn * y1, -sn * y0 + cs * y1
    e0, e1 = cs * f0 + sn * f1, -sn * f0 + cs * f1
    d0, d1 = cs * g0 + sn * g1, -sn * g0 + cs * g1
    p1, p2 = _phi(l0 * h)
    w0 = np.exp(-l0 * h) * z0 + h * p1 * e0 + h * p2 * d0
    p1, p2 = _phi(l1 * h)
    w1 = np.exp(-l1 * h) * z1 + h * p1 * e1 + h * p2 * d1
    return r0 * (cs * w0 - sn * w1), r1 * (sn * w0 + cs * w1)


@njit(cache=True)
def _block_one(a, t, off, out):
    """Total blocked fraction over time for binding rates ``a`` (T, g) of groups unbinding at ``off``."""
    T, g = a.shape
    x = np.zeros(g)
    am = np.empty(g)
    w = np.empty(g)
    out[0] = 0.0
    for j in range(1, T):
        h = t[j] - t[j - 1]
        if h <= 0.0:
            out[j] = out[j - 1]
            continue
        weak = 0.0
        for i in range(g):
            am[i] = max(0.5 * (a[j - 1, i] + a[j, i]), 1e-12 * (off[i] + 1.0))
            weak += am[i] / (off[i] + 1.0)
        if g == 1 or weak < 1e-9:
            # one group, or binding negligible (sum a/(off+1) < 1e-9 per hour): groups decouple exactly
            # up to a relative error of that size
            for i in range(g):
                lam = off[i] + am[i]
                p1, p2 = _phi(lam * h)
                x[i] = np.exp(-lam * h) * x[i] + h * p1 * a[j - 1, i] + h * p2 * (a[j, i] - a[j - 1, i])
        elif g == 2:
            x[0], x[1] = _step2(x[0], x[1], a[j - 1, 0], a[j - 1, 1], a[j, 0], a[j, 1], off[0], off[1], h)
        else:
            r = np.sqrt(am)
            S = np.outer(r, r)
            for i in range(g):
                S[i, i] += off[i]
            lam, V = np.linalg.eigh(S)
            Vt = np.ascontiguousarray(V.T)
            z0 = Vt @ (x / r)
            f0 = Vt @ (a[j - 1] / r)
            f1 = Vt @ ((a[j] - a[j - 1]) / r)
            for i in range(g):
                p1, p2 = _phi(lam[i] * h)
                w[i] = np.exp(-lam[i] * h) * z0[i] + h * p1 * f0[i] + h * p2 * f1[i]
            x = r * (np.ascontiguousarray(V) @ w)
        out[j] = x.sum()


@njit(parallel=True, cache=True)
def _block_all(a, t, off):
    P = a.shape[0]
    out = np.empty((P, t.size))
    for p in prange(P):
        _block_one(a[p], t, off, out[p])
    return out


def off_groups(off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group of each species, unbinding rate of each group): species with equal unbinding rates
    (to 1e-12 relative) share a group."""
    rates: list[float] = []
    group = np.empty(off.size, dtype=int)
    for i, k in enumerate(off):
        for gi, v in enumerate(rates):
            if abs(k - v) <= 1e-12 * max(abs(k), abs(v)):
                group[i] = gi
                break
        else:
            group[i] = len(rates)
            rates.append(float(k))
    return group, np.array(rates)


def blocked_total(conc: np.ndarray, t: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Total blocked fraction (P, T) for concentrations ``conc`` (P, T, k) µM, rates in 1/h.

    db_i/dt = on_i C_i (1 - sum_j b_j) - off_i b_i, with C linear between grid points. Species with
    the same unbinding rate move together, so the blocked fractions of each such group obey
    db_G/dt = a_G (1 - B) - off_G b_G with a_G = sum_(i in G) on_i C_i: the system shrinks to one
    equation per distinct unbinding rate (racemic ketamine and its metabolites: two). On each interval
    db/dt = a(t) - K b with K = diag(off) + a_m 1^T at the interval mean a_m is solved exactly for the
    linear forcing: b(t + h) = exp(-K h) b(t) + h phi1(K h) a(t) + h phi2(K h) (a(t + h) - a(t)),
    phi1(x) = (1 - e^-x)/x, phi2(x) = (x - 1 + e^-x)/x^2 (an exponential integrator; Hochbruck M,
    Ostermann A 2010, Acta Numerica 19:209); holding the interval mean instead would lag the block of
    fast-unbinding species by half an interval. K is similar to the symmetric diag(off) +
    sqrt(a_m) sqrt(a_m)^T. Binding rates are floored at 1e-12 x (off + 1) per hour so the similarity
    transform stays finite (a change far below round-off of any blocked fraction). Compiled with
    numba, one patient per thread.
    """
    group, rates = off_groups(np.asarray(off, dtype=float))
    a = np.zeros((*conc.shape[:2], rates.size))
    for i, gi in enumerate(group):
        a[..., gi] += on[i] * np.clip(conc[..., i], 0.0, None)
    return _block_all(a, np.ascontiguousarray(t, dtype=float), rates)


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


def block_variables(nam: np.ndarray, total: np.ndarray, by_subunit: np.ndarray) -> dict:
    """The block variables of a result Dataset: allosteric inhibition (patient, time, subunit), fraction
    blocked (patient, time, cell_type) and by subunit (patient, time, cell_type, subunit)."""
    return {
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
        "nmda_block_by_subunit": (("patient", "time", "cell_type", "subunit"), by_subunit, {"units": "1"}),
    }


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
                b = blocked_total(conc, t, on, off)
                by_sub[:, :, ci, si] = b
                total[:, :, ci] += cell.subunits[sub] * b
    nam = nam_inhibition(ds, library, subunits)
    return xr.Dataset(
        block_variables(nam, total, by_sub),
        coords={
            "patient": ds.patient.values,
            "time": ds.time.values,
            "cell_type": list(cells),
            "subunit": subunits,
        },
        attrs={"blockers": ", ".join(a for a, _ in species), "concentration": variable},
    )


# Equations of the patient block, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Block in a patient",
        "latex": r"\frac{db_i}{dt} = k_{on,i} C_{ecf,i}(t) \Big(1 - \sum_j b_j\Big) - k_{off,i} b_i",
        "meaning": "One equation per blocking species (parent and metabolites) at each receptor "
        "population (cell type x GluN2 subunit), driven by brain ECF concentrations.",
        "source": "Per-period rates of ketasim.targets.nmda_reduced; cell activity in data/cell_types.toml",
        "code": "ketasim.targets.patient_block.blocked_total",
    },
    {
        "name": "Exponential integrator",
        "latex": r"b(t + h) = e^{-Kh} b(t) + h\,\varphi_1(Kh)\, a(t) + h\,\varphi_2(Kh) \left(a(t + h)"
        r" - a(t)\right),\quad \varphi_1(x) = \frac{1 - e^{-x}}{x},\ "
        r"\varphi_2(x) = \frac{x - 1 + e^{-x}}{x^2}",
        "meaning": "Exact for binding rates a_i = k_on,i C_i linear over the step, with "
        "K = diag(k_off) + a_m 1^T at the interval mean.",
        "source": "Hochbruck M, Ostermann A 2010, Acta Numerica 19:209",
        "code": "ketasim.targets.patient_block.blocked_total",
    },
    {
        "name": "Block of a cell type",
        "latex": r"B_c = \sum_s x_{c,s}\, b_{c,s}",
        "meaning": "Fraction of a cell type's NMDA receptors blocked: subunit shares x_cs.",
        "source": "data/cell_types.toml",
        "code": "ketasim.targets.patient_block.nmda_block",
    },
    {
        "name": "GluN2B negative allosteric modulators",
        "latex": r"n_s = \frac{\sum_i \varepsilon_i C_i / K_i}{1 + \sum_i C_i / K_i}",
        "meaning": "Fraction of a subunit's current removed by modulators at equilibrium on one site "
        "(efficacy epsilon_i; GluN2B only).",
        "source": "Single-site competition; values in data/compounds/*.toml",
        "code": "ketasim.targets.patient_block.nam_inhibition",
    },
)
