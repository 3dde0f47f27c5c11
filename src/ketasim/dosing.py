"""Doses and regimens.

A :class:`Dose` is one administration: a compound, an amount (absolute, e.g. ``"56 mg"``, or per
body weight, ``"0.5 mg/kg"``), a route, a start time and, for intravenous infusions, a duration.
A :class:`Regimen` is a sequence of doses; helpers build repeated and stepped regimens. Amounts
are stated as free base. Strings are parsed here, once, into canonical units (mg or µmol, h).
NONMEM-style event tables (ID, TIME, AMT, RATE, EVID, CMT) can be written and read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ketasim import units
from ketasim.errors import KetasimError, suggest

ROUTE_ALIASES = {
    "iv": "iv",
    "intravenous": "iv",
    "im": "im",
    "intramuscular": "im",
    "in": "intranasal",
    "intranasal": "intranasal",
    "nasal": "intranasal",
    "po": "oral",
    "oral": "oral",
    "sl": "sublingual",
    "sublingual": "sublingual",
    "ip": "ip",
    "intraperitoneal": "ip",
}
ROUTES = ("iv", "im", "intranasal", "oral", "sublingual", "ip")
MAX_REPEATS = 1000  # doses in one repeated regimen (daily for almost three years)
# NONMEM compartment numbers used in event tables
ROUTE_CMT = {"iv": 1, "oral": 2, "intranasal": 3, "sublingual": 4, "im": 5, "ip": 6}


def normalise_route(route: str, argument: str = "route") -> str:
    """Map a route name or abbreviation (``"IN"``, ``"po"``) to its canonical name."""
    if not isinstance(route, str):
        raise KetasimError(f"route must be text, got {route!r}", argument=argument)
    key = route.strip().lower()
    if key not in ROUTE_ALIASES:
        near = suggest(key, ROUTE_ALIASES)  # aliases too: 'intravenos' is nearer 'intravenous' than any route
        fix = f"did you mean '{near}'?" if near else "choose one of: " + ", ".join(ROUTES)
        raise KetasimError(f"unknown route '{route}'", argument=argument, fix=fix)
    return ROUTE_ALIASES[key]


@dataclass(frozen=True)
class Dose:
    """One administration. ``amount`` is in mg (or µmol if ``in_moles``), per kg if ``per_kg``."""

    compound: str
    amount: float
    route: str = "iv"
    time: float = 0.0
    duration: float = 0.0
    per_kg: bool = False
    in_moles: bool = False

    def __post_init__(self) -> None:
        if not np.isfinite(self.amount) or self.amount < 0:
            raise KetasimError(
                f"amount must be zero or positive, got {self.amount}",
                argument="dose",
                fix="give a positive dose such as '0.5 mg/kg'",
            )
        if not np.isfinite(self.time) or self.time < 0:
            raise KetasimError(f"start time must be zero or positive, got {self.time} h", argument="time")
        if not np.isfinite(self.duration) or self.duration < 0:
            raise KetasimError(
                f"duration must be zero or positive, got {self.duration} h", argument="duration"
            )
        if self.duration > 0 and self.route != "iv":
            raise KetasimError(
                f"a duration applies only to intravenous infusions, not route '{self.route}'",
                argument="duration",
                fix="drop --duration or use route 'iv'",
            )

    @classmethod
    def parse(
        cls,
        compound: str,
        amount: str | float,
        route: str = "iv",
        time: str | float = 0.0,
        duration: str | float | None = None,
    ) -> Dose:
        """Build a dose from user strings.

        Example: ``Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min")``.
        """
        route = normalise_route(route)
        kind = units.dimension_of(str(amount)) if isinstance(amount, str) else None
        if kind == "mass":
            value, per_kg, moles = units.parse(amount, "mass", "dose"), False, False
        elif kind == "mass_per_weight":
            value, per_kg, moles = units.parse(amount, "mass_per_weight", "dose"), True, False
        elif kind == "amount":
            value, per_kg, moles = units.parse(amount, "amount", "dose"), False, True
        else:
            # let the parser produce the precise message (no unit, unreadable, wrong dimension)
            units.parse(amount, "mass", "dose")
            raise KetasimError(
                f"'{amount}' is not a dose", argument="dose", fix="use a mass such as '56 mg' or '0.5 mg/kg'"
            )
        t = units.parse(time, "time", "time") if isinstance(time, str) else _hours(time, "time")
        d = 0.0
        if duration is not None and duration != "":
            d = (
                units.parse(duration, "time", "duration")
                if isinstance(duration, str)
                else _hours(duration, "duration")
            )
            if d <= 0:
                raise KetasimError(
                    f"duration must be positive, got '{duration}'",
                    argument="duration",
                    fix="omit it for a bolus",
                )
        return cls(compound, value, route, t, d, per_kg, moles)

    def micromoles(self, mw: float, weight: np.ndarray | float) -> np.ndarray:
        """Amount in µmol for body weight(s) ``weight`` (kg), given the compound's molar mass."""
        amount = (
            self.amount * np.asarray(weight, dtype=float)
            if self.per_kg
            else np.asarray(self.amount, dtype=float)
        )
        return amount if self.in_moles else amount * 1000.0 / mw


