"""Virtual patients: the sourced TRD population, the sampler's marginals, overrides and input checks."""

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ketasim.errors import KetasimError
from ketasim.physiology import CYP2B6_GENOTYPES
from ketasim.population import (
    BDNF_GENOTYPES,
    apply_eta,
    available_populations,
    load_population,
    sample,
    to_covariates,
    truncated_normal_ppf,
    with_params,
)
from ketasim.provenance import Status

N = 200_000


@pytest.fixture(scope="module")
def spec():
    return load_population("trd")


@pytest.fixture(scope="module")
def frame(spec):
    return sample(spec, N, seed=2024)


def _within(observed, expected, se, k=4.0):
    assert abs(observed - expected) < k * se, (observed, expected, se)


# ------------------------------------------------------------------------------------ the definition


def test_trd_is_packaged_and_every_number_is_sourced(spec):
    assert "trd" in available_populations()
    assert spec.name == "trd"
    records = spec.records()
    assert len(records) > 25
    for r in records:
        assert r["source"].strip(), r["name"]
        assert r["status"] in {s.value for s in Status}, r["name"]
        assert math.isfinite(r["value"]), r["name"]
    # unit conversion at the boundary: heights are given in inches, held in cm
    assert spec["height.male_mean"] == pytest.approx(69.25 * 2.54)
    assert spec.params["height.male_mean"].unit == "cm"


def test_genotypes_follow_hardy_weinberg_and_use_the_pk_names(spec):
    cyp = spec.genotype_frequencies("cyp2b6")
    assert tuple(cyp) == CYP2B6_GENOTYPES
    q = spec["cyp2b6.variant_allele_frequency"]
    assert list(cyp.values()) == pytest.approx([(1 - q) ** 2, 2 * q * (1 - q), q * q])
    assert spec.params["cyp2b6.*6/*6"].status is Status.DERIVED
    bdnf = spec.genotype_frequencies("bdnf")
    assert tuple(bdnf) == BDNF_GENOTYPES
    assert sum(bdnf.values()) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------ marginals


def test_columns_units_and_provenance(frame, spec):
    assert list(frame.columns) == list(spec.columns)
    assert frame.index.name == "patient" and len(frame) == N
    assert {"eta_cl", "eta_v1", "eta_f_nasal"} <= set(frame.columns)
    assert frame.attrs["population"] == "trd" and frame.attrs["seed"] == 2024
    assert frame.attrs["units"]["weight_kg"] == "kg"
    assert frame["fh_aud"].dtype == bool


def test_categorical_marginals_match_the_file(frame, spec):
    for gene in ("cyp2b6", "bdnf"):
        observed = frame[gene].value_counts(normalize=True)
        for genotype, f in spec.genotype_frequencies(gene).items():
            _within(observed[genotype], f, math.sqrt(f * (1 - f) / N))
    f = spec["sex.female_fraction"]
    _within((frame["sex"] == "F").mean(), f, math.sqrt(f * (1 - f) / N))
    f = spec["fh_aud.fraction"]
    _within(frame["fh_aud"].mean(), f, math.sqrt(f * (1 - f) / N))


def test_truncated_madrs_and_age_match_analytic_moments(frame, spec):
    for column, section in (("madrs_baseline", "madrs_baseline"), ("age_y", "age")):
        mu, sd = spec[f"{section}.mean"], spec[f"{section}.sd"]
        lo, hi = spec[f"{section}.lower"], spec[f"{section}.upper"]
        x = frame[column].to_numpy()
        assert x.min() >= lo and x.max() <= hi
        dist = stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
        _within(x.mean(), dist.mean(), dist.std() / math.sqrt(N))
        # SE of a sample SD is about sd / sqrt(2N) for near-normal data
        _within(x.std(ddof=1), dist.std(), dist.std() / math.sqrt(2 * N), k=5)
    # the MADRS lower bound of 20 lifts the mean by about 0.1 point
    assert 0.05 < frame["madrs_baseline"].mean() - spec["madrs_baseline.mean"] < 0.2


