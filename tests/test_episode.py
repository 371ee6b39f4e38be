"""The out-of-hours episode end to end: children in police stations, placements, handover, on-call,
costs (issue #3). Every check is per job or per interval against the model's own records, so a
single mis-booked child, bed or callout fails the test. Budget: < 30 s on one core.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ooh_sim.core.metrics import compute_kpis, job_table, queued_until, total_length
from ooh_sim.core.model import DAY_TEAM, EDT_PLACED, OUT_OF_AREA, UNLIMITED, WAITING, Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Scenario

SEED = 20240607
LOGN1 = {"dist": "lognormal", "mean": 1.0, "sd": 0.5}


def kid(per_week: float, officers: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "police_protection",
        "skill": "children",
        "priority": 1,
        "arrivals": {"per_week": per_week},
        "duration": LOGN1,
        "transport": LOGN1,
        "officers": officers,
        **extra,
    }


def referral(skill: str, per_week: float, mean: float, priority: int) -> dict[str, Any]:
    return {
        "skill": skill,
        "priority": priority,
        "arrivals": {"per_week": per_week},
        "duration": {"dist": "exponential", "mean": mean},
    }


def busy_spec(**placements: Any) -> dict[str, Any]:
    """One worker, out-of-hours cover, AMHP work and children competing, a 1-bed pool."""
    return {
        "name": "busy",
        "horizon": {
            "start": "2023-03-27",
            "days": 168,
            "warmup_days": 7,
        },  # spans Easter, May holidays
        "staff": {"edt": {"count": 1, "skills": ["children", "adults", "amhp"]}},
        "streams": {
            "s46": kid(3.0, officers=2),
            "custody": kid(2.0, officers=1),
            "calls": referral("children", 30, 0.5, 3),
            "amhp": referral("amhp", 6, 5.0, 2),
        },
        "placements": {
            "capacity": 1,
            "stay_days": {"dist": "exponential", "mean": 1.5},
            "other_demand_per_week": 2.0,
            "search": LOGN1,
            **placements,
        },
        "day_team": {"response": {"dist": "lognormal", "mean": 2.0, "sd": 1.0}},
    }


def simulate(spec: dict[str, Any], replication: int = 0) -> Model:
    return Model(Scenario.model_validate(spec), RandomStreams(SEED, replication)).run()


def busy_records(m: Model) -> np.ndarray:
    return np.asarray(m.records.busy, dtype=float).reshape(-1, 4)


def cover_end_after(m: Model, t: np.ndarray) -> np.ndarray:
    """End of the cover window containing each time (inf if past the horizon)."""
    ends = m.calendar.cover[:, 1]
    i = np.searchsorted(ends, t, side="right")
    return np.where(i < len(ends), ends[np.minimum(i, len(ends) - 1)], np.inf)


def queue_at(t: float, arrival: np.ndarray, until: np.ndarray) -> int:
    return int(((arrival <= t) & (until > t)).sum())


def assert_disjoint_per_worker(busy: np.ndarray) -> None:
    """A worker does one thing at a time (a held worker included)."""
    for w in np.unique(busy[:, 0]):
        b = busy[busy[:, 0] == w]
        b = b[np.lexsort((b[:, 2], b[:, 1]))]
        assert np.all(b[:, 2] >= b[:, 1])
        assert np.all(b[1:, 1] >= b[:-1, 2] - 1e-9), f"worker {w} has overlapping busy intervals"


def assert_handovers_at_cover_end(m: Model) -> None:
    """The day team takes over only when cover ends — or a child assessed in overtime, no bed."""
    t = job_table(m)
    handed = ~np.isnan(t.handover)
    late = handed & ~np.isin(t.handover, m.calendar.handover_times)
    assert np.all(t.none_free[late])
    np.testing.assert_array_equal(np.asarray(m.placement_requested_at)[late], t.handover[late])
    day = handed & (t.outcome == DAY_TEAM)
    np.testing.assert_array_equal(t.station_end[day], t.handover[day] + m.day_team_response[day])


# ---------------------------------------------------------------- reduction to a referral stream
@pytest.mark.parametrize("dispatch", ["priority", "fifo"])
def test_police_protection_with_free_placements_is_a_referral(dispatch: str) -> None:
    """Unlimited beds, zero search and transport: the episode is one task, like a referral.

    Arrivals and durations come from the same named random streams, so every job must start and
    end at exactly the same instants, with the same worker and the same handovers; a child's
    station time must equal its completion time.
    """
    pp = busy_spec(capacity=None, search={"dist": "fixed", "value": 0})
    pp["policy"] = {"dispatch": dispatch}
    pp["streams"]["s46"]["transport"] = {"dist": "fixed", "value": 0}
    del pp["streams"]["custody"]
    ref = copy.deepcopy(pp)
    for key in ("kind", "transport", "officers"):
        del ref["streams"]["s46"][key]
    a, b = simulate(pp), simulate(ref)
    ta, tb = job_table(a), job_table(b)
    for col in ("stream", "arrival", "start", "end", "handover", "worker"):
        np.testing.assert_array_equal(getattr(ta, col), getattr(tb, col), err_msg=col)
    kids = ta.stream == 0
    done = kids & ~np.isnan(ta.end)
    assert done.sum() > 50
    np.testing.assert_array_equal(ta.station_end[done], ta.end[done])  # station time = completion
    handed = kids & ~np.isnan(ta.handover)
    assert handed.sum() > 0  # the comparison covers day-team handovers too
    np.testing.assert_array_equal(
        ta.station_end[handed], ta.handover[handed] + a.day_team_response[handed]
    )
    assert set(ta.outcome[done]) == {UNLIMITED}
    ka, kb = compute_kpis(a), compute_kpis(b)
    for name, value in kb.items():
        if name.startswith("streams.") or name.startswith("handover."):
            assert ka[name] == value or (np.isnan(value) and np.isnan(ka[name])), name
    assert ka["staff.edt.utilisation"] == pytest.approx(kb["staff.edt.utilisation"], rel=1e-12)
    assert ka["staff.edt.overtime_hours_per_week"] == kb["staff.edt.overtime_hours_per_week"]
    assert ka["staff.edt.overtime_hours_per_week"] > 0
    assert ka["station.hours.mean"] > 0


# ---------------------------------------------------------------- every child accounted for
@pytest.mark.parametrize("hold", [False, True])
def test_every_child_accounted_for_and_officer_hours(hold: bool) -> None:
    m = simulate(busy_spec(hold_worker=hold))
    t, busy, H = job_table(m), busy_records(m), m.calendar.hours
    assert_disjoint_per_worker(busy)
    kids = np.flatnonzero(np.isin(t.stream, [0, 1]))
    starts = {(int(j), s) for _, s, _, j in busy}
    n_edt = n_day = n_wait = 0
    for j in kids:
        se = t.station_end[j]
        if t.outcome[j] in (EDT_PLACED, OUT_OF_AREA, UNLIMITED):
            # collected by the EDT: a worker's task on this child starts when the station time ends
            assert (int(j), se) in starts and se <= H
            assert np.isnan(t.handover[j])
            n_edt += 1
        elif t.outcome[j] == DAY_TEAM:
            assert se == t.handover[j] + m.day_team_response[j]
            n_day += 1
        else:
            assert t.outcome[j] == WAITING and np.isnan(se)  # still waiting at the horizon
            assert np.isnan(t.handover[j])
            n_wait += 1
    assert n_edt > 50 and n_day > 10 and n_edt + n_day + n_wait == len(kids)
    assert_handovers_at_cover_end(m)
    k = compute_kpis(m)
    w0 = m.scenario.horizon.warmup_hours
    weeks = (H - w0) / 168
    meas = kids[(t.arrival[kids] >= w0) & ~np.isnan(t.station_end[kids])]
    officers = np.where(t.stream[meas] == 0, 2, 1)
    hours = t.station_end[meas] - t.arrival[meas]
    assert k["station.officer_hours_per_week"] * weeks == pytest.approx((hours * officers).sum())
    assert k["station.children_per_week"] * weeks == (t.arrival[kids] >= w0).sum()
    assert k["station.hours.mean"] == pytest.approx(hours.mean())
    # past midnight, counted on the calendar
    crossed = [
        m.calendar.datetime_at(a).date() != m.calendar.datetime_at(e).date()
        for a, e in zip(t.arrival[meas], t.station_end[meas], strict=True)
    ]
    assert k["station.past_midnight_per_week"] * weeks == pytest.approx(sum(crossed))
    assert 0 < sum(crossed) < len(meas)


# ---------------------------------------------------------------- placements
def test_no_beds_and_wait_means_no_edt_placement() -> None:
    m = simulate(busy_spec(capacity=0))
    t = job_table(m)
    kids = np.isin(t.stream, [0, 1])
    asked = kids & ~np.isnan(np.asarray(m.placement_requested_at))
    assert asked.sum() > 50
    assert not np.isin(t.outcome[kids], (EDT_PLACED, UNLIMITED, OUT_OF_AREA)).any()
    assert t.none_free[asked].all()
    assert compute_kpis(m)["placements.none_free_share"] == 1.0
    assert compute_kpis(m)["placements.nights_per_week"] == 0.0


def test_unlimited_beds_mean_nobody_waits_for_one() -> None:
    m = simulate(busy_spec(capacity=None))
    t = job_table(m)
    asked = np.isin(t.stream, [0, 1]) & ~np.isnan(np.asarray(m.placement_requested_at))
    assert asked.sum() > 50
    assert not t.none_free.any()
    placed = asked & (t.outcome == UNLIMITED)
    # the bed is reserved the moment the assessment ends
    requested = np.asarray(m.placement_requested_at)
    np.testing.assert_array_equal(np.asarray(m.placed_at)[placed], requested[placed])
    assert compute_kpis(m)["placements.none_free_share"] == 0.0


@pytest.mark.parametrize("hold", [False, True])
def test_bed_pool_is_never_overbooked_and_frees_to_the_first_waiting(hold: bool) -> None:
    """Rebuild each bed's occupancy (reserved → station exit + stay) from the job records."""
    C = 2
    spec = busy_spec(capacity=C, other_demand_per_week=0, hold_worker=hold)
    spec["streams"]["s46"]["arrivals"]["per_week"] = 6.0
    m = simulate(spec)
    t = job_table(m)
    placed, asked = np.asarray(m.placed_at), np.asarray(m.placement_requested_at)
    has_bed = np.asarray(m.has_bed)
    np.testing.assert_array_equal(has_bed, ~np.isnan(placed))
    release = np.where(np.isnan(t.station_end), np.inf, t.station_end + m.placement_stay)[has_bed]
    start = placed[has_bed]
    assert has_bed.sum() > 100

    def occupied(x: float, skip: int = -1) -> int:
        mask = (start <= x) & (x < release)
        if skip >= 0:
            mask &= np.flatnonzero(has_bed) != skip
        return int(mask.sum())

    assert max(occupied(x) for x in start) <= C
    for j in np.flatnonzero(~np.isnan(asked)):
        if t.none_free[j]:
            assert occupied(asked[j]) == C  # really none free
            if has_bed[j]:
                assert placed[j] in release  # taken the moment a bed freed
        else:
            assert placed[j] == asked[j] and occupied(asked[j], skip=j) < C
    # first come, first served: children who waited get beds in the order they asked
    waited = np.flatnonzero(t.none_free & has_bed)
    order = np.argsort(asked[waited], kind="stable")
    assert np.all(np.diff(placed[waited][order]) >= 0)
    assert m.beds_free == C - occupied(m.calendar.hours)


