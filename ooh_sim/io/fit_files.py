"""``ooh-sim fit``'s files: the contact log it reads, and the fitted scenario YAML it writes.

The log is a CSV with one row per contact (columns :data:`EVENT_COLUMNS`; see
:mod:`ooh_sim.core.fit` for their meaning and for what is estimated from them).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ooh_sim.core import limits
from ooh_sim.core.errors import InputError, did_you_mean
from ooh_sim.core.fit import Events, Fit
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.schema import IDENTIFIER_PATTERN
from ooh_sim.core.version import __version__
from ooh_sim.io.files import cannot_write, write_atomic

YEARS = (1900, 2200)
"""Contacts outside these years are a typo or a wrong column (the scenario horizon's range)."""

EVENT_COLUMNS = ("received", "stream", "worker_minutes")
"""The contact log's columns (others are ignored): ISO 8601 time, stream name, worker minutes."""
_NAME = re.compile(IDENTIFIER_PATTERN)  # a stream name, as scenario files require

# --------------------------------------------------------------------------------------------
# Reading the log


def read_events(path: str | Path) -> Events:
    """Read and check an event log; every problem is an InputError naming file, line, column."""
    p = Path(path)
    file = str(path)
    try:
        if not p.is_file():
            raise InputError("file not found" if not p.exists() else "not a file", file=file)
        limits.DATA_BYTES.check(p.stat().st_size, file=file)
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read file: {e.strerror or e}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text; save the log as UTF-8 CSV", file=file) from None
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None:
        raise InputError("empty file: expected a header row " + ",".join(EVENT_COLUMNS), file=file)
    header = [h.strip().lower() for h in header]
    if any(len(h) > limits.QUOTE_CHARS for h in header):
        raise InputError("a header cell is too long to be a column name", file=file)
    col: dict[str, int] = {}
    for want in EVENT_COLUMNS:
        if want not in header:
            close = did_you_mean(want, [h for h in header if h not in EVENT_COLUMNS])
            hint = f"rename column '{close}' to '{want}'" if close else f"add a '{want}' column"
            raise InputError(
                f"no '{want}' column (the header is: {limits.quote(', '.join(header))}); {hint} — "
                "expected "
                f"columns {', '.join(EVENT_COLUMNS)}",
                file=file,
                path=want,
            )
        col[want] = header.index(want)
    received, streams, minutes = [], [], []
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        limits.DATA_ROWS.check(line_no - 1, file=file)
        long = next((c for c in row if len(c) > limits.CELL_CHARS), None)
        if long is not None:
            raise InputError(
                f"line {line_no}: a cell of {len(long):,} characters ({limits.quote(long)}); "
                f"cells are at most {limits.CELL_CHARS:,}",
                file=file,
            )
        if len(row) <= max(col.values()):
            raise InputError(
                f"line {line_no}: expected {len(header)} columns, got {len(row)}", file=file
            )
        ts = row[col["received"]].strip()
        try:
            t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"line {line_no}: received {limits.quote(ts)} is not an ISO 8601 date-time "
                "(e.g. 2023-01-02T17:45:00)",
                file=file,
                path="received",
            ) from None
        if not YEARS[0] <= t.year <= YEARS[1]:
            raise InputError(
                f"line {line_no}: received {limits.quote(ts)} is outside the years "
                f"{YEARS[0]}–{YEARS[1]} (a typo, or the wrong column?)",
                file=file,
                path="received",
            )
        name = row[col["stream"]].strip()
        if not _NAME.match(name):
            raise InputError(
                f"line {line_no}: stream {limits.quote(name)} must start with a letter and hold "
                "only letters, digits and _",
                file=file,
                path="stream",
            )
        m = row[col["worker_minutes"]].strip()
        try:
            v = float(m) if m else math.nan
        except ValueError:
            v = -1.0
        if not (math.isnan(v) or (math.isfinite(v) and v >= 0)):
            raise InputError(
                f"line {line_no}: worker_minutes {limits.quote(m)} must be a number >= 0 or blank",
                file=file,
                path="worker_minutes",
            )
        received.append(t.replace(tzinfo=None))
        streams.append(name)
        minutes.append(v)
    if not received:
        raise InputError("the log has a header but no contacts", file=file)
    return Events(
        received, streams, np.asarray(minutes, dtype=float), file, hashlib.sha256(raw).hexdigest()
    )


def write_events(rows: list[tuple[str, str, str]], path: str | Path) -> Path:
    """A contact log in the format :func:`read_events` reads (from :func:`fit.event_rows`)."""
    p = Path(path)
    with p.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(EVENT_COLUMNS)
        w.writerows(rows)
    return p


