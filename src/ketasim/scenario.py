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
    [outputs]                      # times at which trials report endpoints (default 2 h ... 14 d)
    hours = ["4 h", "24 h", "7 d"]

``compounds = ["designs", "my_drug.toml"]`` (top level) adds compound files, or directories of them,
to the packaged library for this scenario; paths are relative to the scenario file (a directory
written by ``ketasim design --save`` runs a designed compound as a full trial).
``affinity_hypotheses = ["d2high_seeman2005"]`` (top level) replaces default target affinities by the
named contested alternatives of ``data/targets.toml`` (docs/decisions/0013-contested-affinities.md).

A dose may also give ``time`` (start, e.g. "30 min"), ``duration`` (IV infusions), and ``every`` with
``count`` for repeats. Unknown keys are errors that name the key and suggest the nearest valid one.

Every problem in a scenario is a :class:`~ketasim.errors.KetasimError` naming the file and the field
(``standard_infusion.toml: arms[0].doses[0].amount``), or the line and column when the TOML itself is
malformed; names that are near misses of a compound, route, mechanism, perturbation, species or key
get a suggestion. ``tests/test_fuzz_scenario.py`` feeds the parser generated inputs to hold it to that.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketasim import mechanisms, perturbations, units
from ketasim.compounds import SPECIES, Library, default_library, load_file, with_affinity_hypotheses
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError, unknown_choice
from ketasim.provenance import record_digest

CONDITIONS = ("healthy", "depressed")
TOP_KEYS = (
    "name",
    "species",
    "condition",
    "horizon",
    "perturbations",
    "population",
    "arms",
    "mechanisms",
    "compounds",
    "affinity_hypotheses",
    "outputs",
)
OUTPUT_KEYS = ("hours",)
MAX_OUTPUT_TIMES = 200
ARM_KEYS = ("name", "doses", "perturbations")
DOSE_KEYS = ("compound", "amount", "route", "time", "duration", "every", "count")
POPULATION_KEYS = ("name", "n", "seed")
MAX_HORIZON_H = 2 * 365 * 24.0  # two years: the slowest process modelled (spines, mood) settles in weeks
MAX_PATIENTS = 10_000_000
MAX_SEED = 2**63 - 1


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
    # compound files or directories of them beyond the packaged library (absolute paths)
    compounds: tuple[str, ...] = ()
    # times (as written) at which trials report endpoints; empty: ketasim.trial.REPORT_HOURS
    output_times: tuple[str, ...] = ()
    # contested target affinities used instead of the defaults (data/targets.toml [hypothesis.NAME])
    affinity_hypotheses: tuple[str, ...] = ()

    def library(self) -> Library:
        """The packaged compounds plus this scenario's own compound files, with its affinity hypotheses."""
        return scenario_library(self.compounds, self.affinity_hypotheses)

    @property
    def output_hours(self) -> tuple[float, ...]:
        return tuple(units.parse(t, "time", "outputs.hours") for t in self.output_times)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise unknown_choice("arm", name, [a.name for a in self.arms], "arm")

    def digest(self) -> str:
        """A stable hash of :meth:`record` (what results cite as ``scenario_hash``)."""
        return record_digest(self.record())

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
            **({"compounds": list(self.compounds)} if self.compounds else {}),
            **({"affinity_hypotheses": list(self.affinity_hypotheses)} if self.affinity_hypotheses else {}),
            **({"outputs": {"hours": list(self.output_times)}} if self.output_times else {}),
        }


_EXTENDED: dict[tuple, tuple[Library, Library]] = {}  # (paths, id of base) -> (base, extended)


def scenario_library(paths: tuple[str, ...], hypotheses: tuple[str, ...] = ()) -> Library:
    """The packaged library plus the compound files in ``paths`` (files or directories of ``*.toml``),
    with the named affinity hypotheses applied (:func:`ketasim.compounds.with_affinity_hypotheses`).

    Built once per set of paths, hypotheses and packaged library (the packaged one is re-read when
    ``$KETASIM_COMPOUNDS`` changes and its cache is cleared, as ``ketasim design`` does)."""
    base = default_library()
    if not paths and not hypotheses:
        return base
    key = (paths, hypotheses, id(base))
    if key not in _EXTENDED:
        if len(_EXTENDED) >= 8:
            _EXTENDED.clear()
        lib = _extended_library(paths, base) if paths else base
        if hypotheses:
            lib = with_affinity_hypotheses(lib, hypotheses, "affinity_hypotheses")
        _EXTENDED[key] = (base, lib)
    return _EXTENDED[key][1]


