"""Sweeps: experiments are checked before running; results do not depend on scheduling or
backend; a killed sweep resumes to exactly the uninterrupted result. Budget: ~60 s (a Dask
LocalCluster and one subprocess are the slow parts)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from ooh_sim.cli import main
from ooh_sim.core.errors import InputError
from ooh_sim.core.experiment import load_experiment
from ooh_sim.core.runner import run_replication
from ooh_sim.core.sweep import standardised_regression
from ooh_sim.io.sweep_store import CHECKPOINT, read_checkpoint
from ooh_sim.report.folders import run_sweep

SCENARIO = """\
name: tiny
horizon: {{start: 2023-01-02, days: {days}, warmup_days: 0}}
replications: 3
seed: 5
calendar: {{cover: always}}
staff:
  edt: {{count: 1, skills: [children, adults]}}
streams:
  pp:
    kind: police_protection
    skill: children
    arrivals: {{per_week: 3}}
    duration: {{dist: exponential, mean: 1.0}}
    transport: {{dist: fixed, value: 0.5}}
  a:
    kind: referral
    skill: adults
    arrivals: {{per_week: 20}}
    duration: {{dist: exponential, mean: 2.0}}
placements:
  capacity: 1
  stay_days: {{dist: exponential, mean: 1}}
"""

GRID = """\
name: tinygrid
scenario: sc/tiny.yaml
replications: {reps}
seed: {seed}
design: grid
parameters:
  staff.edt.count: [1, 2]
  placements.capacity: {capacities}
