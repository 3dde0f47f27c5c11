"""Trial statistics against published worked examples, hand calculation, scipy and closed-form power."""

import math

import numpy as np
import pytest
from scipy import stats

from ketasim.errors import KetasimError
from ketasim.trial_statistics import (
    Interval,
    cohens_d,
    fisher_exact_test,
    hedges_g,
    odds_ratio,
    power_by_simulation,
    power_two_proportions,
    proportion_difference_ci,
    remitters,
    responders,
    risk_ratio,
    sample_size_for_power,
    two_proportion_z_test,
    welch_t_test,
    wilson_ci,
)

Z95 = 1.959963984540054


# ------------------------------------------------------------------------------------ proportions

# Newcombe RG 1998, Stat Med 17:857, Table I (Wilson score interval, method 3)
WILSON_TABLE_I = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "lo", "hi"), WILSON_TABLE_I)
def test_wilson_matches_newcombe_1998_table_i(x, n, lo, hi):
    p, lower, upper = wilson_ci(x, n)
    assert p == pytest.approx(x / n)
    assert lower == pytest.approx(lo, abs=5e-5)
    assert upper == pytest.approx(hi, abs=5e-5)


def test_wilson_matches_the_formula_written_out():
    # Wilson 1927: the roots of (p_hat - p)^2 = z^2 p (1 - p) / n, solved as a quadratic in p
    x, n = 7, 30
    p_hat = x / n
    a = 1 + Z95**2 / n
    b = -(2 * p_hat + Z95**2 / n)
    c = p_hat**2
    roots = sorted(
        ((-b - math.sqrt(b * b - 4 * a * c)) / (2 * a), (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
    )
    est = wilson_ci(x, n)
    assert (est.lower, est.upper) == pytest.approx(roots, abs=1e-12)
    assert isinstance(est, Interval) and est.confidence == 0.95


def test_wilson_is_vectorised_and_narrows_with_confidence():
    est = wilson_ci(np.array([[0, 5], [10, 10]]), 10)
    assert est.lower.shape == (2, 2)
    assert est.lower[0, 0] == 0.0 and est.upper[1, 1] == 1.0
    assert np.all(est.lower <= est.estimate) and np.all(est.estimate <= est.upper)
    w90 = wilson_ci(30, 100, confidence=0.90)
    w99 = wilson_ci(30, 100, confidence=0.99)
    assert w99.upper - w99.lower > w90.upper - w90.lower


# Newcombe RG 1998, Stat Med 17:873, Table II, method 10 (hybrid score interval without correction)
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0)),
    ((10, 10, 0, 10), (0.6075, 1.0)),
]


@pytest.mark.parametrize(("table", "limits"), NEWCOMBE_TABLE_II)
def test_newcombe_difference_matches_published_table_ii(table, limits):
    x1, n1, x2, n2 = table
    d, lo, hi = proportion_difference_ci(x1, n1, x2, n2)
    assert d == pytest.approx(x1 / n1 - x2 / n2)
    assert (lo, hi) == pytest.approx(limits, abs=5e-5)


def test_newcombe_vectorised_over_tables():
    x1, n1, x2, n2 = (np.array(c) for c in zip(*(t for t, _ in NEWCOMBE_TABLE_II), strict=True))
    est = proportion_difference_ci(x1, n1, x2, n2)
    assert np.allclose(np.c_[est.lower, est.upper], [lim for _, lim in NEWCOMBE_TABLE_II], atol=5e-5)


def test_odds_ratio_woolf_by_hand():
    # ketamine 30/47 responders vs midazolam 7/25 (counts in the style of Murrough 2013)
    a, b, c, d = 30, 17, 7, 18
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    est = odds_ratio(30, 47, 7, 25)
    assert est.estimate == pytest.approx(540 / 119)
    assert est.lower == pytest.approx(math.exp(log_or - Z95 * se), rel=1e-12)
    assert est.upper == pytest.approx(math.exp(log_or + Z95 * se), rel=1e-12)
    assert est.lower == pytest.approx(1.5777, abs=1e-4) and est.upper == pytest.approx(13.052, abs=1e-3)


def test_odds_ratio_haldane_correction_for_a_zero_cell():
    # 0/10 vs 5/10: cells 0, 10, 5, 5 -> 0.5, 10.5, 5.5, 5.5
    est = odds_ratio(0, 10, 5, 10)
    assert est.estimate == pytest.approx(0.5 * 5.5 / (10.5 * 5.5))
    se = math.sqrt(1 / 0.5 + 1 / 10.5 + 1 / 5.5 + 1 / 5.5)
    assert est.upper == pytest.approx(math.exp(math.log(0.5 / 10.5) + Z95 * se))
    # only the table with a zero cell is corrected
    both = odds_ratio(np.array([0, 30]), np.array([10, 47]), np.array([5, 7]), np.array([10, 25]))
    assert both.estimate[1] == pytest.approx(540 / 119)
    with np.errstate(divide="ignore"):
        assert odds_ratio(0, 10, 5, 10, correction=0.0).estimate == 0.0


