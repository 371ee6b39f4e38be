"""The ooh-sim command line: a thin layer over the Python API.

Exit codes: 0 ok, 2 bad input (file, key path, problem, "did you mean"), 1 internal
error, 130 interrupted. No traceback reaches a user for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, get_origin

from rich.console import Console

from ooh_sim.core.errors import InputError
from ooh_sim.core.version import __version__

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from ooh_sim.core.experiment import Experiment
    from ooh_sim.core.schema import Scenario
    from ooh_sim.report.figure_process import FigureProcess

# Each command imports what it needs when it runs, FOR SPEED: `ooh-sim --help` and `ooh-sim
# validate` must not pay for scipy.stats, the model or matplotlib (most of a second together).

# What a user wrote (a file name, a key, a scenario's name) is printed as written: no
# highlighting, and no ":name:" emoji codes (which also spares loading rich's 3,600 codes,
# ~4.5 ms of `ooh-sim validate`).
err_console = Console(stderr=True, highlight=False, emoji=False)
console = Console(highlight=False, emoji=False)


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


_positive, _seed, _two_or_more = _whole(1), _whole(0), _whole(2)


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


def _add_study_options(
    p: argparse.ArgumentParser, *, out: str, resume: str, force: str, figures: str
) -> None:
    """The options ``sweep`` and ``optimise`` share: where their points run (``--jobs``,
    ``--backend``, ``--address``), ``--out``, ``--resume``, ``--force``, ``--quiet``,
    ``--no-figures``."""
    p.add_argument("--jobs", "-j", type=_positive, help="parallel processes (default: cores)")
    p.add_argument("--backend", choices=["local", "dask"], default="local",
                   help="local process pool, or a Dask cluster")  # fmt: skip
    p.add_argument("--address", help="Dask scheduler address (default: a local cluster)")
    p.add_argument("--out", type=Path, help=f"output folder (default {out})")
    p.add_argument("--resume", action="store_true", help=resume)
    p.add_argument("--force", action="store_true", help=force)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or messages")
    p.add_argument("--no-figures", action="store_true", help=f"skip {figures}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ooh-sim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ooh-sim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, out_default: str) -> None:
        sp.add_argument("--replications", "-n", type=_positive, help="override the scenario's")
        sp.add_argument("--seed", type=_seed, help="override the scenario's seed")
        sp.add_argument("--jobs", "-j", type=_positive, help="parallel processes (default: cores)")
        sp.add_argument("--out", type=Path, help=f"output folder (default {out_default})")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress or table")
        sp.add_argument("--no-figures", action="store_true", help="skip PNG figures")
        sp.add_argument("--set", dest="settings", action="append", type=_setting, default=[],
                        metavar="KEY=VALUE", help="change one setting without editing the "
                        "file, e.g. --set staff.edt.count=2 (repeatable; checked like the "
                        "file)")  # fmt: skip
        sp.add_argument("--xlsx", action="store_true",
                        help="also write results.xlsx, one sheet per table (extra "
                        "[xlsx])")  # fmt: skip
        sp.add_argument("--force", action="store_true", help="replace an --out folder that "
                        "holds a report or results of another configuration")  # fmt: skip

    r = sub.add_parser("run", help="replications of one scenario → results/<name>/")
    r.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")
    common(r, "results/<scenario name>")
    r.add_argument("--no-jobs-file", action="store_true", help="skip jobs.csv.gz, and "
                   "station_hours_distribution.png, drawn from the same job records")  # fmt: skip
    r.add_argument("--precision", type=_fraction, metavar="P",
                   help="add replications until the headline KPIs' 95%% CIs are within P of "
                   "their means (e.g. 0.05; Hoad, Robinson & Davies 2010)")  # fmt: skip
    r.add_argument("--max-replications", type=_two_or_more, metavar="M",
                   help="stop --precision at M replications (default 500)")  # fmt: skip
    r.add_argument("--report", action="store_true", help="also write report.html")

    v = sub.add_parser("validate", help="check scenario, experiment or optimise files; exit 0 or 2")
    v.add_argument("files", type=Path, nargs="+", metavar="FILE",
                   help="scenario, experiment or optimise YAML files")  # fmt: skip

    rp = sub.add_parser("report", help="write a self-contained report.html into a results folder")
    rp.add_argument("results", type=Path, metavar="RESULTS_DIR",
                    help="a folder written by run or compare")  # fmt: skip

    ft = sub.add_parser("fit", help="fit a scenario template from a log of past contacts")
    ft.add_argument("events", type=Path, metavar="EVENTS.csv",
                    help="one row per contact: received,stream,worker_minutes")  # fmt: skip
    ft.add_argument("--out", type=Path, required=True, help="scenario YAML to write")
    ft.add_argument("--force", action="store_true",
                    help="replace an existing --out file (and its profile CSVs)")  # fmt: skip
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
    common(c, "results/compare-<first>-vs-<second>…")
    c.add_argument("--precision", type=_fraction, metavar="P",
                   help="replications: the most any scenario needs for ±P (see run)")  # fmt: skip
    c.add_argument("--max-replications", type=_two_or_more, metavar="M",
                   help="stop --precision at M replications (default 500)")  # fmt: skip
    c.add_argument("--report", action="store_true", help="also write report.html")

    sw = sub.add_parser("sweep", help="run an experiment's design points → results/<name>/")
    sw.add_argument("experiment", type=Path, metavar="EXPERIMENT",
                    help="experiment YAML file (scenario, parameters, design)")  # fmt: skip
    _add_study_options(
        sw, out="results/<experiment name>", resume="skip points already in the checkpoint",
        force="start again over an unfinished sweep of this experiment in --out (without it, "
        "one is refused: use --resume)", figures="PNG figures",
    )  # fmt: skip
    sw.add_argument("--xlsx", action="store_true",
                    help="also write results.xlsx: the long and wide sweep tables (extra "
                    "[xlsx])")  # fmt: skip

    op = sub.add_parser("optimise", help="cheapest option meeting KPI targets → results/<name>/")
    op.add_argument("experiment", type=Path, metavar="OPTIMISE.yaml",
                    help="optimise YAML file (options, targets, objective)")  # fmt: skip
    _add_study_options(
        op, out="results/<name>", resume="reuse replications in the checkpoint",
        force="replace results that hold a report (report.html), or start again over an "
        "unfinished run of this file", figures="the PNG figure",
    )  # fmt: skip
    op.add_argument("--report", action="store_true", help="also write report.html")

    ap = sub.add_parser("app", help="the what-if web app for planning meetings (extra [app])")
    ap.add_argument("scenario", type=Path, nargs="?", metavar="SCENARIO",
                    help="today's scenario (default: the shipped baseline)")  # fmt: skip
    ap.add_argument("--port", type=_positive, default=8501, help="port (default 8501)")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: this computer only)")  # fmt: skip

    sc = sub.add_parser("schema", help="print the JSON Schema of scenario, variant, experiment "
                        "or optimise files (for editors)")  # fmt: skip
    sc.add_argument("kind", nargs="?", default="scenario",
                    choices=["scenario", "variant", "experiment", "optimise"],
                    help="default: scenario; variant: a file with extends:")  # fmt: skip
    return p


def _setting(text: str) -> tuple[str, str]:
    """An argparse type: ``KEY=VALUE`` of --set (the value is typed once the scenario is read)."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as staff.edt.count=2, got "
                                         f"{text!r}")  # fmt: skip
    return key.strip(), value.strip()