@dataclass(frozen=True)
class Regimen:
    """An ordered collection of doses."""

    doses: tuple[Dose, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "doses", tuple(sorted(self.doses, key=lambda d: d.time)))

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(self.doses + other.doses)

    @property
    def compounds(self) -> list[str]:
        return list(dict.fromkeys(d.compound for d in self.doses))

    @property
    def routes(self) -> set[str]:
        return {d.route for d in self.doses}

    @property
    def end(self) -> float:
        return max((d.time + d.duration for d in self.doses), default=0.0)

    def as_iv_bolus(self) -> Regimen:
        """The same amounts at the same times as IV boluses (the reference for bioavailability)."""
        return Regimen(tuple(replace(d, route="iv", duration=0.0) for d in self.doses))

    @classmethod
    def single(cls, dose: Dose) -> Regimen:
        return cls((dose,))

    @classmethod
    def repeated(cls, dose: Dose, every: str | float, count: int) -> Regimen:
        """``count`` copies of ``dose`` every ``every`` (e.g. twice weekly: ``"3.5 d"``, 8)."""
        interval = units.parse(every, "time", "every") if isinstance(every, str) else _hours(every, "every")
        if (
            isinstance(count, bool)
            or not isinstance(count, int | np.integer)
            or not 1 <= count <= MAX_REPEATS
        ):
            raise KetasimError(
                f"count must be a whole number from 1 to {MAX_REPEATS}, got {count!r}", argument="count"
            )
        if interval <= 0:
            raise KetasimError("interval must be positive", argument="every")
        if interval < dose.duration:
            raise KetasimError(
                "doses would overlap: the interval is shorter than the infusion", argument="every"
            )
        return cls(tuple(_shift(dose, dose.time + k * interval) for k in range(count)))

    @classmethod
    def stepped_infusion(
        cls, compound: str, steps: Sequence[tuple[str, str]], start: str | float = 0.0
    ) -> Regimen:
        """Consecutive IV infusions at given rates: ``[("0.28 mg/kg/h", "1 h"), ...]``."""
        t = units.parse(start, "time", "start") if isinstance(start, str) else float(start)
        doses = []
        for i, (rate, duration) in enumerate(steps):
            d = units.parse(duration, "time", f"steps[{i}].duration")
            if d <= 0:
                raise KetasimError("step duration must be positive", argument=f"steps[{i}].duration")
            doses.append(_infusion_step(compound, rate, d, t, f"steps[{i}].rate"))
            t += d
        return cls(tuple(doses))

    def to_event_table(self, weight: float = 70.0, patient_id: int = 1) -> pd.DataFrame:
        """NONMEM-style dosing records: TIME (h), AMT (mg), RATE (mg/h, 0 for bolus), EVID=1, CMT."""
        rows = []
        for d in self.doses:
            mg = d.amount * (weight if d.per_kg else 1.0)
            rows.append(
                {
                    "ID": patient_id,
                    "TIME": d.time,
                    "AMT": mg,
                    "RATE": mg / d.duration if d.duration > 0 else 0.0,
                    "EVID": 1,
                    "CMT": ROUTE_CMT[d.route],
                    "COMPOUND": d.compound,
                    "AMT_UNIT": "umol" if d.in_moles else "mg",
                }
            )
        return pd.DataFrame(
            rows, columns=["ID", "TIME", "AMT", "RATE", "EVID", "CMT", "COMPOUND", "AMT_UNIT"]
        )

    @classmethod
    def from_event_table(cls, table: pd.DataFrame, compound: str | None = None) -> Regimen:
        """Read dosing records (EVID 1) of one subject; times in h, AMT in mg (or AMT_UNIT)."""
        missing = {"TIME", "AMT", "CMT"} - set(table.columns)
        if missing:
            raise KetasimError(f"missing column(s) {sorted(missing)}", argument="event table")
        cmt_route = {v: k for k, v in ROUTE_CMT.items()}
        doses = []
        for i, row in table.iterrows():
            if int(row.get("EVID", 1)) != 1:
                continue
            cmt = int(row["CMT"])
            if cmt not in cmt_route:
                raise KetasimError(
                    f"CMT {cmt} is not a dosing compartment",
                    argument=f"event table row {i}",
                    fix=f"use {ROUTE_CMT}",
                )
            name = compound or row.get("COMPOUND")
            if not name:
                raise KetasimError(
                    "no compound",
                    argument=f"event table row {i}",
                    fix="add a COMPOUND column or pass compound=",
                )
            rate = float(row.get("RATE", 0.0) or 0.0)
            amt = float(row["AMT"])
            duration = amt / rate if rate > 0 else 0.0
            in_moles = str(row.get("AMT_UNIT", "mg")).lower() == "umol"
            doses.append(Dose(str(name), amt, cmt_route[cmt], float(row["TIME"]), duration, False, in_moles))
        return cls(tuple(doses))