@pytest.mark.parametrize("after", [2.0, 10.0])
def test_out_of_area_after_the_wait(after: float) -> None:
    m = simulate(
        busy_spec(
            capacity=0,
            when_none_free="out_of_area",
            out_of_area={"after_hours": after, "extra_travel": {"dist": "fixed", "value": 1.5}},
        )
    )
    t, busy = job_table(m), busy_records(m)
    asked_at = np.asarray(m.placement_requested_at)
    kids = np.flatnonzero(np.isin(t.stream, [0, 1]) & ~np.isnan(asked_at))
    due = asked_at[kids] + after
    cover_end = cover_end_after(m, asked_at[kids])
    ooa = t.outcome[kids] == OUT_OF_AREA
    assert ooa.sum() > 10
    # found only after waiting `after` hours, and only while the EDT is still responsible
    assert np.all(due[ooa] <= cover_end[ooa])
    collected = ooa & ~np.isnan(t.station_end[kids])
    assert np.all(t.station_end[kids][collected] >= due[collected])
    # a child still waiting at the end of cover went to the day team, not out of area later
    day = t.outcome[kids] == DAY_TEAM
    assert day.sum() > 0
    np.testing.assert_array_equal(
        t.station_end[kids][day], t.handover[kids][day] + m.day_team_response[kids][day]
    )
    rest = ~ooa & ~day  # still waiting: only in the last cover window, which the horizon cuts
    assert np.all(cover_end[rest] >= m.calendar.hours)
    # the collection includes the extra travel
    for j in kids[ooa]:
        row = busy[(busy[:, 3] == j) & (busy[:, 1] == t.station_end[j])]
        if len(row) and not np.isnan(t.end[j]):
            assert row[0, 2] - row[0, 1] == pytest.approx(m.transport[j] + 1.5)


