"""Make examples/events_example.csv: an out-of-hours contact log produced by the simulator itself.

Runs one replication of a scenario (default: scenarios/baseline.yaml over 13 weeks from Monday
2 January 2023, no warm-up) and writes one row per contact from the model's job table —
``received`` (arrival, ISO 8601), ``stream``, ``worker_minutes`` (the worker time the job took, in
whole minutes; blank if the EDT did not finish it) — the format ``ooh-sim fit`` reads.

Because the generating scenario is known, the log is a check on ``fit``: fitting it should give
back the scenario's volumes, profiles and duration means within sampling error (tests/test_fit.py
does this on a longer log). Re-running this script reproduces the file byte for byte::

    python examples/make_events.py                      # → examples/events_example.csv
    python examples/make_events.py SCENARIO --days 182 --seed 7 --out my_log.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ooh_sim.core.fit import event_rows
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.io.fit_files import write_events

HERE = Path(__file__).resolve().parent


def make_rows(scenario_path: Path, days: int = 91, seed: int = 2023) -> list[tuple[str, str, str]]:
    """The log rows of replication 0 of the scenario over ``days`` days, with no warm-up."""
    sc = load_scenario(scenario_path, overrides={"horizon.days": days, "horizon.warmup_days": 0})
    return event_rows(Model(sc, RandomStreams(seed, 0)).run())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "scenario", type=Path, nargs="?", default=HERE.parent / "scenarios/baseline.yaml"
    )
    p.add_argument("--days", type=int, default=91, help="log length in days (default 91)")
    p.add_argument("--seed", type=int, default=2023)
    p.add_argument("--out", type=Path, default=HERE / "events_example.csv")
    a = p.parse_args()
    rows = make_rows(a.scenario, a.days, a.seed)
    write_events(rows, a.out)
    print(f"wrote {len(rows)} contacts to {a.out}")


if __name__ == "__main__":
    main()