# --------------------------------------------------------------------------------------------
# Writing the scenario


def _list(xs: list[float]) -> str:
    return "[" + ", ".join(f"{x:g}" for x in xs) + "]"


def _flow(spec: dict[str, Any]) -> str:
    return (
        "{"
        + ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}" for k, v in spec.items())
        + "}"
    )


def scenario_yaml(
    fit: Fit,
    *,
    name: str,
    start: dt.date | None = None,
    profile_files: dict[str, str] | None = None,
) -> str:
    """The fitted scenario as commented YAML (see the module docstring for what is what)."""
    start = start or fit.start
    src = Path(fit.source).name if fit.source else "the event log"
    skills = [s.name for s in fit.streams]
    c = fit.calendar
    weeks = (fit.end - fit.start).days / 7
    L = [
        f"# Scenario fitted by `ooh-sim fit` (ooh-sim {__version__}) from {src}:",
        f"#   {fit.total:,} contacts, {fit.start} to {fit.end} (exclusive), {weeks:.1f} calendar "
        f"weeks = {fit.cover_hours:,.0f} cover hours",
        f"#   = {fit.standard_weeks:.2f} standard weeks of cover (bank holidays add cover hours).",
        "#",
        "# THIS IS A TEMPLATE. Fitted from the log (DERIVED): each stream's per_week, profile and",
        "# duration. Placeholders to edit (ASSUMPTION): staff (one group with every skill), each",
        "# stream's kind, priority and deadline, placements, policy, horizon and replications.",
        "# Every stream is `kind: referral`. For children held in police stations change it to",
        "# `kind: police_protection` and add `transport` and `officers`; the fitted duration is",
        "# then all the worker's time on the child, so split it between duration,",
        "# placements.search and transport.",
    ]
    if fit.outside_period:
        L.append(f"# {fit.outside_period} contacts outside the log period were left out.")
    if fit.outside_cover:
        gone = ", ".join(f"{k} {v}" for k, v in fit.outside_cover.items())
        L.append(f"# Contacts received outside cover hours were left out (day-team work): {gone}.")
    L += [
        "",
        f"name: {name}",
        "description: >-",
        f"  Fitted from {src} ({fit.start} to {fit.end}); staff, priorities and placements are a",
        "  template to edit.",
        "sources:",
        f'  events: "{src}, sha256 {fit.sha256[:16]}…, {fit.total} contacts"',
        "",
        f"horizon: {{start: {start.isoformat()}, days: 364, warmup_days: 28}}   # ASSUMPTION: a "
        "year, 4-week warm-up",
        "replications: 50                 # ASSUMPTION: or choose with `run --precision 0.05`",
        "seed: 12345",
        "",
        "calendar:                        # the cover hours assumed when fitting (keep in step)",
        f"  cover: {c.cover}",
        f'  weekday_start: "{c.weekday_start}"',
        f'  weekday_end: "{c.weekday_end}"',
    ]
    if c.friday_start:
        L.append(f'  friday_start: "{c.friday_start}"')
    bh = c.bank_holidays
    L.append(f"  bank_holidays: {bh if isinstance(bh, str) else _list_dates(bh)}")
    L += [
        "",
        "staff:",
        "  edt:",
        "    count: 1                     # ASSUMPTION: template; set the real team and rosters",
        f"    skills: [{', '.join(skills)}]   # ASSUMPTION: one skill per stream, so groups can "
        "split",
        "    roster: cover",
        "",
        "streams:",
    ]
    for s in fit.streams:
        prof = (
            f"# DERIVED: shape of all contacts pooled (only {s.contacts} of this stream)"
            if s.pooled_shape
            else "# DERIVED: Poisson MLE of a multiplicative hour x weekday rate, cover hours "
            "as exposure; mean 1"
        )
        L += [
            f"  {s.name}:",
            "    kind: referral               # ASSUMPTION: see the header for police_protection",
            f"    skill: {s.name}",
            "    priority: 1                  # ASSUMPTION: all equal; lower number = seen first",
            "    arrivals:",
            f"      per_week: {s.per_week:.4g}   # DERIVED: {s.contacts} contacts in cover / "
            f"{fit.standard_weeks:.2f} standard weeks (profile-weighted); SE {s.se:.2g} "
            "(Poisson)",
            "      profile:",
        ]
        if profile_files and s.name in profile_files:
            L.append(
                f"        file: {profile_files[s.name]}   # DERIVED: 168 hour-of-week rates "
                "(counts / cover hours), mean 1"
            )
        else:
            L += [
                f"        {prof}",
                f"        by_hour: {_list(s.by_hour)}",
                f"        by_weekday: {_list(s.by_weekday)}",
            ]
        d = s.duration
        if d is None:
            L.append(
                "    duration: {dist: exponential, mean: 1}   # ASSUMPTION: no worker "
                "minutes in the log for this stream"
            )
        else:
            how = (
                f"AIC-best of {', '.join(sorted(d.aic))} on {d.n} durations"
                if d.aic
                else f"{d.n} durations, too few to choose a distribution: exponential with their"
                " mean"
            )
            gof = f"; KS D={d.ks_stat:.3f}, p={d.ks_p:.2g}" if math.isfinite(d.ks_stat) else ""
            L.append(
                f"    duration: {_flow(d.spec)}   # DERIVED: {how} "
                f"(sample mean {d.mean:.3g} h){gof}"
            )
            if d.aic:
                L.append(
                    "    # AIC (lower is better): "
                    + ", ".join(
                        f"{k} {v:.1f}" for k, v in sorted(d.aic.items(), key=lambda kv: kv[1])
                    )
                )
            if d.jittered:
                L.append(
                    "    # durations were logged in whole minutes: spread within their "
                    "minute before fitting"
                )
            if d.note and d.aic:
                L.append(f"    # note: {d.note}")
        L.append("    deadline_hours: 4            # ASSUMPTION: local target for starting work")
    L += [
        "",
        "placements: {capacity: null}     # ASSUMPTION: unlimited; set the emergency placements",
        "policy: {dispatch: priority, preemption: false}   # ASSUMPTION",
        "",
    ]
    return "\n".join(L)


