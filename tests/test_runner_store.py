"""The compact replication store of runner.run: same numbers as the list of replications it
replaced, whatever order replications finish in (budget: < 3 s)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import exp_stream, queue_scenario

from ooh_sim.core.runner import Replication, Replications, RunResult, run, run_replication
from ooh_sim.core.stats import summarise


def _fake(i: int, rng: np.random.Generator, keys: tuple[str, ...] = ("a", "b", "c")) -> Replication:
    """A replication with awkward numbers: heavy tails, NaN, signs (so summation order shows)."""
    kpis = {k: float(rng.lognormal(0, 3) * rng.choice([-1, 1, 1e-9])) for k in keys}
    if i % 4 == 1:
        kpis["b"] = math.nan
    profiles = {n: rng.lognormal(0, 3, 168) for n in ("queue", "busy", "station")}
    return Replication(i, kpis, profiles, seconds=0.01 * i)


def _both(reps: list[Replication], order: list[int]) -> tuple[RunResult, RunResult]:
    """The old list-based result and the store fed in ``order``."""
    listed = RunResult(None, 0, sorted(reps, key=lambda r: r.index))  # type: ignore[arg-type]
    listed.summary = summarise([r.kpis for r in listed.replications])
    store = Replications(range(len(reps)))
    for i in order:
        store.add(reps[i])
    stored = RunResult(None, 0, store.finish())  # type: ignore[arg-type]
    stored.summary = store.summary()
    return listed, stored


@pytest.mark.parametrize("seed", [1, 2])
def test_store_matches_list_in_any_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reps = [_fake(i, rng) for i in range(37)]
    order = rng.permutation(37).tolist()
    listed, stored = _both(reps, order)
    assert stored.summary == listed.summary  # bit for bit, NaN-aware via Estimate equality
    for name in ("queue", "busy", "station"):
        assert np.array_equal(stored.profile(name), listed.profile(name))
    assert [r.index for r in stored.replications] == list(range(37))
    assert [r.kpis for r in stored.replications][5] == pytest.approx(reps[5].kpis, nan_ok=True)
    assert stored.replications[-1].index == 36
    assert [r.index for r in stored.replications[2:5]] == [2, 3, 4]


def test_store_kpi_columns_follow_index_order() -> None:
    """A KPI seen first in a later replication is ordered as summarise orders it."""
    rng = np.random.default_rng(3)
    reps = [_fake(i, rng, ("a", "b") if i < 3 else ("a", "z", "b")) for i in range(6)]
    listed, stored = _both(reps, [5, 4, 0, 3, 1, 2])
    assert list(stored.summary) == list(listed.summary) == ["a", "b", "z"]
    assert stored.summary == listed.summary
    assert "z" not in stored.replications[0].kpis


def test_store_rejects_unexpected_and_keeps_partial_runs() -> None:
    rng = np.random.default_rng(4)
    store = Replications(range(5))
    store.add(_fake(3, rng))
    store.add(_fake(1, rng))
    with pytest.raises(ValueError):
        store.add(_fake(3, rng))  # twice
    with pytest.raises(ValueError):
        store.add(_fake(9, rng))  # not in the run
    store.finish()  # interrupted: two of five came
    assert [r.index for r in store] == [1, 3]
    assert len(store) == 2


def test_run_store_equals_replications_list() -> None:
    """runner.run's store gives what the per-replication results give, jobs kept or not."""
    sc = queue_scenario({"a": exp_stream(0.5, 1.0)}, days=14)
    res = run(sc, replications=4, seed=5, jobs=1, keep_jobs=True)
    reps = [run_replication(sc, 5, i) for i in range(4)]
    assert res.summary == summarise([r.kpis for r in reps])
    assert np.array_equal(res.profile("queue"), np.mean([r.profiles["queue"] for r in reps], 0))
    for got, want in zip(res.replications, reps, strict=True):
        assert got.index == want.index and got.jobs is not None
        assert np.array_equal(got.jobs.start, want.jobs.start, equal_nan=True)
    assert all(
        r.jobs is None for r in run(sc, replications=2, jobs=1, keep_jobs=False).replications
    )


