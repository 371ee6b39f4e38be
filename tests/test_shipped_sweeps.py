"""The figures experiments/README.md shows for the two shipped sweeps are what the sweeps give:
both run here (about 65 s on 2 cores) and every cell of the README's two tables is checked, so
the text cannot drift from the model again (it had, after common random numbers became the
default)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from ooh_sim.core.experiment import load_experiment
from ooh_sim.io.sweep_store import run_sweep

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "experiments" / "README.md").read_text(encoding="utf-8")


def _rows(first_cell: str) -> list[list[str]]:
    """The body rows of the README's table whose header starts with ``first_cell``."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _sweep(name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    run_sweep(load_experiment(ROOT / "experiments" / f"{name}.yaml"), out, jobs=2)
    return out


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_staffing_placements_table(tmp_path: Path) -> None:
    points = _read(_sweep("staffing_placements", tmp_path) / "sweep.csv")
    got = {}
    for p in points:
        k = "station.hours.mean"
        half = (float(p[f"{k}.ci95_high"]) - float(p[f"{k}.ci95_low"])) / 2
        cell = f"{float(p[f'{k}.mean']):.1f} ± {half:.1f}"
        got[(int(float(p["placements.capacity"])), int(float(p["staff.edt.count"])))] = cell
    rows = _rows("beds \\ workers")
    assert len(rows) == 5
    for row in rows:
        beds = int(re.match(r"\d+", row[0]).group())
        assert row[1:] == [got[(beds, workers)] for workers in (1, 2, 3)], f"beds {beds}"


def test_demand_growth_sensitivity_table(tmp_path: Path) -> None:
    src = {(r["output"], r["parameter"]): r for r in
           _read(_sweep("demand_growth", tmp_path) / "sensitivity.csv")}  # fmt: skip
    rows = _rows("output")
    assert len(rows) == 6
    for row in rows:
        kpi = row[0].strip("`")
        police = src[(kpi, "streams.police_protection.arrivals.per_week")]
        amhp = src[(kpi, "streams.amhp.arrivals.per_week")]
        want = [f"{float(police['src']):.2f}", f"{float(amhp['src']):.2f}",
                f"{float(police['r2']):.2f}"]  # fmt: skip
        assert row[1:] == want, kpi


@pytest.mark.parametrize("name", ["staffing_placements", "demand_growth"])
def test_the_readme_names_the_sweeps_sizes(name: str) -> None:
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    assert f"**{name}** ({len(exp.points)} " in README
    assert f"× {exp.replications} replications)" in README.split(f"**{name}**")[1].split("\n")[0]
