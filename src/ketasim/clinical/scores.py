"""Clinical read-outs of a simulated patient: MADRS, placebo response, dissociation (CADSS), blood pressure.

Pure functions on arrays (patient, time); parameters in ``data/clinical.toml``. Each parameter may be
a number (shared by every patient) or an array with one value per patient (P,), as a sensitivity
analysis needs (:mod:`ketasim.sensitivity`); a number gives exactly the same result as before.

- **Mood.** Prefrontal synaptic strength = surface AMPA receptors x spine density (relative to the
  healthy adult). Mood follows it through an effect compartment (lag). The symptom burden left is
  ((1 - strength) / (1 - strength at baseline)) ** n, so restoring the deficit relieves symptoms;
  each patient's sensitivity varies (lognormal) and rises with BMI and a family history of alcohol
  use disorder (Niciu 2014). New spines carry the later part of the effect, AMPA insertion the
  onset (Moda-Sava 2019).
- **Placebo.** A fractional improvement that builds over hours, larger when the infusion is
  noticeably psychoactive (dissociation or sedation), which is why midazolam is an active placebo.
  It fades over weeks after the last administration, and each administration re-engages it
  (docs/sources/placebo.md).
  It multiplies with the drug effect: MADRS = baseline x (1 - placebo) x (1 - drug) + rating noise.
- **Dissociation.** CADSS rises with NMDA block of pyramidal cells through a short effect
  compartment, so a bolus (higher, faster block) dissociates more than a slow infusion of the
  same dose (seed 001).
- **Blood pressure.** Systolic rise proportional to the same effect-site block, larger with age.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Value = float | np.ndarray  # one number for every patient, or one per patient (P,)


def per_patient(value: Value) -> float | np.ndarray:
    """``value`` shaped to broadcast against (P, T) arrays: a number as is, a (P,) array as (P, 1)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return float(a)
    if a.ndim != 1:
        raise ValueError(f"a clinical parameter must be a number or one per patient, got shape {a.shape}")
    return a[:, None]


def effect_site(t: np.ndarray, x: np.ndarray, rate: Value) -> np.ndarray:
    """First-order lag dy/dt = rate (x - y), y(0) = x(0), exact for x linear between points (P, T).

    ``rate`` is a number or one rate per patient (P,)."""
    rate = np.asarray(rate, dtype=float)
    if rate.ndim > 1:
        raise ValueError(f"rate must be a number or one value per patient, got shape {rate.shape}")
    y = np.empty_like(x, dtype=float)
    y[:, 0] = x[:, 0]
    for j in range(1, t.size):
        h = t[j] - t[j - 1]
        if h <= 0:
            y[:, j] = y[:, j - 1]
            continue
        e = np.exp(-rate * h)
        slope = (x[:, j] - x[:, j - 1]) / h
        # exact solution for a linear input over the step
        y[:, j] = x[:, j] - slope / rate + (y[:, j - 1] - x[:, j - 1] + slope / rate) * e
    return y


def drug_effect(
    t: np.ndarray,
    strength: np.ndarray,
    baseline: np.ndarray,
    sensitivity: np.ndarray,
    p: Mapping[str, Value],
) -> np.ndarray:
    """Fraction of symptoms relieved by the drug (P, T), between 0 and 1."""
    lagged = effect_site(t, strength, p["mood.effect_rate"])
    deficit0 = np.clip(1.0 - baseline, 1e-6, None)[:, None]
    remaining = np.clip((1.0 - lagged) / deficit0, 0.0, None)
    relief = 1.0 - np.minimum(remaining, 1.0) ** per_patient(p["mood.deficit_exponent"])
    worse = np.clip(remaining - 1.0, 0.0, None)  # strength below baseline: symptoms worsen
    return np.clip(sensitivity[:, None] * (relief - worse), -1.0, 1.0)


def _lagged_engagement(s: np.ndarray, u0: np.ndarray, k: Value, w: Value) -> np.ndarray:
    """u(s) for du/ds = k (exp(-w s) - u), u(0) = u0: an engagement that fades at rate ``w`` followed
    with lag rate ``k`` (the Bateman function; its limit k s e^{-k s} where w equals k)."""
    d = k - w
    same = np.abs(d) < 1e-9 * np.maximum(np.abs(k), 1e-300)
    safe = np.where(same, 1.0, d)
    rise = np.where(same, k * s * np.exp(-k * s), k / safe * (np.exp(-w * s) - np.exp(-k * s)))
    return u0 * np.exp(-k * s) + rise


