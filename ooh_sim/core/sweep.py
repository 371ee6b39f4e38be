"""Run an experiment's design points in batch: local processes or a Dask cluster, resumable.

Replication ``r`` of design point ``p`` draws only from ``RandomStreams(seed, r, point=p)``, so a
point's numbers do not depend on which process ran it, when, or next to what. Each finished
point is appended at once to a JSON-lines checkpoint in the output folder (flushed and fsync'd),
so memory stays flat however many points there are, and a killed sweep loses only the points
that were running. ``resume=True`` skips the points already in the checkpoint — after checking
that the experiment is the one that wrote it — and the result files are always rebuilt from
the checkpoint in point order, so an interrupted-and-resumed sweep and an uninterrupted one
write byte-identical ``sweep.csv``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ooh_sim.core.errors import InputError
from ooh_sim.core.experiment import Experiment
from ooh_sim.core.loader import apply_overrides, scenario_from_dict
from ooh_sim.core.runner import default_jobs, pool, run_replication
from ooh_sim.core.stats import Estimate, t_interval
from ooh_sim.core.version import __version__
from ooh_sim.io.files import csv_text, safe_cell, write_atomic

CHECKPOINT = "sweep_checkpoint.jsonl"
FORMAT = 1
STATS = ("mean", "ci95_low", "ci95_high")
RESULT_FILES = ("sweep.csv", "sweep_replications.csv", "sensitivity.csv", "sweep.json")

# --------------------------------------------------------------------------------------------
# one design point (runs in a worker process)


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one design point (plain data: pickles anywhere)."""

    point: int
    overrides: dict[str, Any]
    base: dict[str, Any]
    scenario_file: str
    seed: int
    replications: int


def run_point(task: PointTask) -> dict[str, Any]:
    """All replications of one point → a checkpoint record (KPIs per replication, by index)."""
    t0 = time.perf_counter()
    data = apply_overrides(task.base, task.overrides)
    sc = scenario_from_dict(data, file=task.scenario_file, base_dir=Path(task.scenario_file).parent)
    reps = [
        run_replication(sc, task.seed, r, point=task.point, keep_jobs=False).kpis
        for r in range(task.replications)
    ]
    return {
        "point": task.point,
        "kpis": [{k: _json_num(v) for k, v in kp.items()} for kp in reps],
        "seconds": round(time.perf_counter() - t0, 4),
    }


def _json_num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# backends: each yields finished records in any order, with a bounded number in flight


def _local(tasks: Iterable[PointTask], jobs: int) -> Iterator[dict[str, Any]]:
    if jobs <= 1:
        for t in tasks:
            yield run_point(t)
        return
    it = iter(tasks)
    window = 4 * jobs  # enough to keep every process busy; memory does not grow with points
    with pool(jobs) as ex:
        pending: set[Future] = set()
        try:
            for t in itertools.islice(it, window):
                pending.add(ex.submit(run_point, t))
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(ex.submit(run_point, nxt))
                    yield f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            raise  # the pool's __exit__ kills the workers (a shutdown here would forget them)


DASK_MISSING = (
    "the dask backend needs the optional dependency dask[distributed]; install it with "
    "pip install 'ooh-sim[dask]'"
)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(DASK_MISSING, path="--backend") from None
    return distributed


