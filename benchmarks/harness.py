"""Tiny measurement harness: repeat a case, keep medians and raw runs, describe the machine.

Medians rather than means because wall-clock figures have a one-sided tail
(GC pauses, other load on a 2-core box); the raw list is kept so spread and
per-repeat model output (e.g. mean waits for the theory check) stay visible.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

Figures = dict[str, float]


@dataclass(frozen=True)
class Case:
    """One benchmark case: what to call, with which sizes, and what to compare it with.

    `rate_key` names the throughput figure used for ratios. `peer` names the Ciw
    case modelling the same queue (ooh-sim cases are ratioed against it and
    against the hand-written SimPy M/M/1).
    """

    name: str
    fn: Callable[..., Figures]
    kwargs: Mapping[str, Any]
    quick_kwargs: Mapping[str, Any]
    rate_key: str = "customers_per_s"
    peer: str | None = None
    about: str = ""
    theory: Mapping[str, float] = field(default_factory=dict)  # figure key -> theoretical value


def measure(fn: Callable[..., Figures], repeats: int = 5, **kw: Any) -> dict[str, Any]:
    """Run `fn(**kw)` `repeats` times; return the median of each numeric figure and the raw runs.

    If `seed` is among the kwargs, repeat i uses seed + i: repeats are then
    independent replications, so their model outputs can be pooled for the
    theory check, while the work per repeat stays the same size.
    """
    raw: list[Figures] = []
    for i in range(repeats):
        call_kw = dict(kw)
        if "seed" in call_kw:
            call_kw["seed"] = int(call_kw["seed"]) + i
        raw.append(fn(**call_kw))
    keys = [k for k, v in raw[0].items() if isinstance(v, (int, float))]
    median = {k: float(statistics.median(r[k] for r in raw)) for k in keys}
    return {"median": median, "raw": raw, "repeats": repeats, "kwargs": dict(kw)}


def _cpu_model() -> str:
    """CPU model string from /proc/cpuinfo, falling back to platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Where the figures were taken: timings are only comparable on the same machine."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": {d: _version(d) for d in ("simpy", "ciw", "numpy", "ooh-sim")},
    }
