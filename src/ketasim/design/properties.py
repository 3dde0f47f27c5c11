"""The properties a designed compound can be given, and reading ``PROPERTY=VALUE`` arguments.

Each property names what a chemist would state about a molecule (an IC50, a trapped fraction, a
half-life, a pKa); :mod:`ketasim.design.build` turns it into the compound-file parameters the model
reads. Values carry units where they are physical (``ic50=1 uM``, ``t_half=12 h``) and are
converted once here to the canonical units of :mod:`ketasim.units`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ketasim import units
from ketasim.compounds import target_names
from ketasim.errors import KetasimError, suggest


@dataclass(frozen=True)
class Property:
    """One designable property: its unit kind, plausible range (canonical units) and meaning."""

    name: str
    kind: str
    lo: float
    hi: float
    help: str


_LIST = (
    # NMDA receptor channel block (ketasim.targets.nmda_kinetics)
    Property("ic50", "concentration", 1e-4, 1e4, "NMDA IC50 of the dosed compound, GluN2A, ephys protocol"),
    Property("ic50_voltage", "voltage", -150.0, 100.0, "holding potential of the ic50 (default -66 mV)"),
    Property("ic50_mg", "concentration", 0.0, 1e5, "Mg2+ of the ic50 measurement (default 0 mM)"),
    Property("kd", "concentration", 1e-5, 1e5, "deep-site pore-block Kd at its reference voltage"),
    Property("koff", "rate", 1e-3, 1e8, "unblocking rate from the deep site at its reference voltage"),
    Property("delta", "dimensionless", 0.0, 1.5, "Woodhull electrical distance (voltage dependence)"),
    Property("trapped_fraction", "dimensionless", 0.0, 0.995, "block left after 120 s washout"),
    Property("kd_factor_2b", "dimensionless", 1e-3, 1e3, "Kd at GluN2B / Kd at GluN2A"),
    Property("kd_factor_2c", "dimensionless", 1e-3, 1e3, "Kd at GluN2C / Kd at GluN2A"),
    Property("kd_factor_2d", "dimensionless", 1e-3, 1e3, "Kd at GluN2D / Kd at GluN2A"),
    # AMPA potentiation (the hnk_ampa mechanism)
    Property("ampa_ec50", "concentration", 1e-4, 1e6, "EC50 of AMPA potentiation"),
    Property("ampa_emax", "dimensionless", 0.0, 10.0, "maximal fractional AMPA potentiation"),
    Property("ampa_hill", "dimensionless", 0.1, 5.0, "Hill coefficient of AMPA potentiation"),
    # physical chemistry
    Property("pka", "dimensionless", -2.0, 16.0, "pKa of the ionisable group"),
    Property("logp", "dimensionless", -6.0, 10.0, "octanol/water logP of the neutral species"),
    Property("fu", "dimensionless", 1e-4, 1.0, "unbound fraction in plasma"),
    Property("blood_plasma_ratio", "dimensionless", 0.3, 5.0, "blood/plasma concentration ratio"),
    Property("mw", "molar_mass", 30.0, 3000.0, "molecular weight of the free base"),
    # disposition
    Property("clearance", "clearance", 1e-3, 1e4, "total systemic clearance (all pathways scaled)"),
    Property("t_half", "time", 0.05, 2000.0, "terminal half-life after an IV dose (clearance solved)"),
    Property("vss", "volume", 1.0, 1e5, "volume of distribution at steady state (all volumes scaled)"),
    Property("k_bbb", "rate", 1e-3, 1e5, "plasma/brain ECF exchange rate of the neutral species"),
    # route and formulation
    Property("ka", "rate", 1e-3, 200.0, "oral absorption rate constant (formulation)"),
    Property("fa", "dimensionless", 0.0, 1.0, "fraction of an oral dose absorbed"),
    Property("fg", "dimensionless", 0.0, 1.0, "fraction escaping gut-wall metabolism"),
)
PROPERTIES: dict[str, Property] = {p.name: p for p in _LIST}
AFFINITY_PREFIX = "affinity."
AFFINITY = Property("affinity.TARGET", "concentration", 1e-6, 1e7, "affinity (Ki/IC50) at an off-target")


def property_names() -> list[str]:
    """Every valid property name, off-target affinities as ``affinity.<target>``."""
    return [*PROPERTIES, *(AFFINITY_PREFIX + t for t in sorted(target_names()))]


def lookup(name: str, argument: str) -> Property:
    """The :class:`Property` called ``name``; an unknown name is an error with a near miss."""
    if name in PROPERTIES:
        return PROPERTIES[name]
    if name.startswith(AFFINITY_PREFIX) and name[len(AFFINITY_PREFIX) :] in target_names():
        return Property(name, AFFINITY.kind, AFFINITY.lo, AFFINITY.hi, AFFINITY.help)
    names = property_names()
    near = suggest(name, names)
    lead = f"did you mean '{near}'? " if near else ""
    raise KetasimError(
        f"unknown property '{name}'", argument=argument, fix=lead + "valid properties: " + ", ".join(names)
    )


def parse_value(prop: Property, text: str, argument: str) -> float:
    """``text`` (e.g. ``"1 uM"``, ``"0.8"``) in the canonical unit of ``prop``, range-checked."""
    text = text.strip()
    if not text:
        raise KetasimError("no value given", argument=argument, fix=f"write {prop.name}=VALUE")
    if prop.kind == "dimensionless":
        try:
            value = float(text)
        except ValueError:
            value = units.parse(text, "dimensionless", argument)
    else:
        value = units.parse(text, prop.kind, argument)
    if not prop.lo <= value <= prop.hi:
        label = units.LABEL[prop.kind]
        raise KetasimError(
            f"{value:g} {label} is outside the range [{prop.lo:g}, {prop.hi:g}] {label}",
            argument=argument,
            fix=prop.help,
        )
    return value


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``PROPERTY=VALUE`` into its name and value text."""
    if "=" not in text:
        raise KetasimError(
            f"'{text}' is not PROPERTY=VALUE", argument="design", fix="e.g. ic50=1 uM or t_half=12 h"
        )
    name, value = text.split("=", 1)
    return name.strip().lower(), value


def parse_overrides(items: Iterable[str]) -> dict[str, float]:
    """``["ic50=1 uM", "t_half=12 h"]`` -> {name: canonical value}; repeated names are an error."""
    out: dict[str, float] = {}
    for item in items:
        name, text = parse_assignment(item)
        prop = lookup(name, name)
        if name in out:
            raise KetasimError("given twice", argument=name, fix="give each property once")
        out[name] = parse_value(prop, text, name)
    return out


def unit_label(name: str) -> str:
    """The canonical unit label of property ``name`` (e.g. ``uM``, ``h``, ``''``)."""
    return units.LABEL[lookup(name, name).kind]
