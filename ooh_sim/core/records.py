"""Job records, declared once: the in-memory table a replication's KPIs are computed from, and
the columns of ``jobs.csv.gz`` that io writes and the report reads back.

Each column says its name, type, unit and meaning here and nowhere else: the file's header is
built from :data:`JOB_FILE_COLUMNS`, its readers look columns up by these names, and the README's
table of jobs.csv.gz says the same.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ooh_sim.core.model import (
    DAY_TEAM,
    EDT_PLACED,
    HELD,
    OUT_OF_AREA,
    UNLIMITED,
    WAITING,
    Model,
)


@dataclass(frozen=True)
class Column:
    """One column of a table of records."""

    name: str
    dtype: str  # "int", "float", "bool", "text" (text also for timestamps)
    unit: str  # "h", "", "index", "ISO 8601 time" …
    meaning: str


JOB_FIELDS: tuple[Column, ...] = (
    Column("stream", "int", "index", "the job's stream, by position in scenario.streams"),
    Column("arrival", "float", "h", "arrival, hours after the horizon start"),
    Column("start", "float", "h", "a worker starts; NaN if never started"),
    Column("end", "float", "h", "the worker finishes; NaN if never finished"),
    Column("station_end", "float", "h", "the child leaves the police station; NaN otherwise"),
    Column("handover", "float", "h", "handed over to the day team; NaN if not"),
    Column("worker", "int", "index", "the worker, by position over all staff groups; -1 none"),
    Column(
        "outcome",
        "int",
        "code",
        "how a child left the station: 0 still waiting (model.WAITING), 1 an EDT placement "
        "(EDT_PLACED), 2 out of area (OUT_OF_AREA), 3 the day team (DAY_TEAM), 4 an unlimited "
        "placement (UNLIMITED), 5 a charged child held in the cell until court (HELD)",
    ),
    Column("none_free", "bool", "", "no placement was free when the child needed one"),
)
"""The in-memory job record (:class:`JobTable`), one numpy column each."""


@dataclass
class JobTable:
    """One row per job (all arrivals, warm-up included, flagged), as numpy columns; the columns
    are declared in :data:`JOB_FIELDS`."""

    stream: np.ndarray
    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    station_end: np.ndarray
    handover: np.ndarray
    worker: np.ndarray
    outcome: np.ndarray
    none_free: np.ndarray


assert [f.name for f in fields(JobTable)] == [c.name for c in JOB_FIELDS]

OUTCOMES: dict[int, str] = {
    WAITING: "still waiting",
    EDT_PLACED: "an EDT placement",
    OUT_OF_AREA: "out of area",
    DAY_TEAM: "the day team",
    UNLIMITED: "an unlimited placement",
    HELD: "held in the cell until court",
}
"""Each ``outcome`` code (how a child left the station) and what it means, as the column says."""


def job_table(m: Model) -> JobTable:
    """The finished model's job records as a :class:`JobTable`."""
    return JobTable(
        stream=m.stream,
        arrival=m.arrival,
        start=np.asarray(m.start),
        end=np.asarray(m.end),
        station_end=np.asarray(m.station_end),
        handover=np.asarray(m.handover),
        worker=np.asarray(m.first_worker),
        outcome=np.asarray(m.outcome),
        none_free=np.asarray(m.none_free),
    )


JOB_FILE_COLUMNS: tuple[Column, ...] = (
    Column("replication", "int", "index", "replication number"),
    Column("stream", "text", "", "stream name"),
    Column("arrival", "text", "ISO 8601 time", "arrival, date and time (to the second)"),
    Column("arrival_h", "float", "h", "arrival, hours after the horizon start"),
    Column("start_h", "float", "h", "a worker starts; blank if never"),
    Column("end_h", "float", "h", "the worker finishes; blank if never"),
    Column("response_hours", "float", "h", "arrival → a worker starts; blank if never"),
    Column("completion_hours", "float", "h", "arrival → the worker finishes; blank if never"),
    Column("station_hours", "float", "h", "arrival → the child leaves the station; blank if not"),
    Column("handed_over", "int", "0/1", "1 when handed over to the day team"),
    Column("worker", "text", "", "worker as group#number; blank if none"),
)
"""The columns of ``jobs.csv.gz``, in file order: one row per job of every replication."""

JOB_FILE_HEADER: tuple[str, ...] = tuple(c.name for c in JOB_FILE_COLUMNS)

__all__ = [
    "JOB_FIELDS", "JOB_FILE_COLUMNS", "JOB_FILE_HEADER", "OUTCOMES", "Column", "JobTable",
    "job_table",
]  # fmt: skip
