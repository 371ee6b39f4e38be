"""Hour-of-week curves (what the workload and station figures draw) against a brute-force count:
each interval's overlap with each clock hour, summed, then averaged by hour of the week.

Budget: ~1 s (one four-week replication).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ooh_sim.core.calendar import clip_rows, hours_open
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.metrics import hour_of_week_profile, job_table, profiles, queued_until
from ooh_sim.core.model import simulate

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def overlap_by_hour(windows: np.ndarray, bins: int) -> np.ndarray:
    """Σ over intervals of |[s, e) ∩ [k, k + 1)| for each hour k: the definition, quadratic."""
    k = np.arange(bins)[None, :]
    s, e = windows[:, :1], windows[:, 1:]
    return np.clip(np.minimum(e, k + 1) - np.maximum(s, k), 0.0, None).sum(axis=0)


def test_hours_open_is_the_overlap_with_each_hour() -> None:
    rng = np.random.default_rng(20261203)
    bins = 300
    s = rng.uniform(0, bins, 4000)
    e = np.minimum(s + rng.exponential(3.0, 4000), bins)
    edges = np.array(
        [
            [0.0, 0.25],  # inside the first hour
            [2.0, 3.0],  # exactly one hour, on the hour
            [4.5, 5.0],  # ends on the hour
            [6.0, 6.5],  # starts on the hour
            [7.9, 8.1],  # across one boundary
            [9.5, 19.25],  # many whole hours
            [bins - 2.5, float(bins)],  # ends on the last hour's end
            [0.0, float(bins)],  # the whole span
        ]
    )
    windows = np.vstack([np.column_stack([s, e]), edges])
    got = hours_open(windows, bins)
    assert got.shape == (bins,)
    np.testing.assert_allclose(got, overlap_by_hour(windows, bins), rtol=0, atol=1e-9)
    assert got.sum() == pytest.approx((windows[:, 1] - windows[:, 0]).sum(), rel=1e-12)
    assert np.array_equal(hours_open(np.zeros((0, 2)), 5), np.zeros(5))


def test_profile_is_the_mean_by_hour_of_the_week() -> None:
    sc = load_scenario(BASELINE)
    # four weeks, and a warm-up ending mid-hour (31.2 h)
    sc = sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"days": 28,
                                                                         "warmup_days": 1.3})})
    m = simulate(sc, 7, 0, None)
    jobs = job_table(m)
    lo, hours = sc.horizon.warmup_hours, m.calendar.hours
    queue = np.column_stack([jobs.arrival, queued_until(jobs, hours)])
    first = np.floor(lo)
    bins = int(np.ceil(hours) - first)
    per_hour = overlap_by_hour(clip_rows(queue, lo, hours) - first, bins)
    how = m.calendar.hour_of_week(first + np.arange(bins))
    want = np.array([per_hour[how == h].mean() for h in range(168)])
    got = hour_of_week_profile(m, queue, lo)
    assert want.max() > 1.0  # a queue that builds: the check is not of zeros
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(profiles(m, jobs)["queue"], got)
