"""Global sensitivity analysis: the ranges file, the SALib wrapper on functions with known indices,
per-patient parameters in the clinical layer and the circuit, a small real run, and the command line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from ketasim import scenario as scenario_io
from ketasim.circuit import network
from ketasim.cli import main
from ketasim.clinical import scores
from ketasim.errors import KetasimError
from ketasim.model import base_cascade
from ketasim.parameter_sets import packaged
from ketasim.sensitivity import (
    RANGES,
    Factor,
    analyze,
    evaluate_design,
    load_factors,
    run_sensitivity,
    sample,
    select,
    to_values,
)

SHORT = """
name = "Ketamine 0.5 mg/kg over 40 min, one day"
species = "human"
condition = "depressed"
horizon = "1 d"
[[arms]]
name = "ketamine"
doses = [{ compound = "ketamine", amount = "0.5 mg/kg", route = "iv", duration = "40 min" }]
[[arms]]
name = "saline"
doses = []
"""


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sensitivity") / "short.toml"
    path.write_text(SHORT)
    return path


def uniform(name: str, low: float, high: float) -> Factor:
    return Factor(name, "cascade", low, high, "", "uniform", "test", low)


# ----------------------------------------------------------------------------------- ranges file
def test_every_range_names_a_packaged_parameter_and_contains_its_value():
    raw = tomllib.loads(RANGES.read_text())
    known = {
        "cascade": dict(base_cascade()),
        "clinical": dict(packaged("clinical")),
        "pk": {"clearance_factor": 1.0},
    }
    assert set(raw) <= set(known)
    for scale, table in raw.items():
        for name, entry in table.items():
            assert name in known[scale], f"{scale}: {name} is not a packaged parameter"
            assert entry["source"].strip()
    factors = load_factors()
    assert len(factors) >= 20
    for f in factors.values():
        assert f.low <= known[f.scale][f.name] <= f.high, f.name
        assert f.base == known[f.scale][f.name]
    prefixes = {n.split(".")[0] for n, f in factors.items() if f.scale == "cascade"}
    assert {"eef2k", "bdnf", "mtorc1", "synaptic_protein", "ampa", "turnover"} <= prefixes
    assert {"mood.effect_rate", "mood.deficit_exponent", "clearance_factor"} <= set(factors)
    # ranges in other units are converted: spine elimination is written per day
    assert factors["turnover.elimination"].high == pytest.approx(0.1 / 24)


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            '"bdnf.turnovr" = { low = 1, high = 4, unit = "1/h", sampling = "uniform", source = "x" }',
            "did you mean 'bdnf.turnover'",
        ),
        (
            '"bdnf.turnover" = { low = 3, high = 4, unit = "1/h", sampling = "uniform", source = "x" }',
            "outside",
        ),
        (
            '"bdnf.turnover" = { low = 4, high = 1, unit = "1/h", sampling = "uniform", source = "x" }',
            "below high",
        ),
        ('"bdnf.turnover" = { low = 1, high = 4, unit = "h", sampling = "uniform", source = "x" }', "kind"),
        (
            '"bdnf.turnover" = { low = 1, high = 4, unit = "1/h", sampling = "loguniform", source = "x" }',
            "did you mean 'log-uniform'",
        ),
        (
            '"bdnf.turnover" = { low = 1, high = 4, unit = "1/h", sampling = "uniform", source = " " }',
            "empty source",
        ),
    ],
)
def test_bad_ranges_are_errors_naming_the_entry(tmp_path, entry, message):
    path = tmp_path / "ranges.toml"
    path.write_text(f"[cascade]\n{entry}\n")
    with pytest.raises(KetasimError, match="bdnf") as err:
        load_factors(path)
    assert message in str(err.value)


def test_routes_of_switched_off_mechanisms_are_not_varied_by_default():
    factors = load_factors()
    chosen, skipped = select(factors, None, frozenset({"resting_nmda", "disinhibition"}))
    assert "mechanism.sigma1.params.gain" in skipped
    assert all(not f.name.startswith("mechanism.") for f in chosen)
    chosen, _ = select(factors, None, frozenset({"sigma1"}))
    assert "mechanism.sigma1.params.gain" in [f.name for f in chosen]
    chosen, _ = select(factors, ["clinical", "bdnf.turnover"], frozenset())
    assert {f.scale for f in chosen} == {"clinical", "cascade"}
    chosen, skipped = select(factors, ["cascade", "mechanism.opioid.params.gain"], frozenset())
    names = [f.name for f in chosen]
    assert "mechanism.opioid.params.gain" in names and "mechanism.opioid.params.gain" not in skipped
    assert "mechanism.sigma1.params.gain" in skipped and "mechanism.sigma1.params.gain" not in names
    with pytest.raises(KetasimError, match=r"did you mean 'bdnf\.turnover'"):
        select(factors, ["bdnf.turnover", "bdnf.turnovr"], frozenset())


# ------------------------------------------------------------------------ analysis on known functions
def ishigami(v: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(v[:, 0]) + a * np.sin(v[:, 1]) ** 2 + b * v[:, 2] ** 4 * np.sin(v[:, 0])


def test_sobol_recovers_the_ishigami_indices():
    factors = [uniform(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)]
    X = sample(factors, "sobol", 1024, seed=3)
    idx = analyze(factors, "sobol", X, ishigami(to_values(factors, X)), seed=3)
    # analytic values (Ishigami & Homma 1990; a = 7, b = 0.1)
    assert idx.values["S1"] == pytest.approx([0.3139, 0.4424, 0.0], abs=0.05)
    assert idx.values["ST"] == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.05)
    assert idx.values["S1"].sum() <= 1.02
    assert list(idx.order()) == [0, 1, 2]
    assert idx.paired == {}


def test_sobol_flags_design_columns_that_are_not_independent():
    # 42 factors, 64 base samples: dimension 42 of the scrambled sequence tracks dimension 84
    factors = [uniform(f"x{i}", 0.0, 1.0) for i in range(42)]
    X = sample(factors, "sobol", 64, seed=0)
    idx = analyze(factors, "sobol", X, X[:, 41], seed=0)
    assert "x41" in idx.paired
    assert idx.values["ST"][41] > 1.2  # the bias the warning is about: the true ST is 1


def test_sobol_on_a_linear_model_gives_squared_weights():
    a = np.array([1.0, 2.0, 3.0, 0.0])
    factors = [uniform(f"x{i}", 0.0, 1.0) for i in range(4)]
    X = sample(factors, "sobol", 512, seed=0)
    idx = analyze(factors, "sobol", X, to_values(factors, X) @ a, seed=0)
    expected = a**2 / (a**2).sum()
    assert idx.values["S1"] == pytest.approx(expected, abs=0.03)
    assert idx.values["ST"] == pytest.approx(expected, abs=0.03)
    assert idx.values["S1"].sum() <= 1.02


def test_morris_elementary_effects_are_per_whole_range_and_a_dummy_ranks_last():
    factors = [
        uniform("slope2", 0.0, 1.0),
        Factor("logged", "cascade", 1.0, 100.0, "", "log-uniform", "t", 10.0),
        uniform("dummy", 0.0, 5.0),
        uniform("wide", 0.0, 10.0),
    ]
    X = sample(factors, "morris", 12, seed=2)
    v = to_values(factors, X)
    Y = 2.0 * v[:, 0] + np.log10(v[:, 1]) + 0.3 * v[:, 3]
    idx = analyze(factors, "morris", X, Y, seed=2)
    # linear in the unit design: mu* = slope x range
    assert idx.values["mu_star"] == pytest.approx([2.0, 2.0, 0.0, 3.0])
    assert idx.values["sigma"] == pytest.approx([0.0, 0.0, 0.0, 0.0], abs=1e-9)
    assert idx.order()[-1] == 2


def test_a_failed_sample_drops_its_group_only():
    factors = [uniform("a", 0.0, 1.0), uniform("b", 0.0, 1.0)]
    X = sample(factors, "morris", 6, seed=0)
    Y = X @ np.array([1.0, 0.0])
    Y[4] = np.nan  # second trajectory (3 samples each)
    idx = analyze(factors, "morris", X, Y)
    assert (idx.groups, idx.dropped) == (5, 1)
    assert idx.values["mu_star"] == pytest.approx([1.0, 0.0])


def test_sobol_needs_a_power_of_two():
    with pytest.raises(KetasimError, match="use 64 or 128"):
        sample([uniform("a", 0, 1), uniform("b", 0, 1)], "sobol", 100)


# -------------------------------------------------------------------------- per-patient parameters
def test_clinical_scores_take_one_value_per_patient_and_numbers_unchanged():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 48.0, 97)
    strength = 0.8 + 0.1 * rng.random((3, t.size))
    block = 0.2 * rng.random((3, t.size))
    p = dict(packaged("clinical"))
    varied = {
        "mood.effect_rate": [0.15, 0.3, 0.6],
        "mood.deficit_exponent": [2.5, 5.0, 10.0],
        "placebo.time_constant": [3.0, 6.0, 12.0],
        "dissociation.block50": [0.05, 0.085, 0.17],
        "dissociation.hill": [1.0, 2.0, 4.0],
        "dissociation.emax": [20.0, 40.0, 80.0],
        "blood_pressure.gain": [100.0, 150.0, 200.0],
    }
    arrays = {**p, **{k: np.array(v) for k, v in varied.items()}}
    ones, age = np.ones(3), np.array([30.0, 45.0, 60.0])

    def read(q, rows=slice(None)):
        drug = scores.drug_effect(t, strength[rows], strength[rows, 0], ones[rows], q)
        cadss = scores.dissociation(t, block[rows], q)
        placebo = scores.placebo_fraction(t, np.full(ones[rows].size, 0.5), ones[rows], q)
        return drug, cadss, placebo, scores.systolic_rise(t, block[rows], age[rows], q)

    together = read(arrays)
    for i in range(3):
        alone = read({**p, **{k: v[i] for k, v in varied.items()}}, slice(i, i + 1))
        for a, b in zip(together, alone, strict=True):
            np.testing.assert_allclose(a[i : i + 1], b, rtol=1e-12)
    # numbers give what they gave before: the standard infusion's dissociation check in test_trial
    assert scores.per_patient(2.0) == 2.0 and scores.per_patient(np.ones(3)).shape == (3, 1)


def test_circuit_takes_one_value_per_patient():
    p = dict(packaged("circuit"))
    avail = np.random.default_rng(1).uniform(0.2, 1.0, (3, 5, 3))
    share = np.array([0.7, 0.85, 0.95])
    w_ep = np.array([1.5, 2.0, 3.0])
    r = network.rates(avail, {**p, "pyramidal.nmda_share": share[:, None], "pyramidal.w_ep": w_ep[:, None]})
    for i in range(3):
        alone = network.rates(avail[i], {**p, "pyramidal.nmda_share": share[i], "pyramidal.w_ep": w_ep[i]})
        np.testing.assert_allclose(r[i], alone, equal_nan=True)
    drug_free = network.rates(np.ones(3), {**p, "pyramidal.nmda_share": share})
    np.testing.assert_allclose(drug_free, 1.0)


# --------------------------------------------------------------------------------------- real model
def test_small_morris_run_on_the_model(short):
    sc = scenario_io.load(short)
    params = ["bdnf.turnover", "mood.deficit_exponent", "clearance_factor"]
    outputs = ["madrs_change_24h", "peak_nmda_block", "surface_ampa_2h"]
    res = run_sensitivity(sc, outputs, "morris", n=2, params=params, workers=1, seed=1)
    assert [r.output for r in res] == outputs
    by = {r.output: {row["name"]: row for row in r.ranked()} for r in res}
    for r in res:
        assert r.evaluations == 2 * 4 and r.simulations <= 6 and r.indices.dropped == 0
        assert np.isfinite(r.output_values).all()
        for row in r.ranked():
            assert np.isfinite([row["mu_star"], row["sigma"], row["mu_star_conf"]]).all()
    # block depends on clearance only (a little: ketamine's hepatic clearance is flow-limited, so
    # enzyme activity x0.78 to x1.29 moves its AUC by only about -5% to +5%); clinical parameters
    # cannot move mechanistic outputs
    block = by["peak_nmda_block"]
    assert block["clearance_factor"]["mu_star"] > 1e-4
    assert block["clearance_factor"]["mu"] < 0  # faster clearance, less block
    assert block["bdnf.turnover"]["mu_star"] == 0.0 and block["mood.deficit_exponent"]["mu_star"] == 0.0
    assert by["surface_ampa_2h"]["mood.deficit_exponent"]["mu_star"] == 0.0
    assert by["madrs_change_24h"]["mood.deficit_exponent"]["rank"] == 1
    doc = res[0].document()
    assert doc["parameter_hash"] and doc["ketasim_version"] and doc["ranked_by"] == "mu_star"


def test_chunk_size_does_not_change_results(short):
    sc = scenario_io.load(short)
    factors = [
        f for n, f in load_factors().items() if n in ("bdnf.turnover", "clearance_factor", "placebo.base")
    ]
    X = sample(factors, "morris", 2, seed=4)
    v = to_values(factors, X)
    one = evaluate_design(sc, "ketamine", factors, v, ["madrs_change_24h", "mtorc1_peak"], workers=1)
    split = evaluate_design(
        sc, "ketamine", factors, v, ["madrs_change_24h", "mtorc1_peak"], workers=1, chunk_size=2
    )
    # the engine solves each patient on its own (engine.staged), so grouping changes nothing
    np.testing.assert_array_equal(split.Y, one.Y)
    assert one.simulations == split.simulations < v.shape[0]  # samples differing in placebo share a run


def test_a_patient_whose_model_fails_is_recorded_not_fatal(short, monkeypatch):
    import xarray as xr

    from ketasim import sensitivity_eval

    def fake_run_arm(scenario, arm, covariates, mechanisms=None, patient_params=None):
        k = np.asarray(patient_params["bdnf.turnover"])
        if np.any(k > 3.0):
            raise RuntimeError("signalling steady state failed")
        t = np.linspace(0.0, 24.0, 25)
        grow = k[:, None] * t[None, :] / 100.0
        data = {v: (("patient", "time"), 1.0 + grow) for v in sensitivity_eval.TRACES}
        data["sedation"] = (("patient", "time"), np.zeros_like(grow))
        block = np.zeros((k.size, t.size, 3))
        data["nmda_block"] = (("patient", "time", "cell_type"), block)
        coords = {"time": t, "cell_type": ["pyramidal", "pv", "sst"]}
        return xr.Dataset(data, coords=coords, attrs={"parameter_hash": "fake"})

    monkeypatch.setattr(sensitivity_eval, "run_arm", fake_run_arm)
    sc = scenario_io.load(short)
    factors = [f for n, f in load_factors().items() if n in ("bdnf.turnover", "ampa.rate")]
    X = sample(factors, "morris", 6, seed=0)
    v = to_values(factors, X)
    ev = evaluate_design(sc, "ketamine", factors, v, ["mtorc1_peak"], workers=1)
    failed = v[:, 0] > 3.0
    assert failed.any() and not failed.all()
    assert np.isnan(ev.Y[failed, 0]).all() and np.isfinite(ev.Y[~failed, 0]).all()
    np.testing.assert_allclose(ev.Y[~failed, 0], 1.0 + 0.24 * v[~failed, 0])
    idx = analyze(factors, "morris", X, ev.Y[:, 0])
    assert idx.dropped == len({i // 3 for i in np.flatnonzero(failed)}) and idx.groups == 6 - idx.dropped
    assert idx.values["mu_star"][1] == 0.0


def test_sobol_on_clinical_parameters_sums_to_at_most_one(short):
    # clinical parameters only: one model run, so a large design is cheap
    sc = scenario_io.load(short)
    res = run_sensitivity(
        sc,
        "madrs_change_24h",
        "sobol",
        n=256,
        params=["mood.deficit_exponent", "placebo.base", "placebo.active", "dissociation.hill"],
        workers=1,
    )[0]
    assert res.simulations == 1
    s1 = res.indices.values["S1"]
    st = res.indices.values["ST"]
    assert s1.sum() <= 1.05
    assert np.all(st >= s1 - 0.05)
    ranked = [r["name"] for r in res.ranked()]
    assert ranked[0] == "mood.deficit_exponent"
    assert ranked[-1] == "dissociation.hill"  # CADSS is far above 'noticeable' whatever its steepness


# ------------------------------------------------------------------------------------- command line
def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_and_plot(capsys, short, tmp_path):
    plot = tmp_path / "ranked.svg"
    code, out, err = run(
        capsys,
        "sensitivity",
        short,
        "--output",
        "peak_cadss",
        "--method",
        "morris",
        "--n",
        "2",
        "--params",
        "dissociation.emax,dissociation.block50,clearance_factor",
        "--workers",
        "1",
        "--plot",
        plot,
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "morris" and doc["output"] == "peak_cadss" and doc["n"] == 2
    names = [p["name"] for p in doc["parameters"]]
    assert sorted(names) == ["clearance_factor", "dissociation.block50", "dissociation.emax"]
    assert [p["rank"] for p in doc["parameters"]] == [1, 2, 3]
    stars = [p["mu_star"] for p in doc["parameters"]]
    assert stars == sorted(stars, reverse=True)
    assert {"ketasim_version", "parameter_hash", "ranges_hash"} <= set(doc)
    status = {p["name"]: p["status"] for p in doc["parameters"]}
    assert status == {
        "clearance_factor": "reference",
        "dissociation.emax": "assumed",
        "dissociation.block50": "assumed",
    }
    assert plot.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--output", "madrs_change_24", "--method", "morris"], "did you mean 'madrs_change_24h'"),
        (["--output", "madrs_change_24h", "--method", "sobel"], "did you mean 'sobol'"),
        (["--output", "madrs_change_24h", "--params", "mood.efect_rate,placebo.base"], "did you mean"),
        (["--output", "madrs_change_24h", "--method", "sobol", "--n", "100"], "power of 2"),
        (["--output", "madrs_change_7d"], "horizon"),
        (["--output", "madrs_change_24h", "--plot", "out.pdf"], ".png or .svg"),
        (["--output", "madrs_change_24h", "--arm", "ketamin"], "did you mean 'ketamine'"),
        (["--method", "morris"], "--output"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(capsys, short, args, message):
    code, out, err = run(capsys, "sensitivity", short, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err
