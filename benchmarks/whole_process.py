"""Issue 15: whole-process speed — what a planner waits for, not just the engine.

Every figure here times a whole process (``python`` start, imports, reading the scenario,
simulating, writing the files and figures) unless it says "in-process". Ratios are taken between
processes run in the same round: each round runs every variant once, in turn, so that other load
on the machine falls on all of them alike; the tables show the median over rounds.

* M/M/1 reduction (``benchmarks/mm1.yaml``: 10,000 days, ~192,000 jobs, one replication): default
  ``ooh-sim run`` against a minimal SimPy script and Ciw on the same model (nothing written), and
  the same run with ``--no-figures``, ``--no-jobs-file`` and both; ``import ooh_sim.cli``.
* ``ooh-sim --help`` and ``ooh-sim validate`` of a scenario, a grid and an LHS experiment and an
  optimise file (and ``python -c pass``).
* In-process: writing jobs.csv.gz against the simulation time of the same replications; making
  and saving all default figures of a baseline run.
* The baseline (50 replications, default ``--jobs``) with default outputs against
  ``--no-figures --no-jobs-file``.
* Peak RSS of ``run``, ``compare`` and ``sweep`` at 100 and 1,000 replications (default
  outputs), and of a 10-year horizon against 1 year.
* ``compare`` of the 7 shipped options and the shipped sweeps, ``--jobs 1``: seconds per
  replication-year and the share of the wall time spent outside the simulation (outside
  ``run_replication``: start-up, imports, aggregation, files, figures).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.ooh_cases import _LAUNCHER, _tree_memory

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
MM1 = HERE / "mm1.yaml"
BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPTION = ROOT / "scenarios" / "more_placements.yaml"
SCRIPTS = HERE / "scripts"
PY = sys.executable
LAM = 0.8  # the M/M/1's arrivals per hour (benchmarks/mm1.yaml)

OPTIONS = [
    "baseline",
    "combined",
    "more_placements",
    "on_call_manager",
    "second_worker_fri_sat",
    "separate_amhp",
    "supervised_venue",
]
"""The 7 options of the compare case: the shipped scenarios, the reference first."""
SWEEPS = ["staffing_placements", "demand_growth"]

# Issue 15's targets
T_VS_SIMPY, T_VS_CIW = 1.0, 1.5
T_STARTUP_S = 0.3
T_JOBS_SHARE = 0.25
T_FIGURES_S = 0.5
T_OUTPUTS_RATIO = 1.3
T_MEMORY_RATIO = 1.2
T_OUTSIDE_SHARE = 0.30


def _wall(args: list[str], *, cwd: Path = ROOT) -> tuple[float, str]:
    """Wall seconds of one process (stdout dropped), and its stderr; raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, proc.stderr


def _ooh(*args: str) -> list[str]:
    return [PY, "-m", "ooh_sim", *args]


def _fresh(tmp: Path, name: str) -> str:
    """A new output folder for every process: writing over earlier results is refused when the
    scenario's resolved form changed (and costs a rename), neither of which is measured here."""
    return tempfile.mkdtemp(prefix=f"{name}-", dir=tmp) + "/out"


def _rounds(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, dict[str, Any]]:
    """Each round runs every variant once, in turn; median and raw seconds per variant."""
    raw: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            raw[name].append(fn())
    return {k: {"median_s": statistics.median(v), "raw_s": v} for k, v in raw.items()}


def _scenario_copy(src: Path, tmp: Path, name: str, **horizon: float) -> Path:
    """A copy of a scenario file with its horizon changed (files it names are absolute)."""
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data["horizon"].update(horizon)
    out = tmp / f"{name}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


def _experiment_copy(name: str, tmp: Path, replications: int, **params: list) -> Path:
    """A shipped experiment with another number of replications (and optionally parameters)."""
    src = ROOT / "experiments" / f"{name}.yaml"
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    data["scenario"] = str((src.parent / data["scenario"]).resolve())
    data["replications"] = replications
    if params:
        data["parameters"] = params
    out = tmp / f"{name}-{replications}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


