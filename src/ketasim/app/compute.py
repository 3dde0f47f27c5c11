"""The app's computation, without any user interface: controls -> scenario -> curves to plot.

:func:`scenario_from_controls` turns the values of the app's controls (plain data, see
:data:`DEFAULTS`) into a :class:`ketasim.scenario.Scenario` through :func:`ketasim.scenario.from_dict`,
so the app accepts exactly what a scenario file accepts and reports errors the same way
(:class:`ketasim.errors.KetasimError`). :func:`simulate` runs one arm for a sampled population with
the existing model (:func:`ketasim.model.run_arm`) and clinical layer
(:func:`ketasim.trial.clinical_scores`), seeded by block as in :func:`ketasim.trial.run_trial`, so the
app and ``ketasim trial`` give the same patients and the same scores for the same seed. It keeps
the time courses a trial summary drops (NMDA block) and reduces every patient-by-time array to a
median and a 5-95% band.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ketasim import mechanisms
from ketasim.compounds import Library, default_library
from ketasim.errors import KetasimError, unknown_choice
from ketasim.population import load_population
from ketasim.scale.seeding import blocks
from ketasim.scenario import Scenario, from_dict
from ketasim.trial import concat_results, simulate_block
from ketasim.trial_statistics import responders

DOSE_UNITS = ("mg/kg", "µg/kg", "mg")
ROUTES = ("iv", "im", "intranasal", "oral", "sublingual")
REGIMENS = ("single", "repeated")
MAX_PATIENTS = 1000  # keeps one recompute within a few seconds
MAX_HORIZON_D = 56.0
BAND = (5.0, 95.0)

DEFAULTS: dict[str, Any] = {
    "compound": "ketamine",
    "dose": 0.5,
    "dose_unit": "mg/kg",
    "route": "iv",
    "duration_min": 40.0,  # 0 for a bolus; intravenous only
    "regimen": "single",
    "every_h": 72.0,  # repeated: interval
    "count": 3,  # repeated: number of doses
    "n": 50,
    "seed": 1,
    "horizon_d": 7.0,
    "population": "trd",
    "condition": "depressed",  # the depressed state has the spine deficit the clinical layer scores against
    "mechanisms": sorted(mechanisms.defaults()),
    "perturbations": [],
}


@dataclass(frozen=True)
class Band:
    """Median and 5-95% band over patients of one output, at each time."""

    median: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Band:
        """Percentiles over the patient axis (0) of a (patients, times) array."""
        lo, mid, hi = np.percentile(np.asarray(values, dtype=float), [BAND[0], 50.0, BAND[1]], axis=0)
        return cls(mid, lo, hi)


@dataclass(frozen=True)
class Curves:
    """Everything the app plots for one regimen (times in hours)."""

    label: str
    compound: str
    times_h: np.ndarray
    plasma_ng_ml: Band  # dosed parent compound(s), total plasma
    nmda_block_pct: Band  # pyramidal-cell NMDA receptors blocked
    madrs: Band
    response_pct: np.ndarray  # responders (>= 50% MADRS fall) at each time
    cadss: Band
    sbp_rise_mmhg: Band
    n: int
    controls: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_plasma_ng_ml(self) -> float:
        """Peak of the plotted (median) plasma curve."""
        return float(self.plasma_ng_ml.median.max())

    def summary(self) -> dict[str, float]:
        """Key numbers for the comparison table."""
        day1 = int(np.argmin(np.abs(self.times_h - 24.0)))
        return {
            "peak_plasma_ng_ml": self.peak_plasma_ng_ml,
            "peak_nmda_block_pct": float(self.nmda_block_pct.median.max()),
            "response_24h_pct": float(self.response_pct[day1]),
            "madrs_24h": float(self.madrs.median[day1]),
            "peak_cadss": float(self.cadss.median.max()),
            "peak_sbp_rise_mmhg": float(self.sbp_rise_mmhg.median.max()),
        }


def merged(controls: Mapping[str, Any] | None) -> dict[str, Any]:
    """The controls with defaults filled in; unknown names are errors naming the nearest valid one."""
    out = dict(DEFAULTS)
    for key, value in (controls or {}).items():
        if key not in DEFAULTS:
            raise unknown_choice("control", key, DEFAULTS, "controls")
        out[key] = value
    return out


def _number(value: Any, name: str, low: float, high: float, fix: str, whole: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if not ok or not np.isfinite(value):
        raise KetasimError(f"'{value}' is not a number", argument=name, fix=fix)
    if whole and float(value) != int(value):
        raise KetasimError(f"must be a whole number, got {value}", argument=name, fix=fix)
    if not low <= value <= high:
        raise KetasimError(f"must be between {low:g} and {high:g}, got {value:g}", argument=name, fix=fix)
    return float(value)


def _choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise unknown_choice(name, str(value), choices, name)
    return str(value)


def available_routes(compound: str, library: Library | None = None) -> list[str]:
    """The routes of :data:`ROUTES` the compound has absorption parameters for (human; iv always),
    for a mixture those all its components have."""
    library = library or default_library()
    comp = library.get(compound, "compound")
    have = set(ROUTES) - {"iv"}
    for sid in comp.components:
        have &= set(library.species(sid).absorption)
    return [r for r in ROUTES if r == "iv" or r in have]


def regimen_label(c: Mapping[str, Any]) -> str:
    """A short description of the regimen, e.g. ``ketamine 0.5 mg/kg iv over 40 min``."""
    text = f"{c['compound']} {c['dose']:g} {c['dose_unit']} {c['route']}"
    if c["route"] == "iv" and c["duration_min"]:
        text += f" over {c['duration_min']:g} min"
    if c["regimen"] == "repeated":
        text += f", every {c['every_h']:g} h x {int(c['count'])}"
    return text


def scenario_from_controls(controls: Mapping[str, Any] | None, library: Library | None = None) -> Scenario:
    """Check the controls and build a one-arm scenario from them (via :func:`ketasim.scenario.from_dict`)."""
    c = merged(controls)
    library = library or default_library()
    library.get(str(c["compound"]), "compound")
    dose = _number(c["dose"], "dose", 0.0, 1e6, "give a dose above zero, e.g. 0.5 mg/kg")
    if dose <= 0:
        raise KetasimError("must be above zero", argument="dose", fix="e.g. 0.5 mg/kg")
    unit = _choice(c["dose_unit"], DOSE_UNITS, "dose unit")
    route = _choice(c["route"], ROUTES, "route")
    duration = _number(c["duration_min"], "infusion duration", 0.0, 24 * 60.0, "0 for a bolus, e.g. 40 min")
    if duration > 0 and route != "iv":
        raise KetasimError(
            f"an infusion duration applies only to route iv, not '{route}'",
            argument="infusion duration",
            fix="set it to 0 or choose route iv",
        )
    horizon = _number(c["horizon_d"], "horizon", 1.0, MAX_HORIZON_D, "e.g. 7 days")
    _number(c["n"], "population size", 1, MAX_PATIENTS, f"1 to {MAX_PATIENTS} patients", whole=True)
    _number(c["seed"], "seed", 0, 2**31 - 1, "a whole number >= 0", whole=True)
    for name in c["mechanisms"]:
        if name not in mechanisms.NAMES:
            raise unknown_choice("mechanism", str(name), mechanisms.NAMES, "mechanisms")
    entry: dict[str, Any] = {"compound": str(c["compound"]), "amount": f"{dose:g} {unit}", "route": route}
    if duration > 0:
        entry["duration"] = f"{duration:g} min"
    if _choice(c["regimen"], REGIMENS, "regimen") == "repeated":
        every = _number(c["every_h"], "dose interval", 0.1, 24 * MAX_HORIZON_D, "e.g. 72 h")
        count = _number(c["count"], "number of doses", 1, 100, "1 to 100", whole=True)
        if every * 60.0 < duration:
            raise KetasimError(
                "the interval is shorter than the infusion", argument="dose interval", fix="lengthen it"
            )
        entry.update(every=f"{every:g} h", count=int(count))
    return from_dict(
        {
            "name": "app",
            "horizon": f"{horizon:g} d",
            "condition": str(c["condition"]),
            "population": {"name": str(c["population"]), "n": int(c["n"]), "seed": int(c["seed"])},
            "mechanisms": {m: (m in set(c["mechanisms"])) for m in mechanisms.NAMES},
            "perturbations": list(c["perturbations"]),
            "arms": [{"name": "regimen", "doses": [entry]}],
        },
        "app controls",
        library,
    )


def simulate(controls: Mapping[str, Any] | None, library: Library | None = None) -> Curves:
    """Run the regimen the controls describe for their population; time courses as median and band.

    Patients and their clinical noise come from the seeding blocks of :mod:`ketasim.scale.seeding`
    (arm 0), as in :func:`ketasim.trial.run_trial`."""
    library = library or default_library()
    c = merged(controls)
    scenario = scenario_from_controls(c, library)
    spec = load_population(str(c["population"]))
    # the trial's own path (same patients, same noise); the app needs only arm 0
    result = concat_results(
        [simulate_block(scenario, b, spec, int(c["seed"])) for b in blocks(0, 0, int(c["n"]))]
    )
    frame, t, madrs, cadss, sbp = result.frame, result.times, result.madrs, result.cadss, result.sbp_rise
    plasma, block = result.plasma_parent_um, result.pyramidal_block
    mw = library.get(str(c["compound"])).mw  # g/mol, so µM x mw = µg/L = ng/mL
    response = responders(frame["madrs_baseline"].to_numpy(), madrs).mean(axis=0) * 100.0
    return Curves(
        label=regimen_label(c),
        compound=str(c["compound"]),
        times_h=t,
        plasma_ng_ml=Band.of(plasma * mw),
        nmda_block_pct=Band.of(block * 100.0),
        madrs=Band.of(madrs),
        response_pct=response,
        cadss=Band.of(cadss),
        sbp_rise_mmhg=Band.of(sbp),
        n=int(madrs.shape[0]),
        controls=c,
    )
