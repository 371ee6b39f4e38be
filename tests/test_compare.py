"""Comparing options: common random numbers, paired intervals, shipped options, outputs, figures.

Budget: ~30 s on 2 cores (most of it the full-year second-worker comparison and the CLI run).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sstats

from ooh_sim import InputError, load_scenario
from ooh_sim.cli import main
from ooh_sim.core.compare import (
    COST_PER_HOUR_SAVED,
    compare,
    cost_per_hour_saved,
    welch_difference,
)
from ooh_sim.core.metrics import job_table
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.runner import run, run_replication
from ooh_sim.core.schema import Scenario
from ooh_sim.core.timeline import child_segments, night, record_timeline, worst_night
from ooh_sim.io.comparison_files import default_out
from ooh_sim.report.folders import save_figure
from ooh_sim.viz.timeline_figures import night_timeline

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
OPTIONS = sorted(p.stem for p in SCENARIOS.glob("*.yaml") if p.stem != "baseline")


def shortened(sc: Scenario, days: float = 91, warmup: float = 14, name: str | None = None):
    """The same scenario over a shorter horizon (a quarter), for fast tests."""
    horizon = sc.horizon.model_copy(update={"days": days, "warmup_days": warmup})
    return sc.model_copy(update={"horizon": horizon, "name": name or sc.name})


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(SCENARIOS / "baseline.yaml")


def test_options_ship_with_name_description_and_baseline_parent():
    assert {"second_worker_fri_sat", "separate_amhp", "on_call_manager", "more_placements",
            "supervised_venue", "combined"} <= set(OPTIONS)  # fmt: skip
    for stem in OPTIONS:
        text = (SCENARIOS / f"{stem}.yaml").read_text()
        assert ("extends: baseline.yaml" in text) != (stem in CHANGES_DEMAND and "councils" in stem)
        sc = load_scenario(SCENARIOS / f"{stem}.yaml")
        assert sc.name == stem and len(sc.description) > 80


def test_identical_copy_differs_by_exactly_zero(baseline):
    a = shortened(baseline)
    c = compare([a, a.model_copy(update={"name": "copy"})], replications=5, jobs=1)
    diffs = c.differences["copy"]
    assert len(diffs) == len(c.result("baseline").summary) > 50
    for k, d in diffs.items():
        if d.paired.n >= 2:
            assert (d.paired.mean, d.paired.ci95_low, d.paired.ci95_high) == (0.0, 0.0, 0.0), k
        assert not d.significant, k
    # and the rows say so too: every option row has diff 0 and 'significant' False
    rows = [r for r in c.rows() if r["scenario"] == "copy" and r["kpi"] in diffs]
    assert rows and all(r["diff_mean"] == 0 or math.isnan(r["diff_mean"]) for r in rows)


CHANGES_DEMAND = {  # options whose point is different demand: their arrivals differ by design
    "seasonal_demand": "months, school holidays and a trend scale the arrival rates",
    "consortium_three_councils": "three councils' streams, not the borough's",
}


@pytest.mark.parametrize("option", [o for o in OPTIONS if o not in CHANGES_DEMAND])
def test_options_never_change_arrivals_or_job_draws(baseline, option):
    """Common random numbers: every shipped option sees the baseline's jobs, draw for draw.

    An option that redefines a stream's duration (the AMHP options split the assessment from the
    waits) draws it from the same stream, so only that stream's values change; every other
    stream's durations, and every arrival, stay the same.
    """
    sc = load_scenario(SCENARIOS / f"{option}.yaml")
    same_duration = [
        i for i, (name, st) in enumerate(baseline.streams.items())
        if sc.streams[name].duration.model_dump() == st.duration.model_dump()
    ]  # fmt: skip
    for rep in range(3):
        a = Model(baseline, RandomStreams(baseline.seed, rep))
        b = Model(sc, RandomStreams(baseline.seed, rep))
        assert a.n_jobs == b.n_jobs > 3000
        for col in ("arrival", "stream", "transport", "search", "placement_stay"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)
        keep = np.isin(a.stream, same_duration)
        assert keep.mean() > 0.9
        np.testing.assert_array_equal(a.duration[keep], b.duration[keep], err_msg="duration")


def test_adding_a_worker_keeps_arrivals_after_the_run(baseline):
    """Running the models (dispatch, preemption …) must not shift arrival times either."""
    sc = load_scenario(SCENARIOS / "second_worker_fri_sat.yaml")
    a = run_replication(shortened(baseline), baseline.seed, 1).jobs
    b = run_replication(shortened(sc), baseline.seed, 1).jobs
    np.testing.assert_array_equal(a.arrival, b.arrival)
    np.testing.assert_array_equal(a.stream, b.stream)
    assert not np.array_equal(a.start, b.start, equal_nan=True)  # the worker did change things


def test_paired_intervals_narrower_than_unpaired_where_crn_helps(baseline):
    sc = load_scenario(SCENARIOS / "second_worker_fri_sat.yaml")
    c = compare([shortened(baseline), shortened(sc)], replications=12, jobs=1)
    d = c.differences["second_worker_fri_sat"]
    # same nights in both: most of the year-to-year noise cancels in the paired difference
    for k in ("station.hours.mean", "staff.edt.utilisation", "cost.per_week"):
        assert d[k].paired.half_width < 0.5 * d[k].unpaired.half_width, k
        assert d[k].paired.n == d[k].unpaired.n == 12
    k = "streams.children_referral.response_hours.mean"  # changed a lot by the option: still helps
    assert d[k].paired.half_width < d[k].unpaired.half_width


def test_shipped_second_worker_cuts_mean_station_hours(baseline):
    """Full year, 20 replications (the README's 50-replication figure is from the CLI)."""
    sc = load_scenario(SCENARIOS / "second_worker_fri_sat.yaml")
    c = compare([baseline, sc], replications=20, jobs=1)
    d = c.differences["second_worker_fri_sat"]["station.hours.mean"]
    assert d.significant and d.paired.ci95_high < 0
    assert c.seed == baseline.seed and c.replications == 20
    # the extra worker costs money: cost per station hour saved is positive and bounded
    e = c.derived["second_worker_fri_sat"][COST_PER_HOUR_SAVED]
    assert 0 < e.ci95_low < e.mean < e.ci95_high


def test_cost_per_station_hour_saved_is_the_ratio_of_paired_means(baseline):
    sc = load_scenario(SCENARIOS / "separate_amhp.yaml")
    c = compare([shortened(baseline), shortened(sc)], replications=6, jobs=1)
    ref, opt = c.results

    def col(res, k):
        return np.array([r.kpis[k] for r in res.replications])

    d_cost = col(opt, "cost.per_week") - col(ref, "cost.per_week")
    saved = col(ref, "station.child_hours_per_week") - col(opt, "station.child_hours_per_week")
    e = c.derived["separate_amhp"][COST_PER_HOUR_SAVED]
    assert saved.mean() > 0 and d_cost.mean() > 0
    assert e.mean == pytest.approx(d_cost.mean() / saved.mean(), rel=1e-12)


def test_cost_per_hour_saved_undefined_without_a_clear_saving():
    rng = np.random.default_rng(1)
    assert math.isnan(cost_per_hour_saved(np.full(10, 100.0), np.zeros(10)).mean)
    noisy = cost_per_hour_saved(np.full(10, 100.0), rng.normal(0, 1, 10) - 0.01)
    assert math.isnan(noisy.ci95_low)  # saving not significant: no interval for the ratio
    clear = cost_per_hour_saved(np.full(10, 100.0), np.full(10, -2.0) + rng.normal(0, 0.1, 10))
    assert clear.ci95_low < 50 < clear.ci95_high


def test_cost_per_hour_saved_memory_is_flat_in_replications_and_its_interval_unchanged():
    """The bootstrap draws a fixed number of resampled values at a time (batches of resamples
    sized by the replications): its working memory does not grow with resamples × replications
    (160 MB at 2,000 replications when it drew every resample at once), nor with replications
    (~5 KB each with a fixed batch of 100 resamples), and the interval is the one scipy gives
    drawing every resample at once."""
    import tracemalloc
    import warnings

    rng = np.random.default_rng(5)
    peaks = {}
    for n in (37, 1_000, 2_000, 10_000):
        d_cost = rng.normal(1_000.0, 300.0, n)
        d_hours = -(rng.normal(5.0, 2.0, n) + 3.0)
        tracing = tracemalloc.is_tracing()
        tracemalloc.start()
        tracemalloc.reset_peak()
        try:
            e = cost_per_hour_saved(d_cost, d_hours, seed=7)
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            if not tracing:
                tracemalloc.stop()
        # measured: 1.8 MB at 37 replications, 4.2-4.6 MB from 1,000 to 10,000 (batches of
        # ~100,000 values); with a fixed batch of 100 resamples it was 10 MB at 2,000, and with
        # every resample at once 164 MB. What still grows is the data itself (tens of bytes a
        # replication). A batch that ignores n fails this bound at 10,000.
        assert peaks[n] < 5e6 + 100 * n, peaks

        if n > 2_000:  # scipy all at once needs 2,000 × n values: 160 MB at 10,000
            continue

        def stat(cost: np.ndarray, hours: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.mean(cost, axis=axis) / np.mean(hours, axis=axis)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            whole = sstats.bootstrap((d_cost, -d_hours), stat, paired=True, vectorized=True,
                                     n_resamples=2000, method="BCa",
                                     rng=np.random.default_rng(7))  # fmt: skip
        assert (e.ci95_low, e.ci95_high, e.sd) == (*whole.confidence_interval, whole.standard_error)


def test_welch_interval_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 2.0, 15), rng.normal(0.0, 0.5, 9)
    w = welch_difference(a, b)
    ci = sstats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (w.ci95_low, w.ci95_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_officer_release_hours_caps_officer_time_only(baseline):
    """The supervised-venue field: officers leave after R hours; the child's wait is unchanged."""
    release = 1.5
    streams = {
        n: s.model_copy(update={"officer_release_hours": release}) if s.kind != "referral" else s
        for n, s in baseline.streams.items()
    }
    a = shortened(baseline)
    b = a.model_copy(update={"streams": streams})
    ra, rb = run_replication(a, 7, 0, keep_model=True), run_replication(b, 7, 0)
    assert rb.kpis["station.hours.mean"] == ra.kpis["station.hours.mean"]
    t, m = job_table(ra.model), ra.model
    ok = np.isin(t.stream, [m.stream_names.index(s) for s in a.police_streams])
    ok &= (t.arrival >= a.horizon.warmup_hours) & ~np.isnan(t.station_end)
    hours = (t.station_end - t.arrival)[ok]
    officers = np.array([a.streams[m.stream_names[s]].officer_count for s in t.stream[ok]])
    weeks = (a.horizon.days - a.horizon.warmup_days) / 7
    assert (hours > release).sum() >= 5  # the cap bites on enough children to matter
    expect = float((np.minimum(hours, release) * officers).sum() / weeks)
    assert rb.kpis["station.officer_hours_per_week"] == pytest.approx(expect, rel=1e-12)
    assert ra.kpis["station.officer_hours_per_week"] == pytest.approx(
        float((hours * officers).sum() / weeks), rel=1e-12
    )
    assert ra.kpis["station.child_hours_per_week"] == pytest.approx(hours.sum() / weeks, rel=1e-12)
    with pytest.raises(InputError, match="officer_release_hours"):
        load_scenario(SCENARIOS / "baseline.yaml",
                      overrides={"streams.amhp.officer_release_hours": 1})  # fmt: skip


def test_timeline_segments_tile_each_childs_station_time(baseline, tmp_path):
    m = run_replication(shortened(baseline), baseline.seed, 0, keep_model=True).model
    tl = record_timeline(m)
    kids = [j for j in range(m.n_jobs) if m.is_child[j] and not np.isnan(m.station_end[j])]
    assert len(kids) > 5
    states_seen = set()
    for j in kids:
        segs = child_segments(tl, j)
        assert segs[0][0] == m.arrival[j] and segs[-1][1] == pytest.approx(m.station_end[j])
        for (_, e0, _), (s1, _, _) in itertools.pairwise(segs):
            assert s1 == pytest.approx(e0)  # contiguous: every minute of the wait is explained
        states_seen |= {s for *_, s in segs}
        if "no placement free" in {s for *_, s in segs}:
            assert m.none_free[j]
    assert "waiting for a worker" in states_seen
    t0, t1, j = worst_night(tl)
    assert t0 <= m.arrival[j] < t1 and (m.station_end[j] <= t1 or t1 - t0 == 60)
    assert save_figure(night_timeline(night(tl)), tmp_path / "night.png").stat().st_size > 10_000


def test_default_out_is_short_and_safe():
    assert default_out(["a", "b"]) == Path("results/compare-a-vs-b")
    long = default_out(["baseline", *OPTIONS])
    assert long.name == f"compare-baseline-vs-{OPTIONS[0]}-and-{len(OPTIONS) - 1}-more"


def _variant(folder: Path, name: str, extra: str = "") -> Path:
    p = folder / f"{name}.yaml"
    p.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: {name}\nreplications: 3\n"
        f"horizon: {{days: 56, warmup_days: 7}}\n{extra}",
        encoding="utf-8",
    )
    return p


def test_cli_compare_writes_everything(tmp_path, capsys):
    a = _variant(tmp_path, "base")
    b = _variant(tmp_path, "extra", "staff: {more: {count: 1, skills: [children, adults]}}\n")
    out = tmp_path / "out"
    assert main(["compare", str(a), str(b), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    with (out / "comparison.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:9] == [
        "kpi", "scenario", "mean", "ci95_low", "ci95_high",
        "diff_mean", "diff_ci95_low", "diff_ci95_high", "significant",
    ]  # fmt: skip
    extra = {r["kpi"]: r for r in rows if r["scenario"] == "extra"}
    assert extra["station.hours.mean"]["significant"] in ("true", "false")
    assert extra[COST_PER_HOUR_SAVED]["mean"] != ""
    assert not any(v.startswith("'") for r in rows for v in r.values())  # numbers stay numbers
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["reference"] == "base" and doc["replications"] == 3
    assert doc["differences"]["extra"]["station.hours.mean"]["paired"]["n"] == 3
    for name in ("base", "extra"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["scenario"] == name and summary["replications"] == 3
        assert (out / name / "replications.csv").is_file()
        assert (out / f"timeline_{name}.png").is_file()
    for fig in ("station_hours_ecdf.png", "headline_kpis.png", "station_by_hour_of_week.png"):
        assert (out / fig).stat().st_size > 10_000
    assert capsys.readouterr().out == ""  # --quiet


def test_cli_compare_rejects_duplicate_names_and_single_file(tmp_path, capsys):
    a = _variant(tmp_path, "same")
    b = tmp_path / "other.yaml"
    b.write_text(f"extends: {a.name}\nname: same\n", encoding="utf-8")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "both named 'same'" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    assert main(["compare", str(a), "--quiet"]) == 2


def test_run_figures_include_the_worst_night_timeline(baseline, tmp_path):
    from ooh_sim.report.folders import save_figures
    from ooh_sim.viz.run_figures import RUN_FIGURES

    res = run(shortened(baseline), replications=2, jobs=1)
    plan = [(name, lambda make=make: make(res)) for name, make in RUN_FIGURES]
    names = {p.name for p in save_figures(plan, tmp_path)}
    assert "timeline_worst_night.png" in names


def test_compare_is_the_same_in_one_process_or_a_pool(baseline):
    """One pool for all scenarios must not change a number (replications are seeded by index)."""
    sc = load_scenario(SCENARIOS / "on_call_manager.yaml")
    pair = [shortened(baseline, days=56, warmup=7), shortened(sc, days=56, warmup=7)]
    one = compare(pair, replications=4, jobs=1)
    two = compare(pair, replications=4, jobs=2)
    assert [r.index for r in two.results[1].replications] == [0, 1, 2, 3]
    rows1, rows2 = one.rows(), two.rows()
    assert len(rows1) == len(rows2) > 100
    for a, b in zip(rows1, rows2, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]), (a["kpi"], k)
