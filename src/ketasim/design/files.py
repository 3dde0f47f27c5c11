"""A designed compound as compound files (``docs/compound_files.md``), and running the model with them.

The designed compound enters the model exactly as a user's own compound does: as TOML files in a
directory named by ``$KETASIM_COMPOUNDS``, read by the library loader (:mod:`ketasim.compounds`),
which checks every field. :func:`compound_library` makes that directory for the duration of a
``with`` block, so trials (:mod:`ketasim.trial`) that look compounds up in the default library see
the designed compound like any other.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ketasim import compounds as compounds_module
from ketasim.compounds import Compound, Library, Mixture, Species, parse_compound
from ketasim.provenance import Param


def _param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"value": p.value, "unit": p.unit, "source": p.source, "status": str(p.status)}
    if p.calibration:
        out["calibration"] = p.calibration
    if p.note:
        out["note"] = p.note
    return out


def _table(params: Mapping[str, Param]) -> dict[str, Any]:
    return {k: _param(p) for k, p in params.items()}


def compound_data(c: Compound) -> dict[str, Any]:
    """The compound as the plain data of its TOML file (what :func:`parse_compound` reads)."""
    head: dict[str, Any] = {"id": c.id, "name": c.name, "description": c.description}
    if isinstance(c, Mixture):
        return {**head, "components": dict(c.components), "properties": _table(c.properties)}
    assert isinstance(c, Species)
    props: dict[str, Any] = {"ionization": c.ionization, **_table(c.properties)}
    pk: dict[str, Any] = _table(c.pk)
    pk["elimination"] = [
        {
            "organ": e.organ,
            **({"enzyme": e.enzyme} if e.enzyme else {}),
            "cl": _param(e.cl),
            **({"product": e.product} if e.product else {}),
        }
        for e in c.elimination
    ]
    out = {**head, "analyte": c.analyte, "group": c.group, "properties": props, "pk": pk}
    out["absorption"] = {route: _table(t) for route, t in c.absorption.items()}
    if c.brain:
        out["brain"] = _table(c.brain)
    out["targets"] = {
        name: {"kind": t.kind, "action": t.action, **_bound(t), **_table(t.params)}
        for name, t in c.targets.items()
    }
    if c.nmda:
        out["nmda"] = _table(c.nmda)
    return out


def _bound(t: Any) -> dict[str, str]:
    """``{"bound": ...}`` for a target record that holds a bound, else nothing."""
    return {"bound": t.bound} if t.bound else {}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v} to a compound file")
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _value(k)


def to_toml(c: Compound) -> str:
    """The compound file text; floats are written with ``repr`` so values read back bit for bit."""
    data = compound_data(c)
    lines = [f"# Designed with `ketasim design`: changed parameters have source '{'ketasim design'}...'"]
    tables: list[tuple[str, dict]] = []
    for k, v in data.items():
        if (isinstance(v, dict) and k != "components") or k == "components":
            tables.append((k, v))
        else:
            lines.append(f"{_key(k)} = {_value(v)}")
    for name, table in tables:
        if name in ("absorption", "targets"):
            for sub, inner in table.items():
                lines += ["", f"[{name}.{_key(sub)}]"] + [
                    f"{_key(k)} = {_value(x)}" for k, x in inner.items()
                ]
            continue
        lines += ["", f"[{name}]"]
        for k, x in table.items():
            if k != "elimination":
                lines.append(f"{_key(k)} = {_value(x)}")
        for e in table.get("elimination", []) if name == "pk" else []:
            lines += ["", "[[pk.elimination]]"] + [f"{_key(k)} = {_value(x)}" for k, x in e.items()]
    return "\n".join(lines) + "\n"


def check(c: Compound) -> Compound:
    """Read the compound back through the loader's checks (units, ranges, required fields)."""
    return parse_compound(compound_data(c), f"{c.id} (ketasim design)")


def write(compounds: Mapping[str, Compound], directory: str | Path) -> list[Path]:
    """Write each compound to ``directory/<id>.toml``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in compounds.values():
        check(c)
        path = directory / f"{c.id}.toml"
        path.write_text(to_toml(c), encoding="utf-8")
        paths.append(path)
    return paths


@contextlib.contextmanager
def compound_library(compounds: Mapping[str, Compound]) -> Iterator[Library]:
    """Within the block, the default library also holds ``compounds`` (read back from their files).

    The files go to a temporary directory added to ``$KETASIM_COMPOUNDS``; the environment and the
    cached default library are restored on exit."""
    old = os.environ.get("KETASIM_COMPOUNDS")
    with tempfile.TemporaryDirectory(prefix="ketasim-design-") as tmp:
        write(compounds, tmp)
        os.environ["KETASIM_COMPOUNDS"] = os.pathsep.join([p for p in (old, tmp) if p])
        compounds_module.default_library.cache_clear()
        try:
            yield compounds_module.default_library()
        finally:
            if old is None:
                os.environ.pop("KETASIM_COMPOUNDS", None)
            else:
                os.environ["KETASIM_COMPOUNDS"] = old
            compounds_module.default_library.cache_clear()
