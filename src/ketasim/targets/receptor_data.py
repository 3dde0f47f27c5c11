"""Drug-independent NMDA receptor parameters (``data/nmda_receptors.toml``), in seconds.

The package's canonical time unit is the hour; receptor kinetics live on the millisecond scale,
so this module converts the rates once to 1/s (and 1/(µM·s)) for the kinetic model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ketasim.compounds import _param
from ketasim.errors import KetasimError, unknown_choice
from ketasim.provenance import Param

PATH = Path(__file__).parent.parent / "data" / "nmda_receptors.toml"
SUBUNITS = ("GluN2A", "GluN2B", "GluN2C", "GluN2D")
PER_HOUR = 3600.0

_GATING = {
    "rb": ("bimolecular", 1e-3 * PER_HOUR, 1e4 * PER_HOUR, True),
    **{k: ("rate", 0.0, 1e6 * PER_HOUR, True) for k in ("ru", "rd", "rr", "ro", "rc")},
    "mg_factor": ("dimensionless", 0.01, 1000.0, True),
}
_MG = {
    "kon_40": ("bimolecular", 0.0, 1e6 * PER_HOUR, True),
    "koff_40": ("rate", 0.0, 1e9 * PER_HOUR, True),
    "delta_on": ("dimensionless", 0.0, 1.0, True),
    "delta_off": ("dimensionless", 0.0, 1.0, True),
    "closed_access": ("dimensionless", 0.0, 1.0, True),
}
_SYNAPSE = {
    "glutamate_peak": ("concentration", 0.0, 1e5, True),
    "pulse_duration": ("time", 0.0, 1.0, True),
    "resting_event_rate": ("rate", 0.0, 1e3 * PER_HOUR, True),
    "resting_potential": ("voltage", -120.0, 0.0, True),
}
_DRUG = {
    "membrane_access": ("dimensionless", 0.0, 10.0, True),
    "voltage_share": ("dimensionless", 0.0, 1.0, True),
}


@dataclass(frozen=True)
class Gating:
    """Rates of the C0-C1-C2-O / C2-D scheme for one subunit (1/s; rb in 1/(µM s))."""

    rb: float
    ru: float
    rd: float
    rr: float
    ro: float
    rc: float
    mg_factor: float


@dataclass(frozen=True)
class ReceptorData:
    gating: dict[str, Gating]
    mg: dict[str, float]
    drug: dict[str, float]
    synapse: dict[str, float]
    params: dict[str, Param]

    def subunit(self, name: str) -> Gating:
        key = _normalise_subunit(name)
        return self.gating[key]


def _normalise_subunit(name: str) -> str:
    n = name.strip().upper().replace("GLUN", "").replace("NR", "")
    key = f"GluN{n}" if n in ("2A", "2B", "2C", "2D") else name
    if key not in SUBUNITS:
        raise unknown_choice("subunit", name, SUBUNITS, "subunit")
    return key


def _seconds(p: Param, kind: str) -> float:
    if kind in ("rate", "bimolecular"):
        return p.value / PER_HOUR
    if kind == "time":
        return p.value * PER_HOUR
    return p.value


@lru_cache(maxsize=1)
def receptor_data(path: Path = PATH) -> ReceptorData:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    params: dict[str, Param] = {}
    gating: dict[str, Gating] = {}
    for sub in SUBUNITS:
        table = data.get("gating", {}).get(sub)
        if table is None:
            raise KetasimError("missing", argument=f"{path.name}: gating.{sub}")
        vals = {}
        for key, spec in _GATING.items():
            p = _param(table.get(key), f"{path.name}: gating.{sub}.{key}", f"nmda.gating.{sub}.{key}", spec)
            params[p.name] = p
            vals[key] = _seconds(p, spec[0])
        gating[sub] = Gating(**vals)

    def section(name: str, specs: dict) -> dict[str, float]:
        out = {}
        for key, spec in specs.items():
            p = _param(data[name].get(key), f"{path.name}: {name}.{key}", f"nmda.{name}.{key}", spec)
            params[p.name] = p
            out[key] = _seconds(p, spec[0])
        return out

    return ReceptorData(
        gating, section("mg", _MG), section("drug", _DRUG), section("synapse", _SYNAPSE), params
    )
