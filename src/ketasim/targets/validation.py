"""Run the NMDA receptor checks in ``data/validation/nmda.toml`` on the detailed receptor model.

The runner knows protocols (IC50 ratio between Mg2+ levels, trapping, steady block, resting-block
ratio, closed-channel block ratio), never which drug or study a check is about.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import expm

from ketasim.compounds import Library, default_library
from ketasim.errors import KetasimError
from ketasim.findings import CheckResult, judge, rounded
from ketasim.findings import to_markdown as findings_markdown
from ketasim.targets import ephys
from ketasim.targets.nmda_kinetics import generator
from ketasim.targets.receptor_data import receptor_data

PATH = Path(__file__).parent.parent / "data" / "validation" / "nmda.toml"


@lru_cache(maxsize=1)
def load_checks(path: Path = PATH) -> tuple[dict, ...]:
    with path.open("rb") as fh:
        return tuple(tomllib.load(fh)["check"])


def closed_block(
    compound: str,
    conc_um: float,
    seconds: float,
    subunit: str,
    mg_mm: float,
    v_mv: float,
    library: Library | None = None,
) -> float:
    """Fraction of receptors blocked after ``seconds`` of drug without agonist (all start unblocked)."""
    ag = ephys.agents(compound, subunit, library)
    Q = generator(
        ag.space,
        receptor_data().subunit(subunit),
        0.0,
        ag.drug(conc_um),
        mg_mm,
        v_mv,
        nam_um=ag.nam_share * conc_um,
    )
    p0 = np.zeros(len(ag.space.states))
    p0[ag.space.index[("C0", "empty", 0)]] = 1.0
    p = expm(Q * seconds) @ p0
    return float(p[ag.space.blocked()].sum())


def measure(check: dict, library: Library | None = None) -> Any:
    library = library or default_library()
    e = check["experiment"]
    proto = e["protocol"]
    if proto == "ic50_ratio":
        hi = ephys.ic50(e["compound"], e["subunit"], e["mg_mm"], e["voltage_mv"], library)
        lo = ephys.ic50(e["compound"], e["subunit"], e["reference_mg_mm"], e["voltage_mv"], library)
        return None if hi is None or lo is None else hi / lo
    if proto == "trapping":
        return ephys.trapping(e["compound"], e["subunit"], e["mg_mm"], e["voltage_mv"], library=library)[
            "trapped_fraction"
        ]
    if proto == "steady_block":
        return 1 - ephys.current_ratio(
            e["compound"], e["conc_um"], e["subunit"], e["mg_mm"], e["voltage_mv"], library
        )
    if proto == "rest_ratio":
        a = ephys.resting_block(e["compound"], e["subunit"], e["mg_mm"], library=library)["resting_block"]
        b = ephys.resting_block(e["reference"], e["subunit"], e["mg_mm"], library=library)["resting_block"]
        return a / b
    if proto == "closed_block_ratio":
        args = (e["conc_um"], 60.0 * e["minutes"], e["subunit"], e["mg_mm"], e["voltage_mv"], library)
        return closed_block(e["compound"], *args) / closed_block(e["reference"], *args)
    raise KetasimError(f"unknown protocol '{proto}'", argument=f"check {check['id']}")


def run_check(check: dict, library: Library | None = None) -> CheckResult:
    m = measure(check, library)
    return CheckResult(
        check["id"],
        judge(check, m),
        rounded(m),
        check["expected"],
        check["source"],
        check["role"],
        check["claim"],
        check.get("known_failure"),
    )


def run_checks(library: Library | None = None) -> list[CheckResult]:
    return [run_check(c, library) for c in load_checks()]


def to_markdown(results: list[CheckResult]) -> str:
    return findings_markdown(
        results,
        "NMDA receptor pharmacology against the literature",
        "python -m ketasim.targets.validation > docs/validation/nmda.md",
        "src/ketasim/data/validation/nmda.toml",
    )


if __name__ == "__main__":
    print(to_markdown(run_checks()), end="")
