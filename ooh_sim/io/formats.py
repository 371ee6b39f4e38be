"""Every result file's format, declared once, each with its writer and its reader.

``summary.json``, ``replications.csv``, ``jobs.csv.gz`` (columns declared in
:mod:`ooh_sim.core.records`), ``comparison.json``/``comparison.csv`` and the sweep's
``sweep.csv``, ``sweep_replications.csv`` and ``sensitivity.csv``. Writers take result objects
and return text or bytes (the folder writers put them in place atomically); readers take a path
and give plain data, so the report and tests read the files without knowing their layout.

CSV cells are spreadsheet-safe: text that a spreadsheet would run as a formula gets a leading
``'`` (:func:`safe_cell`), numbers stay numbers, and NaN is a blank cell.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import math
import platform
import re
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import numpy as np

from ooh_sim.core.checks import warnings_for
from ooh_sim.core.errors import InputError
from ooh_sim.core.records import JOB_FILE_HEADER, Column
from ooh_sim.core.runner import RunResult
from ooh_sim.core.schema import Scenario
from ooh_sim.core.tables import SUMMARY_COLUMNS, summary_rows, sweep_columns, sweep_rows
from ooh_sim.core.version import __version__

if TYPE_CHECKING:
    from ooh_sim.core.compare import Comparison
    from ooh_sim.core.experiment import Experiment
    from ooh_sim.core.sweep import SweepTable

# --------------------------------------------------------------------------------------------
# cells

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


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    write_csv(buf, header, rows)
    return buf.getvalue()


def write_csv(fh: TextIO, header: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """The text of :func:`csv_text`, written row by row (a 10,000-row table is never in memory)."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow([safe_cell(h) for h in header])
    for row in rows:
        w.writerow(["" if _num(v) is None else safe_cell(v) for v in row])


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file, as text (an unreadable file is an InputError)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read {Path(path).name}: {e}", file=str(path)) from None
    return (rows[0] if rows else []), rows[1:]


def number(cell: str) -> float:
    """A numeric CSV cell back as a float (blank → NaN)."""
    return float(cell) if cell else math.nan


def _fmt(x: float) -> float | str:
    """A number stays a number (so the formula guard never touches a negative value)."""
    return "" if not math.isfinite(x) else float(x)


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def json_safe(obj: Any) -> Any:
    """NaN and infinities → null, numpy scalars → Python numbers (strict JSON)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj


def read_json(path: Path) -> Any:
    """A JSON result file (an unreadable or damaged one is an InputError naming it). Counts
    and numbers (``seed``, ``replications``, ``n``, ``mean`` …) must be numbers at any depth:
    a crafted folder cannot put text where a report prints a number."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path.name}: {e}", file=str(path)) from None
    _check_numbers(data, "", str(path))
    return data


WHOLE_KEYS = frozenset(
    {"seed", "replications", "n", "own_n", "k_limit", "n_solution", "max_replications", "point"}
)
"""Keys of result files whose values are whole numbers (or null)."""
NUMBER_KEYS = frozenset(
    {"mean", "ci95_low", "ci95_high", "sd", "target", "diff_mean", "diff_ci95_low",
     "diff_ci95_high", "half_width", "relative_half_width"}
)  # fmt: skip
"""Keys of result files whose values are numbers (or null)."""


def _check_numbers(obj: Any, where: str, file: str) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{where}.{k}" if where else str(k)
            whole = k in WHOLE_KEYS
            if whole or k in NUMBER_KEYS:
                ok = v is None or (type(v) is int if whole else type(v) in (int, float))
                if not ok:
                    kind = "a whole number" if whole else "a number"
                    raise InputError(f"should be {kind}, got {type(v).__name__}", file=file,
                                     path=key)  # fmt: skip
            else:
                _check_numbers(v, key, file)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_numbers(v, f"{where}[{i}]", file)


# --------------------------------------------------------------------------------------------
# summary.json

