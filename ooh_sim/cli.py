"""The ``ooh-sim`` command line: a thin layer over the Python API.

Exit codes (DESIGN §4): 0 ok, 2 bad input (file, key path, problem, "did you mean"), 1 internal
error, 130 interrupted. No traceback reaches a user for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import InputError

err_console = Console(stderr=True, highlight=False)
console = Console(highlight=False)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep its message short and on stderr."""


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ooh-sim", description=__doc__.splitlines()[0])
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

    v = sub.add_parser("validate", help="check scenario files; exit 0 or 2")
    v.add_argument("files", type=Path, nargs="+")
    return p


def _progress(quiet: bool, label: str) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if quiet:
        return None, None
    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("replications"),
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
    from .loader import load_scenario
    from .output import write_run
    from .runner import run

    scenario = load_scenario(a.scenario)
    out = a.out or Path("results") / scenario.name
    prog, update = _progress(a.quiet, f"run {scenario.name}")
    if prog:
        with prog:
            result = run(scenario, replications=a.replications, seed=a.seed, jobs=a.jobs,
                         keep_jobs=not a.no_jobs_file, progress=update)  # fmt: skip
    else:
        result = run(scenario, replications=a.replications, seed=a.seed, jobs=a.jobs,
                     keep_jobs=not a.no_jobs_file)  # fmt: skip
    files = write_run(result, out, figures=not a.no_figures)
    if not a.quiet:
        n = len(result.replications)
        console.print(kpi_table(result.summary, f"{scenario.name}: {n} replications, seed "
                                f"{result.seed}", headline_keys(result.summary)))  # fmt: skip
        console.print(f"wrote {len(files)} files to {out}/ (all KPIs in summary.json)")
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    from .loader import load_scenario

    bad = 0
    for f in a.files:
        try:
            sc = load_scenario(f)
        except InputError as e:
            bad += 1
            err_console.print(f"[red]error:[/red] {e}", markup=True, soft_wrap=True)
        else:
            console.print(f"{f}: ok ({sc.name}: {len(sc.streams)} streams, "
                          f"{sum(g.count for g in sc.staff.values())} workers)")  # fmt: skip
    return 2 if bad else 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate}


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


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