# ---------------------------------------------------------------- holding the worker
def test_held_worker_does_nothing_else_until_a_bed_frees() -> None:
    spec = busy_spec(hold_worker=True)
    # a second worker on an evening shift ending inside cover: the held child stays on the list
    spec["staff"]["evening"] = {
        "count": 1,
        "skills": ["children"],
        "roster": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "start": "17:00", "end": "23:00"}],
    }  # fmt: skip
    m = simulate(spec)
    t, busy = job_table(m), busy_records(m)
    assert_disjoint_per_worker(busy)
    asked_at = np.asarray(m.placement_requested_at)
    waited = np.flatnonzero(t.none_free)
    assert len(waited) > 20
    holds = 0
    for j in waited:
        rows = busy[(busy[:, 3] == j) & (busy[:, 1] == asked_at[j])]
        if len(rows):  # held from the request on, by the worker who assessed
            holds += 1
            held_until, w = rows[0, 2], int(rows[0, 0])
            shifts = m.rosters[w]
            assert ((shifts[:, 0] <= asked_at[j]) & (asked_at[j] < shifts[:, 1])).any()  # on shift
            ok = (
                held_until == m.placed_at[j]  # a bed freed
                or held_until in shifts[:, 1]  # shift ended
                or held_until == t.handover[j]  # cover ended
            )
            assert ok
    assert holds > 20
    assert_handovers_at_cover_end(m)


