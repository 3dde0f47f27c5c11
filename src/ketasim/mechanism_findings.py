"""Published findings about mechanisms and clinical outcomes, one data file each (``data/findings/*.toml``).

A finding file states the claim in our words, the seed review and primary citation, its role
(calibration or validation), which hypotheses predict it, the experiment (species, doses, arms,
perturbations, mechanisms), the readout and the expected outcome with its tolerance. Readouts:

``effect``        drug minus vehicle of ``variable`` at ``hours`` (same perturbations)
``effect_ratio``  ``effect`` with the perturbations / ``effect`` without them
``extreme``       ``max`` or ``min`` of ``variable`` in the drug arm over ``[0, hours]``
                  (minus 1 if ``relative``)
``response``      response rate of a virtual trial arm at ``hours``
``odds_ratio``    response odds ratio of ``arm`` vs ``control`` at ``hours``
``compare``       ratio of ``extreme`` readouts between two dose lists (``doses`` over ``reference_doses``)
``trial_ratio``   mean ``quantity`` (``cadss`` or ``madrs``) of a trial arm at ``hours`` over its mean at
                  ``reference_hours``
``subgroup``      mean fractional MADRS improvement at ``hours`` of the patients whose ``column`` is true
                  minus that of the others (or, for a numeric column, of those above ``threshold``)
``change_difference``  mean MADRS change from baseline at ``hours`` of ``arm`` minus that of ``control``
``slice``         firing of ``population`` in a brain slice with the compounds of ``bath`` (id -> µM),
                  relative to the drug-free slice (:mod:`ketasim.circuit.slice`)
``partition``     a partition property of ``compound``'s species: ``logd`` at ``ph``, or
                  ``lysosome_cytosol`` (equilibrium ratio of total concentrations at the physiology's
                  lysosomal and cytosolic pH)

Findings marked ``known_failure`` are run and reported as they come out.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ketasim.errors import KetasimError, unknown_choice
from ketasim.findings import CheckResult, judge, rounded
from ketasim.progress import track
from ketasim.toml_io import read_toml

PATH = Path(__file__).parent / "data" / "findings"
READOUTS = (
    "effect",
    "effect_ratio",
    "extreme",
    "response",
    "odds_ratio",
    "compare",
    "trial_ratio",
    "subgroup",
    "change_difference",
    "slice",
    "partition",
)
TRIAL_READOUTS = ("response", "odds_ratio", "trial_ratio", "subgroup", "change_difference")
REQUIRED = ("id", "claim", "seed", "source", "role", "experiment", "readout", "expected", "tolerance")


def load_findings(path: Path = PATH) -> list[dict]:
    out = []
    for f in sorted(path.glob("*.toml")):
        data = read_toml(f, f.name)
        for key in REQUIRED:
            if key not in data:
                raise KetasimError(f"missing '{key}'", argument=f.name)
        if data["readout"].get("kind") not in READOUTS:
            raise unknown_choice(
                "readout kind", str(data["readout"].get("kind")), READOUTS, f"{f.name}: readout"
            )
        if data["role"] not in ("calibration", "validation"):
            raise KetasimError("role must be calibration or validation", argument=f"{f.name}: role")
        data["file"] = f.name
        out.append(data)
    return out


def _freeze(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, list):
        return tuple(_freeze(v) for v in x)
    return x


def _thaw(x: Any) -> Any:
    if (
        isinstance(x, tuple)
        and x
        and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str) for i in x)
    ):
        return {k: _thaw(v) for k, v in x}
    if isinstance(x, tuple):
        return [_thaw(v) for v in x]
    return x


@lru_cache(maxsize=128)
def _run(species: str, horizon: str, condition: str, doses: tuple, perts: tuple, mech: tuple | None):
    from ketasim.model import run_arm
    from ketasim.scenario import from_dict

    sc = from_dict(
        {
            "species": species,
            "horizon": horizon,
            "condition": condition,
            "arms": [{"name": "a", "doses": _thaw(doses) or [], "perturbations": list(perts)}],
        },
        "finding",
    )
    return run_arm(sc, "a", mechanisms=None if mech is None else frozenset(mech))


@lru_cache(maxsize=8)
def _trial(scenario: str, n: int, seed: int, mech: tuple | None):
    from ketasim import scenario as scenario_io
    from ketasim.trial import run_trial

    return run_trial(
        scenario_io.load(scenario), n=n, seed=seed, mechanisms=None if mech is None else frozenset(mech)
    )


def _at(ds, variable: str, hours: float) -> float:
    j = int(np.argmin(np.abs(ds.time.values - hours)))
    da = ds[variable]
    if "cell_type" in da.dims:
        da = da.sel(cell_type="pyramidal")
    return float(da.values[0, j])


def measure(finding: dict, mechanisms: frozenset[str] | None = None) -> float | None:
    """The finding's readout from the model (``mechanisms`` overrides the experiment's switches)."""
    e, r = finding["experiment"], finding["readout"]
    mech = e.get("mechanisms")
    if mechanisms is not None:
        mech = sorted(mechanisms)
    mech_key = None if mech is None else tuple(sorted(mech))
    kind = r["kind"]
    if kind in TRIAL_READOUTS:
        res = _trial(e["scenario"], int(e.get("n", 200)), int(e.get("seed", 1)), mech_key)
        if kind == "response":
            return float(res.arms[r["arm"]].response(r["hours"]).mean())
        arm = res.arms[r["arm"]]
        if kind == "trial_ratio":
            q = {"cadss": arm.cadss, "madrs": arm.madrs}[r["quantity"]]
            ref = float(q[:, arm.at(r["reference_hours"])].mean())
            return float(q[:, arm.at(r["hours"])].mean()) / ref if ref else None
        if kind == "subgroup":
            base = arm.frame["madrs_baseline"].to_numpy()
            improvement = -arm.change(r["hours"]) / base
            col = arm.frame[r["column"]].to_numpy()
            group = col.astype(bool) if "threshold" not in r else col.astype(float) > r["threshold"]
            return float(improvement[group].mean() - improvement[~group].mean())
        if kind == "change_difference":
            return float(arm.change(r["hours"]).mean() - res.arms[r["control"]].change(r["hours"]).mean())
        from ketasim.trial_statistics import odds_ratio

        a, c = res.arms[r["arm"]], res.arms[r["control"]]
        o = odds_ratio(int(a.response(r["hours"]).sum()), a.n, int(c.response(r["hours"]).sum()), c.n)
        return float(o.estimate)
    if kind == "slice":
        from ketasim.circuit.slice import slice_rates

        return slice_rates({k: float(v) for k, v in e["bath"].items()})[r["population"]]
    if kind == "partition":
        return partition_property(e["compound"], r["quantity"], r.get("ph", 7.4))
    base = (e.get("species", "mouse"), e.get("horizon", "2 d"), e.get("condition", "healthy"))
    doses = _freeze(e.get("doses", []))
    perts = tuple(e.get("perturbations", []))

    def effect(p: tuple) -> float:
        drug, vehicle = _run(*base, doses, p, mech_key), _run(*base, (), p, mech_key)
        return _at(drug, r["variable"], r["hours"]) - _at(vehicle, r["variable"], r["hours"])

    def extreme(d: tuple) -> float:
        ds = _run(*base, d, perts, mech_key)
        da = ds[r["variable"]]
        if "cell_type" in da.dims:
            da = da.sel(cell_type="pyramidal")
        window = ds.time.values <= r["hours"]
        v = da.values[0, window]
        x = float(v.max() if r.get("which", "max") == "max" else v.min())
        return x - 1.0 if r.get("relative") else x

    if kind == "effect":
        return effect(perts)
    if kind == "effect_ratio":
        full = effect(())
        return effect(perts) / full if full != 0 else None
    if kind == "extreme":
        return extreme(doses)
    if kind == "compare":
        ref = extreme(_freeze(e["reference_doses"]))
        return extreme(doses) / ref if ref != 0 else None
    raise KetasimError(f"unknown readout kind '{kind}'", argument=finding["file"])


def partition_property(compound: str, quantity: str, ph: float = 7.4) -> float:
    """``logd`` at ``ph`` or the ``lysosome_cytosol`` trapping ratio of a single-species compound."""
    from ketasim.brain.partition import log_d, trapping_ratio
    from ketasim.compounds import default_library
    from ketasim.physiology import default_physiology

    sp = default_library().species(compound)
    pka = sp.properties["pka"].value if "pka" in sp.properties else None
    if quantity == "logd":
        return log_d(sp.properties["logp"].value, sp.ionization, pka, ph)
    if quantity == "lysosome_cytosol":
        phys = default_physiology()
        return trapping_ratio(sp.ionization, pka, phys["ph.lysosome"], phys["ph.cytosol"])
    raise unknown_choice("partition quantity", quantity, ("logd", "lysosome_cytosol"), "readout.quantity")


def run_checks(mechanisms: frozenset[str] | None = None) -> list[CheckResult]:
    out = []
    for f in track(load_findings(), "mechanism findings"):
        m = measure(f, mechanisms)
        out.append(
            CheckResult(
                id=f["id"],
                passed=judge(f, m),
                measured=rounded(m),
                expected=f["expected"],
                source=f["source"],
                role=f["role"],
                claim=f["claim"],
                known_failure=f.get("known_failure"),
            )
        )
    return out


def hypothesis_matrix(ids: list[str] | None = None) -> dict[str, dict[str, bool]]:
    """Finding x hypothesis set: which single switches (and all of them) reproduce each finding.

    Trial-level findings are left out (they need the clinical calibration, made with the defaults)."""
    from ketasim.mechanisms import NAMES

    sets = {name: frozenset({name}) for name in NAMES}
    sets["all"] = frozenset(NAMES)
    findings = [f for f in load_findings() if f["readout"]["kind"] not in TRIAL_READOUTS]
    if ids is not None:
        known = {f["id"] for f in findings}
        for i in ids:
            if i not in known:
                raise unknown_choice("finding", i, sorted(known), "ids")
        findings = [f for f in findings if f["id"] in ids]
    return {
        f["id"]: {label: judge(f, measure(f, s)) for label, s in sets.items()}
        for f in track(findings, "hypothesis matrix")
    }


def to_markdown(results: list[CheckResult]) -> str:
    from ketasim.findings import to_markdown as findings_markdown

    return findings_markdown(
        results,
        "Mechanism and clinical findings against the model",
        "python -m ketasim.mechanism_findings > docs/validation/findings.md",
        "src/ketasim/data/findings/*.toml",
    )


if __name__ == "__main__":
    print(to_markdown(run_checks()), end="")