def _overrides(settings: Sequence[tuple[str, str]], scenario_file: Path) -> dict[str, object]:
    """--set values, typed like the same text in the scenario file (YAML: 2 is a number, true a
    yes/no), except where the schema wants text; a key path naming no setting is an InputError
    with "did you mean" (exit 2)."""
    if not settings:
        return {}
    import yaml  # lazily, for speed (see the imports)

    from ooh_sim.core.loader import apply_overrides, read_with_extends, setting_type

    data = read_with_extends(scenario_file)
    out: dict[str, object] = {}
    for key, text in settings:
        apply_overrides(data, {key: None}, file="--set")  # names a setting? (else: exit 2)
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        tp = setting_type(data, key)
        a_list = isinstance(value, list) and get_origin(tp) is list  # [2, 4] for a list setting
        if tp is str or not (a_list or isinstance(value, int | float | bool | str)):
            value = text  # text where the schema wants text; a map is not one setting
        out[key] = value
    return out


def _progress(
    quiet: bool, label: str, unit: str = "replications"
) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if quiet:
        return None, None
    from rich.progress import (  # lazily, for speed (see the imports)
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    return prog, _bar(prog, label)


def _bar(prog: Progress, label: str) -> Callable[[int, int], None]:
    """Another bar in the same display (rich shows one live display at a time)."""
    task = prog.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        prog.update(task, completed=done, total=total)

    return update


CHECKING_BAR_FROM = 1_000
"""A design of more points than this shows a bar while its points are checked (~0.5 ms each)."""


def _load_experiment(path: str | Path, quiet: bool = False) -> Experiment:
    """``load_experiment`` with a progress bar while a large design's points are checked."""
    from ooh_sim.core.experiment import load_experiment  # scipy's qmc: only here

    bar: list[Any] = []  # [Progress, update], made at the first report of a large design

    def checking(done: int, total: int) -> None:
        if quiet or total <= CHECKING_BAR_FROM:
            return
        if not bar:
            bar.extend(_progress(False, f"checking {total:,} design points", "points"))
            bar[0].start()
        bar[1](done, total)

    try:
        return load_experiment(path, progress=checking)
    finally:
        if bar:
            bar[0].stop()


def kpi_table(summary: dict, title: str, keys: Sequence[str] | None = None) -> Table:
    """KPIs in the planner's words with their units; the KPI name under the words, dimmed."""
    from rich.table import Table  # lazily, for speed (see the imports)

    from ooh_sim.core import kpis

    t = Table(title=title, title_justify="left")
    t.add_column("measure (KPI)", overflow="fold")
    t.add_column("mean", justify="right", no_wrap=True)
    t.add_column("95% CI", justify="right", no_wrap=True)
    for k in keys or summary:
        e = summary[k]
        ci = "" if e.n < 2 else kpis.interval(k, e.ci95_low, e.ci95_high, to=" – ")
        t.add_row(_measure(k), kpis.format(k, e.mean), ci)
    return t


def _measure(k: str) -> str:
    from ooh_sim.core import kpis  # lazily, for speed (see the imports)

    return f"{_escape(kpis.label(k))}\n[dim]{_escape(k)}[/dim]"


def headline_keys(summary: dict) -> list[str]:
    """The KPIs a planner looks at first (the catalogue's headline flag); the rest are in
    summary.json."""
    from ooh_sim.core import kpis  # lazily, for speed (see the imports)

    return kpis.headline(summary)


@contextlib.contextmanager
def _figure_process(wanted: bool, *modules: str) -> Iterator[FigureProcess | None]:
    """FOR SPEED, a process that imports the figure ``modules`` (matplotlib) while the model
    runs and draws the figures while this one writes the files (ooh_sim.report.figure_process).
    Started once the input is read and the model's modules imported, which it then shares
    instead of importing them again (that doubled its import time, beside the running model on
    the other core), and before any thread starts (the progress bar's)."""
    if not wanted:
        yield None
        return
    from ooh_sim.report.figure_process import FigureProcess

    process = FigureProcess.start(*modules)
    try:
        yield process
    finally:
        if process is not None:
            process.close()


def cmd_run(a: argparse.Namespace) -> int:
    from ooh_sim.core.loader import load_scenario
    from ooh_sim.io.formats import config_sha256

    _precision_or_replications(a)
    overrides = _overrides(a.settings, a.scenario)
    scenario = load_scenario(a.scenario, overrides=overrides)
    print_warnings(scenario, a.scenario)
    out = a.out or Path("results") / scenario.name
    _check_out(out, [a.scenario], "run", config=config_sha256(scenario), force=a.force)
    import ooh_sim.core.runner  # noqa: F401 (before the figure process: it shares the import)

    figures = ("ooh_sim.report.folders", "ooh_sim.viz.run_figures")
    with _figure_process(not a.no_figures, *figures) as figure_process:
        return _run(a, scenario, overrides, out, figure_process)


def _run(
    a: argparse.Namespace,
    scenario: Scenario,
    overrides: dict[str, object],
    out: Path,
    figure_process: FigureProcess | None,
) -> int:
    from ooh_sim.core.runner import run
    from ooh_sim.report.folders import write_run

    prog, update = _progress(a.quiet, f"run {scenario.name}")
    if a.precision is not None:
        from ooh_sim.core.precision import run_to_precision

        def run(sc, *, replications, figures, **kw):  # runner.run's call; n is chosen
            return run_to_precision(sc, a.precision, max_replications=a.max_replications, **kw)

    with prog or contextlib.nullcontext():
        result = run(scenario, replications=a.replications, seed=a.seed, jobs=a.jobs,
                     keep_jobs=not a.no_jobs_file, figures=not a.no_figures,
                     progress=update)  # fmt: skip
    result.overrides = overrides
    files = write_run(result, out, figures=not a.no_figures, source=a.scenario, xlsx=a.xlsx,
                      force=a.force, figure_process=figure_process)  # fmt: skip
    if a.report:
        from ooh_sim.report.html import write_report

        files.append(write_report(out))
    if not a.quiet and getattr(result, "precision", None) is not None:
        pr = result.precision
        from ooh_sim.core.precision import outcome_words

        console.print(f"precision {outcome_words(pr.as_dict())}")
    if not a.quiet:
        n = len(result.replications)
        console.print(kpi_table(result.summary, f"{scenario.name}: {n} replications, seed "
                                f"{result.seed}", headline_keys(result.summary)))  # fmt: skip
        console.print(f"wrote {len(files)} files to {_escape(str(out))}/ (every KPI: "
                      "summary.csv)")  # fmt: skip
    return 0


def _precision_or_replications(a: argparse.Namespace) -> None:
    if a.precision is not None and a.replications is not None:
        raise InputError("give --precision or --replications, not both", path="--precision")
    if a.max_replications is not None and a.precision is None:
        raise InputError("applies only with --precision (for a fixed number of runs, use "
                         "--replications)", path="--max-replications")  # fmt: skip
    if a.precision is not None and a.max_replications is None:
        from ooh_sim.core.precision import DEFAULT_MAX  # imported for --precision anyway

        a.max_replications = DEFAULT_MAX


def cmd_validate(a: argparse.Namespace) -> int:
    """Scenario files, experiment files and optimise files (told apart by
    :func:`ooh_sim.core.loader.file_kind`)."""
    from ooh_sim.core.loader import file_kind, load_scenario, read_yaml

    bad = 0
    for f in a.files:
        try:
            kind = file_kind(read_yaml(f))
            if kind == "optimise":
                from ooh_sim.core.optimise_spec import load_problem  # only here, FOR SPEED

                problem = load_problem(f)
                targets = " and ".join(c.text for c in problem.constraints) or "no target"
                console.print(_escape(f"{f}: ok (optimise {problem.name}: "
                                      f"{len(problem.points)} options, {targets}, "
                                      f"{problem.sense} {problem.objective})"),
                              soft_wrap=True)  # fmt: skip
                continue
            if kind == "experiment":
                exp = _load_experiment(f)
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


def print_warnings(scenario: Scenario, file: object) -> None:
    """Legal but suspicious settings (ooh_sim.checks), as yellow 'warning:' lines on stderr."""
    from ooh_sim.core.checks import warnings_for

    for w in warnings_for(scenario):
        err_console.print(f"[yellow]warning:[/yellow] {_escape(f'{file}: {w}')}", soft_wrap=True)


def cmd_sweep(a: argparse.Namespace) -> int:
    from ooh_sim.io.sweep_store import CHECKPOINT
    from ooh_sim.report.folders import run_sweep

    exp = _load_experiment(a.experiment, a.quiet)
    out = a.out or Path("results") / exp.name
    _check_out(out, [a.experiment, exp.scenario_file], kind="sweep")
    if not a.quiet:
        for note in exp.notes:
            err_console.print(f"[yellow]note:[/yellow] {_escape(note)}", markup=True)
        err_console.print(f"sweep {exp.name}: {len(exp.points)} points × {exp.replications} "
                          f"replications ({exp.design}), backend {a.backend}")  # fmt: skip
    prog, update = _progress(a.quiet, f"sweep {exp.name}", "points")
    kwargs = dict(jobs=a.jobs, backend=a.backend, address=a.address, resume=a.resume,
                  force=a.force, figures=not a.no_figures, xlsx=a.xlsx,
                  progress=update)  # fmt: skip
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


def comparison_table(c, keys: Sequence[str] | None = None) -> Table:
    """Headline KPIs, each option beside the reference; ★ = paired 95% CI of Δ excludes 0."""
    from rich.table import Table  # lazily, for speed (see the imports)

    from ooh_sim.core import kpis

    title = (f"{len(c.names)} scenarios, {c.replications} replications each, seed {c.seed} "
             f"(common random numbers); Δ = option − {c.reference}")  # fmt: skip
    t = Table(title=title, title_justify="left")
    for col, just in (("measure", "left"), ("scenario", "left"), ("mean", "right"),
                      ("95% CI", "right"), ("Δ", "right"), ("Δ 95% CI (paired)", "right"),
                      ("", "left")):  # fmt: skip
        t.add_column(col, justify=just, overflow="fold")  # long names fold, never truncate
    all_rows = c.rows()
    names = dict.fromkeys(r["kpi"] for r in all_rows)
    keys = list(keys) if keys is not None else kpis.headline(kpis.in_catalogue_order(names))
    rows = [r for r in all_rows if r["kpi"] in keys]
    rows.sort(key=lambda r: keys.index(r["kpi"]))
    last = None
    for r in rows:
        k = r["kpi"]
        if last is not None and k != last:
            t.add_section()
        show = _measure(k) if k != last else ""
        last = k
        ci = kpis.interval(k, r["ci95_low"], r["ci95_high"], to=" – ")
        d = kpis.format(k, r["diff_mean"], signed=True)
        dci = kpis.interval(k, r["diff_ci95_low"], r["diff_ci95_high"], signed=True, to=" – ")
        t.add_row(show, r["scenario"], kpis.format(k, r["mean"]), *_blank_undefined(ci, d, dci),
                  "[bold]★[/bold]" if r["significant"] else "")  # fmt: skip
    return t


def _blank_undefined(*cells: str) -> list[str]:
    """The reference's own Δ cells (and undefined intervals) stay empty, not "–"."""
    return ["" if text == "–" else text for text in cells]


def cmd_compare(a: argparse.Namespace) -> int:
    from ooh_sim.core.compare import check_names
    from ooh_sim.core.loader import load_scenario
    from ooh_sim.io.comparison_files import default_out
    from ooh_sim.io.formats import comparison_config_sha256

    if len(a.scenarios) < 2:
        raise InputError("compare needs at least two scenario files", path="SCENARIO")
    _precision_or_replications(a)
    sets = [_overrides(a.settings, f) for f in a.scenarios]
    scenarios = [load_scenario(f, overrides=o) for f, o in zip(a.scenarios, sets, strict=True)]
    check_names(scenarios, [str(f) for f in a.scenarios])
    out = a.out or default_out([s.name for s in scenarios])
    _check_out(out, a.scenarios, "comparison", config=comparison_config_sha256(scenarios),
               force=a.force)  # fmt: skip
    # the figure process starts now, sharing the imports above (core.compare: the runner)
    figures = ("ooh_sim.report.folders", "ooh_sim.viz.compare_figures")
    with _figure_process(not a.no_figures, *figures) as figure_process:
        return _compare(a, scenarios, sets, out, figure_process)


def _compare(
    a: argparse.Namespace,
    scenarios: list[Scenario],
    sets: list[dict[str, object]],
    out: Path,
    figure_process: FigureProcess | None,
) -> int:
    from ooh_sim.core.compare import compare, compare_to_precision
    from ooh_sim.report.folders import TimelinesAsTheyCome, write_comparison

    prog, update = _progress(a.quiet, f"compare {len(scenarios)} scenarios")
    # each scenario's night drawn while the others run (FOR SPEED, see TimelinesAsTheyCome)
    timelines = (None if figure_process is None
                 else TimelinesAsTheyCome(figure_process, [s.name for s in scenarios]))  # fmt: skip
    with prog or contextlib.nullcontext():
        if a.precision is not None:
            choosing = _bar(prog, "choosing replications") if prog else None
            c = compare_to_precision(
                scenarios, a.precision, max_replications=a.max_replications, seed=a.seed,
                jobs=a.jobs, choosing=choosing, progress=update, first=timelines)  # fmt: skip
        else:
            c = compare(scenarios, a.replications, a.seed, a.jobs, update, first=timelines)
    for res, o in zip(c.results, sets, strict=True):
        res.overrides = o
    files = write_comparison(c, out, figures=not a.no_figures, sources=a.scenarios, xlsx=a.xlsx,
                             force=a.force, figure_process=figure_process,
                             timelines=timelines)  # fmt: skip
    if c.precision is not None and not a.quiet:
        from ooh_sim.core.precision import outcome_words  # imported with compare already

        own = "; ".join(f"{k}: {outcome_words(p.as_dict())}" for k, p in c.precision.items())
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
    console.print(f"wrote {_escape(str(path))}")
    return 0


def cmd_fit(a: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ooh_sim.core.fit import describe, fit_events
    from ooh_sim.core.schema import CalendarSpec
    from ooh_sim.io.fit_files import read_events, write_fit

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
    files = write_fit(fit, a.out, name=a.name, start=a.start, inputs=[a.events], force=a.force)
    title = (f"{_escape(str(a.events))}: {fit.total} contacts, {fit.start} to {fit.end} = "
             f"{fit.standard_weeks:.2f} standard weeks of cover")  # fmt: skip
    from rich import box
    from rich.table import Table

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
    console.print(f"wrote {_escape(', '.join(map(str, files)))}")
    return 0


def cmd_app(a: argparse.Namespace) -> int:
    # The app layer is imported only here, and lazily: Streamlit is an optional extra ([app]),
    # and every other command must start without it.
    from ooh_sim.app.launch import launch, streamlit_available

    if not streamlit_available():
        err_console.print("error: the app needs Streamlit: pip install 'ooh-sim[app]'",
                          markup=False)  # fmt: skip
        return 2
    return launch(a.scenario, host=a.host, port=a.port)


def cmd_optimise(a: argparse.Namespace) -> int:
    """Ranking and selection over an optimise file's options (ooh_sim.core.optimise)."""
    from ooh_sim.core.optimise_spec import load_problem
    from ooh_sim.io.optimise_files import CHECKPOINT, KIND
    from ooh_sim.report.folders import run_optimise

    problem = load_problem(a.experiment)
    out = a.out or Path("results") / problem.name
    _check_out(out, [a.experiment, problem.scenario_file], KIND, force=a.force)
    if not a.quiet:
        targets = ", ".join(c.text for c in problem.constraints) or "none"
        err_console.print(f"optimise {problem.name}: {len(problem.points)} options, targets "
                          f"{targets}, {problem.sense} {problem.objective}, backend "
                          f"{a.backend}")  # fmt: skip
    prog, update = _progress(a.quiet, f"optimise {problem.name}", "replications (budget)")
    try:
        with prog or contextlib.nullcontext():
            res, files, notes = run_optimise(problem, out, jobs=a.jobs, backend=a.backend,
                                             address=a.address, resume=a.resume,
                                             figures=not a.no_figures, force=a.force,
                                             progress=update)  # fmt: skip
    except KeyboardInterrupt:
        err_console.print(f"interrupted: replications run so far are kept in {out / CHECKPOINT}; "
                          "run again with --resume to continue")  # fmt: skip
        return 130
    if a.report:
        from ooh_sim.report.html import write_report

        files.append(write_report(out))
    if not a.quiet:
        from ooh_sim.core.optimise import summary_text

        for note in notes:
            err_console.print(f"note: {_escape(note)}")
        console.print(_escape(summary_text(res)))
        console.print(f"simulated {res.ran:,} replications in {res.seconds:.1f} s; wrote "
                      f"{', '.join(f.name for f in files)} to {out}/")  # fmt: skip
    return 0


def cmd_schema(a: argparse.Namespace) -> int:
    """The JSON Schema as text on stdout (the same text as the file in schemas/)."""
    # imported here for speed: other commands need not build the schema modules' imports
    from ooh_sim.core.json_schema import schema_text

    sys.stdout.write(schema_text(a.kind))
    return 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "sweep": cmd_sweep, "compare": cmd_compare,
            "report": cmd_report, "fit": cmd_fit, "app": cmd_app,
            "optimise": cmd_optimise, "schema": cmd_schema}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import warnings

    from ooh_sim.core.errors import ScenarioWarning

    # the CLI prints scenario warnings itself (print_warnings), once, in its own words
    warnings.simplefilter("ignore", ScenarioWarning)
    try:
        _clip_jobs(args)
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
        err_console.print(  # one line: what broke, and how to see more
            f"[red]internal error:[/red] {type(e).__name__}: {_escape(' '.join(str(e).split()))}"
            " (a bug in ooh-sim; set OOH_SIM_DEBUG=1 to see the traceback)",
            markup=True,
            soft_wrap=True,
        )
        return 1


def entry() -> None:
    """Console-script entry point: :func:`main`, then exit.

    The process then ends at once (``os._exit``) once its output is flushed, instead of tearing
    the interpreter down: after Ctrl-C, so as not to join the process pool's helper threads (one
    may wait for ever on a result a killed worker half-sent); and otherwise FOR SPEED, when only
    this thread is left: the teardown (a full garbage collection, then numpy, scipy, pydantic
    and matplotlib finalised module by module) takes 0.1–0.3 s after every command, and has
    nothing to do — every file a command writes is closed, and swapped into place, before
    :func:`main` returns; a spool file is deleted by the system (``tempfile.TemporaryFile``).
    """
    end_process(main())


def end_process(code: int) -> NoReturn:
    """Exit with ``code`` as :func:`entry` does (see there)."""
    import logging
    import threading

    if code == 130 or threading.active_count() == 1:
        logging.shutdown()  # the one thing at exit with output of ours: logging's handlers
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to lose
                stream.flush()
        os._exit(code)
    sys.exit(code)


def _escape(text: str) -> str:
    """Text from a file or a path, safe to print: rich markup (``[bold]`` in a folder name) is
    shown as written, and control characters (terminal escape sequences in a YAML key or a CSV
    header) are shown as ``\\x1b`` instead of acting on the terminal. Newlines stay."""
    from rich.markup import escape

    return escape(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters (newline excepted) and bidirectional overrides."""


def _check_out(
    out: Path,
    inputs: Sequence[Path],
    kind: str | None = None,
    *,
    config: str | None = None,
    force: bool = False,
) -> None:
    """A bad ``--out`` (a folder of other files, an input inside it; unless ``force``, one holding
    a report or results of another ``config``) is said before any work."""
    from ooh_sim.io.files import check_out  # lazily, for speed (see the imports)

    check_out(out, inputs=inputs, kind=kind, config=config, force=force)


def _clip_jobs(args: argparse.Namespace) -> None:
    """``--jobs`` above the cores here is clipped to them, with a note (each job is a process);
    ``-n`` above the replications limit is refused before anything starts."""
    from ooh_sim.core import limits  # lazily, for speed (see the imports)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)  # as ooh_sim.core.pool.default_jobs, without importing the pool
    if getattr(args, "jobs", None) and args.jobs > cores:
        if not getattr(args, "quiet", False):
            err_console.print(f"note: --jobs {args.jobs:,} is more than the {cores} cores here; "
                              f"using {cores}", markup=False)  # fmt: skip
        args.jobs = cores
    for flag in ("replications", "max_replications"):
        n = getattr(args, flag, None)
        if n is not None:
            limits.REPLICATIONS.check(n, path=f"--{flag.replace('_', '-')}")


if __name__ == "__main__":  # pragma: no cover
    entry()
