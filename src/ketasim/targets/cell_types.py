"""Cell types as seen by the NMDA receptor layer (``data/cell_types.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ketasim.compounds import _param
from ketasim.errors import KetasimError
from ketasim.provenance import Param
from ketasim.targets.receptor_data import PER_HOUR, SUBUNITS

PATH = Path(__file__).parent.parent / "data" / "cell_types.toml"
_FIELDS = {
    "activity": ("rate", 0.0, 1000 * PER_HOUR, True),
    "potential": ("voltage", -120.0, 0.0, True),
    "mg": ("concentration", 0.0, 1e5, True),
}


@dataclass(frozen=True)
class CellType:
    name: str
    label: str
    subunits: dict[str, float]  # fraction of NMDA receptors by GluN2 subunit
    activity_hz: float
    potential_mv: float
    mg_mm: float
    params: dict[str, Param]


@lru_cache(maxsize=1)
def cell_types(path: Path = PATH) -> dict[str, CellType]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out = {}
    for name, table in data.get("cell", {}).items():
        where = f"{path.name}: cell.{name}"
        params: dict[str, Param] = {}
        mix = {}
        for sub in SUBUNITS:
            if sub in table:
                p = _param(
                    table[sub], f"{where}.{sub}", f"cell.{name}.{sub}", ("dimensionless", 0.0, 1.0, True)
                )
                params[p.name] = p
                mix[sub] = p.value
        if abs(sum(mix.values()) - 1) > 1e-9:
            raise KetasimError(f"subunit fractions sum to {sum(mix.values())}, not 1", argument=where)
        vals = {}
        for key, spec in _FIELDS.items():
            p = _param(table.get(key), f"{where}.{key}", f"cell.{name}.{key}", spec)
            params[p.name] = p
            vals[key] = p.value
        out[name] = CellType(
            name,
            str(table.get("label", name)),
            mix,
            vals["activity"] / PER_HOUR,
            vals["potential"],
            vals["mg"] / 1000.0,
            params,
        )
    return out
