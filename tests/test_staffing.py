"""Staff who are absent and need rest (issue 19): lost shifts and their cover, Working Time
Regulations breaches, checked against the rosters and trace of the run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ooh_sim.core.calendar import roster_intervals
from ooh_sim.core.kpis import names_for
from ooh_sim.core.metrics import compute_kpis, job_table, total_length
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Rest, Scenario
from ooh_sim.core.staffing import rest_breaches

SEED = 6011
SHIFTS = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "17:00",
           "end": "01:00"}]  # fmt: skip


def spec(count: int = 2, **group: Any) -> dict:
    return {
        "name": "staffing",
        "horizon": {"start": "2023-01-02", "days": 364, "warmup_days": 14},
        "staff": {"edt": {"count": count, "skills": ["adults"], "roster": SHIFTS, **group}},
        "streams": {"calls": {"skill": "adults", "arrivals": {"per_week": 25},
                              "duration": {"dist": "exponential", "mean": 1.0}}},
    }


def run(data: dict, rep: int = 0) -> Model:
    return Model(Scenario.model_validate(data), RandomStreams(SEED, rep)).run()


@pytest.mark.parametrize("count", [1, 2, 3])
def test_no_absence_changes_nothing_bit_for_bit(count: int) -> None:
    for cover in ("none", "agency"):
        a = run(spec(count))
        b = run(spec(count, absence={"probability": 0.0, "cover": cover}))
        assert a.records.busy == b.records.busy
        ka, kb = compute_kpis(a), compute_kpis(b)
        assert {k: kb[k] for k in ka} == ka
        assert kb["staff.edt.absent_shift_share"] == 0.0


def test_lost_shifts_are_dropped_and_counted() -> None:
    m = run(spec(2, absence={"probability": 0.15, "cover": "none"}))
    full = roster_intervals(m.scenario.staff["edt"].roster, m.calendar)
    lost = 0
    for i in range(2):
        starts = set(m.absent_shift_starts[i].tolist())
        kept = np.array([w for w in full.tolist() if w[0] not in starts])
        assert np.array_equal(m.rosters[i], kept)
        lost += len(starts)
        # no work is started on a lost shift
        busy = np.asarray(m.records.busy, dtype=float).reshape(-1, 4)
        for s in starts:
            assert not np.any((busy[:, 0] == i) & (busy[:, 1] >= s) & (busy[:, 1] < s + 8))
    n = 2 * len(full)
    share = lost / n
    assert abs(share - 0.15) < 4 * np.sqrt(0.15 * 0.85 / n)
    k = compute_kpis(m)
    measured = sum(float((m.absent_shift_starts[i] >= 14 * 24).sum()) for i in range(2))
    assert k["staff.edt.absent_shift_share"] == pytest.approx(
        measured / (2 * float((full[:, 0] >= 14 * 24).sum()))
    )
    assert list(k) == names_for(m.scenario)


def test_cover_rules_share_the_same_absences() -> None:
    """The same shifts are lost whatever the cover rule (common random numbers); on-call cover
    starts exactly cover_delay_hours late; agency cover works the roster as rostered."""
    none = run(spec(1, absence={"probability": 0.2, "cover": "none"}))
    late = run(spec(1, absence={"probability": 0.2, "cover": "on_call", "cover_delay_hours": 1.5}))
    agency = run(spec(1, absence={"probability": 0.2, "cover": "agency"}))
    plain = run(spec(1))
    lost = none.absent_shift_starts[0]
    assert np.array_equal(lost, late.absent_shift_starts[0])
    assert np.array_equal(lost, agency.absent_shift_starts[0])
    assert np.array_equal(agency.rosters[0], plain.rosters[0])
    assert agency.records.busy == plain.records.busy
    starts = late.rosters[0][:, 0]
    assert np.all(np.isin(lost + 1.5, starts))
    assert total_length(late.rosters[0]) == pytest.approx(
        total_length(plain.rosters[0]) - 1.5 * len(lost)
    )
    # fewer hours on duty: calls wait longer with no cover than with late cover than with agency
    resp = [compute_kpis(m)["streams.calls.response_hours.mean"] for m in (none, late, agency)]
    assert resp[0] > resp[1] > resp[2]


def test_rest_breaches_on_constructed_traces() -> None:
    rest = Rest()
    no_windows = np.zeros((0, 2))
    none = np.zeros((0, 2))
    assert rest_breaches(rest, no_windows, np.array([[0.0, 7.0]]), none, 0, 100) == 1
    assert rest_breaches(rest, no_windows, np.array([[0.0, 5.9]]), none, 0, 100) == 0
    # a 12-minute gap is no break; a 30-minute one is
    assert rest_breaches(rest, no_windows, np.array([[0.0, 3.0], [3.2, 7.0]]), none, 0, 100) == 1
    assert rest_breaches(rest, no_windows, np.array([[0.0, 3.0], [3.5, 7.0]]), none, 0, 100) == 0
    # rest between shifts: 8 h → breach; 12 h → none, unless 2 h of overtime cut it to 10 h
    shifts = np.array([[0.0, 8.0], [16.0, 24.0], [36.0, 44.0]])
    assert rest_breaches(rest, shifts, none, none, 0, 100) == 1
    assert rest_breaches(rest, shifts, none, np.array([[2.0, 24.0]]), 0, 100) == 2
    # only breaches starting in [lo, hi) count
    assert rest_breaches(rest, shifts, none, np.array([[2.0, 24.0]]), 20, 100) == 1


def test_rest_kpi_in_a_run() -> None:
    """Daily 17:00–01:00 shifts leave 16 h rest: breaches come from long stretches of work, and
    from overtime of more than 5 h past 01:00."""
    m = run(spec(1, rest={}))
    k = compute_kpis(m)
    assert list(k) == names_for(m.scenario)
    busy = np.asarray(m.records.busy, dtype=float).reshape(-1, 4)
    overtime = np.asarray(m.records.overtime, dtype=float).reshape(-1, 3)
    overtime = overtime[overtime[:, 2] >= 14 * 24, 1:3]
    want = rest_breaches(Rest(), m.rosters[0], busy[:, 1:3], overtime, 14 * 24, m.calendar.hours)
    assert k["staff.edt.rest_breaches_per_week"] == pytest.approx(want / 50)
    assert k["staff.edt.rest_breaches_per_week"] > 0  # 8-h shifts at ~50% load have long runs
    assert job_table(m).arrival.size > 1000


# ---------------------------------------------------------------- standby from home


def test_standby_outside_every_shift_changes_nothing() -> None:
    """Shifts 17:00-01:00 never reach a 02:00-09:00 standby: the same run, bit for bit."""
    a = run(spec(1))
    b = run(spec(1, standby={"from": "02:00", "until": "09:00", "delay_hours": 0.5}))
    assert a.records.busy == b.records.busy and b.records.callouts == []
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert {k: kb[k] for k in ka} == ka
    assert kb["staff.edt.callouts_per_week"] == 0.0
    assert list(kb) == names_for(b.scenario)


def _night_spec(delay: float) -> dict:
    data = spec(1, standby={"from": "02:00", "until": "07:00", "delay_hours": delay})
    data["staff"]["edt"]["roster"] = [{"days": SHIFTS[0]["days"], "start": "17:00",
                                       "end": "09:00"}]  # fmt: skip
    return data


def test_standby_work_waits_for_the_call_out() -> None:
    """Trace check: every piece of work started on standby lies inside a call-out that began
    when a job arrived (and starts no earlier than the delay after it) or inside a stay-up; work
    arriving with the worker at home waits at least the delay."""
    delay = 0.75
    m = run(_night_spec(delay))
    jobs = job_table(m)
    windows = m.standby_windows[0]
    calls = np.asarray(m.records.callouts, dtype=float).reshape(-1, 3)
    calls[np.isnan(calls[:, 2]), 2] = m.calendar.hours
    up = np.zeros(len(calls), bool)
    up[m.stay_up_rows] = True
    assert len(windows) == 364 and np.allclose(windows[:, 1] - windows[:, 0], 5.0)
    arrivals = set(jobs.arrival.tolist())
    assert all(c in arrivals for c in calls[~up, 1].tolist())  # called when work arrived
    busy = np.asarray(m.records.busy, dtype=float).reshape(-1, 4)
    # (work carried past the end of standby is on duty from then on: clip it there)
    inside = [(s, min(e, windows[(windows[:, 0] <= s) & (s < windows[:, 1]), 1][0]))
              for _, s, e, _ in busy.tolist()
              if np.any((windows[:, 0] <= s) & (s < windows[:, 1]))]  # fmt: skip
    assert len(inside) > 100
    for s, e in inside:
        ready = np.where(up, calls[:, 1], calls[:, 1] + delay)
        assert np.any((ready - 1e-9 <= s) & (e <= calls[:, 2] + 1e-9)), (s, e)
    # a job arriving with the worker at home (no call-out or stay-up open) waits >= the delay
    started = ~np.isnan(jobs.start)
    for t, start in zip(jobs.arrival[started].tolist(), jobs.start[started].tolist(),
                        strict=True):  # fmt: skip
        night = (windows[:, 0] <= t) & (t < windows[:, 1])
        at_home = np.any(night) and not np.any((calls[:, 1] < t) & (t <= calls[:, 2]))
        if at_home:  # (on duty again at the end of standby, if that comes first)
            assert start - t >= min(delay, windows[night, 1][0] - t) - 1e-9
    k = compute_kpis(m)
    weeks = (m.calendar.hours - 14 * 24) / 168
    real = calls[~up]
    assert k["staff.edt.callouts_per_week"] == pytest.approx((real[:, 1] >= 14 * 24).sum() / weeks)
    assert k["staff.edt.callouts_per_week"] > 0 and k["staff.edt.utilisation"] <= 1.0
    # a longer delay makes the work arriving on standby wait longer
    slow = job_table(run(_night_spec(2.0)))
    night = np.array([np.any((windows[:, 0] <= t) & (t < windows[:, 1]))
                      for t in jobs.arrival.tolist()])  # fmt: skip
    assert np.nanmean((slow.start - slow.arrival)[night]) > np.nanmean(
        (jobs.start - jobs.arrival)[night]
    )


# ---------------------------------------------------------------- support workers


def _children(support: int, **placements: Any) -> dict:
    always = "always"
    staff = {"sw": {"count": 1, "skills": ["children"], "roster": always}}
    if support >= 0:
        staff["support"] = {"count": support, "skills": ["children"], "roster": always,
                            "support": True}  # fmt: skip
    return {
        "name": "support",
        "horizon": {"start": "2023-01-02", "days": 182, "warmup_days": 7},
        "calendar": {"cover": "always"},
        "staff": staff,
        "streams": {
            "pp": {"kind": "police_protection", "skill": "children", "priority": 1,
                   "arrivals": {"per_week": 6}, "duration": {"dist": "exponential", "mean": 1.0},
                   "transport": {"dist": "lognormal", "mean": 1.0, "sd": 0.4}},
            "calls": {"skill": "children", "priority": 2, "arrivals": {"per_week": 40},
                      "duration": {"dist": "exponential", "mean": 0.5}},
        },
        "placements": {"search": {"dist": "fixed", "value": 0.5}, **placements},
    }


def test_no_support_worker_changes_nothing() -> None:
    a, b = run(_children(-1)), run(_children(0))
    assert a.records.busy == b.records.busy
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert {k: ka[k] for k in ka if "support" not in k} == {k: kb[k] for k in ka}


def test_support_worker_transports_and_frees_the_social_worker() -> None:
    """Trace check: the support worker does whole transports only (each exactly the child's
    drawn transport time); the social worker's busy time falls by exactly those hours."""
    plain, helped = run(_children(-1)), run(_children(1))
    support = 1  # worker index
    busy = np.asarray(helped.records.busy, dtype=float).reshape(-1, 4)
    theirs = busy[busy[:, 0] == support]
    jobs = theirs[:, 3].astype(int)
    assert len(theirs) > 50 and all(helped.is_child[j] for j in jobs)
    assert np.allclose(theirs[:, 2] - theirs[:, 1], helped.transport[jobs], atol=1e-9)
    # the child leaves the station when the support worker starts the transport
    assert np.allclose(np.asarray(helped.station_end)[jobs], theirs[:, 1])
    assert np.array_equal(helped.transport, plain.transport)  # same draws
    sw = lambda m: float(np.sum([e - s for w, s, e, _ in m.records.busy if w == 0]))  # noqa: E731
    # every job is done either way (always cover): the difference is the support's transports
    assert sw(helped) == pytest.approx(sw(plain) - float(helped.transport[jobs].sum()), rel=1e-9)
    k0, k1 = compute_kpis(plain), compute_kpis(helped)
    assert k1["streams.calls.response_hours.mean"] < k0["streams.calls.response_hours.mean"]


def test_support_worker_sits_with_a_child_waiting_for_a_bed() -> None:
    beds = {"capacity": 1, "hold_worker": True, "stay_days": {"dist": "fixed", "value": 1}}
    plain, helped = run(_children(-1, **beds)), run(_children(1, **beds))
    busy = np.asarray(helped.records.busy, dtype=float).reshape(-1, 4)
    theirs = busy[busy[:, 0] == 1]
    transport = helped.transport[theirs[:, 3].astype(int)]
    holds = theirs[~np.isclose(theirs[:, 2] - theirs[:, 1], transport)]
    assert len(holds) > 10  # sat with children waiting for a bed
    # the social worker never holds a child while the support worker is free: it holds less
    sw = lambda m: float(np.sum([e - s for w, s, e, _ in m.records.busy if w == 0]))  # noqa: E731
    assert sw(helped) < sw(plain) - float(holds[:, 2].sum() - holds[:, 1].sum()) * 0.5
    k0, k1 = compute_kpis(plain), compute_kpis(helped)
    assert k1["streams.calls.response_hours.mean"] < k0["streams.calls.response_hours.mean"]