SUMMARY = "summary.json"
SUMMARY_KEYS: tuple[Column, ...] = (
    Column("scenario", "text", "", "scenario name"),
    Column("seed", "int", "", "the run's seed"),
    Column("replications", "int", "", "replications summarised"),
    Column("config_sha256", "text", "", "SHA-256 of the resolved scenario (JSON, sorted keys)"),
    Column("version", "text", "", "ooh-sim version that wrote the file"),
    Column("kpis", "object", "", "KPI → {mean, ci95_low, ci95_high, sd, n}"),
    Column("precision", "object", "", "how n was chosen (only with --precision)"),
    Column("overrides", "object", "", "settings changed with --set (key path → value)"),
    Column("warnings", "list", "", "legal but suspicious settings (ooh-sim validate shows them)"),
    Column("packages", "object", "", "versions of Python and the packages that made the numbers"),
)

PACKAGES = ("numpy", "scipy", "simpy", "pydantic")
"""Packages whose versions are recorded with results (their code makes the numbers)."""


def package_versions() -> dict[str, str]:
    """Python's and :data:`PACKAGES`' versions (provenance: the same versions give the same
    numbers)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
    """Looked up once per process, FOR SPEED: reading the installed packages' metadata takes
    ~20 ms, and a comparison or a sweep writes a summary per scenario or point."""
    out = {"python": platform.python_version(), "ooh-sim": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def config_sha256(scenario: Scenario) -> str:
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def comparison_config_sha256(scenarios: Sequence[Scenario]) -> str:
    """One fingerprint of the compared scenarios, in order (each :func:`config_sha256`)."""
    return hashlib.sha256(" ".join(config_sha256(s) for s in scenarios).encode()).hexdigest()


def summary_dict(result: RunResult, precision: dict[str, Any] | None = None) -> dict[str, Any]:
    """summary.json's content; ``precision`` overrides the result's own precision block."""
    out = {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "replications": len(result.replications),
        "config_sha256": config_sha256(result.scenario),
        "version": __version__,
        "kpis": {k: v.as_dict() for k, v in result.summary.items()},
    }
    own = getattr(result, "precision", None)  # set by precision.run_to_precision
    if precision is not None:
        out["precision"] = precision
    elif own is not None:
        out["precision"] = own.as_dict()
    if result.overrides:
        out["overrides"] = json_safe(dict(result.overrides))
    out["warnings"] = warnings_for(result.scenario)
    out["packages"] = package_versions()
    assert set(out) <= {c.name for c in SUMMARY_KEYS}
    return out


def summary_json(result: RunResult, precision: dict[str, Any] | None = None) -> str:
    return dumps_json(summary_dict(result, precision))


def read_summary(path: Path) -> dict[str, Any]:
    return read_json(path)


# --------------------------------------------------------------------------------------------
# summary.csv (columns: ooh_sim.core.tables.SUMMARY_COLUMNS)

SUMMARY_CSV = "summary.csv"


def summary_csv(result: RunResult) -> str:
    """One row per KPI with its words and unit, beside summary.json (a spreadsheet opens it)."""
    cols = [c.name for c in SUMMARY_COLUMNS]
    return csv_text(cols, ([r[c] for c in cols] for r in summary_rows(result.summary)))


def read_summary_csv(path: Path) -> list[dict[str, Any]]:
    """summary.csv's rows: numbers as floats (blank → NaN), ``n`` as an int."""
    out = []
    for row in read_rows(path):
        rec: dict[str, Any] = dict(row)
        for c in SUMMARY_COLUMNS:
            if c.dtype == "float":
                rec[c.name] = number(row[c.name])
            elif c.dtype == "int":
                rec[c.name] = int(number(row[c.name]) if row[c.name] else 0)
        out.append(rec)
    return out


# --------------------------------------------------------------------------------------------
# replications.csv

REPLICATIONS = "replications.csv"
REPLICATION_COLUMN = Column("replication", "int", "index", "replication number")
"""The first column; then one column per KPI, in summary.json's order (blank: undefined)."""


def replications_header(result: RunResult) -> list[str]:
    return [REPLICATION_COLUMN.name, *result.summary]


def write_replications_csv(result: RunResult, path: Path) -> None:
    """replications.csv: one row per replication, one column per KPI (streamed row by row)."""
    names = list(result.summary)
    rows = ([r.index, *(_fmt(r.kpis.get(k, math.nan)) for k in names)] for r in result.replications)
    with open(path, "w", encoding="utf-8") as fh:
        write_csv(fh, replications_header(result), rows)


