"""ooh-sim: a discrete-event simulator of a local authority's out-of-hours Emergency Duty Team.

The Python API a notebook user calls (the CLI is a thin layer over it)::

    import ooh_sim
    scenario = ooh_sim.load_scenario("scenarios/baseline.yaml")
    result = ooh_sim.run(scenario, replications=20, jobs=2)
    result.summary["station.hours.mean"]
"""

from __future__ import annotations

from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.runner import RunResult, run
from ooh_sim.core.schema import Scenario
from ooh_sim.core.version import __version__

__all__ = ["InputError", "RunResult", "Scenario", "__version__", "load_scenario", "run"]