def test_freed_worker_takes_other_work_while_the_child_waits() -> None:
    m = simulate(busy_spec(hold_worker=False))
    t, busy = job_table(m), busy_records(m)
    asked_at = np.asarray(m.placement_requested_at)
    waited = np.flatnonzero(t.none_free & ~np.isnan(np.asarray(m.placed_at)))
    assert len(waited) > 5
    other_work = 0
    for j in waited:
        # no holding interval, and the worker has other tasks before the bed frees
        assert not ((busy[:, 3] == j) & (busy[:, 1] == asked_at[j])).any()
        w = t.worker[j]
        mine = busy[(busy[:, 0] == w) & (busy[:, 3] != j)]
        other_work += bool(((mine[:, 1] >= asked_at[j]) & (mine[:, 1] < m.placed_at[j])).any())
    assert other_work > 0


# ---------------------------------------------------------------- on-call
def on_call_spec(trigger: dict[str, float], roster: Any, backup: dict | None = None) -> dict:
    """The busy scenario, unlimited beds, plus an on-call manager (and maybe a second on-call)."""
    spec = busy_spec(capacity=None)
    del spec["streams"]["custody"]
    spec["streams"]["amhp"] = referral("amhp", 4, 8.0, 2)  # long tasks: some outlast a gap
    spec["staff"]["manager"] = {
        "count": 1,
        "skills": ["children", "amhp"],
        "roster": roster,
        "on_call": True,
        "callout": {"delay_hours": 0.75, **trigger},
    }
    if backup is not None:
        spec["staff"]["backup"] = {
            "count": 1,
            "skills": ["children"],
            "roster": "cover",
            "on_call": True,
            "callout": {"delay_hours": 0.5, **backup},
        }
    return spec


