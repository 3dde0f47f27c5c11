"""A patient whose solve fails is recorded with the reason and does not stop the population."""

import time

import numpy as np

from ketasim import scenario as scenario_io
from ketasim import trial
from ketasim.engine.cascade_solver import NS, integrate
from ketasim.model_assembly import base_cascade

EXAMPLE = "examples/standard_infusion.toml"


def test_cascade_solver_stops_a_patient_with_non_finite_states_instead_of_hanging():
    t = np.linspace(0.0, 48.0, 7)
    u = np.ones((2, t.size, 7))
    u[:, :, 2:] = 0.0
    y0 = np.ones((2, NS))
    y0[1, 0] = np.nan  # the second patient starts from a non-finite state
    start = time.perf_counter()
    out = integrate(t, u, y0, dict(base_cascade()), False, np.ones(2))
    assert time.perf_counter() - start < 30.0
    assert np.isfinite(out[0]).all()
    assert np.isnan(out[1, 1:]).all()


def test_a_failed_patient_is_recorded_and_the_others_are_kept(monkeypatch):
    sc = scenario_io.load(EXAMPLE)
    real = trial.bdnf_release_factor

    def one_broken(genotypes):
        f = np.array(real(genotypes), dtype=float)
        f[1] = np.nan  # the second patient of every block gets a non-finite cascade parameter
        return f

    monkeypatch.setattr(trial, "bdnf_release_factor", one_broken)
    res = trial.run_trial(sc, n=6, seed=4)
    for arm in res.arms.values():
        assert arm.n == 5 and list(arm.failed) == [1]
        assert "signalling cascade" in arm.failed[1]
        assert np.isfinite(arm.madrs).all()
        assert 1 not in arm.frame.index
    doc = res.summary()
    assert doc["arms"]["ketamine"]["n"] == 5
    assert doc["arms"]["ketamine"]["failed"]["count"] == 1
    monkeypatch.setattr(trial, "bdnf_release_factor", real)
    clean = trial.run_trial(sc, n=6, seed=4)
    assert clean.summary()["arms"]["ketamine"]["failed"] == {"count": 0, "reasons": {}}
    # the surviving patients are exactly the clean run's other patients
    np.testing.assert_array_equal(
        res.arms["ketamine"].madrs, np.delete(clean.arms["ketamine"].madrs, 1, axis=0)
    )


def test_every_loader_reports_unreadable_files_clearly(tmp_path):
    import pytest

    from ketasim.errors import KetasimError
    from ketasim.toml_io import read_toml

    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(KetasimError, match="UTF-8"):
        read_toml(bad, "file")
    with pytest.raises(KetasimError, match="directory"):
        read_toml(tmp_path, "file")
