"""Parameters with provenance.

Every number in the model is a :class:`Param`: a value in canonical units together with the unit
it is expressed in, where it comes from, and how sure we are (its :class:`Status`). A fitted
parameter names the data it was fitted to, so those data can be kept out of validation.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from ketasim.errors import KetasimError


class Status(StrEnum):
    """How a parameter value was obtained."""

    MEASURED = "measured"  # reported in a primary source
    DERIVED = "derived"  # calculated from measured values
    FITTED = "fitted"  # estimated by fitting the model to named calibration data
    ASSUMED = "assumed"  # a modelling assumption or best estimate


@dataclass(frozen=True)
class Param:
    """A parameter value (canonical unit), its unit label, source and status."""

    value: float
    unit: str
    source: str
    status: Status
    calibration: str | None = None
    note: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValueError(f"parameter {self.name!r} has no source")
        if self.status is Status.FITTED and not self.calibration:
            raise ValueError(f"fitted parameter {self.name!r} must name its calibration data")

    def __float__(self) -> float:
        return float(self.value)

    def citation(self) -> dict[str, Any]:
        """A plain-data description of this parameter, for provenance records."""
        out = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "status": self.status.value,
        }
        if self.calibration:
            out["calibration"] = self.calibration
        return out


PARAM_KEYS = ("value", "unit", "source", "status", "calibration", "note")


def read_param_fields(
    raw: Any,
    where: str,
    example: str = 'e.g. { value = 1.0, unit = "L", source = "...", status = "measured" }',
) -> tuple[float, Status]:
    """Check the shape of a parameter table ``{value, unit, source, status[, calibration, note]}``.

    Returns the raw number and its status; unit conversion and ranges are the caller's. Every
    problem is a :class:`KetasimError` naming ``where``.
    """
    if not isinstance(raw, dict):
        raise KetasimError(
            "must be an inline table {value, unit, source, status}", argument=where, fix=example
        )
    for key in ("value", "unit", "source", "status"):
        if key not in raw:
            raise KetasimError(
                f"missing '{key}'", argument=where, fix="every parameter needs value, unit, source and status"
            )
    unexpected = set(raw) - set(PARAM_KEYS)
    if unexpected:
        raise KetasimError(f"unknown key(s) {sorted(unexpected)}", argument=where)
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KetasimError(f"value {value!r} is not a number", argument=where)
    try:
        status = Status(raw["status"])
    except ValueError:
        raise KetasimError(
            f"status '{raw['status']}' is not one of measured, derived, fitted, assumed", argument=where
        ) from None
    if status is Status.FITTED and not raw.get("calibration"):
        raise KetasimError(
            "a fitted parameter must name its calibration data", argument=where, fix='add calibration = "..."'
        )
    if not str(raw["source"]).strip():
        raise KetasimError("empty source", argument=where, fix="cite where the value comes from")
    return float(value), status


@dataclass
class SourceList:
    """Collects the parameters behind a result, so the result can list its sources."""

    params: dict[str, Param] = field(default_factory=dict)

    def add(self, key: str, param: Param) -> None:
        self.params[key] = param

    def records(self) -> list[dict[str, Any]]:
        return [{**p.citation(), "name": k} for k, p in sorted(self.params.items())]

    def sources(self) -> list[str]:
        return sorted({p.source for p in self.params.values()})

    def digest(self) -> str:
        """A stable hash of every parameter value, unit and status."""
        blob = json.dumps(self.records(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# ----------------------------------------------------------------------------- provenance of results
PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def git_revision() -> str:
    """The source tree's short commit hash, with ``-dirty`` if it has uncommitted changes, or
    ``"unknown"`` when the package does not run from a git checkout (an installed wheel) or git is
    missing. Never raises."""
    try:
        top = _git("rev-parse", "--show-toplevel")
        if top is None or not PACKAGE_DIR.is_relative_to(Path(top).resolve()):
            return "unknown"  # the package is not part of this checkout
        rev = _git("rev-parse", "--short", "HEAD")
        if not rev:
            return "unknown"
        status = _git("status", "--porcelain", "--untracked-files=no")
        return rev + ("-dirty" if status else "")
    except Exception:  # any surprise (a broken repository, an odd file system): no revision
        return "unknown"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def record_digest(record: Any) -> str:
    """A stable 16-hex-digit hash of plain data (a scenario record, a parameter list)."""
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def result_provenance(
    scenario_name: str | None, scenario_hash: str | None, seed: int | None
) -> dict[str, Any]:
    """The fields every result carries besides its parameter hash(es): package version, git revision,
    scenario name and hash, seed (None for deterministic runs)."""
    from ketasim import __version__

    return {
        "ketasim_version": __version__,
        "git_revision": git_revision(),
        "scenario": scenario_name,
        "scenario_hash": scenario_hash,
        "seed": seed,
    }
