"""Statistics taken from scipy rather than written by hand (issue 16): the goodness of fit of
fitted durations, and the bootstrap interval of cost ratios."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ooh_sim.core.compare import cost_per_hour_saved
from ooh_sim.core.fit import fit_duration, goodness_of_fit


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
