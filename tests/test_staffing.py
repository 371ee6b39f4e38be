"""Staff who are absent and need rest (issue 19): lost shifts and their cover, Working Time
Regulations breaches, checked against the rosters and trace of the run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ooh_sim.core.calendar import roster_intervals
from ooh_sim.core.clock import total_length
from ooh_sim.core.kpis import names_for
from ooh_sim.core.metrics import compute_kpis, job_table
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