NIGHT = [
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "09:00"}
]


@pytest.mark.parametrize("roster", ["cover", NIGHT], ids=["cover", "night"])
@pytest.mark.parametrize("trigger", ["queue", "child"])
def test_on_call_works_only_when_called_and_only_on_its_trigger(trigger: str, roster: Any) -> None:
    """The manager's callouts obey its own trigger, even beside an on-call with the other one."""
    N, Hc, delay = 3, 2.0, 0.75
    q, c = {"queue_length": N}, {"child_waiting_hours": Hc}
    spec = on_call_spec(
        q if trigger == "queue" else c, roster, backup=c if trigger == "queue" else q
    )
    m = simulate(spec)
    t, busy, H = job_table(m), busy_records(m), m.calendar.hours
    assert_disjoint_per_worker(busy)
    mgr = next(w.index for w in m.workers if m.group_names[w.group] == "manager")
    windows = m.rosters[mgr]
    calls = np.asarray(m.records.callouts, dtype=float).reshape(-1, 3)
    calls = calls[calls[:, 0] == mgr]
    assert len(calls) > 5
    c_end = np.where(np.isnan(calls[:, 2]), H, calls[:, 2])
    assert np.all(calls[1:, 1] >= c_end[:-1])  # one callout at a time
    # every task of the on-call worker lies inside a callout and starts after the delay
    mine = busy[busy[:, 0] == mgr]
    assert len(mine) > 0
    for _, s, e, _ in mine:
        i = np.searchsorted(calls[:, 1], s, side="right") - 1
        assert i >= 0 and calls[i, 1] + delay <= s + 1e-9 and e <= c_end[i] + 1e-9
    # the queue (all streams need children or amhp: the manager's skills), from the job table
    arr, until = t.arrival, queued_until(t, H)
    kids = t.stream == 0

    def in_window(x: float) -> bool:
        return bool(((windows[:, 0] <= x) & (x < windows[:, 1])).any())

    def waited(x: float) -> np.ndarray:  # children in the station for >= Hc hours at x
        return kids & (t.arrival + Hc <= x + 1e-9) & ~(t.station_end <= x)

    crossed = 0
    for c0, c1, open_ in zip(calls[:, 1], c_end, np.isnan(calls[:, 2]), strict=True):
        assert in_window(c0)
        if trigger == "queue":
            assert queue_at(c0, arr, until) >= N
        else:
            fired = waited(c0) & (np.abs(t.arrival + Hc - c0) < 1e-9)
            assert fired.any() or (waited(c0).any() and c0 in windows[:, 0])
        if open_:
            continue
        # stood down when the queue is empty: at the end of its last task, or on arrival
        tasks = mine[(mine[:, 1] >= c0) & (mine[:, 2] <= c1 + 1e-9)]
        if len(tasks):
            assert c1 == tasks[:, 2].max()
            if in_window(c1 - 1e-9) and c1 not in windows[:, 1]:
                assert queue_at(c1, arr, until) == 0
            crossed += bool(((tasks[:, 1] < windows[:, :1]) & (windows[:, :1] < tasks[:, 2])).any())
        else:
            assert c1 == c0 + delay or (c1 in windows[:, 1] and c0 + delay > c1)
    # conversely: a trigger met while on call and not called out brings a callout
    for a in [*arr[arr < H], *windows[:, 0]]:
        if in_window(a):
            due = queue_at(a, arr, until) >= N if trigger == "queue" else waited(a).any()
            if due:
                assert ((calls[:, 1] <= a) & (a <= c_end)).any(), a
    if roster == "cover":
        assert crossed > 0  # a task ran from one on-call window into the next
    k = compute_kpis(m)
    w0, weeks = m.scenario.horizon.warmup_hours, (H - m.scenario.horizon.warmup_hours) / 168
    assert k["staff.manager.callouts_per_week"] * weeks == pytest.approx((calls[:, 1] >= w0).sum())


