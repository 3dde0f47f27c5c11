"""Build a hypothetical compound: a base compound from the library with named properties changed.

:func:`design` copies the base (default racemic ketamine) under a new id and changes only the
parameters the requested properties determine; everything else keeps the base value and source.
A changed parameter gets status ``assumed`` and the source ``ketasim design: user-specified``; its
note says how it follows from the property. Properties that are outcomes of a protocol, not
parameters, are solved for with that protocol on the detailed model:

- ``ic50``: the Kd of every blocking component is scaled by one factor until the virtual
  voltage-clamp IC50 of the dosed compound (:func:`ketasim.targets.ephys.ic50`) equals the target.
- ``trapped_fraction``: the Mealing 1999 washout protocol (:func:`ketasim.targets.ephys.trapping`).
  In the receptor model, block at the deep site is trapped when the channel closes and escapes only
  through the membrane; block at the superficial site (Kotermanski, Wood & Johnson 2009, J Physiol
  587:4589) is not trapped. A fraction below the deep-site ceiling is reached by adding or tuning a
  superficial site (its Kd, as for lanicemine and memantine in the library); a fraction above it only
  by slower escape, so then the deep-site unblocking rate ``koff`` is solved (Kd kept).
  Unless ``ic50`` or ``kd`` is given, the IC50 of the base is then restored, so that trapping is
  changed at constant potency.
- ``t_half``: the clearance of every pathway is scaled by one factor until the terminal eigenvalue
  of the base's mammillary disposition gives the half-life.

Oral bioavailability is not a property: it follows, as for every compound, from the liver pathways
(well-stirred extraction) and ``fa``, ``fg`` in :mod:`ketasim.pk.model`. For a racemic base every
per-molecule property applies to each enantiomer; ``ic50`` and ``trapped_fraction`` are properties
of the dosed mixture in the protocol and are solved with a common factor that keeps the
enantiomers' ratios. The base's metabolic pathways and metabolites are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import brentq

from ketasim.compounds import Compound, Library, Mixture, Species, TargetAffinity, default_library
from ketasim.design.properties import AFFINITY_PREFIX, PROPERTIES, lookup
from ketasim.errors import KetasimError
from ketasim.physiology import default_physiology
from ketasim.provenance import Param, Status
from ketasim.targets import ephys

SOURCE = "ketasim design: user-specified"
DEFAULT_ID = "designed"
DEFAULT_BASE = "ketamine"
IC50_VOLTAGE_MV = -66.0  # Kotermanski & Johnson 2009 holding potential, as in ketasim.targets.ephys.ic50
SUPERFICIAL_KOFF = Param(
    1.27 * 3600.0,
    "1/h",
    "Memantine leaves closed (superficial-site) receptors with tau 0.79 s (Kotermanski SE, Wood DC, "
    "Johnson JW 2009, J Physiol 587:4589); ketasim design: default for a designed superficial site, as "
    "for lanicemine",
    Status.ASSUMED,
    note="added with a designed superficial (non-trapping) site",
    name="superficial_koff",
)
DEFAULT_AMPA_EMAX = 0.3  # the placeholder Emax of (2R,6R)-HNK in data/compounds/2r6r-hydroxynorketamine.toml


@dataclass(frozen=True)
class Design:
    """A designed compound: its species (and mixture), the library holding them, what changed."""

    id: str
    base: str
    overrides: dict[str, float]
    compounds: dict[str, Compound]  # the new compound files, dosed one under ``id``
    library: Library
    changed: dict[str, Param] = field(default_factory=dict)  # dotted name -> new parameter

    @property
    def compound(self) -> Compound:
        return self.compounds[self.id]

    @property
    def species(self) -> list[Species]:
        return [c for c in self.compounds.values() if isinstance(c, Species)]


def _user(value: float, unit: str, name: str, note: str | None = None) -> Param:
    return Param(value=float(value), unit=unit, source=SOURCE, status=Status.ASSUMED, note=note, name=name)


def _put(table: Mapping[str, Param], key: str, value: float, unit: str, note: str | None = None):
    """A copy of ``table`` with ``key`` set to a user-specified parameter."""
    old = table.get(key)
    unit = old.unit if old is not None else unit
    if old is not None and old.source == SOURCE and old.note and note and old.note not in note:
        note = f"{old.note}; then {note}"  # a design parameter changed again keeps its history
    return {**table, key: _user(value, unit, key, note)}


# ------------------------------------------------------------------------------------- disposition
def vss(sp: Species) -> float:
    """Volume of distribution at steady state (L): the sum of the compartment volumes."""
    return sum(sp.pk[k].value for k in ("v1", "v2", "v3") if k in sp.pk)


def total_clearance(sp: Species) -> float:
    """Systemic clearance (L/h) of the reference adult: the sum of the pathways."""
    return sum(e.cl.value for e in sp.elimination)


def terminal_half_life(sp: Species, cl_factor: float = 1.0) -> float:
    """Terminal half-life (h) of the mammillary disposition after an IV dose (slowest eigenvalue)."""
    pk = sp.pk
    v = [pk["v1"].value]
    q = []
    for qk, vk in (("q2", "v2"), ("q3", "v3")):
        if qk in pk:
            q.append(pk[qk].value)
            v.append(pk[vk].value)
    n = len(v)
    A = np.zeros((n, n))
    A[0, 0] = -total_clearance(sp) * cl_factor / v[0]
    for j, qj in enumerate(q, start=1):
        A[0, 0] -= qj / v[0]
        A[j, 0] += qj / v[0]
        A[0, j] += qj / v[j]
        A[j, j] -= qj / v[j]
    slowest = float(np.min(np.abs(np.linalg.eigvals(A).real)))
    return math.inf if slowest == 0 else math.log(2) / slowest


def _scale_clearance(sp: Species, factor: float, note: str) -> Species:
    bp = sp.properties["blood_plasma_ratio"].value
    qh = default_physiology()["liver.hepatic_blood_flow"]
    liver = sum(e.cl.value for e in sp.elimination if e.organ == "liver") * factor
    if liver / bp >= 0.99 * qh:
        raise KetasimError(
            f"the liver pathways of '{sp.id}' would need a blood clearance of {liver / bp:.0f} L/h, "
            f"beyond hepatic blood flow {qh:.0f} L/h",
            argument="clearance",
            fix="choose a lower clearance or half-life, or a base whose clearance is mostly extrahepatic",
        )
    elim = tuple(replace(e, cl=_user(e.cl.value * factor, e.cl.unit, "cl", note)) for e in sp.elimination)
    return replace(sp, elimination=elim)


def _set_clearance(sp: Species, target: float) -> Species:
    total = total_clearance(sp)
    if total <= 0:
        raise KetasimError(f"'{sp.id}' has no elimination pathway to scale", argument="clearance")
    return _scale_clearance(sp, target / total, f"total clearance {target:g} L/h, pathways scaled together")


def _max_clearance_factor(sp: Species) -> float:
    """Largest factor on the clearances that keeps the liver pathways below hepatic blood flow."""
    bp = sp.properties["blood_plasma_ratio"].value
    qh = default_physiology()["liver.hepatic_blood_flow"]
    liver = sum(e.cl.value for e in sp.elimination if e.organ == "liver")
    return 1e3 if liver <= 0 else min(1e3, 0.98 * qh * bp / liver)


def _set_half_life(sp: Species, target: float) -> Species:
    def f(logf: float) -> float:
        return math.log(terminal_half_life(sp, math.exp(logf))) - math.log(target)

    lo, hi = math.log(1e-4), math.log(_max_clearance_factor(sp))
    if f(hi) > 0:
        shortest = terminal_half_life(sp, math.exp(hi))
        raise KetasimError(
            f"the shortest terminal half-life clearance can give '{sp.id}' is {shortest:.3g} h "
            "(hepatic blood flow and the base's tissue distribution limit it)",
            argument="t_half",
            fix="choose a longer half-life, or lower vss as well",
        )
    if f(lo) < 0:
        raise KetasimError(f"a terminal half-life of {target:g} h is too long", argument="t_half")
    factor = math.exp(brentq(f, lo, hi, xtol=1e-10))
    return _scale_clearance(sp, factor, f"terminal half-life {target:g} h: clearance solved")


def _set_vss(sp: Species, target: float) -> Species:
    factor = target / vss(sp)
    pk = dict(sp.pk)
    for k in ("v1", "v2", "v3"):
        if k in pk:
            pk = _put(pk, k, pk[k].value * factor, "L", f"vss {target:g} L, volumes scaled together")
    return replace(sp, pk=pk)


def _set_absorption(sp: Species, key: str, value: float) -> Species:
    if "oral" not in sp.absorption:
        raise KetasimError(
            f"the base '{sp.id}' has no oral absorption data to change",
            argument=key,
            fix="choose another base",
        )
    table = _put(sp.absorption["oral"], key, value, "1/h" if key == "ka" else "")
    return replace(sp, absorption={**sp.absorption, "oral": table})


# -------------------------------------------------------------------------------------------- targets
def _set_target(sp: Species, target: str, key: str, value: float, unit: str) -> Species:
    targets = dict(sp.targets)
    if target in targets:
        t = targets[target]
        # a value the designer gives is a constant, not the base's lower bound
        bound = None if key == "affinity" else t.bound
        targets[target] = replace(t, params=_put(t.params, key, value, unit), bound=bound)
    else:
        if key != "affinity":
            raise KetasimError(
                f"the base has no {target}; give its affinity first", argument=key, fix="e.g. ampa_ec50=3 uM"
            )
        kind, action = ("ec50", "potentiator") if target == "ampa_potentiation" else ("ki", "ligand")
        params = {"affinity": _user(value, unit, "affinity")}
        if target == "ampa_potentiation":
            params["emax"] = Param(
                DEFAULT_AMPA_EMAX,
                "",
                "ketasim design: default, the placeholder Emax of (2R,6R)-HNK (data/compounds/"
                "2r6r-hydroxynorketamine.toml)",
                Status.ASSUMED,
                name="emax",
            )
        targets[target] = TargetAffinity(target, kind, action, params)
    return replace(sp, targets=targets)


# ----------------------------------------------------------------------------------------------- NMDA
def _nmda(sp: Species, key: str, value: float, unit: str, note: str | None = None) -> Species:
    return replace(sp, nmda=_put(sp.nmda, key, value, unit, note))


def _scale_nmda(sp: Species, keys: tuple[str, ...], factor: float, note: str) -> Species:
    nmda = dict(sp.nmda)
    for k in keys:
        if k in nmda:
            nmda = _put(nmda, k, nmda[k].value * factor, nmda[k].unit, note)
    return replace(sp, nmda=nmda)


def _library_with(base: Library, compounds: Mapping[str, Compound]) -> Library:
    return Library({**base.compounds, **compounds})


def _solve_log(f: Callable[[float], float], lo: float, hi: float, what: str, fix: str) -> float:
    flo, fhi = f(lo), f(hi)
    if flo * fhi > 0:
        raise KetasimError(f"{what} cannot be reached", argument=what.split()[0], fix=fix)
    return brentq(f, lo, hi, xtol=1e-8)


class _Builder:
    """Holds the designed species while properties are applied in a fixed order."""

    def __init__(self, base: Compound, library: Library, did: str):
        self.base, self.library, self.id = base, library, did
        comps = dict(base.components)
        self.mixture = isinstance(base, Mixture)
        self.species: dict[str, Species] = {}
        self.fractions: dict[str, float] = {}
        for sid, frac in comps.items():
            sp = library.compounds[sid]
            assert isinstance(sp, Species)
            new_id = f"{did}-{sid}" if self.mixture else did
            analyte = f"{did} {sp.analyte}" if self.mixture else did
            self.species[sid] = replace(
                sp,
                id=new_id,
                name=f"{did} ({sp.name} with designed properties)",
                analyte=analyte,
                group=did,
                aliases=(),
                path=f"{new_id} (ketasim design)",
                overrides={},
                description=f"Hypothetical compound designed from {sp.id} (ketasim design).",
            )
            self.fractions[new_id] = frac

    def each(self, fn: Callable[[Species], Species]) -> None:
        self.species = {k: fn(sp) for k, sp in self.species.items()}

    def compounds(self) -> dict[str, Compound]:
        out: dict[str, Compound] = {sp.id: sp for sp in self.species.values()}
        if self.mixture:
            assert isinstance(self.base, Mixture)
            out[self.id] = replace(
                self.base,
                id=self.id,
                name=f"{self.id} (designed from {self.base.id})",
                components=dict(self.fractions),
                aliases=(),
                path=f"{self.id} (ketasim design)",
                description=f"Hypothetical compound designed from {self.base.id} (ketasim design).",
            )
        return out

    def lib(self) -> Library:
        return _library_with(self.library, self.compounds())

    def blockers(self) -> list[Species]:
        return [sp for sp in self.species.values() if "kd" in sp.nmda]

    # -- protocols on the detailed receptor model
    def ic50(self, v_mv: float = IC50_VOLTAGE_MV, mg_mm: float = 0.0) -> float | None:
        return ephys.ic50(self.id, "GluN2A", mg_mm, v_mv, self.lib())

    def trapped(self) -> float:
        try:
            return ephys.trapping(self.id, "GluN2A", library=self.lib())["trapped_fraction"]
        except ValueError as exc:  # the protocol's concentration search left its bracket
            raise KetasimError(f"trapping protocol failed ({exc})", argument="trapped_fraction") from None


def _require_blocker(b: _Builder, name: str) -> None:
    if not b.blockers():
        raise KetasimError(
            f"the base '{b.base.id}' does not block the NMDA channel",
            argument=name,
            fix="choose another --base",
        )


def _set_ic50(b: _Builder, target: float, v_mv: float, mg_mm: float, reason: str) -> None:
    """Scale every blocking component's Kd (deep and superficial) by one factor to reach ``target``.

    At steady state the receptor model is at equilibrium (detailed balance), so block depends on
    concentration / Kd only and the IC50 is proportional to the factor; the solve checks this."""
    start = dict(b.species)

    def with_factor(logs: float) -> _Builder:
        s = math.exp(logs)
        b.species = {
            k: _scale_nmda(sp, ("kd", "superficial_kd"), s, reason) if "kd" in sp.nmda else sp
            for k, sp in start.items()
        }
        return b

    def f(logs: float) -> float:
        got = with_factor(logs).ic50(v_mv, mg_mm)
        return (math.log(got) if got is not None else 50.0) - math.log(target)

    now = with_factor(0.0).ic50(v_mv, mg_mm)
    if now is None:
        raise KetasimError("the base never halves the current", argument="ic50")
    guess = math.log(target / now)
    try:
        logs = brentq(f, guess - 1.0, guess + 1.0, xtol=1e-10)
    except ValueError:
        raise KetasimError(
            f"IC50 {target:g} uM cannot be reached",
            argument="ic50",
            fix="choose an IC50 between 0.1 nM and 10 mM",
        ) from None
    with_factor(logs)


def _set_trapping(b: _Builder, target: float, koff_given: bool) -> None:
    start = dict(b.species)
    note = f"trapped fraction {target:g} (ephys 120 s washout protocol): solved"

    def no_superficial() -> dict[str, Species]:
        out = {}
        for k, sp in start.items():
            nmda = {n: p for n, p in sp.nmda.items() if not n.startswith("superficial_")}
            out[k] = replace(sp, nmda=nmda)
        return out

    deep = no_superficial()
    b.species = deep
    ceiling = b.trapped()
    if target <= ceiling:

        def f(logr: float) -> float:
            r = math.exp(logr)
            out = {}
            for k, sp in deep.items():
                if "kd" not in sp.nmda:
                    out[k] = sp
                    continue
                koff = start[k].nmda.get("superficial_koff", SUPERFICIAL_KOFF)
                nmda = dict(sp.nmda)
                nmda["superficial_kd"] = _user(
                    sp.nmda["kd"].value * r, sp.nmda["kd"].unit, "superficial_kd", note
                )
                nmda["superficial_koff"] = koff
                out[k] = replace(sp, nmda=nmda)
            b.species = out
            return b.trapped() - target

        lo, hi = math.log(1e-4), math.log(1e6)
        if f(lo) > 0.01:
            lowest = f(lo) + target
            raise KetasimError(
                f"trapped fraction {target:g} is below what a superficial site can give ({lowest:.3f})",
                argument="trapped_fraction",
            )
        if f(lo) >= 0:
            f(lo)
            return
        if f(hi) < 0:  # the superficial site no longer matters: the deep-site ceiling itself
            b.species = deep
            return
        f(brentq(f, lo, hi, xtol=1e-6))
        return
    if koff_given:
        raise KetasimError(
            f"trapped fraction {target:g} is above the ceiling {ceiling:.3f} set by the given koff and pKa",
            argument="trapped_fraction",
            fix="lower koff or raise pKa (less membrane escape), or leave koff out so it is solved",
        )

    def g(logk: float) -> float:
        b.species = {
            k: _scale_nmda(sp, ("koff",), math.exp(logk), note + " (deep-site escape)")
            if "kd" in sp.nmda
            else sp
            for k, sp in deep.items()
        }
        return b.trapped() - target

    g(_solve_log(g, math.log(1e-6), 0.0, "trapped_fraction target", "choose a fraction below 0.995"))


# --------------------------------------------------------------------------------------------- design
ORDER = tuple(PROPERTIES)
EXCLUSIVE = (("ic50", "kd"), ("clearance", "t_half"))


def design(
    overrides: Mapping[str, float] | None = None,
    base: str = DEFAULT_BASE,
    design_id: str = DEFAULT_ID,
    library: Library | None = None,
) -> Design:
    """A hypothetical compound: ``base`` with the properties in ``overrides`` (canonical units).

    ``overrides`` maps property names (:data:`ketasim.design.properties.PROPERTIES` and
    ``affinity.<target>``) to values in canonical units, e.g. ``{"ic50": 1.0, "t_half": 12.0}``.
    """
    overrides = dict(overrides or {})
    for name in overrides:
        lookup(name, name)
    for a, c in EXCLUSIVE:
        if a in overrides and c in overrides:
            raise KetasimError(f"'{a}' and '{c}' both set the same parameter", argument=c, fix="give one")
    for name in ("ic50_voltage", "ic50_mg"):
        if name in overrides and "ic50" not in overrides:
            raise KetasimError("only qualifies ic50", argument=name, fix="give ic50 too")
    library = library or default_library()
    base_c = library.get(base, "--base")
    if design_id.lower() in {n.lower() for n in library.compounds}:
        raise KetasimError(f"'{design_id}' is already a library compound", argument="--id")
    b = _Builder(base_c, library, design_id)
    base_ic50 = b.ic50() if b.blockers() else None
    ov = overrides

    def prop(key: str, unit: str) -> Callable[[Species], Species]:
        def fn(sp: Species) -> Species:
            if key == "pka" and sp.ionization not in ("base", "acid"):
                raise KetasimError(f"'{sp.id}' is {sp.ionization}: it has no pKa", argument="pka")
            return replace(sp, properties=_put(sp.properties, key, ov[key], unit))

        return fn

    for key in ("pka", "logp", "fu", "blood_plasma_ratio", "mw"):
        if key in ov:
            b.each(prop(key, "g/mol" if key == "mw" else ""))
    if "vss" in ov:
        b.each(lambda sp: _set_vss(sp, ov["vss"]))
    if "clearance" in ov:
        b.each(lambda sp: _set_clearance(sp, ov["clearance"]))
    if "t_half" in ov:
        b.each(lambda sp: _set_half_life(sp, ov["t_half"]))
    for key in ("ka", "fa", "fg"):
        if key in ov:
            b.each(lambda sp, key=key: _set_absorption(sp, key, ov[key]))
    if "k_bbb" in ov:
        b.each(lambda sp: replace(sp, brain=_put(sp.brain, "k_bbb", ov["k_bbb"], "1/h")))
    for name in sorted(n for n in ov if n.startswith(AFFINITY_PREFIX)):
        b.each(
            lambda sp, name=name: _set_target(sp, name[len(AFFINITY_PREFIX) :], "affinity", ov[name], "uM")
        )
    for key, field_, unit in (
        ("ampa_ec50", "affinity", "uM"),
        ("ampa_emax", "emax", ""),
        ("ampa_hill", "hill", ""),
    ):
        if key in ov:
            b.each(lambda sp, key=key, f=field_, u=unit: _set_target(sp, "ampa_potentiation", f, ov[key], u))

    nmda_keys = ("kd", "koff", "delta", "kd_factor_2b", "kd_factor_2c", "kd_factor_2d")
    nmda_props = [k for k in (*nmda_keys, "trapped_fraction", "ic50") if k in ov]
    if nmda_props:
        _require_blocker(b, nmda_props[0])
    units_ = {"kd": "uM", "koff": "1/h"}
    for key in nmda_keys:
        if key in ov:
            b.each(
                lambda sp, key=key: _nmda(sp, key, ov[key], units_.get(key, "")) if "kd" in sp.nmda else sp
            )
    if "trapped_fraction" in ov:
        _set_trapping(b, ov["trapped_fraction"], "koff" in ov)
    if "ic50" in ov:
        v = ov.get("ic50_voltage", IC50_VOLTAGE_MV)
        mg = ov.get("ic50_mg", 0.0) / 1000.0
        note = f"IC50 {ov['ic50']:g} uM at GluN2A, {v:g} mV, {mg:g} mM Mg2+ (ephys protocol): Kd solved"
        _set_ic50(b, ov["ic50"], v, mg, note)
    elif "trapped_fraction" in ov and "kd" not in ov and base_ic50 is not None:
        note = f"Kd rescaled to keep the base IC50 {base_ic50:.3g} uM (GluN2A, -66 mV, 0 Mg2+) after trapping"
        _set_ic50(b, base_ic50, IC50_VOLTAGE_MV, 0.0, note)
    # the PCP-site binding affinity follows the pore Kd (the same site)
    for k, sp in b.species.items():
        old = library.compounds[k]
        if "kd" in sp.nmda and "nmda_pcp_site" in sp.targets and sp.nmda["kd"] is not old.nmda["kd"]:
            ratio = sp.nmda["kd"].value / old.nmda["kd"].value
            if AFFINITY_PREFIX + "nmda_pcp_site" not in ov and abs(ratio - 1) > 1e-12:
                t = sp.targets["nmda_pcp_site"]
                p = _user(
                    t.affinity * ratio, t.params["affinity"].unit, "affinity", "scaled with the pore Kd"
                )
                sp = replace(
                    sp,
                    targets={**sp.targets, "nmda_pcp_site": replace(t, params={**t.params, "affinity": p})},
                )
                b.species[k] = sp
    compounds = b.compounds()
    mix = compounds.get(design_id)
    if "mw" in ov and isinstance(mix, Mixture):  # the dose of a mixture is converted with its own mw
        compounds[design_id] = replace(mix, properties=_put(mix.properties, "mw", ov["mw"], "g/mol"))
    lib = _library_with(library, compounds)
    return Design(design_id, base_c.id, overrides, compounds, lib, _changed(compounds))


def _changed(compounds: Mapping[str, Compound]) -> dict[str, Param]:
    out = {}
    for c in compounds.values():
        for name, p in c.params().items():
            if "ketasim design" in p.source:
                out[name] = p
    return out
