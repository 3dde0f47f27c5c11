"""Named parameter sets of the downstream scales (circuit, signalling, spines), read from TOML.

A scale's parameters live in one file (``data/circuit.toml``, ``data/signalling.toml``, ...) as
inline tables ``name = { value, unit, source, status }`` grouped in sections. Each value is
converted once to the canonical unit of the kind its unit declares (a rate to 1/h, a time to h, a
concentration to µM); dimensionless numbers stay as they are. A :class:`ParamSet` is immutable:
perturbations and mechanism switches make modified copies (:meth:`ParamSet.replace`), never edit
one in place, so a result can always name the exact set that produced it (:meth:`ParamSet.digest`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ketasim import units
from ketasim.compounds import _param
from ketasim.errors import KetasimError, unknown_choice
from ketasim.provenance import Param, SourceList, Status
from ketasim.toml_io import read_toml

DATA = Path(__file__).parent / "data"

# Kinds a scale parameter may have, in the order a unit is matched against them.
KINDS = ("dimensionless", "time", "rate", "concentration", "voltage", "bimolecular")


# Keys that describe a section rather than hold a parameter.
METADATA = ("label", "description", "note", "seed", "default", "kind", "citation", "target")


def kind_of(unit: str, where: str) -> str:
    """The canonical kind (``units.CANONICAL`` key) that ``unit`` converts to."""
    if unit.strip() in ("", "1", "dimensionless"):
        return "dimensionless"
    for kind in KINDS[1:]:
        try:
            units.convert(1.0, unit, kind, where)
        except KetasimError:
            continue
        return kind
    raise KetasimError(
        f"unit '{unit}' is not a time, rate, concentration, voltage or dimensionless",
        argument=where,
        fix="use e.g. 'h', '1/h', 'uM', 'mV' or '' for a pure number",
    )


@dataclass(frozen=True)
class ParamSet(Mapping[str, float]):
    """Immutable mapping ``section.name -> value`` (canonical units) with each value's provenance."""

    params: dict[str, Param] = field(default_factory=dict)
    origin: str = ""

    def __getitem__(self, key: str) -> float:
        try:
            return self.params[key].value
        except KeyError:
            raise unknown_choice("parameter", key, list(self.params), self.origin or "parameters") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def param(self, key: str) -> Param:
        self[key]
        return self.params[key]

    def section(self, prefix: str) -> dict[str, float]:
        """Values under ``prefix.`` with the prefix removed."""
        n = len(prefix) + 1
        return {k[n:]: p.value for k, p in self.params.items() if k.startswith(prefix + ".")}

    def replace(self, changes: Mapping[str, Param | float], source: str = "") -> ParamSet:
        """A copy with some values changed; a bare number keeps the unit and gets ``source``."""
        new = dict(self.params)
        for key, value in changes.items():
            old = self.param(key)
            if isinstance(value, Param):
                new[key] = value
            else:
                new[key] = Param(
                    float(value),
                    old.unit,
                    source or f"changed from {old.value} ({old.source})",
                    Status.ASSUMED,
                    name=key,
                )
        return ParamSet(new, self.origin)

    def sources(self) -> SourceList:
        out = SourceList()
        for k, p in self.params.items():
            out.add(f"{self.origin}:{k}", p)
        return out

    def digest(self) -> str:
        return self.sources().digest()


def _walk(table: dict, prefix: str, where: str, out: dict[str, Param]) -> None:
    for key, raw in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(raw, dict) and "value" in raw:
            unit = str(raw.get("unit", ""))
            kind = kind_of(unit, f"{where}: {name}")
            lo = -1e9 if kind == "voltage" else 0.0
            out[name] = _param(raw, f"{where}: {name}", name, (kind, lo, 1e12, True))
        elif isinstance(raw, dict):
            _walk(raw, name, where, out)
        elif key in METADATA:
            continue
        else:
            raise KetasimError(
                f"'{name}' is neither a parameter table nor a section",
                argument=where,
                fix="write parameters as { value, unit, source, status }",
            )


def load_param_set(path: Path | str) -> ParamSet:
    """Read a scale's parameter file; every leaf must be a sourced parameter."""
    path = Path(path)
    data = read_toml(path, "path")
    out: dict[str, Param] = {}
    _walk(data, "", path.name, out)
    return ParamSet(out, path.stem)


@lru_cache(maxsize=16)
def packaged(name: str) -> ParamSet:
    """One of the packaged parameter files (``circuit``, ``signalling``, ``spines``)."""
    return load_param_set(DATA / f"{name}.toml")