outputs: [station.hours.mean, staff.edt.utilisation]
"""

OUTPUTS = ["station.hours.mean", "staff.edt.utilisation"]


def setup(
    tmp: Path,
    *,
    days: int = 14,
    reps: int = 3,
    seed: int = 11,
    capacities: str = "[1, 2, 3]",
    name: str = "exp.yaml",
) -> Path:
    (tmp / "sc").mkdir(exist_ok=True)
    (tmp / "sc" / "tiny.yaml").write_text(SCENARIO.format(days=days), encoding="utf-8")
    path = tmp / name
    path.write_text(GRID.format(reps=reps, seed=seed, capacities=capacities), encoding="utf-8")
    return path


def write_exp(tmp: Path, text: str) -> Path:
    setup(tmp)
    path = tmp / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def checkpoint_points(out: Path) -> list[int]:
    lines = (out / CHECKPOINT).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["point"] for line in lines[1:]]


# ------------------------------------------------------------------ experiment checks


def test_grid_points_in_declared_order(tmp_path: Path) -> None:
    exp = load_experiment(setup(tmp_path))
    assert exp.points == [
        {"staff.edt.count": c, "placements.capacity": k} for c in (1, 2) for k in (1, 2, 3)
    ]
    assert exp.outputs == OUTPUTS
    assert exp.scenario(4).staff["edt"].count == 2
    assert exp.scenario(4).placements.capacity == 2


def test_misspelt_parameter_path_is_exit_2_with_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup(tmp_path)
    path.write_text(path.read_text().replace("staff.edt.count", "staff.edt.cuont"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "parameters.staff.edt.cuont" in err
    assert "did you mean 'staff.edt.count'" in err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_invalid_design_point_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = setup(tmp_path, capacities="[1, -1, 2.5]")
    with pytest.raises(InputError) as info:
        load_experiment(path)
    text = str(info.value)
    assert "parameters.placements.capacity" in text
    assert "design point 1" in text and "greater than or equal to 0" in text
    assert "design point 2" in text and "integer" in text


def test_unknown_output_is_refused_with_suggestion(tmp_path: Path) -> None:
    path = setup(tmp_path)
    path.write_text(path.read_text().replace("staff.edt.utilisation", "staff.edt.utilization"))
    with pytest.raises(InputError) as info:
        load_experiment(path)
    assert info.value.path == "outputs[1]"
    assert info.value.suggestion == "staff.edt.utilisation"


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ("policy.dispatch: {low: 0, high: 1}", "numeric setting"),
        ("staff.edt.count: [1, 2]", "needs a range"),
        ("staff.edt.count: {low: 0.5, high: 3}", "whole-number ends"),
        ("streams.a.duration.mean: {low: 2, high: 1}", "must be below high"),
        ("streams.a.duration.mean: {low: 1, hihg: 2}", "did you mean 'high'"),
    ],
)
def test_bad_ranges(tmp_path: Path, params: str, expect: str) -> None:
    path = write_exp(
        tmp_path,
        f"name: x\nscenario: sc/tiny.yaml\ndesign: lhs\nsamples: 8\nparameters:\n  {params}\n",
    )
    with pytest.raises(InputError) as info:
        load_experiment(path)
    assert expect in str(info.value)


def test_lhs_is_stratified_and_integers_detected_from_schema(tmp_path: Path) -> None:
    n = 20
    path = write_exp(
        tmp_path,
        "name: x\nscenario: sc/tiny.yaml\nseed: 3\ndesign: lhs\nsamples: 20\nparameters:\n"
        "  streams.a.arrivals.per_week: {low: 10, high: 30}\n"
        "  staff.edt.count: {low: 1, high: 4}\n",
    )
    exp = load_experiment(path)
    rate = np.array([p["streams.a.arrivals.per_week"] for p in exp.points])
    count = [p["staff.edt.count"] for p in exp.points]
    # one point in each of the n equal slices of the range
    assert sorted(np.floor((rate - 10) / 20 * n).astype(int)) == list(range(n))
    # staff.edt.count is an int field: whole numbers, each of 1..4 equally often (5 of 20)
    assert all(type(c) is int for c in count)
    assert sorted(count) == [1] * 5 + [2] * 5 + [3] * 5 + [4] * 5
    assert exp.parameters[1].integer and not exp.parameters[0].integer


def test_sobol_rounds_samples_up_to_a_power_of_two_and_says_so(tmp_path: Path) -> None:
    text = (
        "name: x\nscenario: sc/tiny.yaml\nseed: {seed}\ndesign: sobol\nsamples: 10\n"
        "parameters:\n  streams.a.duration.mean: {{low: 1, high: 3}}\n"
        "  placements.capacity: {{low: 0, high: 3, integer: true}}\n"
    )
    path = write_exp(tmp_path, text.format(seed=1))
    exp = load_experiment(path)
    assert len(exp.points) == 16
    assert any("rounded up to 16" in n for n in exp.notes)
    mean = np.array([p["streams.a.duration.mean"] for p in exp.points])
    assert mean.min() >= 1 and mean.max() <= 3
    # scrambled with the experiment's seed: reproducible, and another seed moves the points
    assert load_experiment(path).points == exp.points
    path.write_text(text.format(seed=2))
    assert load_experiment(path).points != exp.points


# ------------------------------------------------------------------ running


def test_point_and_replication_seeding(tmp_path: Path) -> None:
    """Replication r of point p is run_replication(scenario_p, seed, r): common random numbers
    across points by default (issue 16), nothing else."""
    exp = load_experiment(setup(tmp_path))
    run_sweep(exp, tmp_path / "out", jobs=1, figures=False)
    header, records, _ = read_checkpoint(tmp_path / "out" / CHECKPOINT)
    assert header is not None and header["experiment_sha256"] == exp.sha256
    assert sorted(r["point"] for r in records) == list(range(6))
    for rec in records[::2]:
        p = rec["point"]
        for r in range(exp.replications):
            want = run_replication(exp.scenario(p), exp.seed, r, keep_jobs=False).kpis
            got = rec["kpis"][r]
            for k in OUTPUTS:
                assert (got[k] is None and math.isnan(want[k])) or got[k] == want[k]
    # common random numbers: points that differ only in placements see the same work, so the
    # worker's utilisation is identical; a second worker halves it
    util = [rec["kpis"][0]["staff.edt.utilisation"] for rec in records]
    assert len(set(util)) == len({json.dumps(exp.points[p]["staff.edt.count"]) for p in range(6)})


def test_independent_streams_per_point_on_request(tmp_path: Path) -> None:
    """``common_random_numbers: false``: replication r of point p uses point=p streams."""
    path = setup(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "common_random_numbers: false\n",
                    encoding="utf-8")  # fmt: skip
    exp = load_experiment(path)
    assert exp.sha256 != load_experiment(setup(tmp_path, name="crn.yaml")).sha256
    run_sweep(exp, tmp_path / "out", jobs=1, figures=False)
    _, records, _ = read_checkpoint(tmp_path / "out" / CHECKPOINT)
    rec = records[1]
    p = rec["point"]
    want = run_replication(exp.scenario(p), exp.seed, 0, point=p, keep_jobs=False).kpis
    assert all(rec["kpis"][0][k] == want[k] or math.isnan(want[k]) for k in OUTPUTS)


def test_outputs_one_row_per_point_with_cis(tmp_path: Path) -> None:
    exp = load_experiment(setup(tmp_path))
    res = run_sweep(exp, tmp_path / "out", jobs=1, figures=True)
    lines = (tmp_path / "out" / "sweep.csv").read_text().splitlines()
    head = lines[0].split(",")
    assert head[:4] == ["point", "staff.edt.count", "placements.capacity", "replications"]
    assert head[4:7] == [f"station.hours.mean.{s}" for s in ("mean", "ci95_low", "ci95_high")]
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(6))
    reps = (tmp_path / "out" / "sweep_replications.csv").read_text().splitlines()
    assert len(reps) == 1 + 6 * 3
    util = {}
    for line in reps[1:]:
        cells = line.split(",")
        util.setdefault(int(cells[0]), []).append(float(cells[-1]))
    for r in rows:
        mean, lo, hi = (float(x) for x in r[7:10])
        assert mean == pytest.approx(np.mean(util[int(r[0])]), rel=1e-12)
        assert lo < mean < hi
    figs = {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert figs == {
        "station.hours.mean.png",
        "staff.edt.utilisation.png",
        "heatmap_station.hours.mean.png",
        "heatmap_staff.edt.utilisation.png",
    }
    assert all(p.stat().st_size > 5000 for p in (tmp_path / "out" / "figures").iterdir())
    # sweep.csv, sweep_replications.csv, sweep_long.csv, sweep.json, sensitivity.csv + figures
    assert len(res.files) == 5 + 4


def test_local_jobs_and_dask_give_identical_sweep_csv(tmp_path: Path) -> None:
    distributed = need("distributed")
    exp = load_experiment(setup(tmp_path))
    run_sweep(exp, tmp_path / "one", jobs=1, figures=False)
    run_sweep(exp, tmp_path / "two", jobs=2, figures=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_sweep(
            exp, tmp_path / "dask", backend="dask", address=cluster.scheduler_address,
            figures=False,
        )  # fmt: skip
    want = (tmp_path / "one" / "sweep.csv").read_bytes()
    for folder in ("two", "dask"):
        assert (tmp_path / folder / "sweep.csv").read_bytes() == want
        assert (tmp_path / folder / "sweep_replications.csv").read_bytes() == (
            tmp_path / "one" / "sweep_replications.csv"
        ).read_bytes()
        assert sorted(checkpoint_points(tmp_path / folder)) == list(range(6))


def test_dask_without_address_starts_a_local_cluster(tmp_path: Path) -> None:
    need("distributed")
    path = setup(tmp_path, capacities="[1]")
    run_sweep(load_experiment(path), tmp_path / "one", jobs=1, figures=False)
    args = ["sweep", str(path), "--backend", "dask", "-j", "2", "--quiet", "--no-figures"]
    assert main([*args, "--out", str(tmp_path / "dask")]) == 0
    assert (tmp_path / "dask" / "sweep.csv").read_bytes() == (
        tmp_path / "one" / "sweep.csv"
    ).read_bytes()


def test_dask_missing_is_a_clear_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now raises ImportError
    path = setup(tmp_path)
    args = ["sweep", str(path), "--backend", "dask", "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 2
    assert "pip install 'ooh-sim[dask]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    caps = "[" + ", ".join(str(k) for k in range(20)) + "]"  # 2 x 20 = 40 points
    path = setup(tmp_path, days=56, reps=2, capacities=caps)
    exp = load_experiment(path)
    total = len(exp.points)
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "ooh_sim", "sweep", str(path), "--out", str(killed),
           "--jobs", "1", "--quiet", "--no-figures"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            ck = killed / CHECKPOINT
            if ck.exists() and ck.read_bytes().count(b"\n") >= 1 + 3:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    done_before = checkpoint_points(killed)
    assert 3 <= len(done_before) < total  # really killed midway
    assert not (killed / "sweep.csv").exists()

    assert main(["sweep", str(path), "--out", str(killed), "--resume", "--quiet",
                 "--no-figures", "--jobs", "2"]) == 0  # fmt: skip
    points = checkpoint_points(killed)
    assert points[: len(done_before)] == done_before  # finished work kept, not redone
    assert sorted(points) == list(range(total))  # every point exactly once

    run_sweep(exp, tmp_path / "whole", jobs=2, figures=False)
    for name in ("sweep.csv", "sweep_replications.csv"):
        assert (killed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_resume_drops_a_half_written_line(tmp_path: Path) -> None:
    exp = load_experiment(setup(tmp_path))
    out = tmp_path / "out"
    run_sweep(exp, out, jobs=1, figures=False)
    want = (out / "sweep.csv").read_bytes()
    ck = out / CHECKPOINT
    lines = ck.read_bytes().splitlines(keepends=True)
    ck.write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # killed mid-write
    res = run_sweep(exp, out, jobs=1, figures=False, resume=True)
    assert res.ran == 4
    assert any("incomplete last line" in n for n in res.notes)
    assert sorted(checkpoint_points(out)) == list(range(6))
    assert (out / "sweep.csv").read_bytes() == want


def test_an_unfinished_sweep_is_not_started_again_unasked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run again without --resume after an interruption, the finished points would be thrown
    away: refused (nothing touched) unless --force. A finished sweep simply runs again."""
    path = setup(tmp_path)
    exp = load_experiment(path)
    out = tmp_path / "out"
    run_sweep(exp, out, jobs=1, figures=False)
    assert run_sweep(exp, out, jobs=1, figures=False).ran == 6  # finished: runs again
    ck = out / CHECKPOINT
    ck.write_bytes(b"".join(ck.read_bytes().splitlines(keepends=True)[:4]))  # 3 points done
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ["sweep", str(path), "--out", str(out), "--quiet", "--no-figures", "--jobs", "1"]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {ck}: holds an unfinished sweep of the same file (3 of 6 points done)" \
        in err and "add --resume to continue it, or --force to start again" in err  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main([*args, "--force"]) == 0
    assert sorted(checkpoint_points(out)) == list(range(6))
    ck.write_bytes(b"".join(ck.read_bytes().splitlines(keepends=True)[:4]))
    assert run_sweep(exp, out, jobs=1, figures=False, resume=True).ran == 3


