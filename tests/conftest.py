"""Shared test helpers: scenarios built in Python, validated exactly as a YAML file would be."""

from __future__ import annotations

import importlib
import os
from typing import Any, NoReturn

import pytest

from ooh_sim.core.schema import Scenario


def unavailable(what: str, fix: str) -> NoReturn:
    """A test cannot run here (``what`` is missing): a skip on a developer's machine, a failure
    under CI=true, where ``fix`` should have provided it: a skip there would leave the test
    unrun without a word, and CI green."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must provide it ({fix})")
    pytest.skip(f"{what} ({fix})", allow_module_level=True)


def need(module: str, fix: str = "pip install -e '.[dev]'") -> Any:
    """``module``, imported; where it is missing, :func:`unavailable` (not pytest.importorskip,
    which would skip under CI too)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        unavailable(f"{module} is not installed", fix)


def exp_stream(per_hour: float, mean: float, **extra: Any) -> dict[str, Any]:
    """A referral stream of skill ``x`` with Poisson arrivals and exponential work (hours)."""
    return {
        "skill": "x",
        "arrivals": {"per_week": per_hour * 168},
        "duration": {"dist": "exponential", "mean": mean},
        **extra,
    }


def queue_scenario(
    streams: dict[str, dict[str, Any]],
    *,
    servers: int = 1,
    days: float = 28,
    warmup_days: float = 0,
    **extra: Any,
) -> Scenario:
    """A textbook queue: cover ``always``, ``servers`` workers of skill ``x`` rostered always."""
    return Scenario.model_validate(
        {
            "name": "queue",
            "horizon": {"start": "2023-01-02", "days": days, "warmup_days": warmup_days},
            "calendar": {"cover": "always"},
            "staff": {"s": {"count": servers, "skills": ["x"], "roster": "always"}},
            "streams": streams,
            **extra,
        }
    )
