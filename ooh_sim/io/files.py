"""Result files (DESIGN §5), written atomically.

Everything for one output folder is first written into a hidden sibling staging folder, then
swapped in with renames. A reader — or a run interrupted with Ctrl-C — therefore only ever sees
the previous complete results or the new complete results, never a mix or a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ooh_sim.core.errors import InputError
from ooh_sim.core.runner import RunResult
from ooh_sim.core.schema import Scenario
from ooh_sim.core.version import __version__

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """Neutralise text that a spreadsheet would run as a formula (``=…``, ``@…``, ``-2+3``…).

    Numbers pass unchanged, also when already formatted as text: ``"-1.5"`` is not a formula.
    """
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


def config_sha256(scenario: Scenario) -> str:
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def summary_dict(result: RunResult) -> dict[str, Any]:
    out = {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "replications": len(result.replications),
        "config_sha256": config_sha256(result.scenario),
        "version": __version__,
        "kpis": {k: v.as_dict() for k, v in result.summary.items()},
    }
    precision = getattr(result, "precision", None)  # set by precision.run_to_precision
    if precision is not None:
        out["precision"] = precision.as_dict()
    return out


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    write_csv(buf, header, rows)
    return buf.getvalue()


def write_csv(fh: TextIO, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """The text of :func:`csv_text`, written row by row (a 10,000-row table is never in memory)."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow(["" if _num(v) is None else safe_cell(v) for v in row])


def _replication_table(result: RunResult) -> tuple[list[str], Iterator[list[Any]]]:
    names = list(result.summary)
    rows = ([r.index, *(_fmt(r.kpis.get(k, math.nan)) for k in names)] for r in result.replications)
    return ["replication", *names], rows


def write_replications_csv(result: RunResult, path: Path) -> None:
    """replications.csv: one row per replication, one column per KPI."""
    with open(path, "w", encoding="utf-8") as fh:
        write_csv(fh, *_replication_table(result))


def _fmt(x: float) -> float | str:
    """A number stays a number (so the formula guard never touches a negative value)."""
    return "" if not math.isfinite(x) else float(x)


def jobs_csv_gz(result: RunResult) -> bytes:
    """One row per job of every replication; deterministic bytes (gzip mtime 0)."""
    sc = result.scenario
    streams = np.array([safe_cell(s) for s in sc.streams], dtype=object)
    worker_names = [f"{g}#{i + 1}" for g, grp in sc.staff.items() for i in range(grp.count)]
    workers = np.array([*map(safe_cell, worker_names), ""], dtype=object)
    origin = np.datetime64(sc.horizon.start.isoformat(), "s")
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
        header = [
            "replication", "stream", "arrival", "arrival_h", "start_h", "end_h",
            "response_hours", "completion_hours", "station_hours", "handed_over", "worker",
        ]  # fmt: skip
        text.write(",".join(header) + "\n")
        for rep in result.replications:
            t = rep.jobs
            if t is None:
                continue
            stamp = np.datetime_as_string(
                origin + np.round(t.arrival * 3600).astype("timedelta64[s]"), unit="s"
            )
            cols = [
                np.full(len(t.arrival), rep.index),
                streams[t.stream],
                stamp,
                _col(t.arrival),
                _col(t.start),
                _col(t.end),
                _col(t.start - t.arrival),
                _col(t.end - t.arrival),
                _col(t.station_end - t.arrival),
                (~np.isnan(t.handover)).astype(int),
                workers[t.worker],
            ]
            for row in zip(*cols, strict=True):
                text.write(",".join(map(str, row)) + "\n")
        text.flush()
        text.detach()
    return out.getvalue()


def _col(x: np.ndarray) -> np.ndarray:
    """Fixed 6-decimal text, blank for NaN (keeps the file small and diffable)."""
    s = np.char.mod("%.6f", np.nan_to_num(x, nan=0.0)).astype(object)
    s[np.isnan(x)] = ""
    return s


