"""ooh-sim: a discrete-event simulator of a local authority's out-of-hours Emergency Duty Team.

The Python API a notebook user calls (the CLI is a thin layer over it)::

    import ooh_sim
    scenario = ooh_sim.load_scenario("scenarios/baseline.yaml")
    result = ooh_sim.run(scenario, replications=20, jobs=2)
    result.summary["station.hours.mean"]
    ooh_sim.write_run(result, "results/baseline")          # files and figures, atomically

    option = ooh_sim.load_scenario("scenarios/more_placements.yaml")
    c = ooh_sim.compare([scenario, option], replications=20)
    c.differences["more_placements"]["station.hours.mean"].paired   # option − baseline
    ooh_sim.write_comparison(c, "results/compare")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ooh_sim.core.version import __version__

if TYPE_CHECKING:
    from ooh_sim.core.compare import Comparison, compare, compare_to_precision
    from ooh_sim.core.errors import InputError
    from ooh_sim.core.experiment import Experiment, load_experiment
    from ooh_sim.core.loader import load_scenario
    from ooh_sim.core.optimise import optimise
    from ooh_sim.core.optimise_spec import load_problem
    from ooh_sim.core.precision import run_to_precision
    from ooh_sim.core.runner import RunResult, run
    from ooh_sim.core.schema import Scenario
    from ooh_sim.report.folders import run_optimise, run_sweep, write_comparison, write_run

# Each public name is imported on first access, FOR SPEED: importing any submodule (the CLI's
# `ooh-sim --help`, `ooh-sim validate`, a pool worker) runs this file first, and importing the
# whole API here would pull in scipy.stats, pydantic and the report layer for every command.
_WHERE = {
    "Comparison": "ooh_sim.core.compare",
    "compare": "ooh_sim.core.compare",
    "compare_to_precision": "ooh_sim.core.compare",
    "InputError": "ooh_sim.core.errors",
    "Experiment": "ooh_sim.core.experiment",
    "load_experiment": "ooh_sim.core.experiment",
    "load_scenario": "ooh_sim.core.loader",
    "optimise": "ooh_sim.core.optimise",
    "load_problem": "ooh_sim.core.optimise_spec",
    "run_optimise": "ooh_sim.report.folders",
    "run_to_precision": "ooh_sim.core.precision",
    "RunResult": "ooh_sim.core.runner",
    "run": "ooh_sim.core.runner",
    "Scenario": "ooh_sim.core.schema",
    "run_sweep": "ooh_sim.report.folders",
    "write_comparison": "ooh_sim.report.folders",
    "write_run": "ooh_sim.report.folders",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'ooh_sim' has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Comparison",
    "Experiment",
    "InputError",
    "RunResult",
    "Scenario",
    "__version__",
    "compare",
    "compare_to_precision",
    "load_experiment",
    "load_problem",
    "load_scenario",
    "optimise",
    "run",
    "run_optimise",
    "run_sweep",
    "run_to_precision",
    "write_comparison",
    "write_run",
]