def read_replications_csv(path: Path) -> dict[str, np.ndarray]:
    """Column name → values (``replication`` as integers, KPIs as floats, blank → NaN)."""
    header, rows = read_csv(path)
    cols = {name: np.array([number(r[i]) for r in rows]) for i, name in enumerate(header)}
    if REPLICATION_COLUMN.name in cols:
        cols[REPLICATION_COLUMN.name] = cols[REPLICATION_COLUMN.name].astype(int)
    return cols


# --------------------------------------------------------------------------------------------
# jobs.csv.gz (columns: ooh_sim.core.records.JOB_FILE_COLUMNS)

JOBS = "jobs.csv.gz"


JOBS_ISAL_LEVEL = 1
"""Compression level of jobs.csv.gz on ISA-L's scale (``isal``: 0-3, 0 fastest), whose level 1
compresses job text several times faster than zlib at its fastest level, into a smaller file (see
the README's performance section). Any gzip reader opens it: the format is gzip's whoever
compresses it."""

_JOB_ROWS_PER_BLOCK = 8_192
"""Rows formatted at once: bounds the byte matrices (~100 bytes a row) of a long replication."""


def jobs_csv_gz(result: RunResult) -> bytes:
    """One row per job of every replication; the same bytes for the same results on one machine
    and ``isal`` version (gzip mtime 0, no file name), and the same text anywhere."""
    out = io.BytesIO()
    write_jobs_csv_gz(result, out)
    return out.getvalue()


def write_jobs_csv_gz(result: RunResult, fh: BinaryIO) -> None:
    """jobs.csv.gz into ``fh``, streamed replication by replication, block by block.

    Each row is built as bytes at fixed positions of a ``uint8`` matrix, whole columns at a time
    (:func:`_fixed6`, :func:`_whole`, :func:`_label_table`); NUL bytes pad the fields and are
    dropped at the end, so the text is exactly that of ``",".join(str(cell) …)`` per row with
    ``%.6f`` floats and blank NaN, at a small fraction of the cost of formatting cell by cell.
    A second thread compresses each block while the next is formatted (ISA-L releases the GIL).
    """
    sc = result.scenario
    streams = _label_table([safe_cell(s) for s in sc.streams])
    worker_names = [f"{g}#{i + 1}" for g, grp in sc.staff.items() for i in range(grp.count)]
    workers = _label_table([*map(safe_cell, worker_names), ""])
    origin = np.datetime64(sc.horizon.start.isoformat(), "s").astype(np.int64)  # s since 1970
    from isal.igzip import IGzipFile  # lazily: what imports this module need not write jobs

    with (
        IGzipFile(filename="", mode="wb", compresslevel=JOBS_ISAL_LEVEL, fileobj=fh, mtime=0) as gz,
        ThreadPoolExecutor(1) as compressor,
    ):
        pending: deque[Future] = deque()

        def write(data: bytes) -> None:
            pending.append(compressor.submit(gz.write, data))
            if len(pending) > 2:  # at most two blocks waiting: memory stays bounded
                pending.popleft().result()

        write((",".join(JOB_FILE_HEADER) + "\n").encode("utf-8"))
        for rep in result.replications:
            for t in rep.job_blocks(_JOB_ROWS_PER_BLOCK):  # never a whole table (see there)
                arrival = t.arrival
                n = len(arrival)
                cols = {
                    "replication": _whole(np.full(n, rep.index)),
                    "stream": streams[t.stream],
                    "arrival": _iso_seconds(origin + np.round(arrival * 3600).astype(np.int64)),
                    "arrival_h": _fixed6(arrival),
                    "start_h": _fixed6(t.start),
                    "end_h": _fixed6(t.end),
                    "response_hours": _fixed6(t.start - arrival),
                    "completion_hours": _fixed6(t.end - arrival),
                    "station_hours": _fixed6(t.station_end - arrival),
                    "handed_over": _whole((~np.isnan(t.handover)).astype(np.int64)),
                    "worker": workers[t.worker],
                }
                parts: list[np.ndarray] = []
                for name in JOB_FILE_HEADER:
                    parts += [cols[name], _mark(",", n)]
                parts[-1] = _mark("\n", n)
                rows = np.concatenate(parts, axis=1)
                write(rows.tobytes().translate(None, b"\0"))  # the padding dropped
        while pending:
            pending.popleft().result()


