"""Drug-independent physiology: reference body, liver blood flow, compartment pH, membrane rates.

Values live in ``data/physiology.toml`` with their sources; this module loads them into a frozen
:class:`Physiology` and holds the genotype table that maps a CYP2B6 genotype to enzyme activity.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ketasim.compounds import _param
from ketasim.errors import KetasimError
from ketasim.provenance import Param

PATH = Path(__file__).parent / "data" / "physiology.toml"
SPECIES = ("human", "mouse", "rat")


def species_path(species: str) -> Path:
    """Physiology file of a species: ``physiology.toml`` (human) or ``physiology_<species>.toml``."""
    if species not in SPECIES:
        from ketasim.errors import unknown_choice

        raise unknown_choice("species", species, SPECIES, "species")
    return PATH if species == "human" else PATH.with_name(f"physiology_{species}.toml")


_SPECS = {
    "body": {
        "reference_weight": ("weight", 0.005, 500.0, True),
        "allometric_exponent_cl": ("dimensionless", 0.0, 1.5, True),
        "allometric_exponent_v": ("dimensionless", 0.0, 1.5, True),
    },
    "liver": {"hepatic_blood_flow": ("clearance", 0.01, 1000.0, True)},
    "ph": {k: ("dimensionless", 0.0, 14.0, True) for k in ("plasma", "brain_ecf", "cytosol", "lysosome")},
    "cell": {
        "k_bbb": ("rate", 0.0, 1e6, True),
        "k_cell": ("rate", 0.0, 1e6, True),
        "k_lysosome": ("rate", 0.0, 1e7, True),
        "lysosome_volume_fraction": ("dimensionless", 0.0, 0.5, True),
    },
    "enzymes": {
        "cyp2b6_1_6": ("dimensionless", 0.0, 5.0, True),
        "cyp2b6_6_6": ("dimensionless", 0.0, 5.0, True),
    },
}

CYP2B6_GENOTYPES = ("*1/*1", "*1/*6", "*6/*6")


@dataclass(frozen=True)
class Physiology:
    """System parameters (canonical units) with their provenance."""

    params: dict[str, Param]
    species: str = "human"

    def __getitem__(self, key: str) -> float:
        return self.params[key].value

    def cyp2b6_activity(self, genotype: str) -> float:
        """Relative CYP2B6 activity of a genotype (``"*1/*1"``, ``"*1/*6"``, ``"*6/*6"``)."""
        g = genotype.replace(" ", "")
        if g == "*1/*1":
            return 1.0
        if g in ("*1/*6", "*6/*1"):
            return self["enzymes.cyp2b6_1_6"]
        if g == "*6/*6":
            return self["enzymes.cyp2b6_6_6"]
        raise KetasimError(
            f"unknown CYP2B6 genotype '{genotype}'",
            argument="cyp2b6",
            fix="use one of " + ", ".join(CYP2B6_GENOTYPES),
        )


def load_physiology(path: Path = PATH, species: str = "human") -> Physiology:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    params: dict[str, Param] = {}
    for section, specs in _SPECS.items():
        table = data.get(section, {})
        for key, spec in specs.items():
            if key not in table:
                raise KetasimError("missing", argument=f"{path.name}: {section}.{key}")
            params[f"{section}.{key}"] = _param(
                table[key], f"{path.name}: {section}.{key}", f"physiology.{section}.{key}", spec
            )
    return Physiology(params, species)


@lru_cache(maxsize=4)
def default_physiology(species: str = "human") -> Physiology:
    """The packaged physiology of ``species`` (human, mouse or rat)."""
    return load_physiology(species_path(species), species)
