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
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import InputError
from .runner import RunResult
from .schema import Scenario
from .stats import Estimate

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text that a spreadsheet would run as a formula (numbers pass unchanged)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def config_sha256(scenario: Scenario) -> str:
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def summary_dict(result: RunResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "replications": len(result.replications),
        "config_sha256": config_sha256(result.scenario),
        "version": __version__,
        "kpis": {k: v.as_dict() for k, v in result.summary.items()},
    }


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow(["" if _num(v) is None else safe_cell(v) for v in row])
    return buf.getvalue()


def replications_csv(result: RunResult) -> str:
    names = list(result.summary)
    return csv_text(
        ["replication", *names],
        ([r.index, *(_fmt(r.kpis.get(k, math.nan)) for k in names)] for r in result.replications),
    )


def _fmt(x: float) -> float | str:
    return "" if not math.isfinite(x) else repr(float(x))


def jobs_csv_gz(result: RunResult) -> bytes:
    """One row per job of every replication; deterministic bytes (gzip mtime 0)."""
    sc = result.scenario
    streams = np.array(list(sc.streams), dtype=object)
    worker_names = [f"{g}#{i + 1}" for g, grp in sc.staff.items() for i in range(grp.count)]
    workers = np.array([*worker_names, ""], dtype=object)
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


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a staging folder; on success, swap it in place of ``target`` atomically.

    On any exception (Ctrl-C included) the staging folder is removed and ``target`` is untouched.
    """
    target = Path(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not target.is_dir():
            raise InputError(f"{target} exists and is not a folder", path="--out")
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except PermissionError as e:
        raise InputError(f"cannot write to {parent}: permission denied", path="--out") from e
    except OSError as e:
        raise InputError(f"cannot write to {parent}: {e.strerror or e}", path="--out") from e
    try:
        yield stage
        old = None
        if target.exists():
            old = parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(stage, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(stage, ignore_errors=True)
        raise InputError(
            f"cannot write results to {target}: {e.strerror or e}", path="--out"
        ) from e
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def write_run(result: RunResult, out: Path, *, figures: bool = True) -> list[Path]:
    """Write summary.json, replications.csv, jobs.csv.gz and figures into ``out``."""
    with staged_folder(out) as stage:
        (stage / "summary.json").write_text(dumps_json(summary_dict(result)), encoding="utf-8")
        (stage / "replications.csv").write_text(replications_csv(result), encoding="utf-8")
        if any(r.jobs is not None for r in result.replications):
            (stage / "jobs.csv.gz").write_bytes(jobs_csv_gz(result))
        if figures:
            from . import plots  # matplotlib only when figures are wanted

            plots.run_figures(result, stage)
        names = sorted(p.name for p in stage.iterdir())
    return [out / n for n in names]


def estimate_row(e: Estimate) -> list[Any]:
    return [_num(e.mean), _num(e.ci95_low), _num(e.ci95_high)]
