"""ooh-sim benchmark cases, picked up by ``python -m benchmarks.run``.

(c) ``ooh_mm1``: ooh-sim reduced to M/M/1 (cover always, one stream, one worker rostered always,
    λ=0.8, μ=1) through the public API, timed in three parts: simulation (``Model`` build, which
    draws every random number up front, + ``Model.run``), metrics (``compute_kpis`` +
    ``profiles``) and I/O (summary.json, replications.csv, jobs.csv.gz). Its ``customers_per_s``
    counts the simulation part only, as the peers' timers cover building and running the model.
(d) ``ooh_mm1``, ``ooh_priority2``, ``ooh_preemptive2``: the same three queues as the Ciw peers, at
    the same horizon, with the same theory checks.
(e) ``ooh_baseline_rep``: scenarios/baseline.yaml, one replication at a time through
    ``run_replication``; ``ooh_baseline_j1`` / ``ooh_baseline_j2``: many replications through
    ``runner.run(..., jobs=1|2, keep_jobs=False)``, wall time (pool start-up included).
(f) :func:`measure_memory`: peak memory of ``ooh-sim run scenarios/baseline.yaml -n N
    --no-jobs-file --no-figures --quiet`` in a subprocess, for two sizes of N.

Time unit in the queue models is the hour (ooh-sim's), so λ=0.8 means 0.8 jobs per hour and a
horizon of 150 000 is 6 250 days. The first 2 % of the horizon is the warm-up (arrivals in it
are not counted), as the Ciw peers drop the first 2 %.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import ooh_sim.io.formats as output
from benchmarks import peers
from benchmarks.harness import Case
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.metrics import compute_kpis, job_table, profiles
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.runner import Replication, RunResult, run, run_replication
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import summarise

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"

LAM, MU, LAM1, LAM2, SEED = peers.LAM, peers.MU, peers.LAM1, peers.LAM2, peers.SEED
HORIZON, QUICK_HORIZON = 150_000.0, 15_000.0  # hours; the Ciw peers' horizons
WARMUP_FRAC = peers.EDGE_FRAC

# Targets of issue #6 (checked by `targets`).
TARGET_C_VS_B = 0.8  # ooh-sim M/M/1 ≥ 0.8 × hand-written SimPy M/M/1
TARGET_VS_CIW = 1.5  # each ooh-sim queue ≥ 1.5 × its Ciw peer
TARGET_S_PER_REP_YEAR = 0.1
TARGET_SPEEDUP = 1.8  # --jobs 2 vs --jobs 1
TARGET_RSS_MB = 300.0


# ------------------------------------------------------------------ queue reductions
def queue_scenario(
    streams: dict[str, tuple[float, int, bool]], horizon: float, *, preemption: bool = False
) -> Scenario:
    """ooh-sim as a single-server queue: ``streams`` maps name -> (λ per hour, priority,
    preemptible); exponential service with mean 1/μ; priority dispatch, FIFO within a priority."""
    days = horizon / 24.0
    return Scenario.model_validate(
        {
            "name": "bench_queue",
            "horizon": {"start": "2023-01-02", "days": days, "warmup_days": WARMUP_FRAC * days},
            "calendar": {"cover": "always", "bank_holidays": "none"},
            "staff": {"w": {"count": 1, "skills": ["s"], "roster": "always"}},
            "streams": {
                name: {
                    "skill": "s",
                    "priority": prio,
                    "preemptible": pre,
                    "arrivals": {"per_week": lam * 168.0},
                    "duration": {"dist": "exponential", "mean": 1.0 / MU},
                }
                for name, (lam, prio, pre) in streams.items()
            },
            "policy": {"dispatch": "priority", "preemption": preemption},
        }
    )


def _simulate(sc: Scenario, seed: int) -> tuple[Model, float, float]:
    """Build and run one replication; return the model, build seconds and run seconds."""
    t0 = time.perf_counter()
    m = Model(sc, RandomStreams(seed, 0))
    t1 = time.perf_counter()
    m.run()
    return m, t1 - t0, time.perf_counter() - t1


def _queue_figures(sc: Scenario, seed: int) -> tuple[dict[str, float], Model, dict[str, float]]:
    m, build, run_s = _simulate(sc, seed)
    sim = build + run_s
    t0 = time.perf_counter()
    jobs = job_table(m)
    kpis = compute_kpis(m, jobs)
    profiles(m, jobs)
    metrics_s = time.perf_counter() - t0
    served = float(np.isfinite(jobs.end).sum())  # like Ciw's completed service records
    return (
        {
            "customers": served,
            "sim_time": m.calendar.hours,
            "wall_s": sim,
            "build_s": build,
            "run_s": run_s,
            "metrics_s": metrics_s,
            "customers_per_s": served / sim,
        },
        m,
        kpis,
    )


def ooh_mm1(lam: float, mu: float, horizon: float, seed: int) -> dict[str, float]:
    """(c)/(d) M/M/1, with the simulation / metrics / I/O split."""
    assert mu == MU
    sc = queue_scenario({"a": (lam, 1, False)}, horizon)
    fig, m, kpis = _queue_figures(sc, seed)
    fig.update(_io_split(sc, seed, m, kpis))
    fig["mean_wait"] = kpis["streams.a.response_hours.mean"]
    total = fig["wall_s"] + fig["metrics_s"] + fig["io_s"]
    fig["customers_per_s_end_to_end"] = fig["customers"] / total
    return fig


def _io_split(sc: Scenario, seed: int, m: Model, kpis: dict[str, float]) -> dict[str, float]:
    """Time the three result files of one replication (jobs kept), written to a temp folder."""
    jobs = job_table(m)
    prof = profiles(m, jobs)
    result = RunResult(sc, seed, [Replication(0, kpis, prof, jobs)])
    result.summary = summarise([kpis])
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        (d / "summary.json").write_text(output.dumps_json(output.summary_dict(result)), "utf-8")
        t1 = time.perf_counter()
        output.write_replications_csv(result, d / "replications.csv")
        t2 = time.perf_counter()
        (d / "jobs.csv.gz").write_bytes(output.jobs_csv_gz(result))
        t3 = time.perf_counter()
    out["io_summary_s"], out["io_replications_s"], out["io_jobs_s"] = t1 - t0, t2 - t1, t3 - t2
    out["io_s"] = t3 - t0
    return out


def ooh_priority2(lam1: float, lam2: float, mu: float, horizon: float, seed: int) -> dict:
    """(d) two classes, non-preemptive priority (class0 first), one server."""
    assert mu == MU
    sc = queue_scenario({"c0": (lam1, 1, False), "c1": (lam2, 2, False)}, horizon)
    fig, _, k = _queue_figures(sc, seed)
    fig["mean_wait_class0"] = k["streams.c0.response_hours.mean"]
    fig["mean_wait_class1"] = k["streams.c1.response_hours.mean"]
    return fig


def ooh_preemptive2(lam1: float, lam2: float, mu: float, horizon: float, seed: int) -> dict:
    """(d) two classes, preemptive-resume priority (class0 interrupts class1), one server."""
    assert mu == MU
    sc = queue_scenario({"c0": (lam1, 1, False), "c1": (lam2, 2, True)}, horizon, preemption=True)
    fig, _, k = _queue_figures(sc, seed)
    fig["mean_sojourn_class0"] = k["streams.c0.completion_hours.mean"]
    fig["mean_sojourn_class1"] = k["streams.c1.completion_hours.mean"]
    return fig


# ------------------------------------------------------------------ (e) the baseline
def ooh_baseline_rep(replications: int, seed: int) -> dict[str, float]:
    """Baseline replications one after another through ``run_replication`` (no job records)."""
    sc = load_scenario(BASELINE)
    run_replication(sc, seed, 10_000, keep_jobs=False)  # warm caches and imports, not timed
    n_jobs = 0
    t0 = time.perf_counter()
    for i in range(replications):
        rep = run_replication(sc, seed, i, keep_jobs=True)
        n_jobs += len(rep.jobs.arrival) if rep.jobs is not None else 0
    wall = time.perf_counter() - t0
    per_rep = wall / replications
    return {
        "replications": float(replications),
        "jobs": float(n_jobs),
        "wall_s": wall,
        "s_per_replication": per_rep,
        "s_per_replication_year": per_rep * 365.25 / sc.horizon.days,
        "jobs_per_s": n_jobs / wall,
    }


def ooh_baseline_run(replications: int, jobs: int, seed: int) -> dict[str, float]:
    """``runner.run`` on the baseline with ``jobs`` processes, ``keep_jobs=False``; wall time."""
    sc = load_scenario(BASELINE)
    t0 = time.perf_counter()
    result = run(sc, replications=replications, seed=seed, jobs=jobs, keep_jobs=False)
    wall = time.perf_counter() - t0
    assert len(result.replications) == replications
    return {
        "replications": float(replications),
        "wall_s": wall,
        "replications_per_s": replications / wall,
    }


# ------------------------------------------------------------------ (f) memory
# Runs the CLI in a child of its own and reports the child's peak RSS from the kernel (what
# `/usr/bin/time -v` does). Launching the CLI straight from the benchmark would not do: the
# benchmark process is large, and Linux carries a vfork'd child's pre-exec high-water mark
# (the parent's) into the ru_maxrss of the program it execs.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "ooh_sim", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\nMAXRSS_KB %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _tree_memory(launcher: int) -> tuple[float, float, float, float] | None:
    """(CLI RSS, Σ RSS, Σ PSS, max VmHWM) in MB over the launcher's descendants, now."""
    import psutil

    try:
        procs = psutil.Process(launcher).children(recursive=True)
    except psutil.Error:
        return None
    if not procs:
        return None
    main = rss = pss = hwm = 0.0
    for p in procs:
        try:
            info = p.memory_full_info()
            with open(f"/proc/{p.pid}/status", encoding="ascii") as fh:
                peak = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) * 1024
        except (psutil.Error, OSError, StopIteration):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        hwm = max(hwm, peak)
        if p.ppid() == launcher:
            main = info.rss
    mb = 1024.0 * 1024.0
    return main / mb, rss / mb, pss / mb, hwm / mb