def _iso_seconds(t: np.ndarray) -> np.ndarray:
    """Whole seconds since 1970 as ``YYYY-MM-DDTHH:MM:SS``, NUL-padded rows: the text of
    ``np.datetime_as_string(t.astype("datetime64[s]"))``, FOR SPEED: that formats every stamp in
    full (two fifths of the job file's time); here only each distinct day is formatted, and the
    clock times are digits."""
    day = t // 86_400  # floor: the day a stamp falls in, before 1970 too
    days, which = np.unique(day, return_inverse=True)
    dates = _bytes(np.datetime_as_string(days.astype("datetime64[D]")).astype("S"))
    hms = t - day * 86_400
    h, ms = np.divmod(hms, 3_600)
    m, sec = np.divmod(ms, 60)
    n = len(t)
    return np.concatenate([dates[which.reshape(-1)], _mark("T", n), _whole(h, 2, pad=False),
                           _mark(":", n), _whole(m, 2, pad=False), _mark(":", n),
                           _whole(sec, 2, pad=False)], axis=1)  # fmt: skip


def _mark(char: str, n: int) -> np.ndarray:
    """One ASCII character in every one of ``n`` rows, as a column to concatenate beside others
    (a broadcast view: nothing is allocated for it)."""
    return np.broadcast_to(np.uint8(ord(char)), (n, 1))


def _bytes(a: np.ndarray) -> np.ndarray:
    """An ``S`` (bytes) array as an (n, itemsize) ``uint8`` matrix, NUL-padded on the right."""
    a = np.ascontiguousarray(a)
    if a.dtype.itemsize == 0:  # only empty strings
        return np.zeros((len(a), 1), np.uint8)
    return a.view(np.uint8).reshape(len(a), a.dtype.itemsize)


def _label_table(labels: list[str]) -> np.ndarray:
    """Label number → its UTF-8 bytes as a NUL-padded row; index it with a column of numbers."""
    return _bytes(np.array([x.encode("utf-8") for x in labels], dtype=bytes))


def _whole(v: np.ndarray, width: int | None = None, pad: bool = True) -> np.ndarray:
    """Non-negative whole numbers as decimal text in ``width`` columns (default: the widest
    number's), one row each, NUL-padded on the left (``pad=False``: leading zeros instead).

    One column of digits at a time, in float64 (exact below 2⁵⁰, and several times faster than
    numpy's integer division; a 2-D broadcast division is slower still for so few columns).
    """
    q = np.asarray(v, dtype=float)
    width = (len(str(int(q.max()))) if len(q) else 1) if width is None else width
    out = np.empty((len(q), width), np.uint8)
    for i in range(width - 1, -1, -1):
        nq = np.floor(q / 10)
        col = q - nq * 10 + ord("0")
        if pad and i < width - 1:
            col[q == 0] = 0  # a leading zero: no digit here
        out[:, i] = col
        q = nq
    return out


