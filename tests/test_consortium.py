"""A consortium: several councils share one out-of-hours team (issue 19). One council is the
single-council scenario bit for bit; two identical councils agree within noise; the cost split
adds up; separate staff take only their councils' work; travel adds exactly its hours."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ooh_sim.core.kpis import names_for
from ooh_sim.core.loader import load_scenario, read_with_extends
from ooh_sim.core.metrics import compute_kpis, job_table
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Scenario

SEED = 1919
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def run(scenario: Scenario, rep: int = 0) -> Model:
    return Model(scenario, RandomStreams(SEED, rep)).run()


def test_one_council_is_the_single_council_scenario_bit_for_bit() -> None:
    single = load_scenario(SCENARIOS / "baseline.yaml", overrides={"horizon.days": 182})
    data = single.model_dump(by_alias=True)
    data["councils"] = {"borough": {}}
    for stream in data["streams"].values():
        stream["council"] = "borough"
    one = Scenario.model_validate(data)
    a, b = run(single), run(one)
    ja, jb = job_table(a), job_table(b)
    for col in ("stream", "arrival", "start", "end", "station_end", "handover", "outcome"):
        assert np.array_equal(getattr(ja, col), getattr(jb, col), equal_nan=True)
    assert a.records.busy == b.records.busy
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert {k: kb[k] for k in ka} == ka  # every single-council KPI, bit for bit
    assert list(kb) == names_for(one)
    c = "council.borough"
    assert kb[f"{c}.station.hours.mean"] == ka["station.hours.mean"]
    assert kb[f"{c}.station.officer_hours_per_week"] == pytest.approx(
        ka["station.officer_hours_per_week"], rel=1e-12
    )
    assert kb[f"{c}.cost_share"] == 1.0
    assert kb[f"{c}.cost.per_week"] == pytest.approx(ka["cost.council.per_week"], rel=1e-12)
    assert kb[f"{c}.jobs_per_week"] == pytest.approx(
        sum(v for k, v in ka.items() if k.startswith("streams.") and k.endswith(".per_week"))
    )


def _two(shares: list[float] | None = None, separate: bool = False, travel: float = 0.0) -> dict:
    stream = {
        "pp": {"kind": "police_protection", "skill": "children", "priority": 1,
               "arrivals": {"per_week": 3}, "duration": {"dist": "exponential", "mean": 1.0},
               "transport": {"dist": "lognormal", "mean": 1.0, "sd": 0.4}},
        "calls": {"skill": "children", "priority": 2, "arrivals": {"per_week": 30},
                  "duration": {"dist": "exponential", "mean": 0.5}},
    }  # fmt: skip
    streams, types, councils = {}, {}, {}
    for i, c in enumerate(("a", "b")):
        for name, spec in stream.items():
            streams[f"{c}_{name}"] = {**copy.deepcopy(spec), "council": c}
        types[f"{c}_beds"] = {"capacity": 1, "streams": [f"{c}_pp"], "retainer_week": 300}
        councils[c] = {"travel_hours": travel if c == "b" else 0.0}
        if shares:
            councils[c]["cost_share"] = shares[i]
    staff: dict[str, Any] = {"sw": {"count": 2, "skills": ["children"], "roster": "cover"}}
    if separate:
        staff = {f"sw_{c}": {"count": 1, "skills": ["children"], "roster": "cover",
                             "councils": [c]} for c in ("a", "b")}  # fmt: skip
    return {
        "name": "two_councils",
        "horizon": {"start": "2023-01-02", "days": 182, "warmup_days": 14},
        "staff": staff, "streams": streams, "councils": councils,
        "placements": {"types": types, "search": {"dist": "fixed", "value": 0.5}},
        "costs": {"worker_hour": 55, "officer_hour": 40, "placement_night": 250},
    }  # fmt: skip


def test_two_identical_councils_agree_within_noise() -> None:
    sc = Scenario.model_validate(_two())
    keys = ["station.hours.mean", "station.children_per_week", "jobs_per_week",
            "response_hours.mean", "worker_hours_per_week", "cost.per_week"]  # fmt: skip
    values: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
    for rep in range(30):
        k = compute_kpis(run(sc, rep))
        for key in keys:
            values[key].append((k[f"council.a.{key}"], k[f"council.b.{key}"]))
        parts = k["council.a.cost.per_week"] + k["council.b.cost.per_week"]
        assert parts == pytest.approx(k["cost.council.per_week"], rel=1e-9)  # the split adds up
        assert k["council.a.cost_share"] + k["council.b.cost_share"] == pytest.approx(1.0)
    for key, pairs in values.items():
        x = np.array(pairs, dtype=float)
        x = x[np.isfinite(x).all(axis=1)]
        a, b = x[:, 0], x[:, 1]
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * se, (key, a.mean(), b.mean(), se)


def test_given_cost_shares_split_the_shared_costs() -> None:
    k = compute_kpis(run(Scenario.model_validate(_two(shares=[0.7, 0.3]))))
    assert k["council.a.cost_share"] == 0.7 and k["council.b.cost_share"] == 0.3
    assert k["council.a.cost.per_week"] + k["council.b.cost.per_week"] == pytest.approx(
        k["cost.council.per_week"], rel=1e-9
    )
    assert k["council.a.cost.per_week"] > k["council.b.cost.per_week"]
    with pytest.raises(ValueError, match="cost_share"):
        Scenario.model_validate(_two(shares=[0.7, 0.7]))


def test_separate_staff_take_only_their_councils_work() -> None:
    m = run(Scenario.model_validate(_two(separate=True)))
    council_of_stream = [s.council for s in m.scenario.streams.values()]
    for worker, _s, _e, job in m.records.busy:
        assert council_of_stream[int(m.stream[job])] == ("a", "b")[worker]
    assert len(m.records.busy) > 100


def test_travel_adds_exactly_its_hours() -> None:
    near = run(Scenario.model_validate(_two()))
    far = run(Scenario.model_validate(_two(travel=0.5)))
    b_kids = np.isin(near.stream, [list(near.scenario.streams).index("b_pp")])
    assert np.array_equal(far.transport[b_kids], near.transport[b_kids] + 0.5)
    assert np.array_equal(far.transport[~b_kids], near.transport[~b_kids])


def test_shipped_consortium_runs_and_names_match() -> None:
    sc = load_scenario(SCENARIOS / "consortium_three_councils.yaml",
                       overrides={"horizon.days": 56, "horizon.warmup_days": 7})  # fmt: skip
    k = compute_kpis(run(sc))
    assert list(k) == names_for(sc)
    total = sum(k[f"council.{c}.cost.per_week"] for c in ("host", "east", "west"))
    assert total == pytest.approx(k["cost.council.per_week"], rel=1e-9)
    assert read_with_extends(SCENARIOS / "consortium_three_councils.yaml")["councils"]
