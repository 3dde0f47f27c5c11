"""Issue 8: numerical robustness over the documented parameter ranges (small mode of the 10,000 sweep).

The full run is ``benchmarks/robustness.py --n 10000`` (figures in docs/reliability.md); here 200
parameter sets go through the whole model, and failures are provoked to show they are recorded with
their reason without stopping the other patients.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim import robustness
from ketasim.sensitivity import load_factors

FACTORS = tuple(load_factors().values())


@pytest.fixture(scope="module")
def scenario():
    return robustness.default_scenario("2 d")


def test_draws_cover_every_documented_range_and_repeat_with_the_seed():
    values = robustness.draw(FACTORS, 500, seed=3)
    assert values.shape == (500, len(FACTORS)) and len(FACTORS) >= 40
    low = np.array([f.low for f in FACTORS])
    high = np.array([f.high for f in FACTORS])
    assert np.all(values >= low) and np.all(values <= high)
    # each range is explored: the draws reach into its lowest and highest tenth
    u = (values - low) / (high - low)
    logs = [j for j, f in enumerate(FACTORS) if f.sampling == "log-uniform"]
    u[:, logs] = np.log(values[:, logs] / low[logs]) / np.log(high[logs] / low[logs])
    assert np.all(u.min(axis=0) < 0.1) and np.all(u.max(axis=0) > 0.9)
    np.testing.assert_array_equal(values, robustness.draw(FACTORS, 500, seed=3))


def test_two_hundred_parameter_sets_give_finite_outputs_everywhere(scenario):
    result = robustness.run_sweep(200, seed=1, scenario=scenario, chunk_size=100)
    assert result.failures == {}, list(result.failures.items())[:5]
    doc = result.document()
    assert doc["parameter_sets"] == 200 and doc["failure_fraction"] == 0.0 and doc["factors"] == len(FACTORS)
    # the model did run: ketamine blocks some NMDA receptors in every patient
    assert np.all(result.peak_block > 0.01) and np.all(np.isfinite(result.madrs_24h))


def _chunk(scenario, n=4, seed=2):
    arm = scenario.arms[0].name
    return robustness.Chunk(scenario, arm, FACTORS, robustness.draw(FACTORS, n, seed), first=100)


def test_a_non_finite_parameter_is_recorded_for_that_patient_only(scenario):
    chunk = _chunk(scenario)
    j = [f.name for f in FACTORS].index("eef2k.rate")
    chunk.values[2, j] = np.nan
    result = robustness.evaluate(chunk)
    assert result.failures == {102: "non-finite parameter eef2k.rate"}
    assert np.all(np.isfinite(np.delete(result.peak_block, 2)))


def test_a_non_finite_output_is_recorded_with_the_variable(scenario, monkeypatch):
    real = robustness.simulate

    def spoiled(chunk, rows):
        out = real(chunk, rows)
        out["spine_density"][rows == 3, -1] = np.inf
        return out

    monkeypatch.setattr(robustness, "simulate", spoiled)
    result = robustness.evaluate(_chunk(scenario))
    assert result.failures == {103: "non-finite spine_density"}


def test_a_patient_whose_solve_raises_is_recorded_and_the_others_are_solved(scenario, monkeypatch):
    real = robustness.simulate

    def failing(chunk, rows):
        if 1 in rows:
            raise np.linalg.LinAlgError("singular matrix (provoked)")
        return real(chunk, rows)

    monkeypatch.setattr(robustness, "simulate", failing)
    result = robustness.evaluate(_chunk(scenario))
    assert result.failures == {101: "LinAlgError: singular matrix (provoked)"}
    assert np.isnan(result.peak_block[1]) and np.all(np.isfinite(np.delete(result.peak_block, 1)))
    doc = robustness.SweepResult(4, 2, (), result.failures).document()
    assert doc["failure_fraction"] == 0.25 and doc["failure_reasons"] == {"LinAlgError": 1}
