"""Calibration of the NMDA block parameters that are fitted, each to its named data.

Run ``python -m ketasim.targets.calibrate`` to recompute every fitted value from the current
parameters; the values are stored, with their calibration data named, in the data files, and
``tests/test_nmda.py`` checks that the stored values still reproduce their targets. Data used here
are never used to judge the model; the validation checks live in the tests.

| parameter | calibration data |
|---|---|
| ``gating.GluN2B.ro``, ``gating.GluN2B.ru`` | Erreger 2005: peak open probability 0.12 after a brief |
| | pulse of 1 mM glutamate; deactivation of the Chen 2001 NR1/NR2B fit (tau_w 392 ms) |
| ``drug.membrane_access`` (nmda_receptors.toml) | Mealing 1999: racemic ketamine 86% trapped after 120 s |
| memantine ``superficial_kd`` | Blanpied 1997: about 1/6 of blocked channels not trapped |
| lanicemine ``superficial_kd`` | Mealing 1999: lanicemine (AR-R15896AR) 54% trapped |
| ``kd_factor_2b/2c/2d`` (S-, R-ketamine, memantine) | Kotermanski & Johnson 2009 0-Mg2+ IC50 ratios to |
| | GluN2A at -66 mV (unconfirmed) |
| ``gating.GluN2C/2D.mg_factor`` | Kotermanski & Johnson 2009 ketamine Mg2+ shifts (unconfirmed) |
| NAM ``nam_kd`` | IC50 at GluN2B (Fischer 1997; Garner 2015; Chenard 1995) |
| cell-type subunit shares (cell_types.toml) | Mierau 2016 ifenprodil fraction of PV EPSCs; refit with |
| | ``python -m ketasim.targets.cell_epsc`` after changing gating (tests/test_cell_epsc.py) |
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import brentq, fsolve

from ketasim.compounds import default_library
from ketasim.targets import ephys
from ketasim.targets.nmda_kinetics import state_space
from ketasim.targets.receptor_data import ReceptorData, receptor_data

MEMBRANE_TRAPPING = ("ketamine", 0.86)  # compound whose trapped fraction sets the membrane access
SUPERFICIAL_TRAPPING = {"memantine": 5 / 6, "lanicemine": 0.54}  # compound -> trapped fraction
# 0-Mg2+ IC50s (uM) at -66 mV by subunit, Kotermanski & Johnson 2009 (values unconfirmed, see
# docs/sources/nmda_block_literature.md); compound -> (IC50s, species that carry the factors)
KD_FACTOR_IC50 = {
    "ketamine": (
        {"GluN2A": 0.33, "GluN2B": 0.31, "GluN2C": 0.51, "GluN2D": 0.83},
        ("esketamine", "arketamine"),
    ),
    "memantine": ({"GluN2A": 0.80, "GluN2B": 0.57, "GluN2C": 0.52, "GluN2D": 0.54}, ("memantine",)),
}
KD_FACTOR_V = -66.0
MG_SHIFT = ("ketamine", {"GluN2C": 1.18 / 0.51, "GluN2D": 2.95 / 0.83})  # compound, IC50 ratio 1/0 mM Mg2+
NAM_IC50_UM = {"ro-25-6981": 0.009, "mk-0657": 0.0036, "traxoprodil": 0.01}
TRAP_SUBUNIT, TRAP_V = "GluN2A", -60.0
# Drug-free gating after a 5-ms pulse of 1 mM glutamate: subunit -> (peak open probability, weighted
# deactivation time constant in ms). GluN2B: peak Po 0.12 of single-channel patches (Erreger K et al. 2005,
# J Physiol 563:345; 3-8 ms pulses); tau_w of the published Chen 2001 NR1/NR2B rate set (Ro 100, Ru 5/s;
# ModelDB 7988 nmda2B.hoc), which lies between the measured fast and slow GluN1/2B deactivation components
# (71-95 and 538-617 ms; Traynelis SF et al. 2010, Pharmacol Rev 62:405, Table 16).
GATING_PULSE = {"GluN2B": (0.12, 392.0)}
GATING_PULSE_MS = 5.0


def _with(data: ReceptorData, **drug) -> ReceptorData:
    return replace(data, drug={**data.drug, **drug})


def fit_gating(subunit: str, data: ReceptorData | None = None) -> dict[str, float]:
    """Opening and agonist unbinding rates (1/s) reproducing the subunit's pulse response (``GATING_PULSE``);
    the binding, closing and desensitisation rates stay as published."""
    data = data or receptor_data()
    peak, tau = GATING_PULSE[subunit]
    g0 = data.gating[subunit]

    def with_rates(x):
        return _with_gating(data, subunit, {"ro": float(np.exp(x[0])), "ru": float(np.exp(x[1]))})

    def f(x):
        r = ephys.pulse_response(subunit, with_rates(x), GATING_PULSE_MS)
        return [np.log(r["peak_open_probability"] / peak), np.log(r["deactivation_tau_ms"] / tau)]

    x, _, ok, msg = fsolve(f, np.log([g0.ro, g0.ru]), full_output=True, xtol=1e-10)
    if ok != 1 or max(abs(v) for v in f(x)) > 1e-6:
        raise RuntimeError(f"gating fit for {subunit} did not converge: {msg}")
    return {"ro": float(np.exp(x[0])), "ru": float(np.exp(x[1]))}


def _with_gating(data: ReceptorData, subunit: str, rates: dict[str, float]) -> ReceptorData:
    return replace(data, gating={**data.gating, subunit: replace(data.gating[subunit], **rates)})


def fit_membrane_access(data: ReceptorData | None = None) -> float:
    data = data or receptor_data()

    compound, target = MEMBRANE_TRAPPING

    def f(log_a):
        d = _with(data, membrane_access=10.0**log_a)
        ag = ephys.agents(compound, TRAP_SUBUNIT, data=d)
        return ephys.trapping(ag, TRAP_SUBUNIT, 0.0, TRAP_V)["trapped_fraction"] - target

    return float(10.0 ** brentq(f, -6.0, 0.0, xtol=1e-8))


def fit_superficial_kd(compound: str, data: ReceptorData | None = None) -> float:
    """Superficial-site Kd (µM at GluN2A) giving the target trapped fraction."""
    data = data or receptor_data()
    base = ephys.agents(compound, TRAP_SUBUNIT, data=data)
    (b,) = base.space.blockers

    def f(log_kd):
        b2 = replace(b, superficial_kd=10.0**log_kd)
        ag = replace(base, space=state_space((b2,), base.space.modulator))
        return (
            ephys.trapping(ag, TRAP_SUBUNIT, 0.0, TRAP_V)["trapped_fraction"] - SUPERFICIAL_TRAPPING[compound]
        )

    return float(10.0 ** brentq(f, -3.0, 4.0, xtol=1e-8))


def fit_kd_factor(compound: str, subunit: str, data: ReceptorData | None = None) -> float:
    """Common Kd factor (deep and superficial site) at ``subunit`` relative to GluN2A that reproduces the
    measured 0-Mg2+ IC50 ratio. For a deep-site-only blocker the factor is the IC50 ratio itself (IC50 =
    Kd(V) whatever the gating); an open-state superficial site makes it depend on the subunit's gating."""
    data = data or receptor_data()
    ic50s, _ = KD_FACTOR_IC50[compound]
    target = ic50s[subunit] / ic50s["GluN2A"]
    ref = ephys.agents(compound, "GluN2A", data=data)
    base = ephys.agents(compound, subunit, data=data)
    ic50_ref = ephys.ic50(ref, "GluN2A", 0.0, KD_FACTOR_V)

    def f(log_f):
        fac = 10.0**log_f
        bl = tuple(
            replace(
                b,
                kd_ref=b.kd_ref * fac,
                superficial_kd=None if b.superficial_kd is None else b.superficial_kd * fac,
            )
            for b in ref.space.blockers
        )
        ag = replace(base, space=state_space(bl, base.space.modulator))
        return np.log(ephys.ic50(ag, subunit, 0.0, KD_FACTOR_V) / ic50_ref / target)

    return float(10.0 ** brentq(f, -2.0, 2.0, xtol=1e-8))


