"""Every parameter of every packaged data file has a unit, a source, a status and, if fitted, its data.

The walk is independent of the loaders: it reads each TOML file under ``src/ketasim/data`` and treats
any table with a ``value`` or ``status`` key as a parameter. A table with ``low`` and ``high`` is a range
explored by an analysis (``sensitivity.toml``): it needs a unit and a source, but no status, since it
is not a model value. In the parameter files (everything but the findings and validation catalogues)
a bare number outside such tables is an error too, so a value cannot slip in without provenance. The
loaders are then cross-checked against the walk, so the walk sees every parameter the model reads.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ketasim
from ketasim import units
from ketasim.compounds import DATA_DIR, load_file
from ketasim.parameter_sets import packaged
from ketasim.physiology import SPECIES, load_physiology, species_path
from ketasim.targets.receptor_data import receptor_data

DATA = Path(ketasim.__file__).parent / "data"
STATUSES = {"measured", "derived", "fitted", "assumed"}
KEYS = {"value", "unit", "source", "status", "calibration", "note"}
CATALOGUES = ("findings", "validation")  # published checks the model is judged against, not parameters
COMPOSITION = ("components",)  # mole fractions of a mixture (a racemate is 0.5/0.5 by definition)
PLACEHOLDERS = {"", "?", "todo", "tbd", "fixme", "xxx", "unknown", "n/a", "none"}
FILES = sorted(DATA.rglob("*.toml"))


def _rel(path: Path) -> str:
    return path.relative_to(DATA).as_posix()


def _is_parameter_file(path: Path) -> bool:
    return path.relative_to(DATA).parts[0] not in CATALOGUES


def _is_parameter(node: Any) -> bool:
    return isinstance(node, dict) and ("value" in node or "status" in node)


def _is_range(node: Any) -> bool:
    return isinstance(node, dict) and "low" in node and "high" in node and not _is_parameter(node)


def _walk(node: Any, name: str, strict: bool) -> Iterator[tuple[str, Any]]:
    """(name, table) of every parameter or range table; (name, number) of stray numbers when ``strict``."""
    if isinstance(node, dict):
        if _is_parameter(node) or _is_range(node):
            yield name, node
            return
        for key, item in node.items():
            if strict and name == "" and key in COMPOSITION:
                continue
            yield from _walk(item, f"{name}.{key}" if name else str(key), strict)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{name}[{i}]", strict)
    elif strict and isinstance(node, int | float) and not isinstance(node, bool):
        yield name, node


def _load(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _unit_and_source(table: dict) -> list[str]:
    out = []
    unit = table.get("unit")
    if not isinstance(unit, str):
        out.append('no unit (write unit = "" for a dimensionless number)')
    elif unit.strip() not in ("", "1", "dimensionless"):
        try:
            units.ureg.parse_units(unit.replace("µ", "u"))
        except Exception:
            out.append(f"unit {unit!r} is not a unit")
    source = table.get("source")
    if not isinstance(source, str) or source.strip().lower() in PLACEHOLDERS:
        out.append(f"source {source!r} is missing or a placeholder")
    return out


def _problems(table: Any) -> list[str]:
    if not isinstance(table, dict):
        return [f"bare number {table!r} without unit, source or status"]
    if _is_range(table):
        ok = _number(table["low"]) and _number(table["high"]) and table["low"] <= table["high"]
        return _unit_and_source(table) + ([] if ok else ["low and high must be numbers with low <= high"])
    out = [] if _number(table.get("value")) else [f"value {table.get('value')!r} is not a number"]
    out += _unit_and_source(table)
    status = table.get("status")
    if status not in STATUSES:
        out.append(f"status {status!r} is not one of {sorted(STATUSES)}")
    calibration = table.get("calibration")
    if status == "fitted" and (
        not isinstance(calibration, str) or calibration.strip().lower() in PLACEHOLDERS
    ):
        out.append("fitted without its calibration data")
    if "note" in table and not (isinstance(table["note"], str) and table["note"].strip()):
        out.append("empty note")
    unknown = set(table) - KEYS
    if unknown:
        out.append(f"unknown key(s) {sorted(unknown)}")
    return out


def _names(path: Path) -> set[str]:
    return {name for name, table in _walk(_load(path), "", False) if _is_parameter(table)}


def test_the_walk_covers_every_kind_of_data_file():
    parameter_files = {_rel(p).split("/")[0] for p in FILES if _is_parameter_file(p)}
    assert {
        "compounds",
        "populations",
        "physiology.toml",
        "physiology_mouse.toml",
        "physiology_rat.toml",
    } <= (parameter_files)
    for name in ("targets", "nmda_receptors", "cell_types", "signalling", "spines", "circuit", "clinical"):
        assert f"{name}.toml" in parameter_files
    assert {"mechanisms.toml", "perturbations.toml"} <= parameter_files
    count = sum(1 for p in FILES for _ in _walk(_load(p), "", _is_parameter_file(p)))
    assert count > 500  # about 620 parameters at the time of writing


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_parameter_has_unit_source_status_and_calibration(path):
    strict = _is_parameter_file(path)
    bad = [
        f"{_rel(path)}: {name}: {problem}"
        for name, table in _walk(_load(path), "", strict)
        for problem in _problems(table)
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_catches_each_kind_of_gap():
    good = {"value": 1.0, "unit": "1/h", "source": "Someone 2020", "status": "assumed"}
    assert _problems(good) == []
    assert _problems({**good, "status": "fitted"}) == ["fitted without its calibration data"]
    assert "no unit" in _problems({k: v for k, v in good.items() if k != "unit"})[0]
    assert "placeholder" in _problems({**good, "source": " TODO "})[0]
    assert "not one of" in _problems({**good, "status": "guessed"})[0]
    assert "is not a unit" in _problems({**good, "unit": "blorps/h"})[0]
    assert "bare number" in _problems(3.0)[0]
    strays = list(_walk({"a": {"b": 2, "c": good}, "components": {"x": 0.5}}, "", True))
    assert strays == [("a.b", 2), ("a.c", good)]
    span = {"low": 1.0, "high": 2.0, "unit": "1/h", "source": "x0.5 to x2"}
    assert _problems(span) == [] and "low <= high" in _problems({**span, "low": 3.0})[0]
    assert "placeholder" in _problems({k: v for k, v in span.items() if k != "source"})[0]


def test_loaders_read_exactly_the_parameters_the_walk_sees():
    for path in sorted(DATA_DIR.glob("*.toml")):
        compound = load_file(path)
        loaded = {k.removeprefix(f"{compound.id}.") for k in compound.params()}
        assert loaded == _names(path), path.name
    for name in ("circuit", "signalling", "spines", "clinical"):
        assert set(packaged(name).params) == _names(DATA / f"{name}.toml"), name
    for species in SPECIES:
        path = species_path(species)
        assert set(load_physiology(path, species).params) == _names(path), species
    receptors = {k.removeprefix("nmda.") for k in receptor_data().params}
    assert receptors == _names(DATA / "nmda_receptors.toml")