def test_body_size_is_consistent_and_follows_sex(frame, spec):
    bmi = frame["bmi_kg_m2"].to_numpy()
    _within(bmi.mean(), spec["bmi.mean"], spec["bmi.sd"] / math.sqrt(N))
    _within(bmi.std(ddof=1), spec["bmi.sd"], spec["bmi.sd"] / math.sqrt(N), k=8)
    h = frame["height_cm"].to_numpy() / 100
    assert np.allclose(frame["weight_kg"], bmi * h * h, rtol=1e-12)
    by_sex = frame.groupby("sex", observed=True)
    heights = by_sex["height_cm"].mean()
    _within(heights["F"], spec["height.female_mean"], spec["height.female_sd"] / math.sqrt(N * 0.6))
    _within(heights["M"], spec["height.male_mean"], spec["height.male_sd"] / math.sqrt(N * 0.35))
    weights = by_sex["weight_kg"].mean()
    assert weights["M"] - weights["F"] > 10


def test_variability_factors_have_median_one_and_the_stated_spread(frame, spec):
    for name, v in spec.variability.items():
        eta = frame[f"eta_{name}"].to_numpy()
        assert np.all(eta > 0)
        assert np.median(eta) == pytest.approx(1.0, abs=0.01)
        if v.family == "lognormal":
            assert np.log(eta).std() == pytest.approx(math.sqrt(math.log1p(v.spread.value**2)), rel=0.02)
    p = apply_eta(0.54, frame["eta_f_nasal"].to_numpy(), "logitnormal")
    assert np.all((p > 0) & (p < 1))
    logit = np.log(p / (1 - p))
    assert logit.std() == pytest.approx(spec.variability["f_nasal"].spread.value, rel=0.02)
    assert apply_eta(10.0, np.array([0.5, 2.0]), "lognormal").tolist() == [5.0, 20.0]


def test_truncated_normal_keeps_precision_in_the_far_tail():
    u = np.linspace(0, 1, 1001, endpoint=False)
    x = truncated_normal_ppf(u, 0.0, 1.0, 8.0, 9.0)
    assert np.all(np.isfinite(x)) and x.min() >= 8.0 and x.max() <= 9.0
    assert np.all(np.diff(x) <= 0) or np.all(np.diff(x) >= 0)  # monotone in u
    x = truncated_normal_ppf(np.array([0.0, 0.5]), 0.0, 1.0, -math.inf, math.inf)
    assert np.isfinite(x[0]) and x[1] == 0.0


def test_a_million_patients_in_seconds(spec):
    start = time.perf_counter()
    big = sample(spec, 1_000_000, seed=1)
    assert time.perf_counter() - start < 5.0
    assert len(big) == 1_000_000


# ------------------------------------------------------------------------------------ reproducibility


