"""Scenarios: plain data describing an experiment or a trial, read from and written to TOML.

Format (every key optional except ``arms``)::

    name = "Mouse, ketamine 10 mg/kg i.p."
    species = "mouse"              # human (default), mouse or rat
    condition = "healthy"          # or "depressed" (spine deficit of the depressed state)
    horizon = "7 d"
    perturbations = ["rapamycin"]  # applied to every arm (data/perturbations.toml)
    [population]                   # used by `ketasim trial`
    n = 500
    seed = 7
    [[arms]]
    name = "ketamine"
    doses = [{ compound = "ketamine", amount = "10 mg/kg", route = "ip" }]
    perturbations = []             # added to the scenario-wide ones for this arm
    [mechanisms]
    resting_nmda = true

A dose may also give ``time`` (start, e.g. "30 min"), ``duration`` (IV infusions), and ``every`` with
``count`` for repeats. Unknown keys are errors that name the key and suggest the nearest valid one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketasim import mechanisms, perturbations, units
from ketasim.compounds import SPECIES, Library, default_library
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError, unknown_choice
from ketasim.toml_io import read_toml

CONDITIONS = ("healthy", "depressed")
TOP_KEYS = ("name", "species", "condition", "horizon", "perturbations", "population", "arms", "mechanisms")
ARM_KEYS = ("name", "doses", "perturbations")
DOSE_KEYS = ("compound", "amount", "route", "time", "duration", "every", "count")


@dataclass(frozen=True)
class Arm:
    name: str
    regimen: Regimen
    perturbations: tuple[str, ...] = ()
    doses: tuple[dict[str, Any], ...] = ()  # as written, for round trips and records


@dataclass(frozen=True)
class Scenario:
    name: str
    arms: tuple[Arm, ...]
    species: str = "human"
    condition: str = "healthy"
    horizon_h: float = 168.0
    horizon: str = "7 d"
    perturbations: tuple[str, ...] = ()
    mechanisms: frozenset[str] = field(default_factory=mechanisms.defaults)
    population: dict[str, Any] = field(default_factory=dict)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise unknown_choice("arm", name, [a.name for a in self.arms], "arm")

    def record(self) -> dict[str, Any]:
        """The scenario as plain data (what results store and :func:`to_toml` writes)."""
        return {
            "name": self.name,
            "species": self.species,
            "condition": self.condition,
            "horizon": self.horizon,
            "perturbations": list(self.perturbations),
            "population": dict(self.population),
            "mechanisms": {m: (m in self.mechanisms) for m in mechanisms.NAMES},
            "arms": [
                {"name": a.name, "doses": [dict(d) for d in a.doses], "perturbations": list(a.perturbations)}
                for a in self.arms
            ],
        }


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise unknown_choice("key", key, allowed, where)


def _dose(raw: Any, where: str, library: Library) -> list[Dose]:
    if not isinstance(raw, dict):
        raise KetasimError(
            "a dose must be a table",
            argument=where,
            fix='e.g. { compound = "ketamine", amount = "0.5 mg/kg", route = "iv" }',
        )
    _check_keys(raw, DOSE_KEYS, where)
    for key in ("compound", "amount"):
        if key not in raw:
            raise KetasimError(f"missing '{key}'", argument=where)
    compound = library.get(str(raw["compound"]), f"{where}.compound")
    dose = Dose.parse(
        compound.id, raw["amount"], raw.get("route", "iv"), raw.get("time", 0.0), raw.get("duration")
    )
    if "every" in raw or "count" in raw:
        if "every" not in raw or "count" not in raw:
            raise KetasimError("'every' and 'count' go together", argument=where)
        return list(Regimen.repeated(dose, raw["every"], raw["count"]).doses)
    return [dose]


def from_dict(data: dict[str, Any], source: str = "scenario", library: Library | None = None) -> Scenario:
    """Build and check a scenario from plain data (a parsed TOML file)."""
    library = library or default_library()
    _check_keys(data, TOP_KEYS, source)
    species = str(data.get("species", "human"))
    if species not in SPECIES:
        raise unknown_choice("species", species, SPECIES, f"{source}: species")
    condition = str(data.get("condition", "healthy"))
    if condition not in CONDITIONS:
        raise unknown_choice("condition", condition, CONDITIONS, f"{source}: condition")
    horizon = str(data.get("horizon", "7 d"))
    horizon_h = units.parse(horizon, "time", f"{source}: horizon")
    if horizon_h <= 0:
        raise KetasimError("horizon must be positive", argument=f"{source}: horizon")
    common = tuple(perturbations.check_names(data.get("perturbations", []), f"{source}: perturbations"))
    raw_arms = data.get("arms")
    if not isinstance(raw_arms, list) or not raw_arms:
        raise KetasimError("a scenario needs at least one [[arms]] table", argument=source)
    arms = []
    for i, raw in enumerate(raw_arms):
        where = f"{source}: arms[{i}]"
        if not isinstance(raw, dict):
            raise KetasimError("an arm must be a table", argument=where)
        _check_keys(raw, ARM_KEYS, where)
        name = str(raw.get("name", f"arm{i + 1}"))
        doses = []
        for j, d in enumerate(raw.get("doses", [])):
            doses.extend(_dose(d, f"{where}.doses[{j}]", library))
        perts = tuple(perturbations.check_names(raw.get("perturbations", []), f"{where}.perturbations"))
        arms.append(
            Arm(name, Regimen(tuple(doses)), common + perts, tuple(dict(d) for d in raw.get("doses", [])))
        )
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise KetasimError("arm names must be unique", argument=f"{source}: arms")
    mech = data.get("mechanisms", {})
    if not isinstance(mech, dict):
        raise KetasimError("[mechanisms] must be a table of true/false", argument=f"{source}: mechanisms")
    population = data.get("population", {})
    if not isinstance(population, dict):
        raise KetasimError("[population] must be a table", argument=f"{source}: population")
    return Scenario(
        name=str(data.get("name", Path(source).stem)),
        arms=tuple(arms),
        species=species,
        condition=condition,
        horizon_h=horizon_h,
        horizon=horizon,
        perturbations=common,
        mechanisms=mechanisms.resolve(mech, f"{source}: mechanisms"),
        population=dict(population),
    )


def load(path: str | Path, library: Library | None = None) -> Scenario:
    """Read a scenario file; errors name the file and the key."""
    path = Path(path)
    return from_dict(read_toml(path, "SCENARIO", "scenario file"), path.name, library)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(scenario: Scenario) -> str:
    """The scenario as TOML text that :func:`load` reads back to an equal scenario."""
    rec = scenario.record()
    lines = [
        f"{k} = {_toml_value(rec[k])}" for k in ("name", "species", "condition", "horizon", "perturbations")
    ]
    if rec["population"]:
        lines += ["", "[population]"] + [f"{k} = {_toml_value(v)}" for k, v in rec["population"].items()]
    for arm in rec["arms"]:
        lines += [
            "",
            "[[arms]]",
            f"name = {_toml_value(arm['name'])}",
            f"doses = {_toml_value(arm['doses'])}",
        ]
        own = [p for p in arm["perturbations"] if p not in scenario.perturbations]
        lines.append(f"perturbations = {_toml_value(own)}")
    lines += ["", "[mechanisms]"] + [f"{k} = {_toml_value(v)}" for k, v in rec["mechanisms"].items()]
    return "\n".join(lines) + "\n"
