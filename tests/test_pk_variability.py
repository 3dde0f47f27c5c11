"""Between-patient PK factors (central volume, hepatic blood flow, nasal absorption): each acts where
the physiology says, keeps mass balance, and a bad factor is an error."""

import numpy as np
import pytest

from ketasim.compounds import default_library
from ketasim.dosing import Dose, Regimen
from ketasim.engine.linear import solve_linear
from ketasim.engine.schedule import build_schedule
from ketasim.errors import KetasimError
from ketasim.pk.covariates import Covariates
from ketasim.pk.model import build_model
from ketasim.pk.simulate import mass_balance, simulate

T = np.array([0.01, 0.5, 1.0, 2.0, 4.0, 8.0, 24.0])


def _plasma(reg, **factors):
    cov = Covariates.batch([70.0, 70.0], pk_factors={k: [1.0, v] for k, v in factors.items()})
    ds = simulate(reg, cov, times=T)
    return ds.plasma.sel(analyte="S-ketamine").values  # (2, T)


def test_central_volume_factor_scales_the_initial_concentration():
    c = _plasma(Regimen.single(Dose.parse("esketamine", "20 mg", "iv")), v1=2.0)
    assert c[1, 0] / c[0, 0] == pytest.approx(0.5, rel=0.02)


def test_more_hepatic_blood_flow_clears_a_high_extraction_drug_faster():
    c = _plasma(Regimen.single(Dose.parse("esketamine", "20 mg", "iv")), hepatic_blood_flow=1.5)
    auc = np.trapezoid(c, T, axis=1)
    assert auc[1] < 0.85 * auc[0]


def test_nasal_odds_factor_moves_the_fraction_absorbed_through_the_nose():
    reg = Regimen.single(Dose.parse("esketamine", "56 mg", "intranasal"))
    cov = Covariates.batch([70.0, 70.0], pk_factors={"f_nasal": [1.0, 3.0]})
    model = build_model(reg, cov)
    vec, _ = model.dose_inputs(reg.doses[0], default_library())
    nasal = vec[:, model.state("esketamine", "nasal")]
    gut = vec[:, model.state("esketamine", "gut")]
    f0, f1 = nasal / (nasal + gut)
    assert f1 / (1 - f1) == pytest.approx(3.0 * f0 / (1 - f0), rel=1e-12)


def test_mass_balance_closes_with_factors():
    reg = Regimen.single(Dose.parse("esketamine", "56 mg", "intranasal"))
    cov = Covariates.batch(
        [60.0, 90.0], pk_factors={"v1": [0.7, 1.4], "hepatic_blood_flow": [0.8, 1.3], "ka_nasal": [0.5, 2.0]}
    )
    model = build_model(reg, cov)
    sched = build_schedule(model, reg, default_library())
    x = solve_linear(model.A, sched, T)
    total = mass_balance(model, x)
    dosed = 56.0 / 237.73 * 1000
    np.testing.assert_allclose(total[:, -1], dosed, rtol=1e-9)


def test_bad_factor_is_an_error():
    with pytest.raises(KetasimError, match="unknown PK factor"):
        Covariates.batch([70.0], pk_factors={"v2": [1.0]})
    with pytest.raises(KetasimError, match="positive"):
        Covariates.batch([70.0], pk_factors={"v1": [0.0]})