def _fixed6(x: np.ndarray) -> np.ndarray:
    """``"%.6f" % value`` for each value, blank for NaN, as NUL-padded rows.

    Fast path: |value| × 10⁶ rounded to a whole number, then its digits. Where that product lies
    too close to a half for its float rounding to be trusted (or is huge, or infinite), Python
    formats the cell itself, so every cell is exactly Python's ``%.6f``.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    nan = np.isnan(x)
    with np.errstate(invalid="ignore"):
        k = np.abs(x) * 1e6
        frac = k - np.floor(k)
        fast = ~nan & (k < 2.0**50) & (np.abs(frac - 0.5) > k * 2.0**-50 + 2.0**-60)
    micro = np.rint(np.where(fast, k, 0.0)).astype(np.int64)
    whole, decimals = micro // 1_000_000, micro % 1_000_000
    slow = np.flatnonzero(~fast & ~nan)
    texts = [format(v, ".6f") for v in x[slow].tolist()]  # no NaN among them; ±inf as "inf"
    digits = _whole(whole)  # fast cells are below 2⁵⁰ / 10⁶: at most 10 digits
    width = max([digits.shape[1], *(len(t) - 7 for t in texts)])  # the slow ones may be longer
    field = np.zeros((n, width + 8), np.uint8)
    field[:, 0] = np.where(np.signbit(x), ord("-"), 0)
    field[:, width + 1 - digits.shape[1] : width + 1] = digits
    field[:, width + 1] = ord(".")
    field[:, width + 2 :] = _whole(decimals, 6, pad=False)
    field[nan] = 0
    for i, text in zip(slow.tolist(), texts, strict=True):
        raw = np.frombuffer(text.encode("ascii"), np.uint8)
        field[i] = 0
        field[i, width + 8 - len(raw) :] = raw
    return field


def read_jobs(
    path: Path, columns: Sequence[str], *, below: int | None = None, chunk: int = 200_000
) -> dict[str, np.ndarray]:
    """Numeric ``columns`` of jobs.csv.gz as floats (blank → NaN), read in chunks (files reach
    millions of rows); with ``below``, only replications < ``below`` (the file is in
    replication order, so reading stops there)."""
    unknown = [c for c in columns if c not in JOB_FILE_HEADER]
    if unknown:
        raise ValueError(f"not columns of {JOBS}: {unknown}")
    try:
        return _read_jobs(path, columns, below, chunk)
    except (OSError, EOFError, ValueError, IndexError, csv.Error) as e:  # truncated, damaged
        raise InputError(f"cannot read {JOBS}: {e}", file=str(path)) from None


def _read_jobs(
    path: Path, columns: Sequence[str], below: int | None, chunk: int
) -> dict[str, np.ndarray]:
    want = list(dict.fromkeys(["replication", *columns]))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in want}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        r = csv.reader(fh)
        header = next(r, [])
        idx = [header.index(k) for k in want]
        while True:
            rows = [row for _, row in zip(range(chunk), r, strict=False)]
            if not rows:
                break
            for k, i in zip(want, idx, strict=True):
                col = np.array([row[i] or "nan" for row in rows])
                parts[k].append(col.astype(float))
            if below is not None and parts["replication"][-1][-1] >= below:
                break
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    if below is not None:
        keep = out["replication"] < below
        out = {k: v[keep] for k, v in out.items()}
    return {k: out[k] for k in columns}


# --------------------------------------------------------------------------------------------
# comparison.json and comparison.csv

COMPARISON_JSON = "comparison.json"
COMPARISON_CSV = "comparison.csv"
COMPARISON_COLUMNS: tuple[Column, ...] = (
    Column("kpi", "text", "", "KPI name"),
    Column("scenario", "text", "", "scenario name"),
    Column("mean", "float", "KPI's", "mean over replications"),
    Column("ci95_low", "float", "KPI's", "95% t-interval of the mean, low end"),
    Column("ci95_high", "float", "KPI's", "95% t-interval of the mean, high end"),
    Column("diff_mean", "float", "KPI's", "option − reference, mean of paired differences"),
    Column("diff_ci95_low", "float", "KPI's", "paired 95% interval of the difference, low"),
    Column("diff_ci95_high", "float", "KPI's", "paired 95% interval of the difference, high"),
    Column("significant", "bool", "", "the paired interval excludes zero (blank: reference)"),
    Column("unpaired_ci95_low", "float", "KPI's", "Welch 95% interval, low (for reference)"),
    Column("unpaired_ci95_high", "float", "KPI's", "Welch 95% interval, high (for reference)"),
    Column("label", "text", "", "what the KPI measures, in words"),
    Column("unit", "text", "", "unit of the means, differences and intervals"),
)
"""One row per KPI and scenario, KPI-major (``Comparison.rows()`` gives these keys)."""


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return ""
    return v  # floats stay numbers (csv_text blanks NaN); only text is formula-guarded


def comparison_json(c: Comparison) -> str:
    return dumps_json(json_safe(c.as_dict()))


def comparison_csv(c: Comparison) -> str:
    cols = [col.name for col in COMPARISON_COLUMNS]
    return csv_text(cols, ([_csv_value(r[k]) for k in cols] for r in c.rows()))


def read_comparison_csv(path: Path) -> list[dict[str, Any]]:
    """Rows as written: numbers as floats (blank → NaN), ``significant`` True/False/None."""
    header, rows = read_csv(path)
    kinds = {c.name: c.dtype for c in COMPARISON_COLUMNS}
    out = []
    for row in rows:
        rec: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            kind = kinds.get(name, "text")
            if kind == "float":
                rec[name] = number(cell)
            elif kind == "bool":
                rec[name] = None if cell == "" else cell == "true"
            else:
                rec[name] = cell
        out.append(rec)
    return out


# --------------------------------------------------------------------------------------------
# sweep.csv, sweep_replications.csv, sensitivity.csv, sweep.json

SWEEP_CSV = "sweep.csv"
SWEEP_REPLICATIONS = "sweep_replications.csv"
SENSITIVITY = "sensitivity.csv"
SWEEP_JSON = "sweep.json"
SWEEP_LONG = "sweep_long.csv"
"""One row per design point and output KPI (columns: ``tables.sweep_columns``)."""
SWEEP_FILES = (SWEEP_CSV, SWEEP_REPLICATIONS, SENSITIVITY, SWEEP_JSON, SWEEP_LONG)
SWEEP_STATS = ("mean", "ci95_low", "ci95_high")
"""sweep.csv: ``point``, one column per parameter, ``replications``, then ``<output>.<stat>``."""
SENSITIVITY_COLUMNS: tuple[Column, ...] = (
    Column("output", "text", "", "output KPI"),
    Column("parameter", "text", "", "numeric parameter (dotted scenario path)"),
    Column("src", "float", "", "standardised regression coefficient on point means"),
    Column("abs_src_rank", "int", "", "rank of |src| for this output (1 = most influential)"),
    Column("r2", "float", "", "R² of the linear fit (low: the ranking says little)"),
)
SOBOL_COLUMNS: tuple[Column, ...] = (
    Column("sobol_s1", "float", "", "Sobol first-order index (design: saltelli only)"),
    Column("sobol_s1_ci95", "float", "", "95% bootstrap half-width of sobol_s1"),
    Column("sobol_st", "float", "", "Sobol total index, interactions included"),
    Column("sobol_st_ci95", "float", "", "95% bootstrap half-width of sobol_st"),
)
"""Appended to sensitivity.csv for saltelli designs (issue 16)."""


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


def sweep_header(table: SweepTable) -> list[str]:
    return [
        "point",
        *table.parameters,
        "replications",
        *(f"{k}.{s}" for k in table.outputs for s in SWEEP_STATS),
    ]


def sweep_csv(table: SweepTable) -> bytes:
    rows = (
        [
            p,
            *(value_text(table.values[p][name]) for name in table.parameters),
            len(table.reps[p]),
            *(_cell(getattr(table.estimates[p][k], s)) for k in table.outputs for s in SWEEP_STATS),
        ]
        for p in range(len(table.values))
    )
    return csv_text(sweep_header(table), rows).encode()


def sweep_long_csv(table: SweepTable) -> bytes:
    """sweep.csv as a long table: a row per point and output, with the KPI's words and unit."""
    cols = sweep_columns(table.parameters)
    return csv_text(cols, _sweep_long_rows(table, cols)).encode()


