"""Every size limit in one place: its default, its message, and how to raise it.

A small hostile or mistaken file must never take the machine (a YAML alias bomb, a 240 MB data
file, a 10^6-point grid, ``-n 1000000000``): each of these is refused at once with one line that
names the limit and the environment variable that raises it (``OOH_SIM_MAX_…``). The defaults are
far above any real out-of-hours scenario; the README's robustness section lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ooh_sim.core.errors import InputError


@dataclass(frozen=True)
class Limit:
    """One limit: ``OOH_SIM_MAX_<env>`` overrides ``default``; ``what`` says what is counted."""

    env: str
    default: int
    what: str

    @property
    def variable(self) -> str:
        return f"OOH_SIM_MAX_{self.env}"

    @property
    def value(self) -> int:
        """The limit now in force (the environment variable if it is a whole number ≥ 1)."""
        text = os.environ.get(self.variable, "").strip().replace("_", "")
        try:
            v = int(text)
        except ValueError:
            return self.default
        return v if v >= 1 else self.default

    def shown(self, n: int) -> str:
        return _mb(n) if self.env.endswith("BYTES") else f"{n:,}"

    def problem(self, got: int | None = None) -> str:
        """``too many …: N, the limit is M (set OOH_SIM_MAX_X to raise it)``."""
        shown = "" if got is None else f"{self.shown(got)}, "
        return (
            f"{self.what}: {shown}the limit is {self.shown(self.value)} (set {self.variable} "
            "to raise it)"
        )

    def check(self, got: int, *, file: str | None = None, path: str = "") -> None:
        """Raise an InputError if ``got`` exceeds the limit."""
        if got > self.value:
            raise InputError(self.problem(got), file=file, path=path)


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n:,} bytes"


YAML_BYTES = Limit("YAML_BYTES", 5 * 1024 * 1024, "file too large")
"""A scenario, experiment or optimise file (each file of an ``extends:`` chain)."""
YAML_NODES = Limit("YAML_NODES", 200_000, "too many YAML values (nodes, aliases expanded)")
"""Values in one YAML file with every alias counted as a copy: stops alias bombs and huge lists."""
DATA_BYTES = Limit("DATA_BYTES", 50 * 1024 * 1024, "data file too large")
"""An empirical-distribution values file, an arrival-profile CSV, or a contact log for ``fit``."""
DATA_ROWS = Limit("DATA_ROWS", 1_000_000, "data file has too many rows")
"""Rows of a data file (the values of one empirical distribution; contacts in a log)."""
REPLICATIONS = Limit("REPLICATIONS", 100_000, "too many replications")
"""``-n`` / ``--max-replications`` (each keeps one row of KPIs); ``replications:`` in a file is
fixed at 100,000 by the schema."""
POINTS = Limit("POINTS", 100_000, "too many design points")
"""Design points of one sweep (each is checked as a scenario before anything runs)."""
CELL_CHARS = 4096
"""A data-file cell longer than this is refused (no real timestamp, name or number is)."""
QUOTE_CHARS = 80
"""Error messages quote at most this much of a data line or value."""

ALL = (YAML_BYTES, YAML_NODES, DATA_BYTES, DATA_ROWS, REPLICATIONS, POINTS)


def data_lines(path: Path) -> list[str]:
    """The lines of a data file named in a scenario, within :data:`DATA_BYTES` and
    :data:`DATA_ROWS`; a ValueError (a validation error at the key naming the file) otherwise."""
    try:
        if not path.is_file():
            raise ValueError(f"not a regular file: {quote(str(path))}")
        size = path.stat().st_size
        if size > DATA_BYTES.value:
            raise ValueError(f"{path}: {DATA_BYTES.problem(size)}")
        with path.open("rb") as fh:
            raw = fh.read(DATA_BYTES.value + 1)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > DATA_BYTES.value:
        raise ValueError(f"{path}: {DATA_BYTES.problem()}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text; save it as UTF-8 CSV") from None
    lines = text.splitlines()
    if len(lines) > DATA_ROWS.value:
        raise ValueError(f"{path}: {DATA_ROWS.problem(len(lines))}")
    return lines


def quote(text: object, most: int = QUOTE_CHARS) -> str:
    """``repr`` of a value from a file, cut to about ``most`` characters (``…`` marks the cut)."""
    shown = repr(text)
    return shown if len(shown) <= most else shown[: most - 1] + "…"


__all__ = [
    "ALL",
    "CELL_CHARS",
    "DATA_BYTES",
    "DATA_ROWS",
    "POINTS",
    "QUOTE_CHARS",
    "REPLICATIONS",
    "YAML_BYTES",
    "YAML_NODES",
    "Limit",
    "data_lines",
    "quote",
]