def test_risk_ratio_by_hand():
    est = risk_ratio(30, 47, 7, 25)
    rr = (30 / 47) / (7 / 25)
    se = math.sqrt(1 / 30 - 1 / 47 + 1 / 7 - 1 / 25)
    assert est.estimate == pytest.approx(rr)
    assert (est.lower, est.upper) == pytest.approx((rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se)))
    zero = risk_ratio(0, 20, 4, 20)
    assert zero.estimate == pytest.approx((0.5 / 21) / (4.5 / 21))


def test_z_test_equals_uncorrected_chi_square_and_fisher_equals_scipy():
    table = [[30, 17], [7, 18]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert two_proportion_z_test(30, 47, 7, 25) == pytest.approx(chi2.pvalue, rel=1e-10)
    assert fisher_exact_test(30, 47, 7, 25) == pytest.approx(stats.fisher_exact(table).pvalue)
    one_sided = two_proportion_z_test(30, 47, 7, 25, alternative="greater")
    assert one_sided == pytest.approx(chi2.pvalue / 2, rel=1e-10)
    p = fisher_exact_test(np.array([30, 30, 3]), np.array([47, 47, 10]), np.array([7, 7, 3]), 25)
    assert p.shape == (3,) and p[0] == p[1]
    assert two_proportion_z_test(0, 10, 0, 10) == 1.0


# ------------------------------------------------------------------------------------- continuous


def test_cohens_d_and_hedges_g_by_hand():
    t = np.array([12.0, 15.0, 9.0, 14.0, 10.0, 18.0])
    c = np.array([8.0, 11.0, 7.0, 10.0, 6.0])
    n1, n2 = t.size, c.size
    sp = math.sqrt(((n1 - 1) * t.var(ddof=1) + (n2 - 1) * c.var(ddof=1)) / (n1 + n2 - 2))
    d = (t.mean() - c.mean()) / sp
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    est = cohens_d(t, c)
    assert est.estimate == pytest.approx(d)
    assert (est.lower, est.upper) == pytest.approx((d - Z95 * se, d + Z95 * se))
    df = n1 + n2 - 2
    j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    assert j == pytest.approx(1 - 3 / (4 * df - 1), abs=2e-3)
    g = hedges_g(t, c)
    assert g.estimate == pytest.approx(j * d)
    assert g.upper - g.lower == pytest.approx(j * 2 * Z95 * se)


def test_effect_sizes_and_welch_vectorise_over_trials():
    rng = np.random.default_rng(11)
    t, c = rng.normal(0.5, 1, (4, 30)), rng.normal(0, 1, (4, 25))
    d = cohens_d(t, c)
    assert d.estimate.shape == (4,)
    assert d.estimate[2] == pytest.approx(cohens_d(t[2], c[2]).estimate)
    p = welch_t_test(t, c)
    assert p[1] == pytest.approx(stats.ttest_ind(t[1], c[1], equal_var=False).pvalue)


# ------------------------------------------------------------------------------- clinical endpoints


def test_responders_and_remitters_over_patients_and_time():
    baseline = np.array([30.0, 33.0, 40.0])
    score = np.array([[15.0, 16.0, 9.0], [16.5, 17.0, np.nan], [21.0, 20.0, 10.0]])
    r = responders(baseline, score)
    assert r.shape == (3, 3)
    assert r.tolist() == [[True, False, True], [True, False, False], [False, True, True]]
    assert remitters(score).tolist() == [[False, False, True], [False, False, False], [False, False, True]]
    assert remitters(score, threshold=12).sum() == 2
    assert responders(baseline, baseline * 0.7, reduction=0.3).all()


def test_responders_reject_bad_input():
    with pytest.raises(KetasimError, match="baseline"):
        responders([0.0, 30.0], [0.0, 10.0])
    with pytest.raises(KetasimError, match="shape"):
        responders([30.0, 31.0], np.ones((3, 2)))
    with pytest.raises(KetasimError, match="reduction"):
        responders([30.0], [10.0], reduction=1.5)


# -------------------------------------------------------------------------------------------- power


def _binary_trial(p1, p2):
    def simulate(rng, n):
        return rng.random(n) < p1, rng.random(n) < p2

    return simulate


def test_simulated_power_matches_closed_form_within_monte_carlo_error():
    n_trials = 4000
    result = power_by_simulation(_binary_trial(0.5, 0.3), 100, n_trials=n_trials, seed=3)
    expected = power_two_proportions(0.5, 0.3, 100)
    mc_se = math.sqrt(expected * (1 - expected) / n_trials)
    # normal approximation itself is off by < 0.01 at n = 100 (checked with 20,000 trials)
    assert abs(result.power - expected) < 4 * mc_se + 0.01
    assert result.lower < result.power < result.upper
    assert result.n_trials == n_trials and result.p_values.shape == (n_trials,)


def test_type_one_error_is_alpha_under_the_null():
    result = power_by_simulation(_binary_trial(0.4, 0.4), 100, n_trials=4000, seed=4)
    assert abs(result.power - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 4000) + 0.005


def test_fisher_is_more_conservative_than_z():
    sim = _binary_trial(0.6, 0.3)
    z = power_by_simulation(sim, 40, n_trials=1000, seed=5)
    fisher = power_by_simulation(sim, 40, n_trials=1000, seed=5, test="fisher")
    assert fisher.power < z.power
    assert np.median(fisher.p_values) > np.median(z.p_values)


def test_welch_power_matches_noncentral_t():
    # d = 0.5, 64 per arm: Cohen's classic 80% power; exact Student-t power from the noncentral t
    n, d = 64, 0.5
    df = 2 * n - 2
    crit = stats.t.ppf(0.975, df)
    nc = d * math.sqrt(n / 2)
    exact = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)

    def simulate(rng, n):
        return rng.normal(d, 1.0, n), rng.normal(0.0, 1.0, n)

    result = power_by_simulation(simulate, n, n_trials=2000, seed=6, test="welch")
    assert abs(result.power - exact) < 4 * math.sqrt(exact * (1 - exact) / 2000)


