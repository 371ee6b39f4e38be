"""Property-based fuzzing (hypothesis, derandomised and bounded, so CI is repeatable and fast).

(a) The loader, given random YAML-ish data or random mutations of a valid scenario, only ever
    raises InputError — never a TypeError, KeyError, RecursionError … that would reach a user as
    a traceback.
(b) The model, on small random valid scenarios (1–3 streams, 1–3 staff groups with shifts and
    on-call, placements, preemption, every dispatch policy), never crashes and keeps its books:
    every job is completed, handed over, or still queued / in hand / waiting for a bed at the
    end; no negative durations; a worker never does two things at once.

Budget: about 30 s on one core (measured figures in the report of issue #7).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ooh_sim.core.checks import warnings_for
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import apply_overrides, load_scenario, scenario_from_dict
from ooh_sim.core.metrics import compute_kpis, job_table, profiles
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams

# CI: fixed examples. A deeper, random hunt: OOH_SIM_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py
DEEP = int(os.environ.get("OOH_SIM_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not DEEP,
    deadline=None,
    max_examples=DEEP or 300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)

VALID: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "bad_inputs" / "valid.yaml").read_text(encoding="utf-8")
)

# --------------------------------------------------------------------------- (a) the loader

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["17:00", "25:99", "mon", "cover", "always", "gamma", "lognormal", "..", ""]),
    st.dates(),
)
keys = st.one_of(
    st.sampled_from(
        [
            "name",
            "staff",
            "streams",
            "dist",
            "mean",
            "sd",
            "roster",
            "days",
            "start",
            "end",
            "per_week",
            "profile",
            "skills",
            "count",
            "extends",
            "capacity",
            "file",
            "kind",
        ]
    ),
    st.text(max_size=8),
    st.integers(-3, 3),
)
yamlish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts/lists (for mutation targets)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


VALID_PATHS = _paths(VALID)[1:]


def _mutate(data: dict, path: tuple, how: str, value: Any) -> dict:
    out = copy.deepcopy(data)
    node = out
    for k in path[:-1]:
        node = node[k]
    last = path[-1]
    if how == "set":
        node[last] = value
    elif how == "delete":
        del node[last]
    elif how == "rename" and isinstance(node, dict):
        node[f"{last}x" if not isinstance(value, str) or not value else value] = node.pop(last)
    elif how == "wrap":
        node[last] = [node[last]]
    elif how == "nest":
        node[last] = {"dist": node[last]} if not isinstance(value, str) else {value: node[last]}
    return out


def _loads_or_input_error(data: Any) -> None:
    try:
        sc = scenario_from_dict(data, file="fuzz.yaml")
    except InputError as e:
        text = str(e)
        assert text and "Traceback" not in text
        return
    warnings_for(sc)  # a scenario that loads must also be checkable


@FUZZ
@given(yamlish)
def test_loader_on_random_data_raises_only_input_error(data: Any) -> None:
    _loads_or_input_error(data)


@FUZZ
@given(
    st.sampled_from(VALID_PATHS),
    st.sampled_from(["set", "set", "set", "delete", "rename", "wrap", "nest"]),
    yamlish,
)
def test_loader_on_mutated_valid_scenario_raises_only_input_error(
    path: tuple, how: str, value: Any
) -> None:
    _loads_or_input_error(_mutate(VALID, path, how, value))


@FUZZ
@given(st.text(max_size=200))
def test_loader_on_random_text_files_raises_only_input_error(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("fz") / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(InputError):
        load_scenario(path)


@FUZZ
@given(
    st.sampled_from(VALID_PATHS),
    yamlish,
    st.sampled_from([None, "parent.yaml", "child.yaml", "missing.yaml", ".", "", 5]),
)
def test_loader_on_mutated_files_with_extends_raises_only_input_error(
    tmp_path_factory: pytest.TempPathFactory, path: tuple, value: Any, parent: Any
) -> None:
    """Through the file layer: YAML text, ``extends:`` chains (cycles, missing parents)."""
    folder = tmp_path_factory.mktemp("fx")
    (folder / "parent.yaml").write_text(yaml.safe_dump(VALID), encoding="utf-8")
    child = {"extends": parent, **_mutate({"x": VALID}, ("x", *path), "set", value)["x"]}
    if parent is None:
        del child["extends"]
    (folder / "child.yaml").write_text(yaml.safe_dump(child), encoding="utf-8")
    try:
        sc = load_scenario(folder / "child.yaml")
    except InputError as e:
        assert str(e)
        return
    warnings_for(sc)


@FUZZ
@given(st.dictionaries(st.text(max_size=30), yamlish, max_size=3))
def test_overrides_raise_only_input_error(overrides: dict) -> None:
    try:
        data = apply_overrides(VALID, overrides, file="fuzz.yaml")
    except InputError:
        return
    _loads_or_input_error(data)


def test_valid_fixture_is_valid() -> None:
    scenario_from_dict(VALID)  # otherwise the mutation test would test nothing


# --------------------------------------------------------------------------- (b) the model

SKILLS = ["a", "b", "c"]
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))


@st.composite
def distributions(draw, scale: float = 1.0) -> dict:
    kind = draw(
        st.sampled_from(
            ["exponential", "lognormal", "gamma", "triangular", "uniform", "fixed", "empirical"]
        )
    )
    m = draw(st.floats(0.05, 3.0)) * scale
    if kind == "exponential":
        return {"dist": kind, "mean": m}
    if kind == "lognormal":
        return {"dist": kind, "mean": m, "sd": draw(st.floats(0.0, 2.0)) * scale}
    if kind == "gamma":
        return {"dist": kind, "mean": m, "cv": draw(st.floats(0.1, 2.0))}
    if kind == "triangular":
        return {"dist": kind, "min": 0.0, "mode": m / 2, "max": m}
    if kind == "uniform":
        return {"dist": kind, "min": m / 2, "max": m}
    if kind == "fixed":
        return {"dist": kind, "value": draw(st.sampled_from([0.0, m]))}
    return {"dist": kind, "values": draw(st.lists(st.floats(0.0, 3.0), min_size=1, max_size=4))}


@st.composite
def staff_groups(draw) -> dict:
    n = draw(st.integers(1, 3))
    groups = {}
    for i in range(n):
        g: dict[str, Any] = {
            "count": draw(st.integers(0, 3) if i else st.integers(1, 3)),
            "skills": draw(st.lists(st.sampled_from(SKILLS), min_size=1, max_size=3, unique=True)),
        }
        roster = draw(st.sampled_from(["cover", "always", "shifts"]))
        if roster == "shifts":
            shifts = []
            for _ in range(draw(st.integers(1, 2))):
                s, e = draw(times), draw(times)
                assume(s != e)
                days = draw(
                    st.lists(
                        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                        min_size=1,
                        unique=True,
                    )
                )
                shifts.append({"days": days, "start": s, "end": e})
            g["roster"] = shifts
        else:
            g["roster"] = roster
        if i and draw(st.booleans()):
            g["on_call"] = True
            callout: dict[str, Any] = {"delay_hours": draw(st.sampled_from([0.0, 0.5, 1.5]))}
            if draw(st.booleans()):
                callout["queue_length"] = draw(st.integers(1, 3))
            if draw(st.booleans()) or "queue_length" not in callout:
                callout["child_waiting_hours"] = draw(st.sampled_from([0.0, 1.0, 2.5]))
            g["callout"] = callout
        groups[f"g{i}"] = g
    return groups


@st.composite
def scenarios(draw) -> dict:
    staff = draw(staff_groups())
    have = sorted({s for g in staff.values() for s in g["skills"]})
    streams = {}
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["referral", "police_protection"]))
        s: dict[str, Any] = {
            "kind": kind,
            "skill": draw(st.sampled_from(have)),
            "priority": draw(st.integers(0, 3)),
            "arrivals": {"per_week": draw(st.sampled_from([0.0, 3.0, 15.0, 40.0]))},
            "duration": draw(distributions()),
            "preemptible": draw(st.booleans()),
        }
        if draw(st.booleans()):
            s["arrivals"]["profile"] = {
                "by_hour": draw(
                    st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=24, max_size=24)
                ),
                "by_weekday": draw(
                    st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=7, max_size=7)
                ),
            }
        if draw(st.booleans()):
            s["deadline_hours"] = draw(st.sampled_from([0.5, 2.0, 8.0]))
        if kind == "police_protection":
            s["transport"] = draw(distributions())
            s["officers"] = draw(st.integers(0, 3))
            if draw(st.booleans()):
                s["officer_release_hours"] = draw(st.sampled_from([0.0, 1.0]))
        streams[f"s{i}"] = s
    days = draw(st.sampled_from([0.01, 0.5, 1.0, 3.0, 7.0, 10.0]))
    cap = draw(st.sampled_from([None, 0, 1, 3]))
    return {
        "name": "fuzz",
        "horizon": {
            "start": draw(st.sampled_from(["2023-01-02", "2023-12-22", "2024-03-29"])),
            "days": days,
            "warmup_days": draw(st.sampled_from([0.0, days / 4])),
        },
        "calendar": {
            "cover": draw(st.sampled_from(["out_of_hours", "always"])),
            "bank_holidays": draw(st.sampled_from(["england", "none"])),
            **draw(
                st.sampled_from(
                    [
                        {},
                        {"weekday_start": "16:30", "weekday_end": "08:45"},
                        {"friday_start": "12:00"},
                    ]
                )
            ),
        },
        "staff": staff,
        "streams": streams,
        "placements": {
            "capacity": cap,
            "stay_days": draw(distributions(scale=0.3)),
            "other_demand_per_week": draw(st.sampled_from([0.0, 2.0])),
            "search": draw(distributions()),
            "when_none_free": draw(st.sampled_from(["wait", "out_of_area"])),
            "out_of_area": {"after_hours": draw(st.sampled_from([0.0, 2.0]))},
            "hold_worker": draw(st.booleans()),
        },
        "day_team": {"response": draw(distributions())},
        "policy": {
            "dispatch": draw(st.sampled_from(["fifo", "priority", "deadline"])),
            "preemption": draw(st.booleans()),
        },
        "costs": {"worker_hour": 1.0, "officer_hour": 1.0, "callout": 1.0, "placement_night": 1.0},
    }


EPS = 1e-9


def check_invariants(m: Model) -> None:
    """The books of a finished replication balance (see the module docstring)."""
    n, H = m.n_jobs, m.calendar.hours
    arrival = np.asarray(m.arrival, dtype=float)
    start, end = np.asarray(m.start), np.asarray(m.end)
    station_end, handover = np.asarray(m.station_end), np.asarray(m.handover)
    assert np.all(np.diff(arrival) >= 0) and (n == 0 or (arrival[0] >= 0 and arrival[-1] <= H))

    # every arrived job is in exactly one place
    queued = [item[2] for q in m.queues for item in q]
    in_hand = [w.job for w in m.workers if w.job >= 0 and not w.holding]
    waiting = list(m.bed_waitlist)
    assert len(set(queued)) == len(queued), "a job queued twice"
    assert len(set(in_hand)) == len(in_hand), "a job in two workers' hands"
    arrived = m._next_arrival
    assert np.all(arrival[arrived:] >= H - EPS), "a job never arrived before the horizon"
    state = np.zeros(n, dtype=int)
    state[~np.isnan(end)] += 1
    state[~np.isnan(handover)] += 1
    for group in (queued, in_hand, waiting):
        np.add.at(state, np.asarray(group, dtype=int), 1)
    lost = [j for j in range(arrived) if state[j] == 0]
    twice = [j for j in range(arrived) if state[j] > 1]
    assert not lost, f"jobs neither done, handed over, queued, in hand nor waiting: {lost[:5]}"
    assert not twice, f"jobs in two states at once: {twice[:5]}"
    assert m.queued == len(queued)

    # times run forwards
    s = ~np.isnan(start)
    assert np.all(start[s] >= arrival[s] - EPS)
    e = ~np.isnan(end)
    assert np.all(s[e]), "a job finished without starting"
    assert np.all(end[e] >= start[e] - EPS)
    assert np.all(end[e] <= H + EPS)
    se = ~np.isnan(station_end)
    assert np.all(station_end[se] >= arrival[se] - EPS)
    pp = np.asarray(m.is_child, dtype=bool)
    assert not np.any(se & ~pp), "station time for a job that is not a child in a station"

    # workers: right skill, one thing at a time, never busier than the clock
    busy = np.asarray(m.records.busy, dtype=float).reshape(-1, 4)
    assert np.all(busy[:, 2] >= busy[:, 1] - EPS), "negative busy interval"
    for w in m.workers:
        b = busy[busy[:, 0] == w.index]
        b = b[np.lexsort((b[:, 2], b[:, 1]))]
        assert np.all(b[1:, 1] >= b[:-1, 2] - EPS), f"worker {w.index} double-booked"
        assert (b[:, 2] - b[:, 1]).sum() <= H + EPS
        for j in b[:, 3].astype(int):
            assert m.job_skill[j] in w.skills, "a job done by a worker without its skill"
    for j in range(n):
        if m.first_worker[j] >= 0:
            assert m.job_skill[j] in m.workers[m.first_worker[j]].skills
    _new_work_only_on_shift(m, busy)

    # handovers and placements
    h = ~np.isnan(handover)
    assert np.all(handover[h] >= arrival[h] - EPS) and np.all(handover[h] <= H + EPS)
    cap = m.scenario.placements.capacity
    if cap is not None:
        assert 0 <= m.beds_free <= cap, f"beds free {m.beds_free} of {cap}"


def _new_work_only_on_shift(m: Model, busy: np.ndarray) -> None:
    """A worker takes up a job only on shift (rostered, or called out and arrived); carrying on
    with the job in hand (its next phase, or holding a child) may run past shift end."""
    calls = np.asarray(m.records.callouts, dtype=float).reshape(-1, 3)
    for w in m.workers:
        b = busy[busy[:, 0] == w.index]
        b = b[np.lexsort((b[:, 2], b[:, 1]))]
        if w.on_call:
            c = calls[calls[:, 0] == w.index]
            windows = np.column_stack([c[:, 1], np.nan_to_num(c[:, 2], nan=m.calendar.hours)])
        else:
            windows = np.asarray(m.rosters[w.index], dtype=float).reshape(-1, 2)
        for i, (_, t0, _, j) in enumerate(b):
            if i and b[i - 1, 3] == j and abs(b[i - 1, 2] - t0) <= EPS:
                continue  # the same job carried on
            ok = np.any((windows[:, 0] - EPS <= t0) & (t0 <= windows[:, 1] + EPS))
            role = "on call" if w.on_call else "rostered"
            assert ok, f"worker {w.index} ({role}) took job {int(j)} at {t0:.4f}, off shift"


@settings(FUZZ, max_examples=DEEP or 200)
@given(scenarios(), st.integers(0, 3))
def test_model_on_random_small_scenarios_keeps_its_books(data: dict, seed: int) -> None:
    try:
        sc = scenario_from_dict(data)
    except InputError:
        assume(False)  # e.g. a profile with no weight inside cover
        return
    m = Model(sc, RandomStreams(seed, 0)).run()
    check_invariants(m)
    jobs = job_table(m)
    kpis = compute_kpis(m, jobs)
    profiles(m, jobs)
    for k, v in kpis.items():
        assert not math.isinf(v), k
        if "share" in k and not math.isnan(v):
            assert 0.0 <= v <= 1.0, (k, v)
        if k.endswith(("per_week", ".mean", ".max", ".p90", ".p50", ".p95")) and not math.isnan(v):
            assert v >= -EPS, (k, v)


@pytest.mark.parametrize("seed", range(3))
def test_invariants_hold_on_the_valid_fixture(seed: int) -> None:
    """The invariant checker itself runs on a realistic case (and can see jobs at all)."""
    m = Model(scenario_from_dict(VALID), RandomStreams(seed, 0)).run()
    assert m.n_jobs > 0 and len(m.records.busy) > 0
    check_invariants(m)