RESULT_MARKERS = ("summary.json", "comparison.json", "sweep.csv", "sweep.json")
"""A folder holding one of these at its top is ooh-sim output, and may be replaced."""
RESULT_SUFFIXES = (".json", ".csv", ".gz", ".png", ".svg", ".pdf", ".html", ".yaml", ".txt", ".md")
"""A folder of plain files with only these endings (e.g. a figures folder) may be replaced."""


def _replaceable(folder: Path) -> bool:
    """Whether an existing ``--out`` folder may be swapped away: empty, or ooh-sim's own output.

    Replacing means deleting: ``--out ~`` or ``--out .`` must never wipe a folder of other files.
    """
    litter = {".DS_Store", "Thumbs.db", "desktop.ini"}  # left by file browsers
    entries = [e for e in folder.iterdir() if e.name not in litter]
    if not entries or any((folder / m).is_file() for m in RESULT_MARKERS):
        return True
    return all(e.is_file() and e.name.lower().endswith(RESULT_SUFFIXES) for e in entries)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write one file atomically: a temporary file beside it, fsync'd, renamed over ``path``.

    A reader sees the old file or the new one, never half of one. (For a whole folder of
    results use :func:`staged_folder`.)
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; results are shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while folders are renamed, then deliver it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)
        elif caught and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def _swap(stage: Path, target: Path) -> None:
    """Put ``stage`` where ``target`` is; if that fails the previous ``target`` is put back."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old)  # onto the empty folder just made: a unique name, atomically
    try:
        os.replace(stage, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a staging folder; on success, swap it in place of ``target`` atomically.

    On any exception (Ctrl-C included) the staging folder is removed, ``target`` is untouched and
    folders made on the way to it are removed again. An unwritable or full disk is an InputError.
    """
    target = Path(os.path.abspath(target))  # '..' resolved; symlinks kept
    parent = target.parent
    if target == parent:  # "/" has no name to stage beside
        raise InputError(f"cannot replace {target}; choose a subfolder", path="--out")
    missing = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{parent} is a file, not a folder", path="--out")
        parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not target.is_dir():
            raise InputError(f"{target} exists and is not a folder", path="--out")
        if target.is_dir() and not _replaceable(target):
            raise InputError(
                f"{target} already holds files that are not ooh-sim results, and writing there "
                "would delete them; choose a new or empty folder",
                path="--out",
            )
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; results are shared
    except (InputError, OSError) as e:
        _remove_empty(missing)
        if isinstance(e, InputError):
            raise
        what = "permission denied" if isinstance(e, PermissionError) else e.strerror or e
        raise InputError(f"cannot write to {parent}: {what}", path="--out") from None
    try:
        yield stage
        with _interrupts_deferred():
            _swap(stage, target)
    except OSError as e:
        _discard(stage, missing)
        raise InputError(
            f"cannot write results to {target}: {e.strerror or e}", path="--out"
        ) from None
    except BaseException:
        _discard(stage, missing)
        raise


def _discard(stage: Path, missing: list[Path]) -> None:
    with _interrupts_deferred():
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(missing)


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders this run created on the way to ``--out`` (deepest first, only if empty)."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return


def write_run(
    result: RunResult, out: Path, *, figures: bool = True, source: str | Path | None = None
) -> list[Path]:
    """Write summary.json, replications.csv, jobs.csv.gz, figures and scenario.yaml into ``out``.

    scenario.yaml is the resolved scenario with the comments of ``source`` (the scenario file, if
    given) attached, so the folder alone is enough to re-run it or to build the HTML report.
    """
    from ooh_sim.io.provenance import write_resolved

    with staged_folder(out) as stage:
        write_resolved(result.scenario, stage, source)
        (stage / "summary.json").write_text(dumps_json(summary_dict(result)), encoding="utf-8")
        write_replications_csv(result, stage / "replications.csv")
        if any(r.jobs is not None for r in result.replications):
            (stage / "jobs.csv.gz").write_bytes(jobs_csv_gz(result))
        if figures:
            from ooh_sim.viz import run_figures as plots  # matplotlib only when figures are wanted

            plots.run_figures(result, stage)
        names = sorted(p.name for p in stage.iterdir())
    return [out / n for n in names]