def test_same_seed_same_frame_and_other_seed_differs(spec):
    a = sample(spec, 500, seed=7)
    b = sample(spec, 500, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = sample(spec, 500, seed=8)
    assert not np.allclose(a["age_y"], c["age_y"])


def test_overrides_leave_every_other_draw_unchanged(spec):
    base = sample(spec, 1000, seed=3)
    poor = sample(spec, 1000, seed=3, overrides={"cyp2b6": "*6/*6"})
    assert (poor["cyp2b6"] == "*6/*6").all()
    others = [c for c in base.columns if c != "cyp2b6"]
    pd.testing.assert_frame_equal(base[others], poor[others])


# ------------------------------------------------------------------------------------------ overrides


def test_fix_weight_keeps_height_and_recomputes_bmi(spec):
    base = sample(spec, 300, seed=5)
    fixed = sample(spec, 300, seed=5, overrides={"weight_kg": 70})
    assert (fixed["weight_kg"] == 70).all()
    assert np.allclose(fixed["height_cm"], base["height_cm"])
    assert np.allclose(fixed["bmi_kg_m2"], 70 / (fixed["height_cm"] / 100) ** 2)
    both = sample(spec, 300, seed=5, overrides={"weight_kg": 80, "bmi_kg_m2": 25})
    assert np.allclose(both["height_cm"], 100 * math.sqrt(80 / 25))


def test_shift_scale_per_patient_and_categorical_overrides(spec):
    base = sample(spec, 200, seed=6)
    out = sample(
        spec,
        200,
        seed=6,
        overrides={
            "madrs_baseline": {"shift": 2.0},
            "age_y": {"scale": 1.1},
            "eta_cl": np.full(200, 0.5),
            "sex": "female",
            "bdnf": "met/met",
            "fh_aud": True,
        },
    )
    assert np.allclose(out["madrs_baseline"], base["madrs_baseline"] + 2.0)
    assert np.allclose(out["age_y"], base["age_y"] * 1.1)
    assert (out["eta_cl"] == 0.5).all()
    assert (out["sex"] == "F").all() and (out["bdnf"] == "Met/Met").all() and out["fh_aud"].all()
    # height follows the overridden sex through the same standard-normal draw
    was_male = (base["sex"] == "M").to_numpy()
    z = (base["height_cm"][was_male] - spec["height.male_mean"]) / spec["height.male_sd"]
    expected = spec["height.female_mean"] + spec["height.female_sd"] * z
    assert np.allclose(out["height_cm"][was_male], expected)
    mixed = sample(spec, 3, seed=6, overrides={"cyp2b6": ["*1/*1", "*6/*1", "*6/*6"]})
    assert mixed["cyp2b6"].tolist() == ["*1/*1", "*1/*6", "*6/*6"]


def test_frame_feeds_the_pk_covariates(spec):
    frame = sample(spec, 20, seed=9)
    cov = to_covariates(frame)
    assert cov.n == 20
    assert np.allclose(cov.weight, frame["weight_kg"])
    assert cov.cyp2b6 == tuple(frame["cyp2b6"].astype(str))


# ---------------------------------------------------------------------------------------- bad input


def test_unknown_override_names_field_and_lists_valid_ones(spec):
    with pytest.raises(
        KetasimError, match=r"overrides: unknown field 'wieght' \(did you mean 'weight_kg'\? valid"
    ):
        sample(spec, 10, seed=1, overrides={"wieght": 70})
    with pytest.raises(
        KetasimError, match=r"unknown field 'blood_group' \(valid fields: sex, age_y, .*eta_v1\)"
    ):
        sample(spec, 10, seed=1, overrides={"blood_group": "A"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cyp2b6": "*2/*6"}, r"overrides.cyp2b6: unknown cyp2b6 '\*2/\*6'"),
        ({"weight_kg": -5}, r"overrides.weight_kg: overridden value -5"),
        ({"weight_kg": "heavy"}, r"overrides.weight_kg: expected a number"),
        ({"madrs_baseline": 75}, r"outside \[0, 60\]"),
        ({"age_y": [30, 40]}, r"expected one number or 10 numbers"),
        ({"fh_aud": "yes"}, r"overrides.fh_aud: expected True/False"),
        ({"eta_cl": {"double": 2}}, r"expected \{'value': x\}"),
        ({"weight_kg": 70, "bmi_kg_m2": 25, "height_cm": 170}, "cannot all be overridden"),
    ],
)
def test_bad_override_values(spec, overrides, message):
    with pytest.raises(KetasimError, match=message):
        sample(spec, 10, seed=1, overrides=overrides)


@pytest.mark.parametrize(
    ("n", "seed", "message"),
    [
        (0, 1, "n: must be at least 1"),
        (2.5, 1, "n: expected a whole number"),
        (True, 1, "n: expected"),
        (10, "a", "seed: expected an integer"),
        (10, -1, "seed: must be zero or positive"),
        (10, 1.0, "seed"),
    ],
)
def test_bad_n_and_seed(spec, n, seed, message):
    with pytest.raises(KetasimError, match=message):
        sample(spec, n, seed)


def test_unknown_population_and_missing_file():
    with pytest.raises(KetasimError, match=r"population: unknown population 'trdd'.*did you mean 'trd'"):
        load_population("trdd")
    with pytest.raises(KetasimError, match="file not found"):
        load_population("/nonexistent/pop.toml")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pop.toml"
    path.write_text(text)
    return path


def _trd_text() -> str:
    from ketasim.population import DATA_DIR

    return (DATA_DIR / "trd.toml").read_text()


def test_genotype_frequencies_may_be_given_directly(tmp_path):
    text = _trd_text().replace(
        'variant_allele_frequency = { value = 0.195, unit = "", status = "measured"',
        'genotype_frequencies = { "Val/Val" = { value = 0.2, unit = "", source = "t", status = "assumed" }, '
        '"Val/Met" = { value = 0.5, unit = "", source = "t", status = "assumed" }, '
        '"Met/Met" = { value = 0.3, unit = "", source = "t", status = "assumed" } }\n'
        'ignored = { value = 0.195, unit = "", status = "measured"',
    )
    text = text.replace("ignored = ", "# ")
    spec = load_population(_write(tmp_path, text))
    assert spec.genotype_frequencies("bdnf") == {"Val/Val": 0.2, "Val/Met": 0.5, "Met/Met": 0.3}
    frame = sample(spec, 50_000, seed=1)
    _within((frame["bdnf"] == "Met/Met").mean(), 0.3, math.sqrt(0.21 / 50_000))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[fh_aud]\nfraction", "[fh_aud]\nfractoin", r"pop.toml: fh_aud.fractoin: unknown field 'fractoin'"),
        ('value = 0.365, unit = ""', 'value = 1.365, unit = ""', r"fh_aud.fraction: value 1.365 .* outside"),
        (
            'value = 29.7, unit = "kg/m^2"',
            'value = 29.7, unit = "kg"',
            r"bmi.mean: unit 'kg' does not convert",
        ),
        (
            'value = 48.1, unit = "year", status = "measured"',
            'value = 48.1, unit = "year", status = "guessed"',
            r"age.mean: status 'guessed' is not one of",
        ),
        (
            'lower = { value = 20.0, unit = ""',
            'lower = { value = 61.0, unit = ""',
            r"madrs_baseline.lower: value 61.0 is outside the plausible range \[0.0, 60.0\]$",
        ),
        (
            'lower = { value = 20.0, unit = ""',
            'lower = { value = 60.0, unit = ""',
            r"pop.toml: madrs_baseline: lower bound 60 is not below upper bound 60",
        ),
        (
            'family = "logitnormal"',
            'family = "beta"',
            r"variability.f_nasal.family: unknown distribution family",
        ),
        (
            "cv = { value = 0.13",
            'sd = { value = 0.13, unit = "", source = "x", status = "assumed" }\ncv = { value = 0.13',
            r"variability.cl: a lognormal variability needs exactly one of",
        ),
        ("[sex]", "[sexx]", r"pop.toml: sexx: unknown section 'sexx'"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path, old, new, message):
    text = _trd_text()
    assert old in text, old
    with pytest.raises(KetasimError, match=message):
        load_population(_write(tmp_path, text.replace(old, new, 1)))


def test_missing_field_and_bad_toml(tmp_path):
    text = _trd_text().replace("female_fraction", "# female_fraction", 1)
    with pytest.raises(KetasimError, match=r"pop.toml: sex.female_fraction: required field is missing"):
        load_population(_write(tmp_path, text))
    with pytest.raises(KetasimError, match=r"pop.toml: not valid TOML"):
        load_population(_write(tmp_path, "name = [unclosed"))
    text = _trd_text().replace(
        "variant_allele_frequency = { value = 0.256",
        'genotype_frequencies = { "*1/*1" = { value = 0.5, unit = "", source = "t", status = "assumed" }, '
        '"*1/*6" = { value = 0.4, unit = "", source = "t", status = "assumed" }, '
        '"*6/*6" = { value = 0.2, unit = "", source = "t", status = "assumed" } }\n# x = { value = 0.256',
    )
    with pytest.raises(KetasimError, match=r"cyp2b6.genotype_frequencies: genotype frequencies sum to 1.1"):
        load_population(_write(tmp_path, text))


def test_with_params_changes_inclusion_and_allele_frequency(spec):
    strict = with_params(spec, {"madrs_baseline.lower": 22.0, "cyp2b6.variant_allele_frequency": 0.47})
    assert strict.params["madrs_baseline.lower"].status is Status.ASSUMED
    assert strict.params["madrs_baseline.lower"].source == "scenario override"
    assert strict.genotype_frequencies("cyp2b6")["*6/*6"] == pytest.approx(0.47**2)
    frame = sample(strict, 20_000, seed=2)
    assert frame["madrs_baseline"].min() >= 22.0
    _within((frame["cyp2b6"] == "*6/*6").mean(), 0.47**2, math.sqrt(0.2209 * 0.7791 / 20_000))
    wide = with_params(spec, {"variability.cl": 0.3})
    assert wide.variability["cl"].spread.value == 0.3 and spec.variability["cl"].spread.value == 0.13
    with pytest.raises(KetasimError, match=r"changes: unknown parameter 'madrs.lower'"):
        with_params(spec, {"madrs.lower": 22.0})
    with pytest.raises(KetasimError, match=r"changes.cyp2b6.\*6/\*6: genotype frequencies follow"):
        with_params(spec, {"cyp2b6.*6/*6": 0.1})
    with pytest.raises(KetasimError, match=r"changes: madrs_baseline: lower bound 50 is not below"):
        with_params(spec, {"madrs_baseline.lower": 50.0, "madrs_baseline.upper": 40.0})
    with pytest.raises(KetasimError, match=r"changes.sex.female_fraction: value 1.5 is outside"):
        with_params(spec, {"sex.female_fraction": 1.5})
