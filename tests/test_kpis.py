"""The KPI catalogue (ooh_sim.core.kpis): names without running, words, units and formats.

Budget: ~5 s (a one-week replication per scenario).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from ooh_sim.core import kpis
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.precision import headline_kpis
from ooh_sim.core.runner import run_replication
from ooh_sim.core.stats import finite_or_none, json_safe, undefined

sys.path.insert(0, str(Path(__file__).parent))
from goldens.golden_cases import CASES, SCENARIOS

WEEK = {"horizon.days": 7, "horizon.warmup_days": 0}
VARIANTS = {
    **CASES,
    "no_costs_no_police": (
        "baseline.yaml",
        {
            "costs": None,
            "streams.police_protection.kind": "referral",
            "streams.police_protection.limit_hours": None,
            "streams.police_protection.transport": None,
            "streams.police_protection.officers": None,
            "streams.custody_transfer.transport": None,
            "streams.custody_transfer.officers": None,
            "streams.custody_transfer.kind": "referral",
        },
    ),
    "odd_thresholds": ("baseline.yaml", {"report.thresholds_hours": [0.5, 4, 4.0, 12.5, 1000]}),
    "deadlines_and_limits": (
        "baseline.yaml",
        {
            "streams.police_protection.deadline_hours": None,
            "streams.custody_transfer.limit_hours": 24,
        },
    ),
    # children's pathways (issue 18): placement types, sibling groups, the custody pathway
    "pathways": (
        "secure_bed.yaml",
        {"streams.police_protection.group_size": {"dist": "empirical", "values": [1, 2, 3]}},
    ),
    # issue 19: Mental Health Act waits, absence and rest, standby, support workers, consortium
    "amhp_released": ("amhp_released_for_beds.yaml", {}),
    "absence_rest": ("absence_and_rest.yaml", {}),
    "standby": ("standby_from_0200.yaml", {}),
    "support_worker": ("support_worker_weekend_nights.yaml", {}),
    "consortium": ("consortium_three_councils.yaml", {}),
}


def _scenario(name: str):
    file, overrides = VARIANTS[name]
    return load_scenario(SCENARIOS / file, overrides={**overrides, **WEEK})


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_names_for_is_exactly_what_a_replication_computes(name: str) -> None:
    """The order too: it is the column order of every results file and of the goldens."""
    sc = _scenario(name)
    computed = list(run_replication(sc, 0, 0, keep_jobs=False).kpis)
    assert kpis.names_for(sc) == computed


def test_names_for_covers_every_option() -> None:
    names = kpis.names_for(_scenario("no_costs_no_police"))
    assert not any(n.startswith(("station.", "placements.", "cost.")) for n in names)
    odd = kpis.names_for(_scenario("odd_thresholds"))
    shares = [n for n in odd if n.startswith("station.share_over_")]
    assert shares == [f"station.share_over_{h}h" for h in ("0.5", "4", "12.5", "1000")]
    combined = kpis.names_for(_scenario("combined"))
    assert "staff.manager.callouts_per_week" in combined  # on call
    assert "staff.edt.callouts_per_week" not in combined
    limits = kpis.names_for(_scenario("deadlines_and_limits"))
    assert "streams.custody_transfer.limit_reached_share" in limits
    assert "streams.police_protection.deadline_breach_share" not in limits


def test_every_computed_kpi_has_an_entry_with_words_and_a_unit() -> None:
    seen = set()
    for name in VARIANTS:
        for k in kpis.names_for(_scenario(name)):
            entry = kpis.spec(k)
            seen.add(entry.name)
            assert kpis.label(k) != k and "<" not in kpis.label(k)
            assert kpis.unit(k)
            assert entry.better in ("lower", "higher", None)
    # every entry but the comparison-only one is produced by some scenario
    assert seen == {k.name for k in kpis.CATALOGUE if k.requires != "compare"}


def test_lookup_by_concrete_name() -> None:
    assert kpis.spec("streams.amhp.response_hours.mean").name == "streams.<S>.response_hours.mean"
    assert kpis.spec("staff.amhp_rota.utilisation").name == "staff.<G>.utilisation"
    assert kpis.spec("station.share_over_12.5h").name == "station.share_over_<H>h"
    assert kpis.placeholders("streams.amhp.per_week") == {"S": "amhp"}
    assert kpis.find("streams.amhp.nonsense") is None
    with pytest.raises(KeyError):
        kpis.spec("station.hours.mode")
    assert kpis.label("streams.amhp.response_hours.mean") == (
        "AMHP: average wait until a worker starts"
    )
    assert kpis.label("staff.venue_staff.utilisation").startswith("Venue staff: ")
    assert kpis.label("station.share_over_4h") == (
        "Children waiting more than 4 hours in a police station"
    )
    assert kpis.label("not.a.kpi") == "not.a.kpi" and kpis.format("not.a.kpi", 1234.5) == "1,234"


def test_formats() -> None:
    f = kpis.format
    assert f("cost.per_week", 12345.6) == "£12,346"
    assert f("cost.per_week", -48.2) == "−£48"
    assert f("cost.per_week", 48.2, signed=True) == "+£48"
    assert f("station.hours.mean", 3.456) == "3.5 h"
    assert f("station.hours.mean", 123.4) == "123 h"
    assert f("station.hours.max", 1234.5) == "1,234 h"
    assert f("station.share_over_4h", 0.456) == "46%"
    assert f("station.share_over_4h", 0.0456) == "4.6%"
    assert f("staff.edt.utilisation", 0.74) == "74%"
    assert f("station.share_over_4h", -0.05, signed=True) == "−5.0 pts"  # percentage points
    assert f("streams.amhp.per_week", 61.24) == "61.2"
    assert f("streams.amhp.per_week", 0.6) == "0.60"
    assert f("station.share_over_4h", 0.0996) == "10%"  # not "10.0%": two significant figures
    assert f("station.hours.mean", 99.97) == "100 h"
    for undefined_value in (math.nan, None, math.inf):
        assert f("station.hours.mean", undefined_value) == "–"
    assert kpis.interval("station.hours.mean", 3.1, 3.84) == "3.1 h to 3.8 h"
    assert kpis.interval("station.hours.mean", math.nan, 3.84) == "–"


def test_a_difference_that_rounds_to_zero_shows_more_digits() -> None:
    f = kpis.format
    assert f("station.hours.mean", 0.004, signed=True) == "+0.0040 h"
    assert f("station.hours.mean", -0.04, signed=True) == "−0.040 h"
    assert f("cost.per_week", -0.4) == "−£0.40"
    assert f("station.share_over_4h", 0.0004) == "0.040%"
    assert f("station.hours.mean", 0.0) == "0 h"
    assert f("station.hours.mean", 0.0, signed=True) == "0 h"


def test_headline_flags_and_the_precision_rule_is_unchanged() -> None:
    base = _scenario("baseline")
    heads = kpis.headline(base)
    assert heads[:2] == ["station.hours.mean", "station.hours.p90"]
    # costs by budget holder are headline; the first, simpler cost sum (no standing charges) is not
    assert {"cost.council.per_week", "cost.police.per_week", "cost.total.per_week"} <= set(heads)
    assert "cost.per_week" not in heads and "station.hours.p95" not in heads
    assert kpis.headline(
        ["x", "cost.per_station_hour_saved", "cost.total.per_station_hour_saved", "cost.per_week"]
    ) == ["cost.total.per_station_hour_saved"]
    # the rule before the catalogue: station mean with police streams, every stream with demand,
    # every rostered (not on-call, not empty) group
    for name in VARIANTS:
        sc = _scenario(name)
        old = ["station.hours.mean"] if sc.police_streams else []
        old += [
            f"streams.{n}.response_hours.mean"
            for n, s in sc.streams.items()
            if s.arrivals.per_week > 0
        ]
        old += [f"staff.{g}.utilisation" for g, grp in sc.staff.items()
                if grp.count and not grp.on_call]  # fmt: skip
        assert headline_kpis(sc) == old, name
    quiet = load_scenario(
        SCENARIOS / "combined.yaml", overrides={**WEEK, "streams.amhp.arrivals.per_week": 0}
    )
    assert "streams.amhp.response_hours.mean" not in headline_kpis(quiet)
    assert "staff.manager.utilisation" not in headline_kpis(quiet)  # on call


def test_default_sweep_outputs_are_the_fixed_headline_kpis() -> None:
    from ooh_sim.core.experiment import DEFAULT_OUTPUTS

    assert DEFAULT_OUTPUTS == (
        "station.hours.mean",
        "station.hours.p90",
        "station.officer_hours_per_week",
        "placements.none_free_share",
        "cost.council.per_week",
        "cost.police.per_week",
        "cost.total.per_week",
    )


def test_one_rule_for_undefined_numbers() -> None:
    assert undefined(None) and undefined(math.nan) and undefined(-math.inf)
    assert not undefined(0.0) and not undefined(3) and not undefined("text")
    assert finite_or_none(math.nan) is None and finite_or_none(3) == 3
    assert isinstance(finite_or_none(3), int)
    import numpy as np

    assert json_safe({"a": [1.0, math.nan, np.float64(2.5)], "b": (np.int64(3),)}) == {
        "a": [1.0, None, 2.5],
        "b": [3],
    }
