import math

import numpy as np
import pytest

from ketasim.errors import KetasimError
from ketasim.nca import auc_linear_up_log_down, nca


def test_monoexponential_is_exact():
    t = np.linspace(0, 24, 25)
    c = 10 * np.exp(-0.3 * t)
    r = nca(t, c)
    assert r.cmax == 10 and r.tmax == 0
    assert r.t_half == pytest.approx(math.log(2) / 0.3, rel=1e-10)
    # log-down trapezoids are exact for exponential decay
    assert r.auc_inf == pytest.approx(10 / 0.3, rel=1e-10)


def test_linear_up_is_exact_for_linear_rise():
    t = np.array([0.0, 1.0, 2.0])
    c = np.array([0.0, 2.0, 4.0])
    assert auc_linear_up_log_down(t, c) == pytest.approx(4.0)


def test_biexponential_terminal_phase_selected():
    t = np.concatenate([np.linspace(0, 2, 9), np.linspace(3, 48, 16)])
    c = 8 * np.exp(-2.0 * t) + 2 * np.exp(-0.1 * t)
    r = nca(t, c)
    assert r.lambda_z == pytest.approx(0.1, rel=2e-3)
    exact = 8 / 2.0 + 2 / 0.1
    assert r.auc_inf == pytest.approx(exact, rel=0.02)


def test_absorption_curve_tmax_and_half_life():
    ka, k = 1.5, 0.2
    t = np.linspace(0, 40, 401)
    c = ka / (ka - k) * (np.exp(-k * t) - np.exp(-ka * t))
    r = nca(t, c)
    assert r.tmax == pytest.approx(math.log(ka / k) / (ka - k), abs=0.1)  # grid spacing 0.1 h
    # the standard "most points within 1e-4 of the best adjusted R^2" rule admits slight curvature
    assert r.t_half == pytest.approx(math.log(2) / k, rel=5e-3)


def test_bad_input():
    with pytest.raises(KetasimError, match="strictly increasing"):
        nca(np.array([0, 1, 1.0]), np.array([1, 2, 3.0]))
    with pytest.raises(KetasimError, match="non-negative"):
        nca(np.array([0, 1, 2.0]), np.array([1, -2, 3.0]))


def test_no_terminal_phase_gives_none():
    r = nca(np.array([0, 1, 2.0]), np.array([0, 1, 2.0]))
    assert r.t_half is None and r.auc_inf is None
