"""--precision: the Hoad, Robinson & Davies (2010) replications algorithm (ooh_sim.core.precision).

Budget: ~10 s (one test starts a 2-process pool).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import exp_stream, queue_scenario

from ooh_sim.cli import main
from ooh_sim.core.precision import (
    Precision,
    _Checker,
    headline_kpis,
    look_ahead,
    relative_half_width,
    run_to_precision,
)
from ooh_sim.core.runner import run
from ooh_sim.io.formats import summary_dict
from ooh_sim.report.folders import write_run


def tiny(**extra):
    """M/M/1 at load 0.5 over two weeks: milliseconds per replication, noisy means."""
    return queue_scenario({"a": exp_stream(1.0, 0.5)}, days=14, seed=99, **extra)


def test_look_ahead_is_hrd_f():
    assert [look_ahead(n) for n in (3, 50, 100)] == [5, 5, 5]
    assert look_ahead(101) == 5 and look_ahead(200) == 10 and look_ahead(399) == 19


def test_relative_half_width():
    x = np.array([9.0, 11.0, 10.0, 10.0])
    # t(0.975, 3) = 3.182; sd = 0.8165; hw = 3.182 * 0.8165 / 2 = 1.299 → 0.1299 of mean 10
    assert relative_half_width(x) == pytest.approx(3.182446 * 0.816497 / 2 / 10, rel=1e-5)
    assert relative_half_width([5.0]) == math.inf  # undefined with one value
    assert relative_half_width([2.0, 2.0, 2.0]) == 0.0
    assert relative_half_width([1.0, -1.0, 0.0]) == math.inf  # mean 0


def _walk(xs: list[float], target: float, max_n: int, k: int = 5) -> Precision:
    p = Precision(target, ["x"], max_n, k)
    c = _Checker(p, 3)
    for i, x in enumerate(xs):
        if c.feed({"x": x}):
            p.n = i + 1
            break
    return p


@pytest.mark.parametrize("seed", range(12))
def test_stopping_rule_meets_its_specification(seed):
    """On random sequences: Nsol is the first n of a run of passes that lasts f(Nsol) more
    replications; no earlier n starts such a run; otherwise the budget is used up."""
    rng = np.random.default_rng(seed)
    xs = list(rng.lognormal(0, rng.uniform(0.05, 0.6), 300))
    target, max_n = 0.05, 300
    p = _walk(xs, target, max_n)
    d = {n: relative_half_width(xs[:n]) for n in range(1, max_n + 1)}

    def window_ok(m: int) -> bool:
        return m + look_ahead(m) <= max_n and all(
            d[i] <= target for i in range(m, m + look_ahead(m) + 1)
        )

    first = next((m for m in range(3, max_n + 1) if window_ok(m)), None)
    if first is None:
        assert p.reason == "max_replications" and p.n == max_n and p.n_solution is None
    else:
        assert p.reason == "reached"
        assert p.n_solution == first
        assert p.n == first + look_ahead(first)
        assert all(d[i] <= target for i in range(first, p.n + 1))
    # the recorded history is the relative half-width of every prefix
    assert p.worst_by_n[: p.n] == pytest.approx([d[n] for n in range(1, p.n + 1)])


def test_both_outcomes_are_exercised():
    rng = np.random.default_rng(0)
    assert _walk(list(rng.normal(10, 0.5, 100)), 0.05, 100).reason == "reached"
    assert _walk(list(rng.lognormal(0, 2, 40)), 0.05, 40).reason == "max_replications"


def test_a_dip_out_of_precision_restarts_the_look_ahead():
    # precise from n = 3, then one wild value at n = 6 (inside the look-ahead), then precise again
    xs = [10.0, 10.01, 9.99, 10.0, 10.0, 30.0] + [10.0] * 400
    p = _walk(xs, 0.05, 406)
    d = [relative_half_width(xs[:n]) for n in range(1, 40)]
    assert d[2] <= 0.05 and d[5] > 0.05  # n = 3 passes, n = 6 fails
    assert p.n_solution > 6 and p.reason == "reached"
    assert p.n == p.n_solution + 5


def test_headline_kpis_follow_the_scenario():
    sc = tiny()
    assert headline_kpis(sc) == ["streams.a.response_hours.mean", "staff.s.utilisation"]
    from ooh_sim.core.loader import load_scenario

    base = load_scenario("scenarios/baseline.yaml")
    k = headline_kpis(base)
    assert k[0] == "station.hours.mean" and "staff.edt.utilisation" in k
    assert sum(x.startswith("streams.") for x in k) == len(base.streams)


def test_run_to_precision_is_deterministic_and_equals_a_plain_run():
    sc = tiny()
    r1 = run_to_precision(sc, 0.1, max_replications=200, jobs=1, keep_jobs=False)
    p = r1.precision
    assert p.reason == "reached" and 10 < p.n < 200
    assert all(v <= 0.1 for v in p.half_widths.values())
    # replication i always uses seed (s, i): the same as a plain run of n replications
    plain = run(sc, replications=p.n, jobs=1, keep_jobs=False)
    assert [r.kpis for r in r1.replications] == [r.kpis for r in plain.replications]
    # ... and whatever the number of processes (batches differ, the decision does not)
    r2 = run_to_precision(sc, 0.1, max_replications=200, jobs=2, keep_jobs=False)
    assert r2.precision.n == p.n and r2.precision.n_solution == p.n_solution
    assert r2.summary == r1.summary


def test_compare_to_precision_reuses_its_replications_and_equals_a_plain_compare(monkeypatch):
    """The replications run while choosing n are the comparison's: none runs twice, and the
    numbers are those of compare(…, replications=n) on the same seed."""
    import ooh_sim.core.runner as runner
    from ooh_sim.core.compare import compare, compare_to_precision

    ref = tiny()
    option = queue_scenario({"a": exp_stream(1.2, 0.5)}, days=14, seed=99).model_copy(
        update={"name": "busier"}
    )
    calls: list[tuple[str, int]] = []
    real = runner.run_replication

    def counted(scenario, seed, index, **kw):
        calls.append((scenario.name, index))
        return real(scenario, seed, index, **kw)

    monkeypatch.setattr(runner, "run_replication", counted)
    c = compare_to_precision([ref, option], 0.15, max_replications=60, jobs=1)
    assert len(calls) == len(set(calls))  # nothing ran twice
    assert c.precision is not None and set(c.precision) == {"queue", "busier"}
    n = max(p.n for p in c.precision.values())
    assert c.replications == n and min(p.n for p in c.precision.values()) < n  # some reused
    monkeypatch.setattr(runner, "run_replication", real)
    plain = compare([ref, option], replications=n, jobs=1)
    assert json.dumps(c.as_dict()) == json.dumps(plain.as_dict())  # NaN-tolerant equality
    for a, b in zip(c.results, plain.results, strict=True):
        assert [r.kpis for r in a.replications] == [r.kpis for r in b.replications]
        assert [len(r.jobs.arrival) for r in a.replications] == [
            len(r.jobs.arrival) for r in b.replications
        ]


def test_budget_exhausted_is_reported():
    r = run_to_precision(tiny(), 0.001, max_replications=8, jobs=1, keep_jobs=False)
    assert r.precision.reason == "max_replications" and len(r.replications) == 8
    assert max(r.precision.half_widths.values()) > 0.001


def test_summary_json_has_the_precision_block_only_when_used(tmp_path):
    r = run_to_precision(tiny(), 0.2, max_replications=50, jobs=1, keep_jobs=False)
    d = summary_dict(r)
    assert d["replications"] == r.precision.n
    blk = d["precision"]
    assert blk["target"] == 0.2 and blk["reason"] == "reached" and blk["n"] == d["replications"]
    assert set(blk["half_widths"]) == set(headline_kpis(r.scenario))
    write_run(r, tmp_path / "o", figures=False)
    assert json.loads((tmp_path / "o/summary.json").read_text())["precision"] == blk
    assert "precision" not in summary_dict(run(tiny(), replications=3, jobs=1))


def test_cli_precision(tmp_path, capsys):
    import yaml

    f = tmp_path / "q.yaml"
    sc = tiny().model_dump(mode="json", by_alias=True, exclude_none=True)
    f.write_text(yaml.safe_dump(sc))
    out = tmp_path / "res"
    code = main(["run", str(f), "--precision", "0.2", "--max-replications", "40", "-j", "1",
                 "--out", str(out), "--no-figures"])  # fmt: skip
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["precision"]["reason"] == "reached" and s["replications"] == s["precision"]["n"]
    n_sol, n = s["precision"]["n_solution"], s["precision"]["n"]
    said = " ".join(capsys.readouterr().out.split())
    assert f"precision ±20.0% reached with {n_sol} replications" in said
    assert n == n_sol or f"held for the {n - n_sol} after them ({n} run)" in said
    # --precision and --replications contradict each other: bad input
    assert main(["run", str(f), "--precision", "0.2", "-n", "5", "--out", str(out)]) == 2
    assert "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", str(f), "--precision", "5"])
    assert e.value.code == 2
    # a limit below two runs is bad usage (it was an internal error), and a limit without
    # --precision is refused rather than ignored
    for cmd in (["run", str(f)], ["compare", str(f), str(f)]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--precision", "0.2", "--max-replications", "1"])
        assert e.value.code == 2 and "must be at least 2, got 1" in capsys.readouterr().err
        assert main([*cmd, "--max-replications", "40", "--out", str(tmp_path / "x")]) == 2
        assert "--max-replications: applies only with --precision" in capsys.readouterr().err
        assert not (tmp_path / "x").exists()


def test_outcome_words_when_the_target_is_not_reached():
    from ooh_sim.core.precision import outcome_words

    p = {"target": 0.1, "reason": "max_replications", "max_replications": 12, "n": 12,
         "n_solution": None, "half_widths": {"station.hours.mean": 0.05,
                                             "station.hours.p90": 0.222}}  # fmt: skip
    assert outcome_words(p) == ("±10.0% not reached within 12 replications; the widest "
                                "interval is ±22.2%, of Wait in a police station that 1 child "
                                "in 10 exceeds, mean over runs")  # fmt: skip
