"""Equilibrium occupancy of receptors, transporters and channels other than NMDA block kinetics.

Each species may list affinities for named targets (``[targets.NAME]`` in its compound file; the
targets themselves are described in ``data/targets.toml``). Here those constants are turned into the
fraction of each target occupied (or inhibited, or maximally potentiated) at a given concentration,
by the Hill-Langmuir equation, and combined over all the species present by mass action for ligands
competing for one site.

Assumptions (see ``docs/sources/targets.md``):

- Binding is at equilibrium with the local concentration (no binding kinetics, no trapping; the
  NMDA channel-block kinetics are modelled elsewhere).
- A Ki, Kd or IC50 is used as the concentration giving half-maximal occupancy or inhibition. For an
  IC50 from radioligand displacement this holds when the radioligand concentration is far below its
  Kd, since Ki = IC50 / (1 + [L]/Kd) (Cheng Y, Prusoff WH 1973, Biochem Pharmacol 22:3099); for a
  functional IC50 or EC50 it is the measured half-effect concentration in that assay.
- The concentration that drives occupancy is the unbound brain extracellular concentration
  (``brain_ecf`` of a simulation), the free-drug hypothesis.
- A record with ``bound = "lower"`` holds a lower bound on the constant (no binding or effect was
  detected up to that concentration). It is used as if it were the constant, so the occupancy it gives
  is the largest compatible with the data, an upper bound; the potency strip marks it with ">=".
- Contested affinities are not deleted but kept as named alternative hypotheses (``[hypothesis.NAME]``
  in ``data/targets.toml``); pass ``ketasim.compounds.with_affinity_hypotheses(library, names)`` as the
  ``library`` argument to compute occupancy under them (docs/decisions/0013-contested-affinities.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import xarray as xr

from ketasim.compounds import Library, Mixture, Species, default_library, target_names
from ketasim.errors import KetasimError

ArrayLike = float | np.ndarray | list[float]
CONC_DIMS = ("patient", "time", "analyte")


class PotencyRow(NamedTuple):
    """One target of one species: what the potency strip shows."""

    target: str
    label: str
    kind: str
    affinity_um: float
    source: str
    status: str
    bound: str | None = None  # "lower": affinity_um is a lower bound (no effect detected up to it)


def _array(x: ArrayLike, argument: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise KetasimError(f"{x!r} is not a number or an array of numbers", argument=argument) from None
    return a


def _checked(conc_um: ArrayLike, affinity_um: ArrayLike, hill: ArrayLike) -> tuple[np.ndarray, ...]:
    """Concentrations, affinities and Hill coefficients as arrays, checked (shared by both forms)."""
    c = _array(conc_um, "conc_um")
    k = _array(affinity_um, "affinity_um")
    n = _array(hill, "hill")
    if np.any(c < 0):
        raise KetasimError("concentrations must not be negative", argument="conc_um")
    if np.any(k <= 0) or np.any(np.isinf(k)):
        raise KetasimError(
            "affinity constants must be positive and finite (NaN for none)", argument="affinity_um"
        )
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise KetasimError("the Hill coefficient must be positive and finite", argument="hill")
    return c, k, n


def occupancy(conc_um: ArrayLike, affinity_um: ArrayLike, hill: ArrayLike = 1.0) -> np.ndarray:
    """Fractional occupancy C^n / (C^n + K^n) (Hill-Langmuir), element-wise with broadcasting.

    ``conc_um`` is the free concentration and ``affinity_um`` the half-occupancy concentration, both
    in µM; ``hill`` is the Hill coefficient n (1 for simple one-site binding). A Ki, Kd or IC50 is
    treated as the half-occupancy concentration; for a displacement IC50 that is exact only when the
    radioligand concentration is far below its Kd (Ki = IC50 / (1 + [L]/Kd); Cheng Y, Prusoff WH
    1973, Biochem Pharmacol 22:3099). For an EC50 the result is the fraction of the maximal effect.

    A NaN affinity (no affinity known) gives NaN. Negative concentrations, non-positive affinities
    and non-positive Hill coefficients raise :class:`KetasimError`.
    """
    c, k, n = _checked(conc_um, affinity_um, hill)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x = (c / k) ** n
        out = np.where(np.isposinf(x), 1.0, x / (1.0 + x))
    return out


def competitive_occupancy(
    conc_um: ArrayLike, affinity_um: ArrayLike, hill: ArrayLike = 1.0, axis: int = -1
) -> np.ndarray:
    """Occupancy of one site by several ligands that exclude each other, summed over ``axis``.

    By mass action for mutually exclusive binding to one site, the fraction of sites bound by any of
    the ligands is S / (1 + S) with S = sum_i (C_i / K_i) (Hill coefficient 1); for a single ligand
    this is :func:`occupancy`. With Hill coefficients other than 1 the terms (C_i / K_i)^n_i are summed
    instead, an empirical extension that is exact for one ligand only. Ligands with a NaN affinity
    contribute nothing; if none has an affinity the result is NaN.
    """
    c, k, n = _checked(conc_um, affinity_um, hill)
    c, k, n = np.broadcast_arrays(c, k, n)
    with np.errstate(over="ignore", invalid="ignore"):
        terms = (c / k) ** n
    known = ~np.isnan(k)
    s = np.sum(np.where(known, terms, 0.0), axis=axis)
    any_known = np.any(known, axis=axis)
    with np.errstate(invalid="ignore"):
        frac = np.where(np.isposinf(s), 1.0, s / (1.0 + s))
    return np.where(any_known, frac, np.nan)


def _species_by_analyte(library: Library) -> dict[str, Species]:
    return {c.analyte: c for c in library.compounds.values() if isinstance(c, Species)}


def _concentrations(ds: xr.Dataset, variable: str) -> xr.DataArray:
    if variable not in ds.data_vars:
        choices = [v for v in ds.data_vars if tuple(ds[v].dims) == CONC_DIMS]
        raise KetasimError(
            f"the dataset has no variable '{variable}'",
            argument="variable",
            fix="use one of: " + ", ".join(choices),
        )
    da = ds[variable]
    if tuple(da.dims) != CONC_DIMS:
        raise KetasimError(
            f"'{variable}' has dimensions {da.dims}, not {CONC_DIMS}",
            argument="variable",
            fix="use a µM variable",
        )
    if da.attrs.get("units", "uM") != "uM":
        raise KetasimError(f"'{variable}' is in {da.attrs['units']}, not µM", argument="variable")
    # round-off of the exact solver can leave values of about -1e-18; anything clearly negative is an error
    values = da.values
    scale = max(float(np.nanmax(np.abs(values))) if values.size else 0.0, 1.0)
    if np.any(values < -1e-9 * scale):
        raise KetasimError(f"'{variable}' has negative concentrations", argument="variable")
    return da.clip(min=0.0)


def affinity_table(analytes: list[str], library: Library) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Known targets and (analyte x target) arrays of affinity (µM, NaN if none) and Hill coefficient.

    Analytes that are not single species (group sums such as ``ketamine`` = S + R) get NaN rows, so
    that summed analytes are never counted twice.
    """
    targets = list(target_names())
    if not targets:
        raise KetasimError("no targets are defined (data/targets.toml is missing)", argument="targets")
    by_analyte = _species_by_analyte(library)
    k = np.full((len(analytes), len(targets)), np.nan)
    n = np.ones((len(analytes), len(targets)))
    for i, a in enumerate(analytes):
        sp = by_analyte.get(a)
        if sp is None:
            continue
        for j, t in enumerate(targets):
            ta = sp.targets.get(t)
            if ta is not None:
                k[i, j] = ta.affinity
                n[i, j] = ta.hill
    return targets, k, n