def _extended_library(paths: tuple[str, ...], base: Library) -> Library:
    compounds = dict(base.compounds)
    for p in map(Path, paths):
        for f in sorted(p.glob("*.toml")) if p.is_dir() else [p]:
            c = load_file(f)
            compounds[c.id] = c
    return Library(compounds)


def _compound_paths(raw: Any, where: str, base: Path) -> tuple[str, ...]:
    """``compounds = ["file.toml", "dir/"]``: paths relative to the scenario file, checked to exist."""
    names = _names(raw, where) if raw != [] else []
    out = []
    for i, name in enumerate(names):
        p = (base / name).resolve()
        if not p.exists():
            raise KetasimError(
                f"no compound file or directory '{name}' (looked for {p})",
                argument=f"{where}[{i}]",
                fix="give a path relative to the scenario file, e.g. a directory from ketasim design --save",
            )
        out.append(str(p))
    return tuple(out)


def _output_times(raw: Any, where: str, horizon_h: float) -> tuple[str, ...]:
    """``[outputs] hours = ["2 h", "24 h", "7 d"]``: report times within the horizon, as written."""
    if not isinstance(raw, dict):
        raise KetasimError(
            "[outputs] must be a table", argument=where, fix='e.g. hours = ["4 h", "24 h", "7 d"]'
        )
    _check_keys(raw, OUTPUT_KEYS, where)
    times = raw.get("hours", [])
    if not isinstance(times, list) or not times or len(times) > MAX_OUTPUT_TIMES:
        raise KetasimError(
            f"hours must be a list of 1 to {MAX_OUTPUT_TIMES} times, got {_shown(times)}",
            argument=f"{where}.hours",
            fix='e.g. hours = ["4 h", "24 h", "7 d"]',
        )
    out = []
    for i, t in enumerate(times):
        text = _text(t, f"{where}.hours[{i}]", '"24 h"')
        h = units.parse(text, "time", f"{where}.hours[{i}]")
        if not 0 < h <= horizon_h:
            raise KetasimError(
                f"'{text}' is not within the horizon (0, {horizon_h:g} h]", argument=f"{where}.hours[{i}]"
            )
        out.append(text)
    return tuple(out)


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise unknown_choice("key", str(key), allowed, where)


def _text(value: Any, where: str, example: str) -> str:
    """``value`` if it is a string, else an error naming ``where``."""
    if not isinstance(value, str):
        raise KetasimError(f"must be text, got {_shown(value)}", argument=where, fix=f"e.g. {example}")
    return value