def _sweep_long_rows(table: SweepTable, cols: Sequence[str]) -> Iterable[list[Any]]:
    reps = [len(r) for r in table.reps]
    rows = sweep_rows(table.parameters, table.outputs, table.values, table.estimates, reps)
    params = set(table.parameters)
    for r in rows:
        yield [value_text(r[c]) if c in params else r[c] for c in cols]


def sweep_replications_csv(table: SweepTable) -> bytes:
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
    return csv_text(header, rows).encode()


def sensitivity_csv(rows: list[dict[str, Any]]) -> bytes:
    sobol = any("s1" in r for r in rows)
    extra = [c.name for c in SOBOL_COLUMNS] if sobol else []
    keys = ("s1", "s1_conf", "st", "st_conf")
    return csv_text(
        [c.name for c in SENSITIVITY_COLUMNS] + extra,
        (
            [r["output"], r["parameter"], _cell(r["src"]), r["rank"], _cell(r["r2"])]
            + ([_cell(r.get(k, float("nan"))) for k in keys] if sobol else [])
            for r in rows
        ),
    ).encode()


# --------------------------------------------------------------------------------------------
# results.xlsx (--xlsx): one sheet per table, for planners who work in Excel

XLSX = "results.xlsx"
XLSX_MISSING = (
    "--xlsx needs the optional dependency openpyxl; install it with pip install 'ooh-sim[xlsx]' "
    "(the CSV files open in Excel without it)"
)
Sheet = tuple[Sequence[str], Iterable[Sequence[Any]]]


