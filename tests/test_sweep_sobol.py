"""Global sensitivity: Sobol first-order and total indices of a ``design: saltelli`` sweep
(SALib), beside the linear SRC ranking and its R²."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import need

from ooh_sim.core.experiment import load_experiment
from ooh_sim.report.folders import run_sweep

need("SALib", "pip install -e '.[dev]' (or .[sensitivity])")

SCENARIO = """\
name: queue
horizon: {start: 2023-01-02, days: 14, warmup_days: 0}
replications: 2
seed: 5
calendar: {cover: always}
staff:
  s: {count: 1, skills: [x], roster: always}
streams:
  a:
    skill: x
    arrivals: {per_week: 60}
    duration: {dist: exponential, mean: 1.0}
"""

EXPERIMENT = """\
name: sobol_queue
scenario: queue.yaml
replications: 2
seed: 3
design: saltelli
samples: 16
parameters:
  streams.a.arrivals.per_week: {low: 20, high: 120}   # load: drives the wait
  placements.other_demand_per_week: {low: 0, high: 5}  # no children here: does nothing
outputs: [streams.a.response_hours.mean, staff.s.utilisation]
"""


def test_saltelli_sweep_gives_sobol_indices_with_intervals(tmp_path: Path) -> None:
    (tmp_path / "queue.yaml").write_text(SCENARIO)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    exp = load_experiment(tmp_path / "exp.yaml")
    assert len(exp.points) == 16 * (2 + 2)
    run_sweep(exp, tmp_path / "out", jobs=1, figures=False)
    with (tmp_path / "out" / "sensitivity.csv").open() as fh:
        rows = {(r["output"], r["parameter"]): r for r in csv.DictReader(fh)}
    load = rows[("staff.s.utilisation", "streams.a.arrivals.per_week")]
    idle = rows[("staff.s.utilisation", "placements.other_demand_per_week")]
    # the linear ranking and its R² are kept beside the Sobol indices
    assert float(load["r2"]) > 0.9 and load["abs_src_rank"] == "1"
    assert float(load["sobol_st"]) > 0.8 and float(load["sobol_s1"]) > 0.7
    assert float(load["sobol_s1_ci95"]) > 0 and float(load["sobol_st_ci95"]) > 0
    # on common random numbers a setting that changes nothing has exactly no effect
    assert float(idle["sobol_st"]) == 0 and float(idle["sobol_st_ci95"]) == 0