@contextlib.contextmanager
def dask_client(address: str | None, jobs: int) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or of a LocalCluster of worker processes."""
    distributed = _import_distributed()
    if address:
        try:
            client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(
                f"cannot reach the Dask scheduler at {address!r}: {e}", path="--address"
            ) from None
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _dask(tasks: Iterable[PointTask], jobs: int, address: str | None) -> Iterator[dict[str, Any]]:
    distributed = _import_distributed()
    it = iter(tasks)
    with dask_client(address, jobs) as client:
        slots = sum(client.nthreads().values()) or jobs
        first = [client.submit(run_point, t, pure=False) for t in itertools.islice(it, 4 * slots)]
        if not first:
            return
        queue = distributed.as_completed(first)
        try:
            for fut in queue:
                record = fut.result()
                fut.release()
                nxt = next(it, None)
                if nxt is not None:
                    queue.add(client.submit(run_point, nxt, pure=False))
                yield record
        except BaseException:
            client.cancel(list(queue.futures))
            raise


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


def read_checkpoint(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """Header, point records (first copy of each point) and the byte length of whole lines.

    A line cut short by a kill (no newline, or not JSON) ends the good part of the file.
    """
    raw = path.read_bytes()
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    seen: set[int] = set()
    good = 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            obj = json.loads(line)
        except ValueError:
            break
        if header is None:
            if not isinstance(obj, dict) or "ooh_sim_sweep_checkpoint" not in obj:
                break
            header = obj
        elif isinstance(obj, dict) and isinstance(obj.get("point"), int):
            if obj["point"] not in seen:
                seen.add(obj["point"])
                records.append(obj)
        else:
            break
        good += len(line)
    return header, records, good


def _open_checkpoint(exp: Experiment, out: Path, resume: bool) -> tuple[set[int], list[str]]:
    """Start a fresh checkpoint, or check and trim the existing one; return finished points."""
    path = out / CHECKPOINT
    notes: list[str] = []
    if resume and path.exists():
        header, records, good = read_checkpoint(path)
        if header is None:
            raise InputError(
                "not a sweep checkpoint (or its first line is damaged); delete it, or run "
                "without --resume to start again",
                file=str(path),
                path="--resume",
            )
        if header.get("experiment_sha256") != exp.sha256:
            raise InputError(
                f"the checkpoint was written by a different experiment (or a different "
                f"scenario, seed, design or ooh-sim version): experiment hash "
                f"{str(header.get('experiment_sha256'))[:12]}… ≠ {exp.sha256[:12]}… now. "
                "Run without --resume to start again, or use another --out folder",
                file=str(path),
                path="--resume",
            )
        if good < path.stat().st_size:
            with path.open("r+b") as fh:  # drop a line cut short by a kill
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
            notes.append("dropped an incomplete last line from the checkpoint")
        done = {r["point"] for r in records if 0 <= r["point"] < len(exp.points)}
        notes.append(f"resuming: {len(done)} of {len(exp.points)} points already done")
        return done, notes
    if resume:
        notes.append("nothing to resume (no checkpoint): starting from the first point")
    for name in RESULT_FILES:  # results of an earlier sweep must not sit beside a new checkpoint
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    write_atomic(path, (json.dumps(_header(exp), sort_keys=True) + "\n").encode())
    return set(), notes


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


def run_sweep(
    exp: Experiment,
    out: Path,
    *,
    jobs: int | None = None,
    backend: str = "local",
    address: str | None = None,
    resume: bool = False,
    figures: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run every design point not yet in ``out``'s checkpoint, then write the result files."""
    if backend not in ("local", "dask"):
        raise InputError(f"unknown backend {backend!r} (local or dask)", path="--backend")
    if backend == "dask":
        _import_distributed()  # say so before starting anything
    elif address:
        raise InputError("--address applies only to --backend dask", path="--address")
    jobs = default_jobs() if jobs is None else jobs
    t0 = time.perf_counter()
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {out}: {e.strerror or e}", path="--out") from None
    done, notes = _open_checkpoint(exp, out, resume)
    total = len(exp.points)
    where = str(exp.scenario_file.resolve())  # workers may run in another folder
    tasks = (
        PointTask(p, exp.points[p], exp.base, where, exp.seed, exp.replications)
        for p in range(total)
        if p not in done
    )
    todo = total - len(done)
    finished = len(done)
    if progress:
        progress(finished, total)
    if todo:
        runner = _dask(tasks, jobs, address) if backend == "dask" else _local(tasks, jobs)
        # closing(): on Ctrl-C the backend generator is closed here and now, so its pool stops
        # its workers before the process exits (not whenever the generator is collected)
        with contextlib.closing(runner), (out / CHECKPOINT).open("a", encoding="utf-8") as fh:
            for record in runner:
                fh.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                finished += 1
                if progress:
                    progress(finished, total)
    files = write_outputs(exp, out, figures=figures)
    return SweepResult(out, total, todo, files, exp.notes + notes, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# result files


def value_text(v: Any) -> Any:
    """A parameter value as a CSV cell: numbers exactly, anything else as compact JSON."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return safe_cell(v)
    return json.dumps(v, sort_keys=True, default=str, separators=(",", ":"))


def _cell(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else repr(float(x))


def _csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    return csv_text(header, rows).encode()


@dataclass
class SweepTable:
    """Per-point results of the output KPIs (what tables and figures are made from)."""

    parameters: list[str]
    outputs: list[str]
    values: list[dict[str, Any]]  # parameter values per point
    reps: list[list[dict[str, float]]]  # per point, per replication: output → value
    estimates: list[dict[str, Estimate]]  # per point: output → t-interval

    def means(self, output: str) -> np.ndarray:
        return np.array([e[output].mean for e in self.estimates], dtype=float)


def load_table(exp: Experiment, out: Path) -> SweepTable:
    """The checkpoint's records for ``exp`` in point order (only the output KPIs are kept)."""
    header, records, _ = read_checkpoint(out / CHECKPOINT)
    if header is None or header.get("experiment_sha256") != exp.sha256:
        raise InputError("checkpoint missing or from another experiment", file=str(out))
    by_point: dict[int, list[dict[str, float]]] = {}
    for r in records:
        by_point[r["point"]] = [
            {k: math.nan if kp.get(k) is None else float(kp[k]) for k in exp.outputs}
            for kp in r["kpis"]
        ]
    missing = [p for p in range(len(exp.points)) if p not in by_point]
    if missing:
        raise InputError(
            f"{len(missing)} design points are not in the checkpoint (first: {missing[0]})",
            file=str(out / CHECKPOINT),
        )
    reps = [by_point[p] for p in range(len(exp.points))]
    est = [{k: t_interval([r[k] for r in rs]) for k in exp.outputs} for rs in reps]
    return SweepTable([p.path for p in exp.parameters], exp.outputs, exp.points, reps, est)


def sweep_csv(exp: Experiment, table: SweepTable) -> bytes:
    header = [
        "point",
        *table.parameters,
        "replications",
        *(f"{k}.{s}" for k in table.outputs for s in STATS),
    ]
    rows = (
        [
            p,
            *(value_text(table.values[p][name]) for name in table.parameters),
            len(table.reps[p]),
            *(_cell(getattr(table.estimates[p][k], s)) for k in table.outputs for s in STATS),
        ]
        for p in range(len(table.values))
    )
    return _csv(header, rows)


def replications_csv(exp: Experiment, table: SweepTable) -> bytes:
    header = ["point", *table.parameters, "replication", *table.outputs]
    rows = (
        [
            p,
            *(value_text(table.values[p][name]) for name in table.parameters),
            r,
            *(_cell(rep[k]) for k in table.outputs),
        ]
        for p in range(len(table.values))
        for r, rep in enumerate(table.reps[p])
    )
    return _csv(header, rows)


def standardised_regression(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Standardised regression coefficients (SRC) of ``y`` on the columns of ``x``, and R².

    SRC_j = b_j · sd(x_j) / sd(y) from a least-squares fit. With near-independent inputs (an
    LHS or Sobol design) SRC_j² is the share of the variance of y that x_j explains linearly;
    when R² is low the relation is not linear and the ranking says little.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    x, y = x[ok], y[ok]
    d = x.shape[1]
    nan = np.full(d, math.nan)
    if len(y) <= d + 1:
        return nan, math.nan
    sx, sy = x.std(axis=0, ddof=1), y.std(ddof=1)
    if sy == 0 or not np.all(sx > 0):
        return nan, math.nan
    z = (x - x.mean(axis=0)) / sx
    zy = (y - y.mean()) / sy
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(zy)), z]), zy, rcond=None)
    resid = zy - np.column_stack([np.ones(len(zy)), z]) @ coef
    r2 = 1.0 - float(resid @ resid) / float(zy @ zy)
    return coef[1:], r2


