"""Figures (PNG) for run results: titled, axes with units, a colour-blind-safe palette.

Only this module imports matplotlib, and the model core never imports this module.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .runner import RunResult

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def _week_axis(ax: plt.Axes) -> None:
    ax.set_xticks(np.arange(0, 169, 24))
    ax.set_xticklabels([*DAYS, ""], ha="left")
    ax.set_xlim(0, 168)
    ax.set_xlabel("hour of the week (ticks at 00:00)")
    ax.grid(axis="x", alpha=0.3)


def hour_of_week(result: RunResult, path: Path) -> Path:
    """Mean queue length and busy workers by hour of week: when the team is stretched."""
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(168) + 0.5
    ax.step(x, result.profile("queue"), where="mid", color=PALETTE[0], label="jobs waiting")
    ax.step(x, result.profile("busy"), where="mid", color=PALETTE[1], label="workers busy")
    if result.scenario.police_streams:
        ax.step(
            x, result.profile("station"), where="mid", color=PALETTE[3],
            label="children in police stations",
        )  # fmt: skip
    _week_axis(ax)
    ax.set_ylabel("mean number (over replications)")
    ax.set_title(f"{result.scenario.name}: workload by hour of week")
    ax.legend(loc="upper left", frameon=False)
    return _save(fig, path)


def station_hours(result: RunResult, path: Path) -> Path | None:
    """Distribution of hours children spend in police stations, with the report thresholds."""
    hours = station_samples(result)
    if len(hours) == 0:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max(float(np.quantile(hours, 0.99)), max(result.scenario.report.thresholds_hours)) * 1.1
    ax.hist(np.minimum(hours, top), bins=np.linspace(0, top, 40), color=PALETTE[0], alpha=0.85)
    for i, h in enumerate(result.scenario.report.thresholds_hours):
        share = float((hours > h).mean())
        ax.axvline(h, color=PALETTE[3 + i % 3], linestyle="--")
        ax.text(h, ax.get_ylim()[1] * 0.95, f" {share:.0%} > {h:g} h", color=PALETTE[3 + i % 3],
                va="top")  # fmt: skip
    ax.set_xlabel("hours in the police station (arrival → collection starts)")
    ax.set_ylabel("children (all replications)")
    ax.set_title(f"{result.scenario.name}: time children spend in police stations")
    return _save(fig, path)


def station_samples(result: RunResult) -> np.ndarray:
    """Station hours of every measured child over all replications (needs job records)."""
    sc = result.scenario
    ids = [list(sc.streams).index(s) for s in sc.police_streams]
    out = []
    for r in result.replications:
        t = r.jobs
        if t is None:
            continue
        ok = np.isin(t.stream, ids) & (t.arrival >= sc.horizon.warmup_hours)
        ok &= ~np.isnan(t.station_end)
        out.append((t.station_end - t.arrival)[ok])
    return np.concatenate(out) if out else np.zeros(0)


def station_by_hour(result: RunResult, path: Path) -> Path | None:
    """Mean children in police stations by hour of week."""
    if not result.scenario.police_streams:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.step(np.arange(168) + 0.5, result.profile("station"), where="mid", color=PALETTE[3])
    _week_axis(ax)
    ax.set_ylabel("children in police stations (mean)")
    ax.set_title(f"{result.scenario.name}: children waiting in police stations by hour of week")
    return _save(fig, path)


def run_figures(result: RunResult, folder: Path) -> list[Path]:
    made = [
        hour_of_week(result, folder / "workload_by_hour_of_week.png"),
        station_hours(result, folder / "station_hours_distribution.png"),
        station_by_hour(result, folder / "station_by_hour_of_week.png"),
    ]
    return [p for p in made if p is not None]