def _list_dates(ds: list[dt.date]) -> str:
    return "[" + ", ".join(d.isoformat() for d in ds) + "]"


def write_fit(
    fit: Fit,
    out: str | Path,
    *,
    name: str | None = None,
    start: dt.date | None = None,
    inputs: list[str | Path] | tuple[str | Path, ...] = (),
    force: bool = False,
) -> list[Path]:
    """Write the scenario (and any 168-row profile CSVs beside it), checked to load first.

    Everything is written and checked in a staging folder beside ``out``; only then is each file
    renamed into place, so a bad ``--name``, a full disk or an interruption leaves any earlier
    file as it was. ``inputs`` (the contact log) are never overwritten, and an existing file
    (a scenario someone wrote or edited) only with ``force``.
    """
    out = Path(out)
    if out.is_dir():
        raise InputError(
            f"{out} is a folder; give the scenario file to write, e.g. {out / 'fitted.yaml'}",
            path="--out",
        )
    name = name or out.stem
    profiles = {
        s.name: out.with_name(f"{out.stem}_{s.name}_profile.csv")
        for s in fit.streams
        if s.hour_of_week is not None
    }
    for f in inputs:
        for target in (out, *profiles.values()):
            if os.path.realpath(f) == os.path.realpath(target):
                raise InputError(f"{target} is an input file; fit never writes over its inputs",
                                 path="--out")  # fmt: skip
    if not force:
        for target in (out, *profiles.values()):
            if target.exists():
                raise InputError(f"{target} exists; choose another --out, or add --force to "
                                 "replace it", path="--out")  # fmt: skip
    texts = {
        p: "hour_of_week,weight\n"
        + "".join(f"{i},{w:g}\n" for i, w in enumerate(s.hour_of_week or []))
        for s in fit.streams
        for p in [profiles.get(s.name)]
        if p is not None
    }
    files = {k: p.name for k, p in profiles.items()}
    texts[out] = scenario_yaml(fit, name=name, start=start, profile_files=files)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as e:
        raise cannot_write(out.parent, e) from None
    try:
        for p, text in texts.items():
            (stage / p.name).write_text(text, encoding="utf-8")
        load_scenario(stage / out.name)  # the promise: `run` accepts what fit writes
        written = [write_atomic(p, (stage / p.name).read_bytes()) for p in texts]
    except OSError as e:
        raise cannot_write(out, e) from None
    except InputError as e:
        if e.file and Path(e.file).parent == stage:  # name the file as the user will see it
            e.file = str(out)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    written.insert(0, written.pop())  # the scenario first, then its profiles
    return written


__all__ = ["EVENT_COLUMNS", "read_events", "scenario_yaml", "write_events", "write_fit"]
