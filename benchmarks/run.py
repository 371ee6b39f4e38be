"""Run the peer baselines (and any registered ooh-sim cases); print a table; write results.json.

    python -m benchmarks.run [--quick] [--repeats N] [--output PATH]    # from the repo root
    python benchmarks/run.py [--quick]

Peers: (a) bare SimPy timeouts = engine ceiling, (b) hand-written SimPy M/M/1,
(d) Ciw M/M/1 and two-class priority queues. ooh-sim cases plug in at the
registration point below and are reported as ratios against (b) and their Ciw peer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from benchmarks import peers
from benchmarks.harness import Case, machine_info, measure

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"

LAM, MU, LAM1, LAM2, SEED = peers.LAM, peers.MU, peers.LAM1, peers.LAM2, peers.SEED
REL_TOL = 0.05  # theory check: |relative error| allowed before sampling noise is consulted

BARE = "bare_simpy_timeout"
SIMPY_MM1 = "simpy_mm1"

_WQ = peers.mm1_wq(LAM, MU)
_W_NP = peers.cobham_nonpreemptive([LAM1, LAM2], MU)
_T_PR = peers.preemptive_resume_sojourn([LAM1, LAM2], MU)

PEER_CASES: list[Case] = [
    Case(
        name=BARE,
        fn=peers.bare_simpy_timeout,
        kwargs={"n_events": 2_000_000},
        quick_kwargs={"n_events": 200_000},
        rate_key="events_per_s",
        about="(a) SimPy engine ceiling: env.timeout events/s, no model",
    ),
    Case(
        name=SIMPY_MM1,
        fn=peers.simpy_mm1,
        kwargs={"lam": LAM, "mu": MU, "n_customers": 300_000, "seed": SEED},
        quick_kwargs={"lam": LAM, "mu": MU, "n_customers": 30_000, "seed": SEED},
        about="(b) hand-written SimPy M/M/1, one Resource, process per customer",
        theory={"mean_wait": _WQ},
    ),
    Case(
        name="ciw_mm1",
        fn=peers.ciw_mm1,
        kwargs={"lam": LAM, "mu": MU, "horizon": 150_000.0, "seed": SEED},
        quick_kwargs={"lam": LAM, "mu": MU, "horizon": 15_000.0, "seed": SEED},
        about="(d) Ciw M/M/1",
        theory={"mean_wait_customer": _WQ},
    ),
    Case(
        name="ciw_priority2",
        fn=peers.ciw_priority2,
        kwargs={"lam1": LAM1, "lam2": LAM2, "mu": MU, "horizon": 150_000.0, "seed": SEED},
        quick_kwargs={"lam1": LAM1, "lam2": LAM2, "mu": MU, "horizon": 15_000.0, "seed": SEED},
        about="(d) Ciw 2-class non-preemptive priority, 1 server",
        theory={"mean_wait_class0": _W_NP[0], "mean_wait_class1": _W_NP[1]},
    ),
    Case(
        name="ciw_preemptive2",
        fn=peers.ciw_preemptive2,
        kwargs={"lam1": LAM1, "lam2": LAM2, "mu": MU, "horizon": 150_000.0, "seed": SEED},
        quick_kwargs={"lam1": LAM1, "lam2": LAM2, "mu": MU, "horizon": 15_000.0, "seed": SEED},
        about="(d) Ciw 2-class preemptive-resume priority, 1 server",
        theory={"mean_sojourn_class0": _T_PR[0], "mean_sojourn_class1": _T_PR[1]},
    ),
]

# ============================ ooh-sim REGISTRATION POINT ============================
# Add ooh-sim cases here, or define `CASES: list[Case]` in benchmarks/ooh_cases.py
# (picked up automatically). Each case's fn returns a dict with `rate_key`
# (default "customers_per_s") and should set `peer` to the Ciw case modelling the
# same queue ("ciw_mm1", "ciw_priority2" or "ciw_preemptive2"). It is then reported
# as ratios against simpy_mm1 and against that peer. Use peers.LAM/MU/LAM1/LAM2 and
# put theoretical values in `theory` to have them checked like the peers.
OOH_CASES: list[Case] = []
# ====================================================================================


def load_ooh_cases() -> list[Case]:
    """OOH_CASES plus benchmarks/ooh_cases.py:CASES if that module exists.

    Only a missing ooh_cases module is tolerated; an ImportError raised inside it
    (e.g. a broken ooh_sim) propagates rather than silently dropping the cases.
    """
    cases = list(OOH_CASES)
    try:
        from benchmarks.ooh_cases import CASES  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.ooh_cases":
            raise
        return cases
    return cases + list(CASES)


def load_ooh_hooks() -> dict[str, Any]:
    """Optional extras of benchmarks/ooh_cases.py: ``measure_memory(quick)`` and
    ``targets(results, ratios, memory)`` (see that module)."""
    try:
        from benchmarks import ooh_cases  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.ooh_cases":
            raise
        return {}
    names = ("measure_memory", "targets")
    return {n: getattr(ooh_cases, n) for n in names if hasattr(ooh_cases, n)}


def run_cases(
    cases: Sequence[Case], quick: bool, repeats: int, console: Console
) -> dict[str, dict[str, Any]]:
    """Measure every case; results keyed by case name."""
    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        kw = case.quick_kwargs if quick else case.kwargs
        with console.status(f"{case.name} x{repeats} ..."):
            res = measure(case.fn, repeats=repeats, **kw)
        console.log(f"{case.name}: {res['median'][case.rate_key]:,.0f} {case.rate_key} (median)")
        results[case.name] = res
    return results


def compute_ratios(cases: Sequence[Case], results: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """Median rate of each case divided by (a), (b) and its Ciw peer (where it has one)."""

    def rate(name: str) -> float | None:
        case = next((c for c in cases if c.name == name), None)
        if case is None or name not in results:
            return None
        return results[name]["median"][case.rate_key]

    bare, mm1 = rate(BARE), rate(SIMPY_MM1)
    out: dict[str, dict] = {}
    for case in cases:
        r = rate(case.name)
        assert r is not None
        peer_rate = rate(case.peer) if case.peer else None
        out[case.name] = {
            "rate_key": case.rate_key,
            "rate": r,
            "vs_bare": r / bare if bare else None,
            "vs_simpy_mm1": r / mm1 if mm1 else None,
            "peer": case.peer,
            "vs_peer": r / peer_rate if peer_rate else None,
        }
    return out


# Two-sided 97.5% Student t quantiles; only a handful of repeats is ever used.
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
}


def theory_checks(cases: Sequence[Case], results: dict[str, dict[str, Any]]) -> list[dict]:
    """Pool the independent repeats of each case and compare each figure with theory.

    Passes if the pooled mean is within REL_TOL of theory, or theory lies inside
    the 95% t-interval over repeats (i.e. any gap is consistent with sampling noise).
    """
    rows: list[dict] = []
    for case in cases:
        raw = results[case.name]["raw"]
        for key, expected in case.theory.items():
            vals = [r[key] for r in raw]
            mean = statistics.fmean(vals)
            n = len(vals)
            half = (
                _T975.get(n - 1, 1.96) * statistics.stdev(vals) / math.sqrt(n)
                if n > 1
                else math.inf
            )
            rel = mean / expected - 1.0
            ok = abs(rel) <= REL_TOL or abs(mean - expected) <= half
            rows.append(
                {
                    "case": case.name,
                    "figure": key,
                    "simulated": mean,
                    "ci95_half": half,
                    "theory": expected,
                    "rel_err": rel,
                    "ok": ok,
                }
            )
    return rows


_UNITS = {"events_per_s": "events/s", "customers_per_s": "cust/s"}


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def render(
    console: Console,
    cases: Sequence[Case],
    results: dict[str, dict[str, Any]],
    ratios: dict[str, dict],
    checks: list[dict],
) -> None:
    """Rich tables: absolute throughput and ratios; then the theory check."""
    t = Table(title="Throughput (median of repeats)")
    t.add_column("case", no_wrap=True)
    for col in ("rate", "unit", "wall s", "÷ (a)", "÷ (b)", "÷ peer"):
        t.add_column(col, justify="left" if col == "unit" else "right", no_wrap=True)
    for case in cases:
        rt, med = ratios[case.name], results[case.name]["median"]
        t.add_row(
            case.name,
            f"{rt['rate']:,.0f}",
            _UNITS.get(case.rate_key, case.rate_key),
            f"{med['wall_s']:.2f}",
            _fmt(rt["vs_bare"], ".4f"),
            _fmt(rt["vs_simpy_mm1"], ".3f"),
            "-" if rt["vs_peer"] is None else f"{rt['vs_peer']:.3f} ({rt['peer']})",
        )
    console.print(t)
    console.print("(a) = bare_simpy_timeout, (b) = simpy_mm1, peer = Ciw case for the same queue")
    for case in cases:
        console.print(f"  [bold]{case.name}[/]: {case.about}")

    c = Table(title="Theory check (mean of independent repeats, 95% t-interval)")
    for col in ("case", "figure", "simulated", "±95%", "theory", "rel err", "ok"):
        c.add_column(col, justify="left" if col in ("case", "figure") else "right", no_wrap=True)
    for row in checks:
        c.add_row(
            row["case"],
            row["figure"],
            f"{row['simulated']:.4f}",
            f"{row['ci95_half']:.4f}",
            f"{row['theory']:.4f}",
            f"{row['rel_err']:+.2%}",
            "[green]ok[/]" if row["ok"] else "[red]CHECK[/]",
        )
    console.print(c)


# Per-case figures worth showing beside the throughput (seconds are medians of repeats).
_DETAIL_KEYS = (
    "build_s", "run_s", "metrics_s", "io_s", "io_summary_s", "io_replications_s", "io_jobs_s",
    "customers_per_s_end_to_end", "s_per_replication", "s_per_replication_year", "jobs_per_s",
    "replications",
)  # fmt: skip


def render_ooh(
    console: Console,
    results: dict[str, dict[str, Any]],
    memory: list[dict[str, Any]],
    targets: list[dict[str, Any]],
) -> None:
    """Where ooh-sim's time goes (median figures), peak memory, and the issue #6 targets."""
    rows = [
        (name, k, res["median"][k])
        for name, res in results.items()
        for k in _DETAIL_KEYS
        if k in res["median"]
    ]
    if rows:
        t = Table(title="Detail (medians)")
        for col in ("case", "figure", "value"):
            t.add_column(col, justify="right" if col == "value" else "left", no_wrap=True)
        for name, k, v in rows:
            t.add_row(name, k, f"{v:,.4f}" if abs(v) < 100 else f"{v:,.0f}")
        console.print(t)
    if memory:
        t = Table(title="Peak memory of `ooh-sim run baseline -n N --no-jobs-file` (MB)")
        cols = ("replications", "jobs", "wall_s", "max_rss_mb", "max_hwm_mb", "main_rss_mb",
                "tree_rss_mb", "tree_pss_mb")  # fmt: skip
        for col in cols:
            t.add_column(col, justify="right", no_wrap=True)
        for m in memory:
            t.add_row(*("-" if m[c] is None else f"{m[c]:,.0f}" for c in cols))
        console.print(t)
        console.print(
            "max_rss = CLI process peak (kernel, as /usr/bin/time -v); max_hwm = largest peak of "
            "any process; main = CLI (sampled); tree = sum over CLI, fork server, workers "
            "(sampled); PSS splits shared pages"
        )
    if targets:
        t = Table(title="Targets (the issue that set each in brackets)")
        for col in ("target", "measured", "wanted", "ok"):
            t.add_column(col, justify="left" if col == "target" else "right", no_wrap=True)
        for r in targets:
            ok = "-" if r["ok"] is None else ("[green]met[/]" if r["ok"] else "[red]NOT met[/]")
            t.add_row(r["target"], _fmt(r["measured"], ",.3f"), r["wanted"], ok)
        console.print(t)