def run_sheets(result: RunResult) -> dict[str, Sheet]:
    """A run's tables: its summary (summary.csv) and its replications (replications.csv)."""
    cols = [c.name for c in SUMMARY_COLUMNS]
    names = list(result.summary)
    return {
        "summary": (cols, [[r[c] for c in cols] for r in summary_rows(result.summary)]),
        "replications": (
            replications_header(result),
            ([r.index, *(r.kpis.get(k, math.nan) for k in names)] for r in result.replications),
        ),
    }


def comparison_sheets(c: Comparison) -> dict[str, Sheet]:
    """A comparison's tables: comparison.csv, then each scenario's summary."""
    cols = [col.name for col in COMPARISON_COLUMNS]
    out: dict[str, Sheet] = {
        "comparison": (cols, ([_csv_value(r[k]) for k in cols] for r in c.rows()))
    }
    scols = [col.name for col in SUMMARY_COLUMNS]
    for res in c.results:
        rows = [[r[k] for k in scols] for r in summary_rows(res.summary)]
        out[res.scenario.name] = (scols, rows)
    return out


def sweep_sheets(table: SweepTable) -> dict[str, Sheet]:
    """A sweep's tables: the long table (sweep_long.csv) and the wide one (sweep.csv)."""
    cols = sweep_columns(table.parameters)
    wide = [
        [p, *(value_text(table.values[p][q]) for q in table.parameters), len(table.reps[p]),
         *(getattr(table.estimates[p][k], s) for k in table.outputs for s in SWEEP_STATS)]
        for p in range(len(table.values))
    ]  # fmt: skip
    long = _sweep_long_rows(table, cols)
    return {"sweep_long": (cols, long), "sweep": (sweep_header(table), wide)}


def openpyxl_workbook() -> Any:
    """openpyxl's Workbook class, or an InputError saying how to install it (optional extra)."""
    try:
        from openpyxl import Workbook  # optional extra [xlsx], imported only for --xlsx
    except ImportError:
        raise InputError(XLSX_MISSING, path="--xlsx") from None
    return Workbook


def xlsx_bytes(sheets: dict[str, Sheet]) -> bytes:
    """An Excel workbook with one sheet per table (header row frozen, text cells
    formula-guarded, undefined numbers blank)."""
    wb = openpyxl_workbook()(write_only=True)
    used: set[str] = set()
    for name, (header, rows) in sheets.items():
        ws = wb.create_sheet(_sheet_title(name, used))
        ws.freeze_panes = "A2"
        ws.append([safe_cell(h) for h in header])
        for row in rows:
            ws.append([_xlsx_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_cell(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, bool | int | float):
        return v
    return safe_cell(str(v))


def _sheet_title(name: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "sheet"
    title, i = base, 2
    while title.lower() in used:
        title = f"{base[: 31 - len(str(i)) - 1]}_{i}"
        i += 1
    used.add(title.lower())
    return title


def read_rows(path: Path) -> list[dict[str, str]]:
    """A result CSV's rows as column → cell text (sweep.csv, replications.csv …)."""
    header, rows = read_csv(path)
    return [dict(zip(header, row, strict=True)) for row in rows]


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


__all__ = [
    "COMPARISON_COLUMNS",
    "SENSITIVITY_COLUMNS",
    "SUMMARY_CSV",
    "SUMMARY_KEYS",
    "SWEEP_LONG",
    "SWEEP_STATS",
    "XLSX",
    "comparison_config_sha256",
    "comparison_csv",
    "comparison_json",
    "comparison_sheets",
    "config_sha256",
    "csv_text",
    "dumps_json",
    "jobs_csv_gz",
    "openpyxl_workbook",
    "package_versions",
    "read_comparison_csv",
    "read_jobs",
    "read_json",
    "read_replications_csv",
    "read_rows",
    "read_summary",
    "read_summary_csv",
    "run_sheets",
    "safe_cell",
    "summary_csv",
    "summary_dict",
    "sweep_csv",
    "sweep_json",
    "sweep_long_csv",
    "sweep_sheets",
    "value_text",
    "write_csv",
    "write_jobs_csv_gz",
    "write_replications_csv",
    "xlsx_bytes",
]