def sensitivity(exp: Experiment, table: SweepTable) -> list[dict[str, Any]]:
    """SRC of every numeric parameter for every output (rows for sensitivity.csv)."""
    names = [p.path for p in exp.parameters if p.numeric]
    if not names:
        return []
    x = np.array([[float(v[n]) for n in names] for v in table.values], dtype=float)
    rows: list[dict[str, Any]] = []
    for k in table.outputs:
        src, r2 = standardised_regression(x, table.means(k))
        order = np.argsort(-np.nan_to_num(np.abs(src), nan=-1.0), kind="stable")
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(1, len(names) + 1)
        for j, n in enumerate(names):
            rows.append(
                {"output": k, "parameter": n, "src": float(src[j]), "rank": int(rank[j]), "r2": r2}
            )
    return rows


def sensitivity_csv(rows: list[dict[str, Any]]) -> bytes:
    return _csv(
        ["output", "parameter", "src", "abs_src_rank", "r2"],
        ([r["output"], r["parameter"], _cell(r["src"]), r["rank"], _cell(r["r2"])] for r in rows),
    )


def sweep_json(exp: Experiment) -> bytes:
    meta = {
        "experiment": exp.name,
        "file": str(exp.file),
        "scenario": str(exp.scenario_file),
        "design": exp.design,
        "parameters": [
            {"path": p.path, "values": p.values}
            if p.values is not None
            else {"path": p.path, "low": p.low, "high": p.high, "integer": p.integer}
            for p in exp.parameters
        ],
        "points": len(exp.points),
        "replications": exp.replications,
        "seed": exp.seed,
        "outputs": exp.outputs,
        "experiment_sha256": exp.sha256,
        "sensitivity": "standardised regression coefficients (SRC) on point means",
        "notes": exp.notes,
        "version": __version__,
    }
    return (json.dumps(meta, indent=2, default=str, allow_nan=False) + "\n").encode()


def write_outputs(exp: Experiment, out: Path, *, figures: bool = True) -> list[Path]:
    """(Re)build sweep.csv, sweep_replications.csv, sweep.json, sensitivity.csv and figures."""
    table = load_table(exp, out)
    written = []
    files = {
        "sweep.csv": sweep_csv(exp, table),
        "sweep_replications.csv": replications_csv(exp, table),
        "sweep.json": sweep_json(exp),
    }
    rows = sensitivity(exp, table)
    if rows:  # at least one numeric parameter
        files["sensitivity.csv"] = sensitivity_csv(rows)
    for name, data in files.items():
        write_atomic(out / name, data)
        written.append(out / name)
    if figures:
        from ooh_sim.io.files import staged_folder
        from ooh_sim.viz import (
            sweep_figures as sweep_plots,  # matplotlib only when figures are wanted
        )

        with staged_folder(out / "figures") as stage:
            made = sweep_plots.sweep_figures(exp, table, rows, stage)
            names = [p.name for p in made]
        written += [out / "figures" / n for n in names]
    return written


__all__ = [
    "CHECKPOINT",
    "DASK_MISSING",
    "PointTask",
    "SweepResult",
    "SweepTable",
    "load_table",
    "read_checkpoint",
    "run_point",
    "run_sweep",
    "sensitivity",
    "standardised_regression",
    "write_outputs",
]