def render_whole(console: Console, w: dict[str, Any]) -> None:
    """Issue 15's whole-process figures: seconds (medians over rounds) and shares."""
    load = f"{w['load_average_at_start'][0]:.1f} → {w['load_average_at_end'][0]:.1f}"
    t = Table(title=f"Whole processes, median of {w['rounds']} rounds (issue 15); load {load}")
    t.add_column("what", no_wrap=True)
    t.add_column("seconds", justify="right", no_wrap=True, min_width=7)
    t.add_column("note")  # wraps: a narrow terminal (or a log, 120 columns) keeps the numbers
    for name, err in w.get("errors", {}).items():
        t.add_row(f"FAILED {name}", "-", err[:200])
    if not all(k in w for k in ("mm1", "startup", "in_process", "outputs")):
        console.print(t)
        return
    m = w["mm1"]
    for k, v in m["processes"].items():
        t.add_row(f"M/M/1 {k}", f"{v['median_s']:.3f}", f"{m['jobs']:,.0f} jobs")
    for k, v in w["startup"].items():
        t.add_row(f"start-up {k}", f"{v['median_s']:.3f}", "")
    for k, v in w["in_process"].items():
        if k.startswith("jobs_"):
            t.add_row(f"in-process {k} writing", f"{v['write_s']:.3f}",
                      f"{v['share']:.0%} of simulation {v['simulation_s']:.3f} s, "
                      f"{v['rows']:,} rows, {v['bytes'] / 1e6:.1f} MB")  # fmt: skip
    f = w["in_process"]["figures"]
    t.add_row("in-process all default figures", f"{f['all_s']:.3f}",
              f"{len(f['figures'])} PNGs, CPU {f['all_cpu_s']:.3f} s; matplotlib import "
              f"{f['import_s']:.3f} s")  # fmt: skip
    o = w["outputs"]
    for k, v in o["processes"].items():
        t.add_row(f"baseline -n {o['replications']} {k}", f"{v['median_s']:.3f}", "")
    t.add_row("baseline: what its default figures add", f"{o['figures_added_s']:.3f}",
              "default − --no-figures, the median of the rounds' differences")  # fmt: skip
    for k, v in w.get("throughput", {}).items():
        t.add_row(k, f"{v['wall_s']:.3f}",
                  f"{v['replications']} replications, {v['s_per_replication_year']:.4f} s per "
                  f"replication-year, {v['outside_share']:.0%} outside the simulation")  # fmt: skip
    for k, v in w.get("memory", {}).items():
        a, b = (v["at_1y"], v["at_10y"]) if k == "horizon_10y" else (v["at_small"], v["at_large"])
        what = "1 → 10 years" if k == "horizon_10y" else f"{v['small']} → {v['large']} reps"
        mb = f"{a['max_rss_mb']:.0f} → {b['max_rss_mb']:.0f} MB"
        hwm = f"{a['max_hwm_mb']:.0f} → {b['max_hwm_mb']:.0f} MB"
        t.add_row(f"peak RSS {k}", "-", f"{what}: {mb} (largest process {hwm})")
    console.print(t)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write via a temp file + os.replace so readers never see a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test, ~10x faster)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats per case (default 5)")
    ap.add_argument("--output", type=Path, default=RESULTS_PATH, help="results JSON path")
    ap.add_argument(
        "--only", help="comma-separated case names to run (ratios need their (a)/(b)/peer cases)"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--no-whole-process", action="store_true",
                    help="skip issue 15's whole-process cases (benchmarks/whole_process.py)")
    ap.add_argument("--whole-process-only", action="store_true",
                    help="only issue 15's whole-process cases")
    args = ap.parse_args(argv)

    console = Console()
    if not console.is_terminal:  # piped / CI: don't squeeze tables into 80 columns
        console = Console(width=120)
    cases = PEER_CASES + load_ooh_cases()
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = wanted - {c.name for c in cases}
        if unknown:
            ap.error(f"unknown case names: {sorted(unknown)}")
        cases = [c for c in cases if c.name in wanted]
    names = {c.name for c in cases}
    bad = [c.name for c in cases if c.peer is not None and c.peer not in names]
    if bad:
        ap.error(f"cases with unknown peer: {bad}")

    info = machine_info()
    info["load_average_at_start"] = list(os.getloadavg())  # other work on the box skews timings
    console.log(
        f"{info['cpu_model']} x{info['cpu_count']}, Python {info['python']}, "
        f"versions {info['versions']}"
    )
    if args.whole_process_only:
        cases = []
    results = run_cases(cases, args.quick, args.repeats, console)
    ratios = compute_ratios(cases, results)
    checks = theory_checks(cases, results)
    if cases:
        render(console, cases, results, ratios, checks)
    hooks = load_ooh_hooks()
    memory: list[dict[str, Any]] = []
    if "measure_memory" in hooks and not args.no_memory and not args.whole_process_only:
        with console.status("peak memory of `ooh-sim run` in a subprocess ..."):
            memory = hooks["measure_memory"](args.quick)
    targets = hooks["targets"](results, ratios, memory) if "targets" in hooks else []
    whole: dict[str, Any] = {}
    if not args.no_whole_process:
        from benchmarks import whole_process

        with console.status("whole processes (issue 15) ..."):
            whole = whole_process.measure_whole_process(args.quick)
        targets += whole_process.targets(whole)
        render_whole(console, whole)
    render_ooh(console, results, memory, targets)

    payload = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "repeats": args.repeats,
        "machine": {**info, "load_average_at_end": list(os.getloadavg())},
        "parameters": {"lam": LAM, "mu": MU, "lam1": LAM1, "lam2": LAM2, "seed": SEED},
        "cases": {
            c.name: {"about": c.about, "rate_key": c.rate_key, "peer": c.peer, **results[c.name]}
            for c in cases
        },
        "ratios": ratios,
        "theory_checks": checks,
        "memory": memory,
        "whole_process": whole,
        "targets": targets,
    }
    if args.whole_process_only and args.output.exists():  # update that section, keep the rest
        old = json.loads(args.output.read_text(encoding="utf-8"))
        kept = [t for t in old.get("targets", []) if not t["target"].startswith("(15)")]
        payload = {**old, "whole_process": whole, "targets": kept + targets,
                   "whole_process_created_utc": payload["created_utc"],
                   "whole_process_mode": payload["mode"]}  # fmt: skip
    write_json_atomic(args.output, payload)
    console.log(f"wrote {args.output}")
    return 0 if all(r["ok"] for r in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
