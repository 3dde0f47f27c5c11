"""Knockouts, knock-ins and co-drugs as parameter transforms (``data/perturbations.toml``).

A perturbation is data: a set of parameter values to replace (cascade or circuit) and NMDA
receptor expression multipliers by ``cell.subunit``. :func:`apply` returns new parameter sets and
an expression map; the model code never learns which perturbation it runs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ketasim.compounds import _param
from ketasim.errors import KetasimError, unknown_choice
from ketasim.parameter_sets import DATA, ParamSet
from ketasim.provenance import Param
from ketasim.targets.cell_types import CellType

PATH = DATA / "perturbations.toml"
SECTIONS = ("set", "circuit", "expression")


@dataclass(frozen=True)
class Perturbation:
    name: str
    label: str
    kind: str
    set: dict[str, Param] = field(default_factory=dict)  # cascade parameters
    circuit: dict[str, Param] = field(default_factory=dict)  # circuit parameters
    expression: dict[str, Param] = field(default_factory=dict)  # "cell.subunit" multipliers


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Perturbation]:
    with PATH.open("rb") as fh:
        data = tomllib.load(fh)
    out = {}
    for name, table in data["perturbation"].items():
        parts: dict[str, dict[str, Param]] = {s: {} for s in SECTIONS}
        for section in SECTIONS:
            for key, raw in table.get(section, {}).items():
                where = f"{PATH.name}: perturbation.{name}.{section}.{key}"
                parts[section][key] = _param(raw, where, key, ("dimensionless", 0.0, 1e6, True))
        out[name] = Perturbation(name, table["label"], table["kind"], **parts)
    return out


NAMES = tuple(catalogue())


def check_names(names: Iterable[str], argument: str = "perturbations") -> list[str]:
    names = list(names)
    for n in names:
        if not isinstance(n, str) or n not in catalogue():
            raise unknown_choice("perturbation", str(n), NAMES, argument)
    return names


CHRONIC_KINDS = ("knockout", "knock-in")


def chronic(names: Iterable[str]) -> list[str]:
    """The perturbations an animal lives with (genetic), to which its spines are adapted."""
    return [n for n in check_names(names) if catalogue()[n].kind in CHRONIC_KINDS]


def _expand(key: str, cells: Mapping[str, CellType]) -> list[str]:
    cell, _, sub = key.partition(".")
    out = [f"{c}.{s}" for c, ct in cells.items() for s in ct.subunits if cell in ("*", c) and sub in ("*", s)]
    if not out:
        raise KetasimError(f"'{key}' matches no NMDA receptor of the cell types", argument=PATH.name)
    return out


def apply(
    names: Iterable[str],
    cascade: ParamSet,
    circuit: ParamSet,
    cells: Mapping[str, CellType],
) -> tuple[ParamSet, ParamSet, dict[str, float]]:
    """Parameter sets and NMDA expression multipliers with the named perturbations applied in order."""
    expression: dict[str, float] = {}
    for name in check_names(names):
        pert = catalogue()[name]
        if pert.set:
            cascade = cascade.replace(pert.set)
        if pert.circuit:
            circuit = circuit.replace(pert.circuit)
        for key, param in pert.expression.items():
            for k in _expand(key, cells):
                expression[k] = expression.get(k, 1.0) * param.value
    return cascade, circuit, expression
