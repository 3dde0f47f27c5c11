"""The competing hypotheses as switches (``data/mechanisms.toml``).

A scenario's ``[mechanisms]`` table turns routes on or off by name; names it does not mention
take their default. Switching a route off makes it see the drug-free value of its input
(:mod:`ketasim.model`), so nothing else in the model changes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from ketasim.errors import KetasimError, unknown_choice
from ketasim.parameter_sets import DATA, ParamSet, load_param_set

PATH = DATA / "mechanisms.toml"


@dataclass(frozen=True)
class Mechanism:
    name: str
    label: str
    seed: str
    default: bool


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Mechanism]:
    """Every known mechanism switch, in file order."""
    with PATH.open("rb") as fh:
        data = tomllib.load(fh)
    return {
        name: Mechanism(name, t["label"], t["seed"], bool(t["default"]))
        for name, t in data["mechanism"].items()
    }


NAMES = tuple(catalogue())


@lru_cache(maxsize=1)
def route_params() -> ParamSet:
    """Gains of the routes (``mechanism.NAME.params.*``)."""
    return load_param_set(PATH)


def defaults() -> frozenset[str]:
    return frozenset(n for n, m in catalogue().items() if m.default)


def resolve(table: Mapping[str, object] | None, argument: str = "mechanisms") -> frozenset[str]:
    """The set of switched-on mechanisms from a scenario table ``{name: bool}`` (defaults fill the rest)."""
    on = set(defaults())
    for name, value in (table or {}).items():
        if name not in catalogue():
            raise unknown_choice("mechanism", name, NAMES, argument)
        if not isinstance(value, bool):
            raise KetasimError(
                f"'{name}' must be true or false, not {value!r}", argument=f"{argument}.{name}"
            )
        (on.add if value else on.discard)(name)
    return frozenset(on)


def parse_names(text: str, argument: str = "--mechanisms") -> frozenset[str]:
    """A comma-separated list such as ``"resting_nmda,disinhibition"`` (``all`` and ``none`` allowed)."""
    text = text.strip()
    if text == "all":
        return frozenset(NAMES)
    if text in ("", "none"):
        return frozenset()
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in catalogue():
            raise unknown_choice("mechanism", n, NAMES, argument)
    return frozenset(names)
