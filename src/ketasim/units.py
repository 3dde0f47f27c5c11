"""Units at the boundary.

Every quantity a user gives (``"0.5 mg/kg"``, ``"40 min"``, ``"56 mg"``) is parsed once, here,
with pint, and converted to the package's canonical internal units:

==============  =========
quantity        unit
==============  =========
time            h
amount          µmol
mass            mg
volume          L
concentration   µM (µmol/L)
clearance       L/h
rate constant   1/h
voltage         mV
==============  =========

Inside the model every number is a plain float in these units.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pint

from ketasim.errors import KetasimError

ureg = pint.UnitRegistry()
ureg.define("percent_ = 0.01 = pct")

CANONICAL: dict[str, str] = {
    "time": "hour",
    "amount": "micromole",
    "mass": "milligram",
    "volume": "liter",
    "concentration": "micromolar",
    "clearance": "liter / hour",
    "rate": "1 / hour",
    "bimolecular": "1 / micromolar / hour",
    "voltage": "millivolt",
    "molar_mass": "gram / mole",
    "mass_per_weight": "milligram / kilogram",
    "weight": "kilogram",
    "dimensionless": "dimensionless",
}


LABEL: dict[str, str] = {
    "time": "h",
    "amount": "umol",
    "mass": "mg",
    "volume": "L",
    "concentration": "uM",
    "clearance": "L/h",
    "rate": "1/h",
    "bimolecular": "1/(uM h)",
    "voltage": "mV",
    "molar_mass": "g/mol",
    "mass_per_weight": "mg/kg",
    "weight": "kg",
    "dimensionless": "",
}
"""Short labels of the canonical units, for tables and provenance records."""


MAX_TEXT = 200
"""Longest quantity text read (a dose or a time is a few characters; longer input is not a quantity)."""
MAX_EXPONENT = 10.0
"""Largest power allowed in a quantity (``m**2``, ``s^-1``); pint evaluates powers exactly, so an input
such as ``9**9**9 mg`` would otherwise take unbounded time and memory."""
MAX_POWERS = 4
_POWER = re.compile(r"(\*\*|\^)\s*")
_SMALL_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)(?![\d.eE(^]|\*\*)")


def _clean(text: str) -> str:
    return text.replace("µ", "u").replace("μ", "u").replace("mcg", "ug").strip()


def _check_powers(text: str) -> bool:
    """True if ``text`` has at most :data:`MAX_POWERS` powers, each with a plain numeric exponent no
    larger than :data:`MAX_EXPONENT` (nested powers multiply their exponents)."""
    powers = list(_POWER.finditer(text))
    if len(powers) > MAX_POWERS:
        return False
    for m in powers:
        exp = _SMALL_NUMBER.match(text, m.end())
        if exp is None or abs(float(exp.group(0))) > MAX_EXPONENT:
            return False
    return True


@lru_cache(maxsize=512)
def _parse(text: str) -> pint.Quantity:
    return ureg.Quantity(_clean(text))


def parse(value: str | float | int, to: str, argument: str) -> float:
    """Parse ``value`` and return it as a float in the canonical unit of kind ``to``.

    ``value`` is a string with a unit (``"40 min"``) or, for dimensionless kinds only, a number.
    Raises :class:`KetasimError` naming ``argument`` if it cannot be parsed or does not convert.
    """
    target = CANONICAL[to]
    if isinstance(value, bool):
        raise KetasimError(f"expected a quantity, got {value!r}", argument=argument)
    if isinstance(value, int | float):
        if to == "dimensionless":
            return float(value)
        raise KetasimError(
            f"'{value}' has no unit", argument=argument, fix=f"give a unit, e.g. '{value} {_example(to)}'"
        )
    text = str(value)
    unreadable = KetasimError(
        f"cannot read '{text[:40]}{'...' if len(text) > 40 else ''}' as a quantity",
        argument=argument,
        fix=f"write a number and a unit, e.g. '{_example(to)}'",
    )
    if len(text) > MAX_TEXT or not _check_powers(text):
        raise unreadable
    try:
        q = _parse(text)
    except Exception:
        raise unreadable from None
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(q)
    try:
        out = float(q.to(target).magnitude)
    except pint.DimensionalityError:
        raise KetasimError(
            f"'{value}' does not convert to {to} ({target})",
            argument=argument,
            fix=f"use a {to} unit, e.g. '{_example(to)}'",
        ) from None
    except (OverflowError, TypeError, ValueError, ArithmeticError):
        raise unreadable from None
    if not math.isfinite(out):
        raise KetasimError(
            f"'{value}' is not a finite quantity", argument=argument, fix=f"e.g. '{_example(to)}'"
        )
    return out


def convert(value: float, unit: str, to: str, argument: str) -> float:
    """Convert a number given in ``unit`` to the canonical unit of kind ``to``."""
    if unit.strip() in ("", "1", "dimensionless"):
        if to != "dimensionless":
            raise KetasimError(
                f"unit '' does not convert to {to} ({CANONICAL[to]})",
                argument=argument,
                fix=f"give the unit, e.g. '{_example(to)}'",
            )
        return float(value)
    return parse(f"{value!r} {unit}" if not unit.startswith("/") else f"{value!r} 1{unit}", to, argument)


def dimension_of(text: str) -> str | None:
    """Return which canonical kind ``text`` converts to (e.g. ``"mass"``), or None."""
    if len(text) > MAX_TEXT or not _check_powers(text):
        return None
    try:
        q = _parse(_clean(text))
    except Exception:
        return None
    if not isinstance(q, pint.Quantity):
        return "dimensionless"
    for kind, unit in CANONICAL.items():
        if q.check(ureg(unit).dimensionality) if kind != "dimensionless" else q.dimensionless:
            return kind
    return None


def _example(kind: str) -> str:
    return {
        "time": "40 min",
        "amount": "100 umol",
        "mass": "56 mg",
        "volume": "5 L",
        "concentration": "1 uM",
        "clearance": "80 L/h",
        "rate": "0.5 1/h",
        "bimolecular": "5 1/uM/s",
        "voltage": "-70 mV",
        "molar_mass": "237.7 g/mol",
        "mass_per_weight": "0.5 mg/kg",
        "weight": "70 kg",
        "dimensionless": "0.5",
    }[kind]