def test_a_job_put_back_by_preemption_fires_the_queue_trigger() -> None:
    """The queue trigger watches the queue however it grows: an interrupted job put back on it
    (here the only way a queue forms while the worker is free for urgent work) calls the manager."""
    spec = {
        "name": "preempt_call",
        "horizon": {"days": 56},
        "calendar": {"cover": "always"},
        "staff": {
            "edt": {"count": 1, "skills": ["children", "adults"], "roster": "always"},
            "manager": {
                "count": 1,
                "skills": ["children", "adults"],
                "roster": "always",
                "on_call": True,
                "callout": {"delay_hours": 0.5, "queue_length": 1},
            },
        },
        "streams": {
            "urgent": referral("children", 10, 0.5, 1),
            "calls": {**referral("adults", 20, 2.0, 2), "preemptible": True},
        },
        "policy": {"dispatch": "priority", "preemption": True},
    }
    m = simulate(spec)
    busy, end = busy_records(m), np.asarray(m.end)
    calls = np.asarray(m.records.callouts, dtype=float).reshape(-1, 3)
    c_end = np.nan_to_num(calls[:, 2], nan=m.calendar.hours)
    # a referral's busy interval that ends before the job does was cut short by preemption
    cut = busy[busy[:, 2] < np.nan_to_num(end[busy[:, 3].astype(int)], nan=np.inf) - 1e-9]
    assert len(cut) >= 5
    for t in cut[:, 2]:
        assert ((calls[:, 1] <= t + 1e-9) & (t <= c_end + 1e-9)).any(), t


# ---------------------------------------------------------------- handover at the end of cover
def test_handover_empties_the_queue_and_finishes_work_in_hand() -> None:
    m = simulate(busy_spec(hold_worker=False))
    t, busy, H = job_table(m), busy_records(m), m.calendar.hours
    ends = m.calendar.handover_times
    start = np.nan_to_num(t.start, nan=np.inf)
    for e in ends:
        # nobody who arrived in the window is still waiting for a first start after its end
        assert not ((t.arrival < e) & (start > e) & np.isnan(t.handover)).any()
    handed = ~np.isnan(t.handover)
    assert handed.sum() > 100
    on_time = np.isin(t.handover, ends)
    assert on_time.sum() > 100 and (handed & ~on_time).sum() > 0
    assert_handovers_at_cover_end(m)
    # work in hand at a cover end runs on: overtime = end of that task (all its phases) − cover end
    # (or, for a long task, until the next cover starts: the worker is rostered again)
    expected = []
    for e in ends:
        b = busy[(busy[:, 1] < e) & (busy[:, 2] > e)]
        next_start = m.calendar.cover[m.calendar.cover[:, 0] > e, 0].min(initial=np.inf)
        for w, _, stop, j in b:
            chain = busy[(busy[:, 0] == w) & (busy[:, 3] == j) & (busy[:, 1] >= stop - 1e-12)]
            expected.append(min(max([stop, *chain[:, 2]]), next_start) - e)
    assert max(expected) == 8.0  # a task ran from Friday's cover into the next (09:00 → 17:00)
    ot = np.asarray(m.records.overtime, dtype=float).reshape(-1, 3)
    assert len(expected) > 20
    np.testing.assert_allclose(np.sort(ot[:, 1]), np.sort(expected), rtol=0, atol=1e-9)
    assert np.all(np.isin(ot[:, 2], ends))
    k = compute_kpis(m)
    w0 = m.scenario.horizon.warmup_hours
    weeks = (H - w0) / 168
    assert k["staff.edt.overtime_hours_per_week"] * weeks == pytest.approx(
        ot[ot[:, 2] >= w0, 1].sum()
    )
    assert k["staff.edt.overtime_hours_per_week"] > 0