def _names(value: Any, where: str) -> list[str]:
    """A list of names (perturbations), checked for its shape; the names themselves by the caller."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KetasimError(
            f"must be a list of names, got {_shown(value)}", argument=where, fix='e.g. ["rapamycin"]'
        )
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _quantity(raw: dict, key: str, where: str, example: str) -> str | None:
    """A dose field that is a quantity with a unit, as text (None if absent)."""
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise KetasimError(
            f"must be a quantity with a unit, got {_shown(value)}",
            argument=f"{where}.{key}",
            fix=f"e.g. {example}",
        )
    if not isinstance(value, str):
        raise KetasimError(f"'{value}' has no unit", argument=f"{where}.{key}", fix=f"e.g. {example}")
    return value


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
    compound = library.get(_text(raw["compound"], f"{where}.compound", '"ketamine"'), f"{where}.compound")
    amount = _quantity(raw, "amount", where, '"0.5 mg/kg"')
    route = _text(raw.get("route", "iv"), f"{where}.route", '"iv"')
    time = _quantity(raw, "time", where, '"30 min"')
    time = 0.0 if time is None else time
    duration = _quantity(raw, "duration", where, '"40 min"')
    try:
        dose = Dose.parse(compound.id, amount, route, time, duration)
    except KetasimError as exc:  # name the dose and its field (the dose parser names only the field)
        raise KetasimError(str(exc), argument=where) from None
    if "every" in raw or "count" in raw:
        if "every" not in raw or "count" not in raw:
            raise KetasimError("'every' and 'count' go together", argument=where)
        every = _quantity(raw, "every", where, '"24 h"')
        try:
            return list(Regimen.repeated(dose, every, raw["count"]).doses)
        except KetasimError as exc:
            raise KetasimError(str(exc), argument=where) from None
    return [dose]


def _population(raw: Any, where: str) -> dict[str, Any]:
    """The [population] table: ``name`` (a packaged population or a file), ``n`` and ``seed``."""
    if not isinstance(raw, dict):
        raise KetasimError("[population] must be a table", argument=where)
    _check_keys(raw, POPULATION_KEYS, where)
    if "name" in raw:
        _text(raw["name"], f"{where}.name", '"trd"')
    for key, low, high in (("n", 1, MAX_PATIENTS), ("seed", 0, MAX_SEED)):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise KetasimError(
                    f"must be a whole number from {low} to {high}, got {_shown(v)}", argument=f"{where}.{key}"
                )
    return dict(raw)


def from_dict(
    data: dict[str, Any], source: str = "scenario", library: Library | None = None, base: str | Path = "."
) -> Scenario:
    """Build and check a scenario from plain data (a parsed TOML file); ``base`` is the directory that
    paths in the scenario (``compounds``) are relative to."""
    if not isinstance(data, dict):
        raise KetasimError(f"a scenario must be a table, got {_shown(data)}", argument=source)
    _check_keys(data, TOP_KEYS, source)
    compound_paths = _compound_paths(data.get("compounds", []), f"{source}: compounds", Path(base))
    hypotheses = tuple(_names(data.get("affinity_hypotheses", []), f"{source}: affinity_hypotheses"))
    if hypotheses:  # unknown names, or species missing from the library, are errors naming the field
        where = f"{source}: affinity_hypotheses"
        with_affinity_hypotheses(scenario_library(compound_paths), hypotheses, where)
    library = library or scenario_library(compound_paths, hypotheses)
    name = _text(data.get("name", Path(source).stem), f"{source}: name", '"Ketamine vs saline"')
    species = _text(data.get("species", "human"), f"{source}: species", '"human"')
    if species not in SPECIES:
        raise unknown_choice("species", species, SPECIES, f"{source}: species")
    condition = _text(data.get("condition", "healthy"), f"{source}: condition", '"depressed"')
    if condition not in CONDITIONS:
        raise unknown_choice("condition", condition, CONDITIONS, f"{source}: condition")
    horizon = _text(data.get("horizon", "7 d"), f"{source}: horizon", '"7 d"')
    horizon_h = units.parse(horizon, "time", f"{source}: horizon")
    if not 0 < horizon_h <= MAX_HORIZON_H or not math.isfinite(horizon_h):
        raise KetasimError(
            f"horizon must be above zero and at most {MAX_HORIZON_H / 24:g} d, got '{horizon}'",
            argument=f"{source}: horizon",
        )
    common = tuple(
        perturbations.check_names(
            _names(data.get("perturbations", []), f"{source}: perturbations"), f"{source}: perturbations"
        )
    )
    raw_arms = data.get("arms")
    if not isinstance(raw_arms, list) or not raw_arms:
        raise KetasimError("a scenario needs at least one [[arms]] table", argument=source)
    arms = []
    for i, raw in enumerate(raw_arms):
        where = f"{source}: arms[{i}]"
        if not isinstance(raw, dict):
            raise KetasimError("an arm must be a table", argument=where)
        _check_keys(raw, ARM_KEYS, where)
        arm_name = _text(raw.get("name", f"arm{i + 1}"), f"{where}.name", '"ketamine"')
        raw_doses = raw.get("doses", [])
        if not isinstance(raw_doses, list):
            raise KetasimError(
                f"doses must be a list of tables, got {_shown(raw_doses)}",
                argument=f"{where}.doses",
                fix='e.g. [{ compound = "ketamine", amount = "0.5 mg/kg", route = "iv" }] or [] for placebo',
            )
        doses = []
        for j, d in enumerate(raw_doses):
            doses.extend(_dose(d, f"{where}.doses[{j}]", library))
        perts = tuple(
            perturbations.check_names(
                _names(raw.get("perturbations", []), f"{where}.perturbations"), f"{where}.perturbations"
            )
        )
        arms.append(Arm(arm_name, Regimen(tuple(doses)), common + perts, tuple(dict(d) for d in raw_doses)))
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise KetasimError("arm names must be unique", argument=f"{source}: arms")
    mech = data.get("mechanisms", {})
    if not isinstance(mech, dict):
        raise KetasimError("[mechanisms] must be a table of true/false", argument=f"{source}: mechanisms")
    population = _population(data.get("population", {}), f"{source}: population")
    return Scenario(
        name=name,
        arms=tuple(arms),
        species=species,
        condition=condition,
        horizon_h=horizon_h,
        horizon=horizon,
        perturbations=common,
        mechanisms=mechanisms.resolve(mech, f"{source}: mechanisms"),
        population=population,
        compounds=compound_paths,
        affinity_hypotheses=hypotheses,
        output_times=_output_times(data["outputs"], f"{source}: outputs", horizon_h)
        if "outputs" in data
        else (),
    )


def loads(
    text: str | bytes, source: str = "scenario", library: Library | None = None, base: str | Path = "."
) -> Scenario:
    """Read a scenario from TOML text; malformed TOML is an error giving the line and column."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise KetasimError(
                f"not UTF-8 text (byte {exc.start} on line {line})",
                argument=source,
                fix="save the file as UTF-8",
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = str(exc).replace("at end of document", f"at the end, line {text.count(chr(10)) + 1}")
        raise KetasimError(f"not valid TOML: {where}", argument=source) from None
    try:
        return from_dict(data, source, library, base)
    except KetasimError as exc:
        line = field_line(text, exc.argument or "", exc.message)
        if line is None:
            raise
        raise KetasimError(exc.message, argument=f"{exc.argument} (line {line})", fix=exc.fix) from None


