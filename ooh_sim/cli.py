"""The ``ooh-sim`` command line: a thin layer over the Python API.

Exit codes (DESIGN §4): 0 ok, 2 bad input (file, key path, problem, "did you mean"), 1 internal
error, 130 interrupted. No traceback reaches a user for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ooh_sim.core.errors import InputError
from ooh_sim.core.schema import Scenario
from ooh_sim.core.version import __version__

err_console = Console(stderr=True, highlight=False)
console = Console(highlight=False)


def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {v}")
        return v

    return parse


_positive, _seed = _whole(1), _whole(0)


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.05, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.05 = 5%), got {v:g}")
    return v


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ooh-sim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ooh-sim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--replications", "-n", type=_positive, help="override the scenario's")
        sp.add_argument("--seed", type=_seed, help="override the scenario's seed")
        sp.add_argument("--jobs", "-j", type=_positive, help="parallel processes (default: cores)")
        sp.add_argument("--out", type=Path, help="output folder (default results/<name>)")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress or table")
        sp.add_argument("--no-figures", action="store_true", help="skip PNG figures")

    r = sub.add_parser("run", help="replications of one scenario → results/<name>/")
    r.add_argument("scenario", type=Path)
    common(r)
    r.add_argument("--no-jobs-file", action="store_true", help="skip jobs.csv.gz")
    r.add_argument("--precision", type=_fraction, metavar="P",
                   help="add replications until the headline KPIs' 95%% CIs are within P of "
                   "their means (e.g. 0.05; Hoad, Robinson & Davies 2010)")  # fmt: skip
    r.add_argument("--max-replications", type=_positive, default=500, metavar="M",
                   help="stop --precision at M replications (default 500)")  # fmt: skip
    r.add_argument("--report", action="store_true", help="also write report.html")

    v = sub.add_parser("validate", help="check scenario files; exit 0 or 2")
    v.add_argument("files", type=Path, nargs="+")

    rp = sub.add_parser("report", help="write a self-contained report.html into a results folder")
    rp.add_argument("results", type=Path, metavar="RESULTS_DIR")

    ft = sub.add_parser("fit", help="fit a scenario template from a log of past contacts")
    ft.add_argument("events", type=Path, metavar="EVENTS.csv",
                    help="one row per contact: received,stream,worker_minutes")  # fmt: skip
    ft.add_argument("--out", type=Path, required=True, help="scenario YAML to write")
    ft.add_argument("--name", help="scenario name (default: the --out file name)")
    ft.add_argument("--start", type=_date, help="horizon start of the new scenario (default: "
                    "the log's first day)")  # fmt: skip
    ft.add_argument("--from", dest="log_from", type=_date, metavar="DATE",
                    help="log period start (default: the first contact's date)")  # fmt: skip
    ft.add_argument("--to", dest="log_to", type=_date, metavar="DATE",
                    help="log period end, exclusive (default: after the last contact)")  # fmt: skip
    ft.add_argument("--profile", choices=["factored", "hour-of-week"], default="factored",
                    help="by_hour x by_weekday, or 168 rates in a CSV by --out")  # fmt: skip
    ft.add_argument("--cover", choices=["out_of_hours", "always"], default="out_of_hours")
    ft.add_argument("--weekday-start", default="17:00", help="cover starts (default 17:00)")
    ft.add_argument("--weekday-end", default="09:00", help="cover ends (default 09:00)")
    ft.add_argument("--bank-holidays", default="england", choices=[
        "england", "wales", "scotland", "northern_ireland", "none"])  # fmt: skip

    c = sub.add_parser("compare", help="options on common random numbers → results/compare-…/")
    c.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO",
                   help="two or more; differences are against the first")  # fmt: skip
    common(c)
    c.add_argument("--precision", type=_fraction, metavar="P",
                   help="replications: the most any scenario needs for ±P (see run)")  # fmt: skip
    c.add_argument("--max-replications", type=_positive, default=500, metavar="M",
                   help="stop --precision at M replications (default 500)")  # fmt: skip
    c.add_argument("--report", action="store_true", help="also write report.html")

    sw = sub.add_parser("sweep", help="run an experiment's design points → results/<name>/")
    sw.add_argument("experiment", type=Path)
    sw.add_argument("--jobs", "-j", type=_positive, help="parallel processes (default: cores)")
    sw.add_argument("--backend", choices=["local", "dask"], default="local",
                    help="local process pool, or a Dask cluster")  # fmt: skip
    sw.add_argument("--address", help="Dask scheduler address (default: a local cluster)")
    sw.add_argument("--out", type=Path, help="output folder (default results/<experiment name>)")
    sw.add_argument("--resume", action="store_true", help="skip points already in the checkpoint")
    sw.add_argument("--quiet", "-q", action="store_true", help="no progress or messages")
    sw.add_argument("--no-figures", action="store_true", help="skip PNG figures")
    return p


def _progress(
    quiet: bool, label: str, unit: str = "replications"
) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if quiet:
        return None, None
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = prog.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    return prog, update


def kpi_table(summary: dict, title: str, keys: Sequence[str] | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("KPI")
    t.add_column("mean", justify="right")
    t.add_column("95% CI", justify="right")
    for k in keys or summary:
        e = summary[k]
        ci = "" if e.n < 2 else f"{e.ci95_low:.3g} – {e.ci95_high:.3g}"
        t.add_row(k, f"{e.mean:.3g}", ci)
    return t


def headline_keys(summary: dict) -> list[str]:
    """The KPIs a planner looks at first; the rest are in summary.json."""
    want = ("station.", "placements.none_free_share", "cost.per_week", ".utilisation",
            ".response_hours.mean", ".handed_over_share", "callouts_per_week")  # fmt: skip
    return [
        k for k in summary if any(w in k for w in want) and not k.endswith("still_waiting_at_end")
    ]


def cmd_run(a: argparse.Namespace) -> int:
    from ooh_sim.core.loader import load_scenario
    from ooh_sim.core.runner import run
    from ooh_sim.io.files import write_run

    _precision_or_replications(a)
    scenario = load_scenario(a.scenario)
    print_warnings(scenario, a.scenario)
    out = a.out or Path("results") / scenario.name
    prog, update = _progress(a.quiet, f"run {scenario.name}")
    if a.precision is not None:
        from ooh_sim.core.precision import run_to_precision

        def run(sc, *, replications, **kw):  # same call as runner.run below; n is chosen
            return run_to_precision(sc, a.precision, max_replications=a.max_replications, **kw)

    with prog or contextlib.nullcontext():
        result = run(scenario, replications=a.replications, seed=a.seed, jobs=a.jobs,
                     keep_jobs=not a.no_jobs_file, progress=update)  # fmt: skip
    files = write_run(result, out, figures=not a.no_figures, source=a.scenario)
    if a.report:
        from ooh_sim.report.html import write_report

        files.append(write_report(out))
    if not a.quiet and getattr(result, "precision", None) is not None:
        pr = result.precision
        console.print(f"precision ±{pr.target:.1%}: {pr.reason} with {pr.n} replications "
                      f"(HRD Nsol {pr.n_solution or '–'}; max {pr.max_replications})")  # fmt: skip
    if not a.quiet:
        n = len(result.replications)
        console.print(kpi_table(result.summary, f"{scenario.name}: {n} replications, seed "
                                f"{result.seed}", headline_keys(result.summary)))  # fmt: skip
        console.print(f"wrote {len(files)} files to {out}/ (all KPIs in summary.json)")
    return 0


def _precision_or_replications(a: argparse.Namespace) -> None:
    if a.precision is not None and a.replications is not None:
        raise InputError("give --precision or --replications, not both", path="--precision")


def cmd_validate(a: argparse.Namespace) -> int:
    """Scenario files, and experiment files (recognised by their ``parameters:`` block)."""
    from ooh_sim.core.experiment import load_experiment
    from ooh_sim.core.loader import load_scenario, read_yaml

    bad = 0
    for f in a.files:
        try:
            if _is_experiment(read_yaml(f)):
                exp = load_experiment(f)
                console.print(f"{f}: ok (experiment {exp.name}: {len(exp.points)} design points)")
                continue
            sc = load_scenario(f)
        except InputError as e:
            bad += 1
            err_console.print(f"[red]error:[/red] {_escape(str(e))}", markup=True, soft_wrap=True)
        else:
            print_warnings(sc, f)
            n = sum(g.count for g in sc.staff.values())
            console.print(f"{f}: ok ({sc.name}: {len(sc.streams)} streams, "
                          f"{n} worker{'s' if n != 1 else ''})")  # fmt: skip
    return 2 if bad else 0


def _is_experiment(data: dict) -> bool:
    return "parameters" in data and "scenario" in data and "streams" not in data


def print_warnings(scenario: Scenario, file: object) -> None:
    """Legal but suspicious settings (ooh_sim.checks), as yellow 'warning:' lines on stderr."""
    from ooh_sim.core.checks import warnings_for

    for w in warnings_for(scenario):
        err_console.print(f"[yellow]warning:[/yellow] {_escape(f'{file}: {w}')}", soft_wrap=True)


def cmd_sweep(a: argparse.Namespace) -> int:
    from ooh_sim.core.experiment import load_experiment
    from ooh_sim.core.sweep import CHECKPOINT, run_sweep

    exp = load_experiment(a.experiment)
    out = a.out or Path("results") / exp.name
    if not a.quiet:
        for note in exp.notes:
            err_console.print(f"[yellow]note:[/yellow] {_escape(note)}", markup=True)
        err_console.print(f"sweep {exp.name}: {len(exp.points)} points × {exp.replications} "
                          f"replications ({exp.design}), backend {a.backend}")  # fmt: skip
    prog, update = _progress(a.quiet, f"sweep {exp.name}", "points")
    kwargs = dict(jobs=a.jobs, backend=a.backend, address=a.address, resume=a.resume,
                  figures=not a.no_figures, progress=update)  # fmt: skip
    try:
        with prog or contextlib.nullcontext():
            res = run_sweep(exp, out, **kwargs)
    except KeyboardInterrupt:
        err_console.print(f"interrupted: finished points are kept in {out / CHECKPOINT}; "
                          "run again with --resume to continue")  # fmt: skip
        return 130
    if not a.quiet:
        for note in res.notes[len(exp.notes) :]:
            err_console.print(f"note: {_escape(note)}")
        console.print(f"ran {res.ran} of {res.points} points in {res.seconds:.1f} s; wrote "
                      f"sweep.csv, sweep_replications.csv and {len(res.files) - 2} more files "
                      f"to {out}/")  # fmt: skip
    return 0


COMPARE_KEYS = (
    "station.hours.mean", "station.hours.p90", "station.share_over_4h",
    "station.officer_hours_per_week", "streams.amhp.response_hours.mean",
    "staff.edt.utilisation", "cost.per_week", "cost.per_station_hour_saved",
)  # fmt: skip


def comparison_table(c, keys: Sequence[str] = COMPARE_KEYS) -> Table:
    """Headline KPIs, each option beside the reference; ★ = paired 95% CI of Δ excludes 0."""
    title = (f"{len(c.names)} scenarios, {c.replications} replications each, seed {c.seed} "
             f"(common random numbers); Δ = option − {c.reference}")  # fmt: skip
    t = Table(title=title, title_justify="left")
    for col, just in (("KPI", "left"), ("scenario", "left"), ("mean", "right"),
                      ("95% CI", "right"), ("Δ", "right"), ("Δ 95% CI (paired)", "right"),
                      ("", "left")):  # fmt: skip
        t.add_column(col, justify=just, overflow="fold")  # long names fold, never truncate
    rows = [r for r in c.rows() if r["kpi"] in keys]
    rows.sort(key=lambda r: list(keys).index(r["kpi"]))
    last = None
    for r in rows:
        if last is not None and r["kpi"] != last:
            t.add_section()
        show = r["kpi"] if r["kpi"] != last else ""
        last = r["kpi"]
        ci = "" if r["ci95_low"] != r["ci95_low"] else f"{_g(r['ci95_low'])} – {_g(r['ci95_high'])}"
        d = "" if r["diff_mean"] != r["diff_mean"] else f"{_g(r['diff_mean'], True)}"
        lo, hi = r["diff_ci95_low"], r["diff_ci95_high"]
        dci = "" if lo != lo else f"{_g(lo, True)} – {_g(hi, True)}"
        t.add_row(show, r["scenario"], _g(r["mean"]), ci, d, dci,
                  "[bold]★[/bold]" if r["significant"] else "")  # fmt: skip
    return t


def _g(x: float, sign: bool = False) -> str:
    if x != x:
        return "–"
    text = f"{x:+.3g}" if sign else f"{x:.3g}"
    if abs(x) >= 1000:
        text = f"{x:+,.0f}" if sign else f"{x:,.0f}"
    return text


def cmd_compare(a: argparse.Namespace) -> int:
    from ooh_sim.core.compare import check_names, compare, default_out, write_comparison
    from ooh_sim.core.loader import load_scenario

    if len(a.scenarios) < 2:
        raise InputError("compare needs at least two scenario files", path="SCENARIO")
    _precision_or_replications(a)
    scenarios = [load_scenario(f) for f in a.scenarios]
    check_names(scenarios, [str(f) for f in a.scenarios])
    out = a.out or default_out([s.name for s in scenarios])
    prog, update = _progress(a.quiet, f"compare {len(scenarios)} scenarios")
    kwargs = dict(replications=a.replications, seed=a.seed, jobs=a.jobs)
    chosen = None
    if a.precision is not None:
        from ooh_sim.core.precision import replications_for

        pp, up = _progress(a.quiet, "choosing replications")
        with pp or contextlib.nullcontext():
            kwargs["replications"], chosen = replications_for(
                scenarios, a.precision, max_replications=a.max_replications, seed=a.seed,
                jobs=a.jobs, progress=up)  # fmt: skip
    with prog or contextlib.nullcontext():
        c = compare(scenarios, progress=update, **kwargs)
    files = write_comparison(c, out, figures=not a.no_figures, sources=a.scenarios,
                             precision=chosen)  # fmt: skip
    if chosen is not None and not a.quiet:
        own = ", ".join(f"{k} {p.n} ({p.reason})" for k, p in chosen.items())
        console.print(f"precision ±{a.precision:.1%}: {c.replications} replications each, the "
                      f"most any scenario needed ({own})")  # fmt: skip
    if a.report:
        from ooh_sim.report.html import write_report

        files.append(write_report(out))
    if not a.quiet:
        console.print(comparison_table(c))
        console.print(f"★ = the paired 95% interval of Δ excludes 0. Wrote {len(files)} files to "
                      f"{out}/ (all KPIs in comparison.csv)")  # fmt: skip
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from ooh_sim.report.html import write_report

    path = write_report(a.results)
    console.print(f"wrote {path}")
    return 0


def cmd_fit(a: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ooh_sim.core.fit import describe, fit_events, read_events, write_fit
    from ooh_sim.core.schema import CalendarSpec

    try:
        spec = CalendarSpec(cover=a.cover, weekday_start=a.weekday_start,
                            weekday_end=a.weekday_end, bank_holidays=a.bank_holidays)  # fmt: skip
    except ValidationError as e:
        err = e.errors(include_url=False)[0]  # a field's own check names its flag
        loc = err["loc"]
        flag = f"--{str(loc[0]).replace('_', '-')}" if loc else "--weekday-start/--weekday-end"
        raise InputError(err["msg"].removeprefix("Value error, "), path=flag) from None
    events = read_events(a.events)
    profile = "hour_of_week" if a.profile == "hour-of-week" else "factored"
    fit = fit_events(events, calendar=spec, start=a.log_from, end=a.log_to, profile=profile)
    files = write_fit(fit, a.out, name=a.name, start=a.start)
    title = (f"{a.events}: {fit.total} contacts, {fit.start} to {fit.end} = "
             f"{fit.standard_weeks:.2f} standard weeks of cover")  # fmt: skip
    from rich import box

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("stream", "n", "per week ± SE", "duration (h)", "KS D", "p"):
        t.add_column(col, justify="left" if col == "stream" else "right", no_wrap=True)
    for s in fit.streams:
        d = s.duration
        ks = ("–", "–") if d is None or d.ks_stat != d.ks_stat else (
            f"{d.ks_stat:.3f}", f"{d.ks_p:.2g}")  # fmt: skip
        t.add_row(s.name + ("*" if s.pooled_shape else ""), str(s.contacts),
                  f"{s.per_week:.3g} ± {s.se:.2g}", "–" if d is None else describe(d.spec),
                  *ks)  # fmt: skip
    console.print(t)
    if fit.outside_cover or fit.outside_period:
        n_out = sum(fit.outside_cover.values())
        console.print(f"left out: {n_out} contacts outside cover hours, {fit.outside_period} "
                      "outside the log period")  # fmt: skip
    if any(s.pooled_shape for s in fit.streams):
        console.print("* too few contacts for an hour-of-week shape of its own: all contacts' "
                      "shape is used")  # fmt: skip
    console.print("KS p-values are optimistic (parameters fitted to the same data). Staff, "
                  "priorities, deadlines and placements are a template: edit them.")  # fmt: skip
    console.print(f"wrote {', '.join(map(str, files))}")
    return 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "sweep": cmd_sweep, "compare": cmd_compare,
            "report": cmd_report, "fit": cmd_fit}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as e:
        err_console.print(f"[red]error:[/red] {_escape(str(e))}", markup=True, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted: no results were changed")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # an internal error: short message, traceback only on request
        if os.environ.get("OOH_SIM_DEBUG"):
            raise
        err_console.print(
            f"[red]internal error:[/red] {type(e).__name__}: {_escape(str(e))}\n"
            "This is a bug in ooh-sim; set OOH_SIM_DEBUG=1 to see the traceback.",
            markup=True,
        )
        return 1


def entry() -> None:
    """Console-script entry point: :func:`main`, then exit.

    After Ctrl-C the process exits at once (``os._exit``) instead of joining the process pool's
    helper threads, one of which may wait for ever on a result a killed worker half-sent.
    """
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    entry()
