"""A sweep's folder: the resumable checkpoint, and the result files rebuilt from it.

Each finished design point is appended at once to a JSON-lines checkpoint in the output folder
(flushed and fsync'd), so memory stays flat however many points there are, and a killed sweep
loses only the points that were running. ``resume=True`` skips the points already in the
checkpoint — after checking that the experiment is the one that wrote it — and the result files
are always rebuilt from the checkpoint in point order, so an interrupted-and-resumed sweep and an
uninterrupted one write byte-identical ``sweep.csv``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ooh_sim.core.errors import InputError
from ooh_sim.core.experiment import Experiment
from ooh_sim.core.sweep import (
    SweepTable,
    check_backend,
    point_tasks,
    run_points,
    sensitivity,
    table_from_records,
)
from ooh_sim.core.version import __version__
from ooh_sim.io.checkpoint import Checkpoint, append_jsonl, start_jsonl, study_folder
from ooh_sim.io.files import write_atomic
from ooh_sim.io.formats import (
    SENSITIVITY,
    SWEEP_CSV,
    SWEEP_FILES,
    SWEEP_JSON,
    SWEEP_LONG,
    SWEEP_REPLICATIONS,
    sensitivity_csv,
    sweep_csv,
    sweep_json,
    sweep_long_csv,
    sweep_replications_csv,
)

CHECKPOINT = "sweep_checkpoint.jsonl"
FORMAT = 1
KIND = "sweep"
"""The kind named in a sweep folder's marker (see :func:`ooh_sim.io.files.check_out`)."""
FIGURES = "figures/"
"""The subfolder of figures (``report.folders``), owned by the sweep folder as a whole."""

# --------------------------------------------------------------------------------------------
# checkpoint


def _header(exp: Experiment) -> dict[str, Any]:
    return {
        "ooh_sim_sweep_checkpoint": FORMAT,
        "experiment": exp.name,
        "experiment_sha256": exp.sha256,
        "points": len(exp.points),
        "replications": exp.replications,
        "version": __version__,
    }


def _is_record(obj: object) -> bool:
    """A point record as :func:`_run_points` writes it: a point number and its replications'
    KPIs (numbers or null). Anything else in a checkpoint is damage, not a result."""
    if not isinstance(obj, dict) or type(obj.get("point")) is not int:
        return False
    reps = obj.get("kpis")
    return (
        isinstance(reps, list)
        and bool(reps)
        and all(
            isinstance(r, dict)
            and all(v is None or (type(v) in (int, float)) for v in r.values())
            for r in reps
        )
    )