# ------------------------------------------------------------------ M/M/1, start-up, outputs
def mm1_whole(tmp: Path, quick: bool, rounds: int) -> dict[str, Any]:
    """Default ``ooh-sim run`` on the M/M/1 reduction against SimPy and Ciw scripts."""
    days = 10_000  # also with --quick: smaller, start-up alone would decide the ratios
    sc = MM1
    hours = days * 24.0
    customers = str(round(LAM * hours))
    variants: dict[str, Callable[[], float]] = {
        "simpy_script": lambda: _wall([PY, str(SCRIPTS / "simpy_mm1.py"), customers])[0],
        "ciw_script": lambda: _wall([PY, str(SCRIPTS / "ciw_mm1.py"), str(hours)])[0],
        "ooh_run_default": lambda: _wall(_ooh("run", str(sc), "--out", _fresh(tmp, "o")))[0],
        "ooh_run_no_figures": lambda: _wall(
            _ooh("run", str(sc), "--out", _fresh(tmp, "o"), "--no-figures")
        )[0],
        "ooh_run_no_jobs_file": lambda: _wall(
            _ooh("run", str(sc), "--out", _fresh(tmp, "o"), "--no-jobs-file")
        )[0],
        "ooh_run_neither": lambda: _wall(
            _ooh("run", str(sc), "--out", _fresh(tmp, "o"), "--no-figures", "--no-jobs-file")
        )[0],
        "import_ooh_sim_cli": lambda: _wall([PY, "-c", "import ooh_sim.cli"])[0],
    }
    res = _rounds(variants, rounds)
    med = {k: v["median_s"] for k, v in res.items()}
    by_round = [s / d for s, d in zip(res["simpy_script"]["raw_s"],
                                      res["ooh_run_default"]["raw_s"], strict=True)]  # fmt: skip
    return {
        "jobs": float(customers),
        "days": days,
        "processes": res,
        "vs_simpy": med["simpy_script"] / med["ooh_run_default"],
        "vs_ciw": med["ciw_script"] / med["ooh_run_default"],
        # information beside the judged ratio of medians: each round's own ratio, run minutes
        # apart from the other rounds, is less exposed to the VM's drift between rounds
        "vs_simpy_by_round": by_round,
        "vs_simpy_median_by_round": statistics.median(by_round),
    }


VALIDATED = {
    "validate": BASELINE,
    "validate_grid_experiment": ROOT / "experiments" / "staffing_placements.yaml",
    "validate_optimise": ROOT / "experiments" / "cheapest_within_4h.yaml",
    "validate_lhs_experiment": ROOT / "experiments" / "demand_growth.yaml",
}
"""``ooh-sim validate`` of each kind of shipped file (the target is the command's, whatever it
reads): a scenario; a grid experiment and an optimise file, whose every design point or option
is checked as a scenario; an LHS experiment, whose points come from scipy's qmc."""


def startup(rounds: int) -> dict[str, Any]:
    """``ooh-sim --help`` and ``ooh-sim validate`` (:data:`VALIDATED`), with a bare ``python``
    for reference."""
    variants: dict[str, Callable[[], float]] = {
        "python_c_pass": lambda: _wall([PY, "-c", "pass"])[0],
        "help": lambda: _wall(_ooh("--help"))[0],
    }
    for name, file in VALIDATED.items():
        variants[name] = lambda file=file: _wall(_ooh("validate", str(file)))[0]
    return _rounds(variants, rounds)


def outputs_ratio(tmp: Path, quick: bool, rounds: int) -> dict[str, Any]:
    """The baseline with default outputs against ``--no-figures --no-jobs-file``; and what its
    default figures add to the whole command, as the issue measured a figure's cost: default
    outputs less ``--no-figures``, paired within each round (the median of the differences)."""
    n = "10" if quick else "50"

    def base() -> list[str]:
        return ["run", str(BASELINE), "-n", n, "--out", _fresh(tmp, "o"), "--quiet"]

    res = _rounds(
        {
            "default_outputs": lambda: _wall(_ooh(*base()))[0],
            "no_figures": lambda: _wall(_ooh(*base(), "--no-figures"))[0],
            "no_figures_no_jobs_file": lambda: _wall(
                _ooh(*base(), "--no-figures", "--no-jobs-file")
            )[0],
        },
        rounds,
    )
    ratio = res["default_outputs"]["median_s"] / res["no_figures_no_jobs_file"]["median_s"]
    added = [a - b for a, b in zip(res["default_outputs"]["raw_s"], res["no_figures"]["raw_s"],
                                   strict=True)]  # fmt: skip
    return {"replications": int(n), "processes": res, "ratio": ratio,
            "figures_added_s": statistics.median(added), "figures_added_raw_s": added}  # fmt: skip