def test_resume_with_a_changed_experiment_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup(tmp_path)
    out = tmp_path / "out"
    run_sweep(load_experiment(path), out, jobs=1, figures=False)
    before = (out / CHECKPOINT).read_bytes()
    path.write_text(path.read_text().replace("seed: 11", "seed: 12"))
    args = ["sweep", str(path), "--out", str(out), "--resume", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "different experiment" in err and "--resume" in err
    assert (out / CHECKPOINT).read_bytes() == before  # untouched
    # the scenario file counts too
    path.write_text(path.read_text().replace("seed: 12", "seed: 11"))
    sc = tmp_path / "sc" / "tiny.yaml"
    sc.write_text(sc.read_text().replace("per_week: 20", "per_week: 21"))
    assert main(args) == 2


def test_resume_may_report_other_outputs(tmp_path: Path) -> None:
    """outputs only choose columns: the checkpoint keeps every KPI, nothing is rerun."""
    path = setup(tmp_path)
    out = tmp_path / "out"
    run_sweep(load_experiment(path), out, jobs=1, figures=False)
    path.write_text(path.read_text().replace("staff.edt.utilisation", "station.hours.p90"))
    res = run_sweep(load_experiment(path), out, jobs=1, figures=False, resume=True)
    assert res.ran == 0
    assert "station.hours.p90.mean" in (out / "sweep.csv").read_text().splitlines()[0]


# ------------------------------------------------------------------ sensitivity


def test_standardised_regression_coefficients() -> None:
    """y = 2 x1 + 0.5 x2 + noise, x ~ U(0,1): SRC_j = b_j sd(x_j) / sd(y) in theory."""
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.random((n, 3))
    y = 2 * x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.1, n)
    sd_y = math.sqrt((4 + 0.25) / 12 + 0.01)
    src, r2 = standardised_regression(x, y)
    expect = np.array([2, 0.5, 0]) * math.sqrt(1 / 12) / sd_y
    assert src == pytest.approx(expect, abs=0.02)
    assert r2 == pytest.approx(1 - 0.01 / sd_y**2, abs=0.01)
    assert math.isnan(standardised_regression(x, np.ones(n))[1])  # constant output


def test_lhs_sweep_writes_sensitivity_ranking(tmp_path: Path) -> None:
    path = write_exp(
        tmp_path,
        "name: x\nscenario: sc/tiny.yaml\nseed: 3\nreplications: 2\ndesign: lhs\nsamples: 16\n"
        "parameters:\n  streams.a.arrivals.per_week: {low: 5, high: 40}\n"
        "  costs.officer_hour: {low: 1, high: 2}\n"  # a setting that cannot matter
        "outputs: [staff.edt.utilisation]\n",
    )
    out = tmp_path / "out"
    run_sweep(load_experiment(path), out, jobs=1, figures=True)
    rows = (out / "sensitivity.csv").read_text().splitlines()
    assert rows[0] == "output,parameter,src,abs_src_rank,r2"
    ranked = {r.split(",")[1]: r.split(",") for r in rows[1:]}
    assert ranked["streams.a.arrivals.per_week"][3] == "1"
    assert float(ranked["streams.a.arrivals.per_week"][2]) > 0.8
    assert abs(float(ranked["costs.officer_hour"][2])) < 0.3
    assert (out / "figures" / "sensitivity.png").stat().st_size > 5000