def peak_memory(replications: int, *, jobs: int | None = None, interval: float = 0.1) -> dict:
    """Run ``ooh-sim run`` on the baseline in a subprocess and record its peak memory.

    * ``max_rss_mb``: exact peak RSS of the CLI process from the kernel (``wait4`` rusage: what
      ``/usr/bin/time -v`` calls "Maximum resident set size");
    * ``max_hwm_mb``: the largest peak RSS (VmHWM) of any process of the tree — CLI, fork
      server, pool workers — sampled every ``interval`` s;
    * ``main_rss_mb``: sampled peak RSS of the CLI process (where the results accumulate);
    * ``tree_rss_mb`` / ``tree_pss_mb``: sampled peak of the sum over the process tree of RSS
      (shared pages counted in every process) and of PSS (shared pages split between the
      processes that share them: the real footprint).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out")
        args = ["run", str(BASELINE), "-n", str(replications)]
        args += ["--no-jobs-file", "--no-figures", "--quiet", "--out", out]
        if jobs is not None:
            args += ["--jobs", str(jobs)]
        cmd = [sys.executable, "-c", _LAUNCHER, *args]
        t0 = time.perf_counter()
        err = Path(tmp) / "stderr.txt"
        with open(err, "wb") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=fh)
            peak = [0.0, 0.0, 0.0, 0.0]
            while proc.poll() is None:
                now = _tree_memory(proc.pid)
                if now is not None:
                    peak = [max(a, b) for a, b in zip(peak, now, strict=True)]
                time.sleep(interval)
        wall = time.perf_counter() - t0
        text = err.read_text(errors="replace")
        if proc.returncode != 0 or "MAXRSS_KB" not in text:
            raise RuntimeError(f"ooh-sim {' '.join(args)} failed ({proc.returncode}): {text}")
        maxrss_kb = int(text.rsplit("MAXRSS_KB", 1)[1].split()[0])
    return {
        "replications": replications,
        "jobs": jobs,
        "wall_s": wall,
        "max_rss_mb": maxrss_kb / 1024.0,  # Linux: KiB
        "max_hwm_mb": peak[3],
        "main_rss_mb": peak[0],
        "tree_rss_mb": peak[1],
        "tree_pss_mb": peak[2],
    }


def measure_memory(quick: bool) -> list[dict[str, Any]]:
    """(f) peak memory at two run sizes (one subprocess each: a peak, not a timing)."""
    sizes = (100, 1_000) if quick else (1_000, 10_000)
    return [peak_memory(n) for n in sizes]


# ------------------------------------------------------------------ targets
def targets(results: dict[str, dict], ratios: dict[str, dict], memory: list[dict]) -> list[dict]:
    """The targets (issue 6 set the first, issue 15 those marked (15)) against the measured
    medians: (what, measured, target, ok)."""
    rows: list[dict] = []

    def add(what: str, value: float | None, target: str, ok: bool | None) -> None:
        rows.append({"target": what, "measured": value, "wanted": target, "ok": ok})

    med = {k: v["median"] for k, v in results.items()}
    if "ooh_mm1" in ratios:
        add(
            "(c) ooh_mm1 ÷ simpy_mm1",
            ratios["ooh_mm1"]["vs_simpy_mm1"],
            f"≥ {TARGET_C_VS_B}",
            ratios["ooh_mm1"]["vs_simpy_mm1"] >= TARGET_C_VS_B,
        )
    for name in ("ooh_mm1", "ooh_priority2", "ooh_preemptive2"):
        r = ratios.get(name)
        if r and r["vs_peer"] is not None:
            add(
                f"(d) {name} ÷ {r['peer']}",
                r["vs_peer"],
                f"≥ {TARGET_VS_CIW}",
                r["vs_peer"] >= TARGET_VS_CIW,
            )
    if "ooh_baseline_rep" in med:
        v = med["ooh_baseline_rep"]["s_per_replication_year"]
        add(
            "(e) baseline s / replication-year",
            v,
            f"≤ {TARGET_S_PER_REP_YEAR}",
            v <= TARGET_S_PER_REP_YEAR,
        )
    if "ooh_baseline_j1" in med and "ooh_baseline_j2" in med:
        sp = med["ooh_baseline_j1"]["wall_s"] / med["ooh_baseline_j2"]["wall_s"]
        add("(e) --jobs 2 speed-up over --jobs 1", sp, f"≥ {TARGET_SPEEDUP}", sp >= TARGET_SPEEDUP)
    if memory:
        small, big = memory[0], memory[-1]
        for m in memory:
            n = f"{m['replications']:,}"
            for key in ("max_rss_mb", "max_hwm_mb"):
                add(
                    f"(f) {key} at {n} reps",
                    m[key],
                    f"≤ {TARGET_RSS_MB:g}",
                    m[key] <= TARGET_RSS_MB,
                )
            add(f"(f) tree_pss_mb at {n} reps (info)", m["tree_pss_mb"], "-", None)
        for key in ("max_rss_mb", "max_hwm_mb", "main_rss_mb", "tree_pss_mb"):
            growth = big[key] - small[key]
            # "no more at the large size": 2 % of the small figure allowed for sampling noise
            ok = None if key == "tree_pss_mb" else growth <= 0.02 * small[key]
            what = f"(f) {key} growth {small['replications']:,} → {big['replications']:,}"
            add(what + (" (info)" if ok is None else ""), growth, "≤ 0 (± 2 %)", ok)
        extra = big["replications"] - small["replications"]
        per_rep = (big["max_rss_mb"] - small["max_rss_mb"]) * 1024 * 1024 / extra if extra else 0.0
        add("(f) max_rss bytes per extra replication (info)", per_rep, "-", None)
    return rows


def _named(prefix: str, values: list[float]) -> dict[str, float]:
    return {f"{prefix}_class{i}": v for i, v in enumerate(values)}


_Q = {"lam": LAM, "mu": MU, "seed": SEED}
_Q2 = {"lam1": LAM1, "lam2": LAM2, "mu": MU, "seed": SEED}

CASES: list[Case] = [
    Case(
        name="ooh_mm1",
        fn=ooh_mm1,
        kwargs={**_Q, "horizon": HORIZON},
        quick_kwargs={**_Q, "horizon": QUICK_HORIZON},
        peer="ciw_mm1",
        about="(c)/(d) ooh-sim as M/M/1 (Model build + run; split: build/run/metrics/io)",
        theory={"mean_wait": peers.mm1_wq(LAM, MU)},
    ),
    Case(
        name="ooh_priority2",
        fn=ooh_priority2,
        kwargs={**_Q2, "horizon": HORIZON},
        quick_kwargs={**_Q2, "horizon": QUICK_HORIZON},
        peer="ciw_priority2",
        about="(d) ooh-sim 2-class non-preemptive priority, 1 worker",
        theory=_named("mean_wait", peers.cobham_nonpreemptive([LAM1, LAM2], MU)),
    ),
    Case(
        name="ooh_preemptive2",
        fn=ooh_preemptive2,
        kwargs={**_Q2, "horizon": HORIZON},
        quick_kwargs={**_Q2, "horizon": QUICK_HORIZON},
        peer="ciw_preemptive2",
        about="(d) ooh-sim 2-class preemptive-resume priority, 1 worker",
        theory=_named("mean_sojourn", peers.preemptive_resume_sojourn([LAM1, LAM2], MU)),
    ),
    Case(
        name="ooh_baseline_rep",
        fn=ooh_baseline_rep,
        kwargs={"replications": 40, "seed": SEED},
        quick_kwargs={"replications": 5, "seed": SEED},
        rate_key="jobs_per_s",
        about="(e) baseline.yaml, run_replication one after another (jobs/s, s/replication-year)",
    ),
    Case(
        name="ooh_baseline_j1",
        fn=ooh_baseline_run,
        kwargs={"replications": 1_000, "jobs": 1, "seed": SEED},
        quick_kwargs={"replications": 50, "jobs": 1, "seed": SEED},
        rate_key="replications_per_s",
        about="(e) baseline.yaml, runner.run(jobs=1, keep_jobs=False)",
    ),
    Case(
        name="ooh_baseline_j2",
        fn=ooh_baseline_run,
        kwargs={"replications": 1_000, "jobs": 2, "seed": SEED},
        quick_kwargs={"replications": 50, "jobs": 2, "seed": SEED},
        rate_key="replications_per_s",
        about="(e) baseline.yaml, runner.run(jobs=2, keep_jobs=False), pool start-up included",
    ),
]