# ------------------------------------------------------------------ in-process phases
def jobs_and_figures(tmp: Path, quick: bool, rounds: int) -> dict[str, Any]:
    """In-process: jobs.csv.gz writing against simulation; all default figures of a baseline."""
    import ooh_sim
    from ooh_sim.io.formats import write_jobs_csv_gz

    out: dict[str, Any] = {}
    mm1 = MM1
    for label, path, n in (("mm1", mm1, 1), ("baseline", BASELINE, 10 if quick else 50)):
        sc = ooh_sim.load_scenario(path)
        result = ooh_sim.run(sc, replications=n, jobs=1)
        sim = sum(r.seconds for r in result.replications)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            with open(tmp / "jobs.csv.gz", "wb") as fh:
                write_jobs_csv_gz(result, fh)
            times.append(time.perf_counter() - t0)
        write = statistics.median(times)
        rows = sum(len(r.jobs.arrival) for r in result.replications if r.jobs is not None)
        out[f"jobs_{label}"] = {
            "rows": rows,
            "replications": n,
            "simulation_s": sim,
            "write_s": write,
            "write_raw_s": times,
            "share": write / sim,
            "bytes": (tmp / "jobs.csv.gz").stat().st_size,
        }
        if label == "baseline":
            out["figures"] = _figures(result, tmp, rounds)
    return out