def _target_coords(targets: list[str]) -> dict[str, tuple[str, list[str]]]:
    info = target_names()
    return {
        "target": ("target", targets),
        "target_label": ("target", [str(info[t].get("label", t)) for t in targets]),
        "readout": ("target", [str(info[t].get("readout", "occupancy")) for t in targets]),
    }


def target_occupancy(
    ds: xr.Dataset, library: Library | None = None, variable: str = "brain_ecf"
) -> xr.DataArray:
    """Occupancy of every target by every analyte alone: patient x time x analyte x target (0-1).

    Uses the concentrations of ``variable`` (µM; default the brain extracellular fluid, taken as
    unbound) and the affinities in the compound library; NaN where the analyte has no affinity for
    the target (and for summed analyte groups). Each entry is :func:`occupancy` of that analyte as if
    it were alone; :func:`combined_occupancy` accounts for competition between analytes.
    """
    library = library or default_library()
    conc = _concentrations(ds, variable)
    analytes = [str(a) for a in conc.analyte.values]
    targets, k, n = affinity_table(analytes, library)
    c = conc.values[:, :, :, None]
    occ = occupancy(c, k[None, None, :, :], n[None, None, :, :])
    return xr.DataArray(
        occ,
        dims=(*CONC_DIMS, "target"),
        coords={
            "patient": conc.patient.values,
            "time": conc.time.values,
            "analyte": analytes,
            **_target_coords(targets),
        },
        name="occupancy",
        attrs={
            "units": "1",
            "long_name": f"fractional target occupancy from {variable}",
            "variable": variable,
        },
    )