def fit_mg_factor(subunit: str, data: ReceptorData | None = None) -> float:
    data = data or receptor_data()

    def f(log_f):
        g = replace(data.gating[subunit], mg_factor=10.0**log_f)
        d = replace(data, gating={**data.gating, subunit: g})
        ag = ephys.agents(MG_SHIFT[0], subunit, data=d)
        shift = ephys.ic50(ag, subunit, 1.0, -66.0) / ephys.ic50(ag, subunit, 0.0, -66.0)
        return shift - MG_SHIFT[1][subunit]

    return float(10.0 ** brentq(f, -1.0, 3.0, xtol=1e-8))


def fit_nam_kd(compound: str, data: ReceptorData | None = None) -> float:
    data = data or receptor_data()
    base = ephys.agents(compound, "GluN2B", data=data)
    m = base.space.modulator

    def f(log_kd):
        ag = replace(base, space=state_space(base.space.blockers, replace(m, kd=10.0**log_kd)))
        return np.log(ephys.ic50(ag, "GluN2B", 0.0, -66.0) / NAM_IC50_UM[compound])

    return float(10.0 ** brentq(f, -6.0, 2.0, xtol=1e-8))


def calibrate() -> dict[str, float]:
    """Every fitted value, in the order they depend on each other."""
    default_library()
    data = receptor_data()
    out: dict[str, float] = {}
    for sub in GATING_PULSE:
        rates = fit_gating(sub, data)
        out.update({f"gating.{sub}.{k}": v for k, v in rates.items()})
        data = _with_gating(data, sub, rates)
    out["drug.membrane_access"] = fit_membrane_access(data)
    data = _with(data, membrane_access=out["drug.membrane_access"])
    for c in SUPERFICIAL_TRAPPING:
        out[f"{c}.nmda.superficial_kd"] = fit_superficial_kd(c, data)
    for c, (_, carriers) in KD_FACTOR_IC50.items():
        for sub in ("GluN2B", "GluN2C", "GluN2D"):
            value = fit_kd_factor(c, sub, data)
            for sid in carriers:
                out[f"{sid}.nmda.kd_factor_{sub[-2:].lower()}"] = value
    for sub in MG_SHIFT[1]:
        out[f"gating.{sub}.mg_factor"] = fit_mg_factor(sub, data)
    for c in NAM_IC50_UM:
        out[f"{c}.nmda.nam_kd"] = fit_nam_kd(c, data)
    return out


if __name__ == "__main__":
    for k, v in calibrate().items():
        print(f"{k} = {v:.4g}")