def _infusion_step(compound: str, rate: str, duration_h: float, start_h: float, argument: str) -> Dose:
    """One constant-rate IV segment from a rate such as '0.28 mg/kg/h', '20 mg/h' or '50 umol/h'."""
    try:
        q = units.ureg.Quantity(units._clean(str(rate)))
    except Exception:
        raise KetasimError(
            f"cannot read '{rate}' as a rate", argument=argument, fix="e.g. '0.28 mg/kg/h'"
        ) from None
    for unit, per_kg, moles in (("mg/kg/h", True, False), ("mg/h", False, False), ("umol/h", False, True)):
        if q.check(units.ureg(unit).dimensionality):
            amount = float(q.to(unit).magnitude) * duration_h
            return Dose(compound, amount, "iv", start_h, duration_h, per_kg, moles)
    raise KetasimError(
        f"'{rate}' is not an infusion rate", argument=argument, fix="use mg/kg/h, mg/h or umol/h"
    )


def _hours(value: object, argument: str) -> float:
    """A time given as a plain number of hours (the API's form; files and the CLI give units)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise KetasimError(
            f"expected a time such as '40 min', got {value!r}",
            argument=argument,
            fix="give a number and a unit",
        )
    out = float(value)
    if not np.isfinite(out):
        raise KetasimError(f"{value!r} is not a finite time", argument=argument)
    return out


def _shift(dose: Dose, time: float) -> Dose:
    return Dose(dose.compound, dose.amount, dose.route, time, dose.duration, dose.per_kg, dose.in_moles)


def regimen(doses: Iterable[Dose]) -> Regimen:
    return Regimen(tuple(doses))