def combined_occupancy(
    ds: xr.Dataset, library: Library | None = None, variable: str = "brain_ecf"
) -> xr.DataArray:
    """Occupancy of each target by all analytes together: patient x time x target (0-1, NaN if none bind).

    Ligands are taken to compete for one site: S / (1 + S) with S = sum_i (C_i / K_i)^n_i over the
    single-species analytes (:func:`competitive_occupancy`). For ``readout = "potentiation"`` targets
    the value is the fraction of the maximal effect (multiply by the species' ``emax``).
    """
    library = library or default_library()
    conc = _concentrations(ds, variable)
    analytes = [str(a) for a in conc.analyte.values]
    targets, k, n = affinity_table(analytes, library)
    c = conc.values[:, :, None, :]  # patient, time, 1, analyte
    occ = competitive_occupancy(c, k.T[None, None, :, :], n.T[None, None, :, :], axis=-1)
    coords = {"patient": conc.patient.values, "time": conc.time.values, **_target_coords(targets)}
    return xr.DataArray(
        occ,
        dims=("patient", "time", "target"),
        coords=coords,
        name="combined_occupancy",
        attrs={"units": "1", "long_name": f"combined target occupancy from {variable}", "variable": variable},
    )


def peak_occupancy_table(
    ds: xr.Dataset, library: Library | None = None, variable: str = "brain_ecf", patient: int = 0
) -> dict[str, float]:
    """Peak (over time) combined occupancy of each target for one patient (default the first).

    Only targets for which at least one simulated analyte has an affinity are listed.
    """
    comb = combined_occupancy(ds, library, variable)
    if patient not in comb.patient.values:
        raise KetasimError(f"no patient {patient} in the dataset", argument="patient")
    peaks = comb.sel(patient=patient).max("time", skipna=True)
    return {
        str(t): float(v) for t, v in zip(peaks.target.values, peaks.values, strict=True) if np.isfinite(v)
    }


def potency_strip(species: str, library: Library | None = None) -> list[PotencyRow]:
    """The targets of one species, most potent first: (target, label, kind, affinity_um, source, status,
    bound), where ``bound`` is "lower" when ``affinity_um`` is only a lower bound and None otherwise.

    ``species`` is an id, alias or analyte name of a single species; for a mixture (racemate) ask for
    each component. This is the data behind a potency strip in the manner of Stahl's ketamine figure
    (binding strip: most potent target on the left).
    """
    library = library or default_library()
    compound = library.get(species, argument="species")
    if isinstance(compound, Mixture):
        raise KetasimError(
            f"'{species}' is a mixture",
            argument="species",
            fix="give one of its components: " + ", ".join(compound.components),
        )
    info: Mapping[str, dict] = target_names()
    rows = [
        PotencyRow(
            target=name,
            label=str(info.get(name, {}).get("label", name)),
            kind=t.kind,
            affinity_um=t.affinity,
            source=t.params["affinity"].source,
            status=t.params["affinity"].status.value,
            bound=t.bound,
        )
        for name, t in compound.targets.items()
    ]
    return sorted(rows, key=lambda r: r.affinity_um)