def read_checkpoint(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """Header, point records (first copy of each point) and the byte length of whole lines
    (see :func:`read_damaged`)."""
    return read_damaged(path)[:3]


def read_damaged(
    path: Path,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int, int]:
    """Header, point records (first copy of each point), the byte length of the file up to its
    last whole line, and the number of damaged lines skipped (:class:`.checkpoint.Checkpoint`)."""
    return _FORMAT.read(path)


_FORMAT = Checkpoint("ooh_sim_sweep_checkpoint", _is_record, lambda r: r["point"], "sweep")


def _open_checkpoint(
    exp: Experiment, out: Path, resume: bool, force: bool = False
) -> tuple[set[int], list[str]]:
    """Check and trim the checkpoint being resumed; return the finished points. Without
    ``resume``, an unfinished sweep of the same experiment is refused unless ``force``."""
    path = out / CHECKPOINT
    fingerprint = ("experiment_sha256", exp.sha256)

    def points_in(records: list[dict[str, Any]]) -> set[int]:
        return {r["point"] for r in records if 0 <= r["point"] < len(exp.points)}

    if not resume and not force:
        records = _FORMAT.unfinished(path, fingerprint)
        done = points_in(records or [])
        if records is not None and len(done) < len(exp.points):
            raise _FORMAT.refuse_restart(path, f"{len(done)} of {len(exp.points)} points done")
    if resume and (path.exists() or path.is_symlink()):

        def other(header: dict[str, Any]) -> str:
            return (
                f"the checkpoint was written by a different experiment (or a different "
                f"scenario, seed, design or ooh-sim version): experiment hash "
                f"{str(header.get('experiment_sha256'))[:12]}… ≠ {exp.sha256[:12]}… now. "
                "Run without --resume to start again, or use another --out folder"
            )

        records, notes = _FORMAT.resume(path, other=other, fingerprint=fingerprint)
        done = points_in(records)
        notes.append(f"resuming: {len(done)} of {len(exp.points)} points already done")
        return done, notes
    notes = ["nothing to resume (no checkpoint): starting from the first point"] if resume else []
    # An earlier sweep's checkpoint and result files stay (whole and consistent) until this
    # sweep's first point is done (see _run_sweep), so a sweep that fails to start (a Dask
    # address that cannot be reached) or is interrupted early loses nothing.
    return set(), notes


def load_table(exp: Experiment, out: Path) -> SweepTable:
    """The checkpoint's records for ``exp`` in point order (only the output KPIs are kept)."""
    header, records, _ = read_checkpoint(out / CHECKPOINT)
    if header is None or header.get("experiment_sha256") != exp.sha256:
        raise InputError("checkpoint missing or from another experiment", file=str(out))
    try:
        return table_from_records(exp, records)
    except InputError as e:
        raise InputError(
            e.problem.replace("have no results", "are not in the checkpoint"),
            file=str(out / CHECKPOINT),
        ) from None


# --------------------------------------------------------------------------------------------
# the sweep


@dataclass
class SweepResult:
    """What a finished sweep wrote, and what it had to say."""

    out: Path
    points: int
    ran: int
    files: list[Path]
    notes: list[str]
    seconds: float
    table: SweepTable | None = None
    sensitivity: list[dict[str, Any]] | None = None


def run_sweep(
    exp: Experiment,
    out: Path,
    *,
    jobs: int | None = None,
    backend: str = "local",
    address: str | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> SweepResult:
    """Run every design point not yet in ``out``'s checkpoint, then write the result files
    (figures: :func:`ooh_sim.report.folders.run_sweep`). Without ``resume``, an unfinished sweep
    of the same experiment in ``out`` is refused unless ``force`` (start again)."""
    check_backend(backend, address)  # say so before starting anything
    t0 = time.perf_counter()
    owned = [CHECKPOINT, *SWEEP_FILES, FIGURES]
    with study_folder(out, kind=KIND, inputs=[exp.file, exp.scenario_file], owned=owned) as out:
        return _run_sweep(exp, out, t0, jobs, backend, address, resume, progress, force)


def _run_sweep(
    exp: Experiment,
    out: Path,
    t0: float,
    jobs: int | None,
    backend: str,
    address: str | None,
    resume: bool,
    progress: Callable[[int, int], None] | None,
    force: bool,
) -> SweepResult:
    done, notes = _open_checkpoint(exp, out, resume, force)
    total = len(exp.points)
    todo = total - len(done)
    finished = len(done)
    if progress:
        progress(finished, total)
    if todo:
        records = run_points(point_tasks(exp, done), jobs=jobs, backend=backend, address=address)
        # closing(): on Ctrl-C the backend generator is closed here and now, so its pool stops
        # its workers before the process exits (not whenever the generator is collected)
        with contextlib.closing(records), contextlib.ExitStack() as stack:
            fh = None
            for record in records:
                if fh is None:  # the first finished point: now the checkpoint may be started
                    if not done:
                        start_jsonl(out / CHECKPOINT, _header(exp))
                    fh = stack.enter_context((out / CHECKPOINT).open("a", encoding="utf-8"))
                append_jsonl(fh, [record])
                finished += 1
                if progress:
                    progress(finished, total)
    table = load_table(exp, out)
    rows = sensitivity(exp, table)
    files = write_outputs(exp, out, table, rows)
    return SweepResult(
        out, total, todo, files, exp.notes + notes, time.perf_counter() - t0, table, rows
    )


def write_outputs(
    exp: Experiment,
    out: Path,
    table: SweepTable | None = None,
    rows: Sequence[dict[str, Any]] | None = None,
) -> list[Path]:
    """(Re)build sweep.csv, sweep_replications.csv, sweep.json and sensitivity.csv (when a
    parameter is numeric) from the checkpoint, each file atomically."""
    table = load_table(exp, out) if table is None else table
    rows = sensitivity(exp, table) if rows is None else rows
    files = {
        SWEEP_CSV: sweep_csv(table),
        SWEEP_REPLICATIONS: sweep_replications_csv(table),
        SWEEP_JSON: sweep_json(exp),
        SWEEP_LONG: sweep_long_csv(table),
    }
    if rows:  # at least one numeric parameter
        files[SENSITIVITY] = sensitivity_csv(list(rows))
    return [write_atomic(out / name, data) for name, data in files.items()]


__all__ = [
    "CHECKPOINT",
    "SweepResult",
    "load_table",
    "read_checkpoint",
    "run_sweep",
    "write_outputs",
]