def placebo_fraction(
    t: np.ndarray,
    noticeability: Value,
    factor: np.ndarray,
    p: Mapping[str, Value],
    administrations: tuple[float, ...] | np.ndarray = (0.0,),
) -> np.ndarray:
    """Fractional improvement from the trial setting (P, T).

    Each administration (and the first visit, at time 0) re-engages the expectation, which then fades
    with ``placebo.wane_time``; the improvement follows the engagement with ``placebo.time_constant``.
    One administration at time 0 gives size * k / (k - w) * (e^{-w t} - e^{-k t}), k = 1/time_constant,
    w = 1/wane_time."""
    size = ((p["placebo.base"] + p["placebo.active"] * np.asarray(noticeability)) * factor)[:, None]
    k = 1.0 / per_patient(p["placebo.time_constant"])
    w = 1.0 / per_patient(p["placebo.wane_time"])
    starts = np.unique(np.concatenate([[0.0], np.asarray(administrations, dtype=float).ravel()]))
    starts = starts[starts >= 0.0]
    tt = np.broadcast_to(np.asarray(t, dtype=float)[None, :], (size.shape[0], np.size(t)))
    u = np.zeros_like(tt)
    u_start = np.zeros((size.shape[0], 1))
    for j, a in enumerate(starts):
        end = starts[j + 1] if j + 1 < starts.size else np.inf
        here = (tt >= a) & (tt < end)
        if here.any():
            u = np.where(here, _lagged_engagement(np.clip(tt - a, 0.0, None), u_start, k, w), u)
        if np.isfinite(end):
            u_start = _lagged_engagement(np.full_like(u_start, end - a), u_start, k, w)
    return np.clip(size * u, 0.0, 0.95)


def dissociation(t: np.ndarray, block: np.ndarray, p: Mapping[str, Value]) -> np.ndarray:
    """CADSS increase (points) from pyramidal NMDA block (P, T)."""
    b = np.clip(effect_site(t, block, p["dissociation.effect_rate"]), 0.0, None)
    n = per_patient(p["dissociation.hill"])
    emax, b50 = per_patient(p["dissociation.emax"]), per_patient(p["dissociation.block50"])
    return emax * b**n / (b50**n + b**n)


def systolic_rise(t: np.ndarray, block: np.ndarray, age: np.ndarray, p: Mapping[str, Value]) -> np.ndarray:
    """Systolic blood pressure rise (mmHg) (P, T)."""
    b = np.clip(effect_site(t, block, p["dissociation.effect_rate"]), 0.0, None)
    age_factor = np.clip(1.0 + p["blood_pressure.age_effect"] * (age - 45.0), 0.2, None)
    return per_patient(p["blood_pressure.gain"]) * b * age_factor[:, None]


def noticeability(cadss: np.ndarray, sedation: np.ndarray, p: Mapping[str, Value]) -> np.ndarray:
    """How clearly each patient feels the infusion (0-1): the stronger of dissociation and sedation."""
    a = np.max(cadss, axis=1) / p["placebo.noticeable_cadss"]
    s = np.max(sedation, axis=1) / p["placebo.noticeable_sedation"]
    return np.clip(np.maximum(a, s), 0.0, 1.0)