def test_power_is_reproducible_and_uses_common_random_numbers():
    sim = _binary_trial(0.6, 0.3)
    a = power_by_simulation(sim, 30, n_trials=200, seed=9)
    b = power_by_simulation(sim, 30, n_trials=200, seed=9)
    assert np.array_equal(a.p_values, b.p_values)
    first = {}

    def probe(rng, n):
        first.setdefault(n, []).append(rng.random())
        return np.ones(n, bool), np.zeros(n, bool)

    power_by_simulation(probe, 10, n_trials=5, seed=1)
    power_by_simulation(probe, 20, n_trials=5, seed=1)
    assert first[10] == first[20]


def test_sample_size_matches_the_closed_form():
    p1, p2 = 0.5, 0.3
    za, zb = Z95, stats.norm.ppf(0.8)
    pbar = (p1 + p2) / 2
    n_closed = (
        za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    ) ** 2 / (p1 - p2) ** 2
    result = sample_size_for_power(_binary_trial(p1, p2), 0.8, n_trials=1000, seed=12, n_max=400)
    assert abs(result.n_per_arm - n_closed) <= 12
    assert result.power.power >= 0.8
    assert result.evaluated[result.n_per_arm - 1] < 0.8
    with pytest.raises(KetasimError, match="n_max"):
        sample_size_for_power(_binary_trial(p1, p2), 0.8, n_trials=200, seed=12, n_max=20)


def test_bad_inputs_name_the_argument():
    with pytest.raises(KetasimError, match="confidence"):
        wilson_ci(3, 10, confidence=1.5)
    with pytest.raises(KetasimError, match="successes"):
        wilson_ci(11, 10)
    with pytest.raises(KetasimError, match="n: every total"):
        wilson_ci(0, 0)
    with pytest.raises(KetasimError, match="whole numbers"):
        proportion_difference_ci(2.5, 10, 3, 10)
    with pytest.raises(KetasimError, match="unknown test 'anova'"):
        power_by_simulation(_binary_trial(0.5, 0.5), 10, n_trials=5, test="anova")
    with pytest.raises(KetasimError, match="alpha"):
        power_by_simulation(_binary_trial(0.5, 0.5), 10, n_trials=5, alpha=0.0)
    with pytest.raises(KetasimError, match="two arrays"):
        power_by_simulation(lambda rng, n: rng.random(n), 10, n_trials=5)
    with pytest.raises(KetasimError, match="True/False or 0/1"):
        power_by_simulation(lambda rng, n: (rng.random(n), rng.random(n)), 10, n_trials=5)
    with pytest.raises(KetasimError, match="n_trials"):
        power_by_simulation(_binary_trial(0.5, 0.5), 10, n_trials=0)
    with pytest.raises(KetasimError, match="at least 2 observations"):
        welch_t_test([1.0], [1.0, 2.0])
    with pytest.raises(KetasimError, match="alternative"):
        two_proportion_z_test(1, 10, 2, 10, alternative="bigger")
