"""Statistics taken from scipy rather than written by hand (issue 16): the goodness of fit of
fitted durations, the bootstrap interval of cost ratios, and the t-interval of every summary."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ooh_sim.core.compare import cost_per_hour_saved
from ooh_sim.core.fit import fit_duration, goodness_of_fit
from ooh_sim.core.stats import t_interval, t_quantile


def test_goodness_of_fit_rejects_a_wrong_family_on_2000_points():
    x = np.random.default_rng(3).lognormal(0.0, 0.5, 2000)
    _, p_wrong = goodness_of_fit(x, "exponential")
    _, p_gamma = goodness_of_fit(x, "gamma")
    _, p_right = goodness_of_fit(x, "lognormal")
    assert p_wrong < 0.01 and p_gamma < 0.01
    assert p_right > 0.05


def test_fit_rejects_data_no_candidate_family_fits():
    # two kinds of visit (1 h and 4 h): the best of the four families still does not fit
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(1.0, 0.1, 1000), rng.normal(4.0, 0.3, 1000)])
    fit = fit_duration(x)
    assert fit is not None and fit.ks_p < 0.01
    good = fit_duration(rng.gamma(3.0, 0.5, 2000))
    assert good is not None and good.spec["dist"] == "gamma" and good.ks_p > 0.05


def test_cost_ratio_interval_is_scipys_paired_bca_bootstrap():
    rng = np.random.default_rng(5)
    d_cost = 500 + rng.normal(0, 40, 30)
    d_hours = -2.0 + rng.normal(0, 0.4, 30)
    e = cost_per_hour_saved(d_cost, d_hours, resamples=999, seed=7)
    want = stats.bootstrap(
        (d_cost, -d_hours),
        lambda c, h, axis=-1: np.mean(c, axis=axis) / np.mean(h, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=999,
        method="BCa",
        rng=np.random.default_rng(7),
    )
    assert e.mean == pytest.approx(d_cost.mean() / -d_hours.mean())
    assert (e.ci95_low, e.ci95_high) == pytest.approx(tuple(want.confidence_interval))
    assert e.sd == pytest.approx(want.standard_error)


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30, 50, 1000])
def test_t_interval_is_scipys_student_t_interval_bit_for_bit(n):
    # t_interval takes its quantile from scipy.special.stdtrit (for speed); it must give exactly
    # what scipy.stats.t.interval gives, or every summary's intervals would move
    x = np.random.default_rng(n).lognormal(1.0, 0.8, n)
    e = t_interval(x)
    want = stats.t.interval(0.95, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert (e.ci95_low, e.ci95_high) == pytest.approx(want, rel=1e-12)
    # and the very bits of the formula with scipy.stats' quantile (summaries must not move)
    half = float(stats.t.ppf(0.975, n - 1)) * float(x.std(ddof=1)) / np.sqrt(n)
    assert (e.ci95_low, e.ci95_high) == (float(x.mean()) - half, float(x.mean()) + half)


@pytest.mark.parametrize("df", [1, 1.5, 7.3, 49, 120.8, 5000])
@pytest.mark.parametrize("p", [0.025, 0.05, 0.975])
def test_t_quantile_is_scipy_stats_t_ppf_bit_for_bit(df, p):
    # Welch's intervals (non-integer df) and optimise's one-sided screening use it too
    assert t_quantile(p, df) == float(stats.t.ppf(p, df))