_HEADER = re.compile(r"^\s*\[")
_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def field_line(text: str, argument: str, message: str = "") -> int | None:
    """The line (1-based) of ``text`` holding the field an error names (``"f: arms[1].doses[0].amount"``).

    Found by walking the TOML's sections; None if it cannot be placed. Best effort: it reads the layout
    that scenario files use (top-level keys, ``[population]``/``[mechanisms]`` tables, ``[[arms]]``)."""
    _, _, path = argument.partition(": ")
    parts = [(m.group(1), m.group(2)) for m in _PATH_PART.finditer(path.split(" ")[0])] if path else []
    if not parts:
        return None
    lines = text.splitlines()
    quoted = re.findall(r"'([^']+)'", message)
    top, index = parts[0]
    if top == "arms":
        starts = [i for i, ln in enumerate(lines) if re.match(r"^\s*\[\[\s*arms\s*\]\]", ln)]
        k = int(index or 0)
        if k >= len(starts):
            return None
        lo = starts[k]
        hi = next((i for i in range(lo + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        region = range(lo, hi)
        key = parts[-1][0] if len(parts) > 1 else None
    elif top in ("population", "mechanisms", "outputs"):
        hdr = next((i for i, ln in enumerate(lines) if re.match(rf"^\s*\[\s*{top}\s*\]", ln)), None)
        if hdr is None:
            return None
        hi = next((i for i in range(hdr + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        region = range(hdr, hi)
        key = parts[1][0] if len(parts) > 1 else None
    else:
        first = next((i for i, ln in enumerate(lines) if _HEADER.match(ln)), len(lines))
        region, key = range(0, first), top
    if key is None:  # the message may quote the offending key itself (an unknown mechanism, say)
        for value in quoted:
            hit = [i for i in region if re.match(rf"^\s*{re.escape(value)}\s*=", lines[i])]
            if hit:
                return hit[0] + 1
        return region.start + 1
    with_key = [i for i in region if re.search(rf"\b{re.escape(key)}\s*=", lines[i])]
    nth = int(parts[1][1] or 0) if top == "arms" and len(parts) > 2 else 0  # doses[j]: the j-th dose
    for value in quoted:  # the offending value, when the message quotes it (as a whole TOML string)

        def quotes(i: int, v: str = value) -> bool:
            return f'"{v}"' in lines[i] or f"'{v}'" in lines[i]

        hit = [i for i in with_key if quotes(i)] or [i for i in region if quotes(i)]
        if hit:
            return hit[0] + 1
    if with_key:
        return with_key[min(nth, len(with_key) - 1)] + 1
    return region.start + 1


def load(path: str | Path, library: Library | None = None) -> Scenario:
    """Read a scenario file; errors name the file and the key (or the line of malformed TOML)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KetasimError(f"no such scenario file: {path}", argument="SCENARIO") from None
    except IsADirectoryError:
        raise KetasimError(f"'{path}' is a directory, not a scenario file", argument="SCENARIO") from None
    except OSError as exc:
        raise KetasimError(f"cannot read '{path}' ({exc.strerror})", argument="SCENARIO") from None
    return loads(raw, path.name, library, path.resolve().parent)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):  # a JSON string is a TOML basic string once DEL is escaped too
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
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
    if "compounds" in rec:
        lines.append(f"compounds = {_toml_value(rec['compounds'])}")
    if "affinity_hypotheses" in rec:
        lines.append(f"affinity_hypotheses = {_toml_value(rec['affinity_hypotheses'])}")
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
    if "outputs" in rec:
        lines += ["", "[outputs]", f"hours = {_toml_value(rec['outputs']['hours'])}"]
    return "\n".join(lines) + "\n"