# ---------------------------------------------------------------- costs
def test_cost_per_week_from_its_components() -> None:
    spec = on_call_spec({"queue_length": 2}, "cover")
    spec["streams"]["custody"] = kid(2.0, officers=1)
    spec["placements"].update(capacity=1, when_none_free="out_of_area")
    spec["costs"] = {"worker_hour": 50, "officer_hour": 40, "callout": 150, "placement_night": 250}
    m = simulate(spec)
    k = compute_kpis(m)
    H, w0 = m.calendar.hours, m.scenario.horizon.warmup_hours
    weeks = (H - w0) / 168
    t = job_table(m)
    shift = total_length(m.calendar.cover, w0, H) / weeks  # one EDT worker rostered on all cover
    calls = np.asarray(m.records.callouts, dtype=float).reshape(-1, 3)
    call_h = total_length(np.column_stack([calls[:, 1], np.nan_to_num(calls[:, 2], nan=H)]), w0, H)
    assert k["staff.manager.callout_hours_per_week"] == pytest.approx(call_h / weeks)
    placed = (
        (t.arrival >= w0) & ~np.isnan(t.station_end) & np.isin(t.outcome, (EDT_PLACED, OUT_OF_AREA))
    )
    nights = m.placement_stay[placed].sum() / 24 / weeks
    assert nights > 0 and k["placements.nights_per_week"] == pytest.approx(nights)
    by_hand = (
        50 * (shift + k["staff.edt.overtime_hours_per_week"] + call_h / weeks)
        + 150 * k["staff.manager.callouts_per_week"]
        + 40 * k["station.officer_hours_per_week"]
        + 250 * nights
    )
    assert k["staff.manager.callouts_per_week"] > 0
    assert k["cost.per_week"] == pytest.approx(by_hand, rel=1e-12)


# ---------------------------------------------------------------- the 72-hour limit
def test_limit_share_counts_children_still_waiting_past_it() -> None:
    spec = busy_spec(capacity=0)
    spec["calendar"] = {"cover": "always"}  # no day team: without a bed a child never leaves
    spec["staff"]["edt"]["roster"] = "always"
    spec["streams"]["s46"]["limit_hours"] = 72
    m = simulate(spec)
    t, H = job_table(m), m.calendar.hours
    k = compute_kpis(m)
    mine = (t.stream == 0) & (t.arrival >= m.scenario.horizon.warmup_hours)
    assert np.isnan(t.station_end[mine]).all()
    assert k["streams.s46.limit_reached_share"] == 1.0
    assert (mine & (t.arrival < H - 72)).sum() > 10


# ---------------------------------------------------------------- face validity of the baseline
def test_baseline_waits_are_driven_by_amhp_work_and_the_lack_of_placements() -> None:
    """The inspection's finding, on common random numbers: long station waits (DOMAIN: a 7-hour
    wait was "far from unique"), shortened both by taking AMHP work off the worker and by
    unlimited placements. Paired over replications, each difference must be clearly positive."""
    from ooh_sim.core.loader import load_scenario
    from ooh_sim.core.runner import run_replication
    from ooh_sim.core.stats import t_interval

    path = Path(__file__).parents[1] / "scenarios" / "baseline.yaml"
    base = load_scenario(path)
    variants = {
        "no_amhp": load_scenario(path, overrides={"streams.amhp.arrivals.per_week": 0}),
        "unlimited_beds": load_scenario(path, overrides={"placements.capacity": None}),
    }
    reps = range(8)
    kpis = {
        name: [run_replication(sc, base.seed, r, keep_jobs=False).kpis for r in reps]
        for name, sc in {"baseline": base, **variants}.items()
    }
    b = kpis["baseline"]
    assert np.mean([k["station.share_over_8h"] for k in b]) > 0.05
    for name in variants:
        for kpi in ("station.hours.mean", "station.share_over_4h"):
            diff = [x[kpi] - y[kpi] for x, y in zip(b, kpis[name], strict=True)]
            assert t_interval(diff).ci95_low > 0, (name, kpi)