def madrs(
    baseline_score: np.ndarray,
    placebo: np.ndarray,
    drug: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """MADRS (P, T), clipped to the scale's 0-60 range."""
    score = baseline_score[:, None] * (1.0 - placebo) * (1.0 - drug) + noise
    return np.clip(score, 0.0, 60.0)


# Equations of the clinical scale, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Synaptic strength",
        "latex": r"\Sigma(t) = A(t)\, S(t)",
        "meaning": "Prefrontal synaptic strength: surface AMPA receptors times spine density.",
        "source": "Moda-Sava RN et al. 2019, Science 364:eaat8078 (spines carry the later effect)",
        "code": "ketasim.trial.simulate_arm",
    },
    {
        "name": "Effect compartment",
        "latex": r"\frac{dy}{dt} = k_e (x - y),\qquad y(0) = x(0)",
        "meaning": "First-order lag of mood (on strength) and of dissociation and blood pressure (on "
        "pyramidal block); solved exactly for x linear between output times.",
        "source": "Sheiner LB et al. 1979, Clin Pharmacol Ther 25:358 (effect compartment)",
        "code": "ketasim.clinical.scores.effect_site",
    },
    {
        "name": "Drug effect on symptoms",
        "latex": r"D = \mathrm{clip}\left(\eta \left(1 - \min(R, 1)^{n} - [R - 1]_+\right), -1, 1\right),"
        r"\quad "
        r"R = \left[\frac{1 - \Sigma_e}{1 - \Sigma_0}\right]_+",
        "meaning": "Fraction of symptoms relieved as the lagged strength Sigma_e restores the deficit "
        "left at baseline Sigma_0; eta is the patient's sensitivity.",
        "source": "data/clinical.toml (fitted to Murrough JW et al. 2013 at 24 h)",
        "code": "ketasim.clinical.scores.drug_effect",
    },
    {
        "name": "Patient sensitivity",
        "latex": r"\eta = e^{\omega z}\,\max\left(1 + \beta_{BMI}(\mathrm{BMI} - 30), 0.2\right)"
        r"\,(1 + \beta_{FH}\, \mathrm{FH}),\quad \omega^2 = \ln(1 + CV^2)",
        "meaning": "Median-1 lognormal between-patient sensitivity (z standard normal), higher with BMI "
        "and a family history of alcohol use disorder (FH).",
        "source": "Niciu MJ et al. 2014, J Clin Psychiatry 75:e417; data/clinical.toml",
        "code": "ketasim.trial.clinical_scores",
    },
    {
        "name": "Placebo",
        "latex": r"P = \mathrm{clip}\left((p_b + p_a N)\, \xi\, u, 0, 0.95\right),\quad "
        r"\frac{du}{dt} = \frac{e^{-(t - t_a)/\tau_w} - u}{\tau},\quad u(0) = 0",
        "meaning": "Improvement from the trial setting, larger for a noticeable infusion N (xi: the "
        "patient's placebo factor); it builds with tau, fades with tau_w after the last administration "
        "t_a (the first visit counts as one at t = 0) and each administration re-engages it.",
        "source": "data/clinical.toml; docs/sources/placebo.md (waning time assumed)",
        "code": "ketasim.clinical.scores.placebo_fraction",
    },
    {
        "name": "Noticeability",
        "latex": r"N = \mathrm{clip}\left(\max\left(\frac{\max_t \mathrm{CADSS}}{c^*}, "
        r"\frac{\max_t \theta_{sed}}{s^*}\right), 0, 1\right)",
        "meaning": "How clearly the patient feels the infusion: dissociation or sedation (why midazolam "
        "is an active placebo).",
        "source": "data/clinical.toml",
        "code": "ketasim.clinical.scores.noticeability",
    },
    {
        "name": "MADRS",
        "latex": r"\mathrm{MADRS}(t) = \mathrm{clip}\left(M_0 (1 - P)(1 - D) + \epsilon, 0, 60\right)",
        "meaning": "Placebo and drug effects multiply; epsilon is rating noise.",
        "source": "Montgomery SA, Asberg M 1979, Br J Psychiatry 134:382 (scale range)",
        "code": "ketasim.clinical.scores.madrs",
    },
    {
        "name": "Dissociation (CADSS)",
        "latex": r"\Delta\mathrm{CADSS} = E_{max} \frac{b_e^{\,n}}{b_{50}^{\,n} + b_e^{\,n}}",
        "meaning": "Rise with effect-site pyramidal NMDA block b_e, so a bolus dissociates more than a "
        "slow infusion of the same dose.",
        "source": "data/clinical.toml; seed 001",
        "code": "ketasim.clinical.scores.dissociation",
    },
    {
        "name": "Systolic blood pressure",
        "latex": r"\Delta\mathrm{SBP} = g\, b_e \max\left(1 + a_{age}(\mathrm{age} - 45), 0.2\right)",
        "meaning": "Rise proportional to effect-site block, larger with age.",
        "source": "data/clinical.toml",
        "code": "ketasim.clinical.scores.systolic_rise",
    },
)
