"""Predicted clinical profile of a designed compound beside ketamine 0.5 mg/kg over 40 min and saline.

Every arm is the same virtual trial machinery (:func:`ketasim.trial.run_trial`) run on one arm, with
the same seed, so the designed compound, the ketamine reference and saline are given to the *same*
virtual patients (common random numbers): differences between them come from the drug, not from
sampling. Outcome definitions (also in ``DEFINITIONS``):

- response: MADRS at least 50% below baseline; response rate = fraction of patients responding.
- onset (h): first time the response-rate difference over saline reaches half its value at 24 h;
  ``None`` if the difference at 24 h is under 10 points (no clear effect to time).
- duration (d): last time the response rate exceeds saline's by at least 10 points; 0 if never;
  ``duration_censored`` is true if it still does at the horizon.
- dissociation: peak CADSS per patient, averaged; blood pressure: peak systolic rise (mmHg), averaged.
- exposure: the reference 70 kg adult (:func:`ketasim.pk.exposure.pk_run`): Cmax, AUC to infinity and
  half-life of the dosed compound in plasma (enantiomers summed), bioavailability against an IV
  bolus, peak brain ECF concentration and peak pyramidal-cell NMDA block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.compounds import Library, Species, default_library
from ketasim.design.build import Design
from ketasim.design.files import compound_library
from ketasim.pk.exposure import pk_run
from ketasim.scenario import from_dict
from ketasim.trial import ArmResult, run_trial
from ketasim.trial_statistics import responders

DEFINITIONS = {
    "response": "MADRS >= 50% below baseline",
    "onset_h": "first hour at which the response-rate difference over saline reaches half of its 24 h value",
    "duration_d": "last day on which the response rate exceeds saline's by >= 10 points",
    "dissociation_peak_mean": "peak CADSS per patient, mean over patients",
    "systolic_rise_peak_mean": "peak systolic blood pressure rise (mmHg) per patient, mean",
    "exposure": "reference 70 kg adult; plasma sums the dosed enantiomers",
    "patients": "every arm is given to the same virtual patients (same seed)",
}
EFFECT_THRESHOLD = 0.10
REFERENCE = {"compound": "ketamine", "amount": "0.5 mg/kg", "route": "iv", "duration": "40 min"}


@dataclass(frozen=True)
class Regimen:
    """A single dose as the user states it."""

    amount: str = "0.5 mg/kg"
    route: str = "iv"
    duration: str | None = "40 min"

    def dose(self, compound: str) -> dict:
        d = {"compound": compound, "amount": self.amount, "route": self.route}
        if self.duration is not None:
            d["duration"] = self.duration
        return d

    def label(self) -> str:
        over = f" over {self.duration}" if self.duration else ""
        return f"{self.amount} {self.route}{over}"


def default_regimen(route: str | None, amount: str | None, duration: str | None) -> Regimen:
    """The default is the standard antidepressant ketamine infusion, 0.5 mg/kg IV over 40 min (Zarate
    CA et al. 2006, Arch Gen Psychiatry 63:856); another route keeps the amount and has no duration."""
    route = route or "iv"
    if duration is None and route == "iv" and amount is None:
        duration = "40 min"
    return Regimen(amount or "0.5 mg/kg", route, duration)


def arm_result(dose: dict | None, n: int, seed: int, horizon: str) -> ArmResult:
    """One arm (``dose`` None: saline) for ``n`` patients; compounds are looked up in the default library."""
    data = {
        "name": "design",
        "horizon": horizon,
        "condition": "depressed",
        "arms": [{"name": "arm", "doses": [dose] if dose else []}],
    }
    return run_trial(from_dict(data, "ketasim design"), n=n, seed=seed).arms["arm"]


def response_curve(a: ArmResult) -> np.ndarray:
    """Response rate at each output time of the arm."""
    return responders(a.frame["madrs_baseline"].to_numpy(), a.madrs).mean(axis=0)


def clinical(a: ArmResult, saline: ArmResult) -> dict:
    """Response, onset, duration, dissociation and blood pressure of arm ``a`` against ``saline``."""
    t = a.times
    r, r0 = response_curve(a), response_curve(saline)
    diff = r - r0
    i24, i7 = a.at(24.0), a.at(168.0)
    onset = None
    if diff[i24] >= EFFECT_THRESHOLD:
        hit = np.nonzero((t > 0) & (diff >= 0.5 * diff[i24]))[0]
        onset = float(t[hit[0]])
    above = np.nonzero(diff >= EFFECT_THRESHOLD - 1e-12)[0]
    duration = float(t[above[-1]] / 24.0) if above.size else 0.0
    return {
        "n": a.n,
        "response_24h": float(r[i24]),
        "response_7d": float(r[i7]),
        "response_difference_24h": float(diff[i24]),
        "response_difference_7d": float(diff[i7]),
        "onset_h": onset,
        "duration_d": duration,
        "duration_censored": bool(above.size and above[-1] == t.size - 1),
        "dissociation_peak_mean": float(a.cadss.max(axis=1).mean()),
        "systolic_rise_peak_mean": float(a.sbp_rise.max(axis=1).mean()),
    }


def exposure(compound: str, regimen: Regimen, library: Library, horizon_h: float = 168.0) -> dict:
    """Plasma and brain exposure and peak NMDA block of the reference adult."""
    run = pk_run(
        compound, regimen.amount, regimen.route, regimen.duration, horizon=horizon_h, library=library
    )
    c = library.get(compound)
    key = c.analyte if isinstance(c, Species) else c.id
    s = run.summary
    plasma, brain = s["analytes"][key], s["brain"][key]
    block = s["receptors"]["nmda_block"].get("pyramidal", {})
    return {
        "plasma_cmax_ng_ml": plasma["cmax_ng_ml"],
        "plasma_auc_ng_h_ml": plasma["auc_ng_h_ml"],
        "plasma_t_half_h": plasma["t_half_h"],
        "bioavailability": s["bioavailability"],
        "brain_ecf_cmax_um": brain["ecf_cmax_um"],
        "nmda_block_pyramidal_peak": block.get("peak_block"),
    }


def references(n: int, seed: int, horizon: str) -> tuple[ArmResult, ArmResult]:
    """(ketamine 0.5 mg/kg over 40 min, saline) for the same patients."""
    return arm_result(REFERENCE, n, seed, horizon), arm_result(None, n, seed, horizon)


def predict_design(
    d: Design, regimen: Regimen, n: int, seed: int, horizon: str, refs: tuple[ArmResult, ArmResult]
) -> dict:
    """Clinical outcomes and exposure of the designed compound (``refs`` from :func:`references`)."""
    with compound_library(d.compounds):
        a = arm_result(regimen.dose(d.id), n, seed, horizon)
    out = clinical(a, refs[1])
    out["exposure"] = exposure(d.id, regimen, d.library)
    return out


def reference_profile(refs: tuple[ArmResult, ArmResult]) -> dict[str, dict]:
    """Outcomes of the ketamine reference and of saline."""
    ket, sal = refs
    k = clinical(ket, sal)
    reg = Regimen(REFERENCE["amount"], REFERENCE["route"], REFERENCE["duration"])
    k["exposure"] = exposure("ketamine", reg, default_library())
    s = clinical(sal, sal)
    return {"ketamine": k, "saline": s}