def _figures(result: Any, tmp: Path, rounds: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    from ooh_sim.report.folders import save_figures
    from ooh_sim.viz.run_figures import RUN_FIGURES

    imported = time.perf_counter() - t0
    plan = [(name, lambda make=make: make(result)) for name, make in RUN_FIGURES]
    times, cpu, made = [], [], []
    for i in range(rounds + 1):
        folder = tmp / f"figures-{i}"
        folder.mkdir(exist_ok=True)
        t0, c0 = time.perf_counter(), time.process_time()
        made = save_figures(plan, folder)
        if i:  # the first round also loads fonts: left out, as a long-lived process would
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {
        "figures": [p.name for p in made],
        "import_s": imported,
        "all_s": statistics.median(times),
        "all_cpu_s": statistics.median(cpu),
        "raw_s": times,
    }


# ------------------------------------------------------------------ memory
def peak_rss(args: list[str]) -> dict[str, float]:
    """Peak RSS (MB) of ``ooh-sim ARGS``: the CLI process from the kernel, and the largest peak
    of any process of its tree (pool workers) sampled every 0.1 s."""
    with tempfile.TemporaryDirectory() as tmp:
        err = Path(tmp) / "stderr.txt"
        t0 = time.perf_counter()
        with open(err, "wb") as fh:
            proc = subprocess.Popen(
                [PY, "-c", _LAUNCHER, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=fh
            )
            hwm = 0.0
            while proc.poll() is None:
                now = _tree_memory(proc.pid)
                if now is not None:
                    hwm = max(hwm, now[3])
                time.sleep(0.1)
        wall = time.perf_counter() - t0
        text = err.read_text(errors="replace")
    if proc.returncode != 0 or "MAXRSS_KB" not in text:
        raise RuntimeError(f"ooh-sim {' '.join(args)} failed ({proc.returncode}): {text[-2000:]}")
    kb = int(text.rsplit("MAXRSS_KB", 1)[1].split()[0])
    return {"wall_s": wall, "max_rss_mb": kb / 1024.0, "max_hwm_mb": hwm}


def memory(tmp: Path, quick: bool) -> dict[str, Any]:
    """Peak RSS at a small and a large number of replications, for run, compare and sweep (with
    default outputs), and for a 10-year against a 1-year horizon."""
    small, big = (20, 100) if quick else (100, 1_000)
    cases: dict[str, Callable[[int], list[str]]] = {
        "run": lambda n: ["run", str(BASELINE), "-n", str(n), "--out", _fresh(tmp, "o"), "--quiet"],
        "compare": lambda n: [
            "compare",
            str(BASELINE),
            str(OPTION),
            "-n",
            str(n),
            "--out",
            _fresh(tmp, "o"),
            "--quiet",
        ],
        "sweep": lambda n: [
            "sweep",
            str(_experiment_copy("staffing_placements", tmp, n, **{"staff.edt.count": [1, 2]})),
            "--out",
            _fresh(tmp, "o"),
            "--quiet",
        ],
    }
    res: dict[str, Any] = {}
    for name, args in cases.items():
        a, b = peak_rss(args(small)), peak_rss(args(big))
        res[name] = {
            "small": small,
            "large": big,
            "at_small": a,
            "at_large": b,
            "ratio": b["max_rss_mb"] / a["max_rss_mb"],
            "hwm_ratio": b["max_hwm_mb"] / max(a["max_hwm_mb"], 1e-9),
        }
    n = "5" if quick else "20"
    one = _scenario_copy(BASELINE, tmp, "year1", days=364)
    ten = _scenario_copy(BASELINE, tmp, "year10", days=3647)  # 521 weeks
    a = peak_rss(["run", str(one), "-n", n, "--out", _fresh(tmp, "o"), "--quiet"])
    b = peak_rss(["run", str(ten), "-n", n, "--out", _fresh(tmp, "o"), "--quiet"])
    res["horizon_10y"] = {
        "replications": int(n),
        "at_1y": a,
        "at_10y": b,
        "ratio": b["max_rss_mb"] / a["max_rss_mb"],
    }
    return res


# ------------------------------------------------------------------ compare and sweeps
def _probe(args: list[str]) -> dict[str, float]:
    wall, err = _wall([PY, str(SCRIPTS / "cli_probe.py"), *args])
    tail = err.rsplit("SIM_SECONDS", 1)[1].split()
    sim, reps = float(tail[0]), int(tail[2])
    return {
        "wall_s": wall,
        "simulation_s": sim,
        "replications": reps,
        "outside_share": 1.0 - sim / wall,
    }


def throughput(tmp: Path, quick: bool) -> dict[str, Any]:
    """``compare`` of 7 options and the shipped sweeps at ``--jobs 1``: seconds per
    replication-year, and the share of the wall time outside ``run_replication``."""
    years = 364 / 365.25  # every shipped scenario runs 52 weeks
    n = 3 if quick else 20
    files = [str(ROOT / "scenarios" / f"{o}.yaml") for o in OPTIONS]
    res: dict[str, Any] = {}
    c = _probe(["compare", *files, "-n", str(n), "--jobs", "1", "--out", _fresh(tmp, "o"), "-q"])
    c["s_per_replication_year"] = c["wall_s"] / (c["replications"] * years)
    res["compare_7"] = c
    for name in SWEEPS:
        exp = _experiment_copy(name, tmp, 2) if quick else ROOT / "experiments" / f"{name}.yaml"
        s = _probe(["sweep", str(exp), "--jobs", "1", "--out", _fresh(tmp, "o"), "-q"])
        s["s_per_replication_year"] = s["wall_s"] / (s["replications"] * years)
        res[f"sweep_{name}"] = s
    return res


# ------------------------------------------------------------------ all, and the targets
def _bytecode_cached() -> None:
    """Every process timed here runs from cached bytecode, as on a user's machine: the modules
    compiled now, and ``PYTHONDONTWRITEBYTECODE`` (a developer's setting) not passed on. A module
    edited since its last compile, under that setting, would otherwise be compiled again by every
    process (tens of ms in a 0.3 s ``validate``)."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for folder in (ROOT / "ooh_sim", HERE):
        compileall.compile_dir(folder, quiet=1)


def measure_whole_process(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    """Everything above, in one go (a temporary folder for every output)."""
    rounds = rounds or (2 if quick else 5)  # medians of 5: this 2-core VM varies by ±20 %
    _bytecode_cached()
    with tempfile.TemporaryDirectory(prefix="ooh-bench-") as t:
        tmp = Path(t)
        out: dict[str, Any] = {"load_average_at_start": list(os.getloadavg()), "rounds": rounds}
        parts: dict[str, Callable[[], Any]] = {
            "mm1": lambda: mm1_whole(tmp, quick, rounds),
            "startup": lambda: startup(rounds * 2),
            "in_process": lambda: jobs_and_figures(tmp, quick, rounds),
            "outputs": lambda: outputs_ratio(tmp, quick, rounds),
            "throughput": lambda: throughput(tmp, quick),
            "memory": lambda: memory(tmp, quick),
        }
        for name, part in parts.items():
            try:  # one failing part (a broken command) must not lose the others' minutes
                out[name] = part()
            except Exception as e:  # recorded in the results and shown
                out.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[-3000:]
        out["load_average_at_end"] = list(os.getloadavg())
        return out


def targets(w: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 15's targets against the measured figures."""
    rows: list[dict[str, Any]] = []

    def add(what: str, value: float, wanted: str, ok: bool | None) -> None:
        rows.append({"target": what, "measured": value, "wanted": wanted, "ok": ok})

    for name, err in w.get("errors", {}).items():
        add(f"(15) {name}: FAILED, {err[:120]}", math.nan, "-", False)
    if not all(k in w for k in ("mm1", "startup", "in_process", "outputs")):
        return rows
    m = w["mm1"]
    add(
        "(15) default run ÷ SimPy script (speed)",
        m["vs_simpy"],
        f"≥ {T_VS_SIMPY}",
        m["vs_simpy"] >= T_VS_SIMPY,
    )
    add("(15) … median of each round's own ratio (info)", m["vs_simpy_median_by_round"], "-", None)
    add(
        "(15) default run ÷ Ciw script (speed)",
        m["vs_ciw"],
        f"≥ {T_VS_CIW}",
        m["vs_ciw"] >= T_VS_CIW,
    )
    for k in ("help", *VALIDATED):
        v = w["startup"][k]["median_s"]
        what = "--help" if k == "help" else f"validate {VALIDATED[k].relative_to(ROOT)}"
        add(f"(15) ooh-sim {what} s", v, f"≤ {T_STARTUP_S}", v <= T_STARTUP_S)
    for k in ("jobs_mm1", "jobs_baseline"):
        v = w["in_process"][k]["share"]
        add(f"(15) {k} writing ÷ simulation", v, f"≤ {T_JOBS_SHARE}", v <= T_JOBS_SHARE)
    f = w["in_process"]["figures"]["all_s"]
    add("(15) all default figures s (in-process)", f, f"≤ {T_FIGURES_S}", f <= T_FIGURES_S)
    f = w["outputs"]["figures_added_s"]
    add("(15) what they add to a baseline run, s (info)", f, "-", None)
    r = w["outputs"]["ratio"]
    add("(15) baseline default outputs ÷ none", r, f"≤ {T_OUTPUTS_RATIO}", r <= T_OUTPUTS_RATIO)
    for k, v in w.get("memory", {}).items():
        label = (
            "10-year ÷ 1-year horizon"
            if k == "horizon_10y"
            else (f"{v['large']:,} ÷ {v['small']:,} replications")
        )
        add(
            f"(15) {k} peak RSS {label}",
            v["ratio"],
            f"≤ {T_MEMORY_RATIO}",
            v["ratio"] <= T_MEMORY_RATIO,
        )
    for k, v in w.get("throughput", {}).items():
        add(f"(15) {k} s / replication-year (info)", v["s_per_replication_year"], "-", None)
        add(
            f"(15) {k} share outside simulation",
            v["outside_share"],
            f"≤ {T_OUTSIDE_SHARE}",
            v["outside_share"] <= T_OUTSIDE_SHARE,
        )
    return rows