def test_job_blocks_read_from_the_spool_without_the_whole_table(monkeypatch) -> None:
    """A stored replication's job records come block by block (what jobs.csv.gz streams), the
    same rows as the whole table, and the whole table is never read for them: reading it made
    the writer's peak memory grow with the horizon."""
    from dataclasses import fields

    from ooh_sim.core import runner
    from ooh_sim.core.records import JobTable

    sc = queue_scenario({"a": exp_stream(0.5, 1.0)}, days=14)
    res = run(sc, replications=3, seed=5, jobs=1)
    whole = [r.jobs for r in res.replications]  # read through the spool, whole
    assert res.has_job_records and min(len(t.arrival) for t in whole) > 100

    def refused(*_: object) -> None:
        raise AssertionError("a whole table was read")

    monkeypatch.setattr(runner._JobSpool, "get", refused)
    for rep, table in zip(res.replications, whole, strict=True):
        blocks = list(rep.job_blocks(64))
        assert {len(b.arrival) for b in blocks[:-1]} == {64} and 0 < len(blocks[-1].arrival) <= 64
        for f in fields(JobTable):
            got = np.concatenate([getattr(b, f.name) for b in blocks])
            assert np.array_equal(got, getattr(table, f.name), equal_nan=got.dtype.kind == "f")
    monkeypatch.undo()
    # an in-memory replication, and one without records
    rep = run_replication(sc, 5, 0)
    assert [len(b.arrival) for b in rep.job_blocks(10**6)] == [len(rep.jobs.arrival)]
    assert list(Replication(0, {}, {}).job_blocks(64)) == []
    assert not run(sc, replications=2, jobs=1, keep_jobs=False).has_job_records


def test_run_without_figures_keeps_the_same_numbers() -> None:
    """``figures=False`` (``--no-figures``) skips the profiles and the timeline, nothing else."""
    sc = queue_scenario({"a": exp_stream(0.5, 1.0)}, days=14)
    full = run(sc, replications=3, seed=5, jobs=1)
    bare = run(sc, replications=3, seed=5, jobs=1, figures=False)
    assert bare.summary == full.summary
    assert full.timeline is not None and bare.timeline is None
    with pytest.raises(KeyError):
        bare.profile("queue")
    for a, b in zip(full.replications, bare.replications, strict=True):
        assert a.jobs is not None and b.jobs is not None
        assert np.array_equal(a.jobs.end, b.jobs.end, equal_nan=True)


def test_a_workers_copies_of_one_scenario_share_its_memo() -> None:
    """Each chunk brings a new copy of its scenario; an equal copy runs as the first one did
    (model.memo hits instead of keeping one calendar and rate function per chunk)."""
    import pickle

    from ooh_sim.core import model, runner

    sc = queue_scenario({"a": exp_stream(0.5, 1.0)}, days=14)
    copies = [pickle.loads(pickle.dumps(sc)) for _ in range(3)]
    model._MEMO.clear()
    first = runner._run_chunk((copies[0], 5, [0], True, True))[0]
    cached = len(model._MEMO)
    again = [runner._run_chunk((c, 5, [1], True, True))[0] for c in copies[1:]]
    assert len(model._MEMO) == cached  # no new calendar or rate function
    other = queue_scenario({"a": exp_stream(0.6, 1.0)}, days=14)
    runner._run_chunk((other, 5, [1], True, True))
    assert len(model._MEMO) == cached + 1  # a different scenario is not mistaken for it: its
    # own rate function (its calendar is the same)
    assert again[0].kpis == again[1].kpis == run_replication(sc, 5, 1).kpis
    assert first.timeline is not None and again[0].timeline is None


def test_busy_array_is_the_busy_list_converted_once() -> None:
    from ooh_sim.core.model import simulate

    m = simulate(queue_scenario({"a": exp_stream(0.8, 1.0)}, days=14), 3, 0)
    a = m.records.busy_array()
    assert np.array_equal(a, np.asarray(m.records.busy, dtype=float).reshape(-1, 4))
    assert a is m.records.busy_array() and not a.flags.writeable
