"""Costs by budget holder: standing charges apart from variable costs, council / police / health.

A retained emergency bed is paid for whether or not a child is placed, so with standing charges
two more placements must cost the council more, not less (the variable-only ``cost.per_week``
says the opposite, because it only sees fewer officer hours and fewer nights waiting).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ooh_sim.core import kpis
from ooh_sim.core.compare import compare
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.runner import run_replication
from ooh_sim.core.schema import Costs, Horizon, Scenario

ROOT = Path(__file__).resolve().parent.parent
BUDGET_HOLDERS = (
    "cost.council.per_week",
    "cost.council.standing_per_week",
    "cost.council.variable_per_week",
    "cost.police.per_week",
    "cost.health.per_week",
    "cost.total.per_week",
)


def _short(sc: Scenario, **costs: object) -> Scenario:
    update: dict[str, object] = {"horizon": Horizon(start=sc.horizon.start, days=91,
                                                    warmup_days=14)}  # fmt: skip
    if costs:
        update["costs"] = sc.costs.model_copy(update=costs)
    return sc.model_copy(update=update)


def _kpis(sc: Scenario, r: int = 0) -> dict[str, float]:
    return run_replication(sc, 7, r, keep_jobs=False).kpis


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return _short(load_scenario(ROOT / "scenarios" / "baseline.yaml"))


def test_more_placements_cost_the_council_more_with_standing_charges(baseline):
    more = _short(load_scenario(ROOT / "scenarios" / "more_placements.yaml"))
    c = compare([baseline, more], replications=6, jobs=1)
    d = c.differences["more_placements"]
    # two more retained beds: the council pays two retainers a week whatever happens
    retainers = 2 * baseline.costs.bed_retainer_week
    assert d["cost.council.standing_per_week"].paired.mean == pytest.approx(retainers)
    assert d["cost.council.per_week"].paired.ci95_low > 0
    assert d["cost.total.per_week"].paired.ci95_low > 0
    # the police save officers' time (fixed seeds: 6 short replications are enough to see it)
    assert d["cost.police.per_week"].paired.mean < 0
    # the variable-only cost.per_week shows the opposite, which is why it is not the objective
    assert d["cost.per_week"].paired.mean < 0
    # compare: cost per child-hour in a station avoided, per budget holder and in total
    ratios = c.derived["more_placements"]
    assert ratios["cost.per_station_hour_saved"].mean < 0  # the misleading variable-only figure
    assert ratios["cost.council.per_station_hour_saved"].mean > 0
    assert ratios["cost.total.per_station_hour_saved"].mean > 0
    assert ratios["cost.police.per_station_hour_saved"].mean < 0  # police save


def test_without_new_keys_total_equals_cost_per_week(baseline):
    c = baseline.costs
    old = Costs(worker_hour=c.worker_hour, officer_hour=c.officer_hour, callout=c.callout,
                placement_night=c.placement_night)  # fmt: skip
    k = _kpis(baseline.model_copy(update={"costs": old}))
    assert k["cost.total.per_week"] == pytest.approx(k["cost.per_week"], rel=1e-12)
    assert k["cost.health.per_week"] == 0.0
    assert k["cost.police.per_week"] == pytest.approx(40 * k["station.officer_hours_per_week"])


def test_cost_per_week_keeps_its_definition_whatever_the_new_keys(baseline):
    plain = Costs(worker_hour=55, officer_hour=40, callout=150, placement_night=250)
    a = _kpis(baseline.model_copy(update={"costs": plain}))
    b = _kpis(baseline)
    assert a["cost.per_week"] == b["cost.per_week"]


def test_parts_add_up_and_follow_their_keys(baseline):
    k = _kpis(baseline)
    assert k["cost.council.per_week"] == pytest.approx(
        k["cost.council.standing_per_week"] + k["cost.council.variable_per_week"]
    )
    assert k["cost.total.per_week"] == pytest.approx(
        k["cost.council.per_week"] + k["cost.police.per_week"] + k["cost.health.per_week"]
    )
    # s12 doctors: a fee per Mental Health Act assessment, on the health budget
    assert k["cost.health.per_week"] == pytest.approx(
        baseline.costs.s12_fee * k["streams.amhp.per_week"]
    )
    # reimbursing the police moves their cost to the council; the total does not change
    paid = _kpis(_short(baseline, police_reimbursed=1.0))
    assert paid["cost.police.per_week"] == 0.0
    assert paid["cost.total.per_week"] == pytest.approx(k["cost.total.per_week"])
    assert paid["cost.council.per_week"] == pytest.approx(
        k["cost.council.per_week"] + k["cost.police.per_week"]
    )
    # a bed retainer is standing: paid per bed of capacity, used or not
    r = _kpis(_short(baseline, bed_retainer_week=1000.0))
    extra = (1000.0 - baseline.costs.bed_retainer_week) * baseline.placements.capacity
    assert r["cost.council.standing_per_week"] == pytest.approx(
        k["cost.council.standing_per_week"] + extra
    )
    assert r["cost.council.variable_per_week"] == k["cost.council.variable_per_week"]


def test_on_call_allowance_is_paid_per_shift_called_or_not():
    sc = _short(load_scenario(ROOT / "scenarios" / "on_call_manager.yaml"))
    k0 = _kpis(sc)
    k1 = _kpis(_short(sc, on_call_allowance=100.0))
    extra = k1["cost.council.standing_per_week"] - k0["cost.council.standing_per_week"]
    # the manager is on call for every out-of-hours window: about 5 windows a week (the
    # weekend is one window) plus bank holidays; 60 per on-call shift more
    assert extra == pytest.approx(60.0 * 5, rel=0.15)


def test_catalogue_lists_the_new_kpis(baseline):
    names = kpis.names_for(baseline)
    assert all(n in names for n in BUDGET_HOLDERS)
    assert list(_kpis(baseline)) == names
    assert kpis.unit("cost.council.per_week") == kpis.unit("cost.per_week")
