"""Run the pharmacokinetic checks in ``data/validation/pk.toml`` against the model.

Each check is data: a regimen, a readout, an expected value with its tolerance, the source and
its role. The runner knows readout kinds (value, peak, half-life, AUC, AUC ratio, bioavailability,
curve, crossing time, Tmax order), never which drug or study it is running. A check may name its
``subject`` (body weight, CYP2B6 genotype; default one 70 kg *1/*1 adult) and a second subject
``relative_to``: the measured value is then the readout in ``subject`` divided by the same readout in
``relative_to`` (e.g. a genotype effect). Checks marked ``known_failure`` are still run and reported
as they come out.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ketasim import units
from ketasim.compounds import Library, default_library
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError
from ketasim.findings import CheckResult, judge, rounded
from ketasim.findings import to_markdown as findings_markdown
from ketasim.nca import nca
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.pk.exposure import parent_auc
from ketasim.pk.simulate import simulate

PATH = Path(__file__).parent.parent / "data" / "validation" / "pk.toml"


@lru_cache(maxsize=1)
def load_checks(path: Path = PATH) -> tuple[dict, ...]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return tuple(data["check"])


def regimen_from_spec(entries: list[dict], argument: str = "regimen") -> Regimen:
    """Build a regimen from scenario-style entries: doses or stepped infusions."""
    doses: list[Dose] = []
    for i, e in enumerate(entries):
        where = f"{argument}[{i}]"
        if "compound" not in e:
            raise KetasimError("missing 'compound'", argument=where)
        if "steps" in e:
            reg = Regimen.stepped_infusion(e["compound"], [tuple(s) for s in e["steps"]], e.get("time", 0.0))
            doses.extend(reg.doses)
            continue
        if "amount" not in e:
            raise KetasimError("missing 'amount'", argument=where)
        doses.append(
            Dose.parse(
                e["compound"], e["amount"], e.get("route", "iv"), e.get("time", 0.0), e.get("duration")
            )
        )
    return Regimen(tuple(doses))


def _curve(ds: xr.Dataset, analyte: str, unit: str = "uM") -> np.ndarray:
    var = {"uM": "plasma", "ng/mL": "plasma_ng_ml"}[unit]
    return ds[var].sel(patient=0, analyte=analyte).values


def subject_covariates(spec: dict | None, argument: str) -> Covariates:
    """One subject from a check's ``{weight = "70 kg", cyp2b6 = "*1/*1"}`` table (both optional; default
    the reference adult of the physiology, *1/*1)."""
    spec = spec or {}
    unknown = set(spec) - {"weight", "cyp2b6"}
    if unknown:
        raise KetasimError(
            f"unknown subject field(s) {sorted(unknown)}", argument=argument, fix="use weight, cyp2b6"
        )
    if "weight" in spec:
        weight = units.parse(spec["weight"], "weight", f"{argument}.weight")
    else:
        weight = default_physiology()["body.reference_weight"]
    return Covariates.single(weight, spec.get("cyp2b6", "*1/*1"))


def measure(check: dict, library: Library | None = None) -> Any:
    """Simulate a check's regimen and compute its readout (a ratio of two subjects if ``relative_to``)."""
    library = library or default_library()
    cov = subject_covariates(check.get("subject"), f"check {check['id']}: subject")
    if "relative_to" not in check:
        return _measure(check, library, cov)
    ref = subject_covariates(check["relative_to"], f"check {check['id']}: relative_to")
    a, b = _measure(check, library, cov), _measure(check, library, ref)
    if not all(isinstance(x, float) for x in (a, b)):
        raise KetasimError("relative_to needs a readout with one number", argument=f"check {check['id']}")
    return a / b


def _measure(check: dict, library: Library, cov: Covariates) -> Any:
    regimen = regimen_from_spec(check["regimen"])
    horizon = units.parse(check.get("horizon", "48 h"), "time", "horizon")
    r = check["readout"]
    kind = r["kind"]
    extra = []
    if kind == "value":
        extra.append(units.parse(r["time"], "time", "readout.time"))
    elif kind == "curve":
        extra.extend(float(x) for x in r["times"])
    from ketasim.pk.simulate import default_times

    t = np.unique(np.concatenate([default_times(horizon, regimen, 4001), extra]))
    ds = simulate(regimen, cov, times=t, library=library)
    if kind == "value":
        return float(np.interp(extra[0], t, _curve(ds, r["analyte"], r.get("unit", "uM"))))
    if kind == "cmax":
        return float(_curve(ds, r["analyte"], r.get("unit", "uM")).max())
    if kind == "peak":
        c = _curve(ds, r["analyte"], r.get("unit", "uM"))
        i = int(np.argmax(c))
        return [float(c[i]), float(t[i])]
    if kind == "t_half":
        return nca(t, np.clip(_curve(ds, r["analyte"], "ng/mL"), 0, None)).t_half
    if kind == "auc":
        return nca(t, np.clip(_curve(ds, r["analyte"]), 0, None)).auc_inf
    if kind == "auc_ratio":
        a = nca(t, np.clip(_curve(ds, r["analyte"]), 0, None)).auc_inf
        b = nca(t, np.clip(_curve(ds, r["reference"]), 0, None)).auc_inf
        return None if a is None or b is None else a / b
    if kind == "bioavailability":
        iv = regimen.as_iv_bolus()
        ref = simulate(iv, cov, times=t, library=library)
        a, b = parent_auc(ds), parent_auc(ref)
        return None if a is None or not b else a / b
    if kind == "curve":
        c = _curve(ds, r["analyte"], r.get("unit", "uM"))
        return [float(np.interp(x, t, c)) for x in extra]
    if kind == "crossing":
        above = _curve(ds, r["analyte"]) > _curve(ds, r["reference"])
        idx = np.where(above & (t > 0))[0]
        return float(t[idx[0]]) if idx.size else None
    if kind == "tmax_difference":
        return float(t[np.argmax(_curve(ds, r["analyte"]))] - t[np.argmax(_curve(ds, r["reference"]))])
    raise KetasimError(f"unknown readout kind '{kind}'", argument=f"check {check['id']}")


def run_check(check: dict, library: Library | None = None) -> CheckResult:
    m = measure(check, library)
    return CheckResult(
        id=check["id"],
        passed=judge(check, m),
        measured=rounded(m),
        expected=check["expected"],
        source=check["source"],
        role=check["role"],
        claim=check["claim"],
        known_failure=check.get("known_failure"),
    )


def run_checks(library: Library | None = None) -> list[CheckResult]:
    return [run_check(c, library) for c in load_checks()]


def to_markdown(results: list[CheckResult]) -> str:
    return findings_markdown(
        results,
        "Pharmacokinetics against the literature",
        "python -m ketasim.pk.validation > docs/validation/pk.md",
        "src/ketasim/data/validation/pk.toml",
    )


if __name__ == "__main__":
    print(to_markdown(run_checks()), end="")