def test_station_figures_are_written(tmp_path: Path) -> None:
    import ooh_sim.viz.run_figures as plots
    from ooh_sim.core.runner import run
    from ooh_sim.report.folders import save_figure

    spec = busy_spec()
    spec["report"] = {"thresholds_hours": [1, 3, 12]}
    res = run(Scenario.model_validate(spec), replications=2, seed=SEED, jobs=1)
    figs = {"hist.png": plots.station_hours(res), "week.png": plots.station_by_hour(res)}
    assert not list(tmp_path.iterdir())  # figure functions return figures and write nothing
    for name, fig in figs.items():
        assert fig is not None and fig.axes
        out = save_figure(fig, tmp_path / name)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    spec["streams"] = {"amhp": referral("amhp", 6, 5.0, 2)}
    res = run(Scenario.model_validate(spec), replications=1, seed=SEED, jobs=1)
    assert plots.station_hours(res) is None
    assert plots.station_by_hour(res) is None


def test_work_in_hand_at_the_horizon_counts_as_busy() -> None:
    """A task still running when the run ends is busy time up to the horizon (not dropped)."""
    from conftest import queue_scenario

    sc = queue_scenario(
        {
            "long": {
                "skill": "x",
                "arrivals": {"per_week": 50.0},
                "duration": {"dist": "fixed", "value": 1000.0},
            }
        },
        days=2,
    )
    m = Model(sc, RandomStreams(1, 0)).run()
    first = float(m.arrival[0])
    assert first < 24.0  # the worker is busy from the first arrival to the end
    k = compute_kpis(m)
    assert k["staff.s.utilisation"] == pytest.approx((48.0 - first) / 48.0, rel=1e-12)


def test_the_run_records_replication_0s_timeline_and_figures_never_rerun_it(monkeypatch) -> None:
    """The worst-night figure is drawn from what replication 0 recorded during the run."""
    import ooh_sim.core.runner as runner
    from ooh_sim.core.timeline import WAIT_STATES, child_segments, night, record_timeline
    from ooh_sim.viz.run_figures import worst_night_figure

    sc = Scenario.model_validate(busy_spec(capacity=1))
    res = runner.run(sc, replications=2, seed=SEED, jobs=1)
    tl = res.timeline
    assert tl is not None and tl.scenario_name == sc.name
    assert runner.run_replication(sc, SEED, 1).timeline is None  # replication 0 only
    m = Model(sc, RandomStreams(SEED, 0)).run()
    again = record_timeline(m)
    np.testing.assert_array_equal(tl.busy, again.busy)
    np.testing.assert_array_equal(tl.child_station_end, again.child_station_end)
    # every piece of a collected child's station time is explained, in order, without gaps
    t = job_table(m)
    for j in np.flatnonzero(np.asarray(m.is_child) & ~np.isnan(t.station_end))[:50]:
        segs = child_segments(tl, int(j))
        assert segs[0][0] == t.arrival[j] and segs[-1][1] == pytest.approx(t.station_end[j])
        assert all(b[0] == pytest.approx(a[1]) for a, b in itertools.pairwise(segs))
        assert {s for *_, s in segs} <= {*WAIT_STATES, *m.stream_names}
    one = night(tl)
    assert one is not None and one.children and len(one.workers) == len(m.workers)

    def no_model(*_args: object, **_kw: object) -> None:
        raise AssertionError("a figure ran the model")

    monkeypatch.setattr(runner, "simulate", no_model)
    monkeypatch.setattr(runner, "run_replication", no_model)
    fig = worst_night_figure(res)
    assert fig is not None and fig.axes[0].get_title().startswith(sc.name.replace("_", " "))
