"""The KPI catalogue: one entry per KPI, the single source of its name, words, unit and format.

Every table, figure, terminal line, precision rule and report section reads this module; adding a
KPI is one entry here plus its computation in :mod:`ooh_sim.core.metrics` (a test checks the two
agree for every shipped scenario). Names follow the output contract of README "Outputs and
KPIs", with placeholders ``<S>``
(a stream), ``<G>`` (a staff group), ``<C>`` (a council of a consortium) and ``<H>`` (a
threshold in hours, ``report.thresholds_hours``).

:func:`names_for` gives the exact, ordered list of KPI names a scenario produces, from its
structure alone (streams, staff groups, thresholds, police streams, costs, on-call groups,
``deadline_hours``, ``limit_hours``) — without running it. The order is the order in which
:func:`ooh_sim.core.metrics.compute_kpis` builds them, which is the column order of every results
file: the catalogue lists its entries in that order, and a block of entries with the same
placeholder is repeated for each stream or group in turn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ooh_sim.core.schema import CHILD_KINDS, Scenario
from ooh_sim.core.stats import finite_or_none

Better = Literal["lower", "higher"] | None

# --------------------------------------------------------------------------------------------
# Units and the display rule


@dataclass(frozen=True)
class Unit:
    """How a KPI's numbers are shown.

    A value is shown to ``sig`` significant figures but never more than ``max_decimals`` decimals
    (so 123.4 h is "123 h" and 3.46 h is "3.5 h"); a non-zero value that would round to zero is
    shown with two significant figures instead (a difference of 0.004 h is "0.0040 h", not
    "0.0 h"). Thousands are separated by commas; negatives carry a minus sign before any "£".
    """

    text: str  # axis and column text: "hours", "£ per week"
    suffix: str = ""  # after the number: " h", "%"
    prefix: str = ""  # before the number: "£"
    scale: float = 1.0  # shares are stored 0–1 and shown ×100
    sig: int = 3
    max_decimals: int = 2
    diff_suffix: str | None = None  # a difference of shares is in percentage points

    @property
    def percent(self) -> bool:
        """Stored as a share 0–1, shown as a percentage (axes: 0.4 → 40%)."""
        return self.scale == 100.0

    def show(self, value: float, *, signed: bool = False) -> str:
        x = value * self.scale
        text = f"{abs(x):,.{decimals(x, self.sig, self.max_decimals)}f}"
        sign = "−" if x < 0 and float(text.replace(",", "")) != 0 else ""
        if signed and x > 0:
            sign = "+"
        suffix = self.diff_suffix if signed and self.diff_suffix is not None else self.suffix
        return f"{sign}{self.prefix}{text}{suffix}"


def decimals(x: float, sig: int, max_decimals: int) -> int:
    """Decimals that show ``x`` to ``sig`` significant figures, at most ``max_decimals`` — unless
    that shows a non-zero ``x`` as zero: then two significant figures."""
    ax = abs(x)
    if ax == 0 or not math.isfinite(ax):
        return 0
    mag = math.floor(math.log10(ax))
    dec = max(0, min(max_decimals, sig - 1 - mag))
    if round(ax, dec) >= 10 ** (mag + 1):  # 9.96 rounds up to 10.0: one digit fewer, "10"
        dec = max(0, min(max_decimals, sig - 2 - mag))
    if round(ax, dec) == 0:
        dec = 1 - mag
    return dec


HOURS = Unit("hours", suffix=" h", max_decimals=1)
HOURS_PER_WEEK = Unit("hours per week", suffix=" h", max_decimals=1)
SHARE = Unit("share (%)", suffix="%", scale=100.0, sig=2, max_decimals=1, diff_suffix=" pts")
UTILISATION = Unit("share of time (%)", suffix="%", scale=100.0, sig=2, max_decimals=1,
                   diff_suffix=" pts")  # fmt: skip
PER_WEEK = Unit("per week")
COUNT = Unit("children")
GBP_PER_WEEK = Unit("£ per week", prefix="£", max_decimals=0)
GBP_PER_HOUR = Unit("£ per child-hour", prefix="£", max_decimals=0)
NUMBER = Unit("")  # a name the catalogue does not know (a results folder from another version)

# --------------------------------------------------------------------------------------------
# The catalogue

Requires = Literal[
    "police_streams", "deadline_hours", "limit_hours", "on_call", "costs", "compare", "mha",
    "absence", "rest", "child_pathway", "sibling_groups", "custody",
    "pathways",
]
"""Scenario features a KPI may need (the rules are in ``_NEEDS``, next to :func:`names_for`)."""

_PLACEHOLDER = re.compile(r"<([A-Za-z]+)>")


@dataclass(frozen=True)
class Kpi:
    """One KPI (or one per stream/group/threshold when ``name`` has a placeholder).

    ``headline``: among the measures a planner looks at first (terminal table, report cards,
    comparison tables and figure, default sweep outputs when it has no placeholder).
    ``precision``: a KPI whose 95% interval decides the number of replications under
    ``--precision`` (headline or not: each stream's response time is one of many, so not headline;
    see :func:`ooh_sim.core.precision.headline_kpis`).
    ``requires``: the scenario feature without which the KPI does not exist (``compare``: made by
    ``compare`` only, never by a run).
    """

    name: str
    label: str  # planner's words; "<S>: …" / "<G> staff: …" name the subject first
    unit: Unit
    better: Better = "lower"
    headline: bool = False
    precision: bool = False
    requires: Requires | None = None

    @property
    def what(self) -> str:
        """The label without its subject ("average wait until a worker starts"): a column head
        in a table with one row per stream or group."""
        return re.sub(r"^<[A-Za-z]+>( staff)?: ", "", self.label)

    @property
    def placeholder(self) -> str | None:
        m = _PLACEHOLDER.search(self.name)
        return m.group(1) if m else None


_PP = "police_streams"

BUDGET_HOLDERS = ("council", "police", "health")
"""Who pays, in the order a board asks: each has ``cost.<holder>.per_week`` (and ``cost.total``
is their sum) when a scenario has costs."""

CATALOGUE: tuple[Kpi, ...] = (
    # --- children in police stations (scenarios with police_protection streams)
    Kpi("station.hours.mean", "Average time a child waits in a police station", HOURS,
        headline=True, precision=True, requires=_PP),
    Kpi("station.hours.p50", "Median wait in a police station (half wait longer), mean over "
        "runs", HOURS,
        requires=_PP),
    Kpi("station.hours.p90", "Wait in a police station that 1 child in 10 exceeds, mean over "
        "runs", HOURS,
        headline=True, requires=_PP),
    Kpi("station.hours.p95", "Wait in a police station that 1 child in 20 exceeds, mean over "
        "runs", HOURS,
        requires=_PP),
    Kpi("station.hours.max", "Longest wait in a police station in a run, mean over runs",
        HOURS, requires=_PP),
    Kpi("station.share_over_<H>h", "Children waiting more than <H> hours in a police station",
        SHARE, headline=True, requires=_PP),
    Kpi("station.children_per_week", "Children held in police stations per week", PER_WEEK,
        better=None, requires=_PP),
    Kpi("station.child_hours_per_week", "Hours children spend in police stations, in total per "
        "week", HOURS_PER_WEEK, requires=_PP),
    Kpi("station.officer_hours_per_week", "Police officer-hours spent waiting with children per "
        "week", HOURS_PER_WEEK, headline=True, requires=_PP),
    Kpi("station.past_midnight_per_week", "Children still in a police station after midnight, "
        "per week", PER_WEEK, requires=_PP),
    Kpi("station.still_waiting_at_end", "Children still waiting in a station when the run ends",
        COUNT, requires=_PP),
    Kpi("station.day_team_share", "Children collected only by the day team next morning", SHARE,
        requires=_PP),
    Kpi("placements.none_free_share", "Placement requests that found no placement free", SHARE,
        headline=True, requires=_PP),
    Kpi("placements.out_of_area_per_week", "Out-of-area placements per week", PER_WEEK,
        requires=_PP),
    Kpi("placements.nights_per_week", "Emergency placement nights used per week", PER_WEEK,
        better=None, requires=_PP),
    # --- children's pathways (issue 18: placement types, sibling groups, custody), one block per
    # child stream, then per placement type (<T>; without types the single pool is "pool")
    Kpi("station.<S>.hours.mean", "<S>: average time a child spends in a police station",
        HOURS, requires="child_pathway"),
    Kpi("station.<S>.hours.p90", "<S>: time in a police station that 1 child in 10 exceeds, "
        "mean over runs",
        HOURS, requires="child_pathway"),
    Kpi("placements.<T>.none_free_share", "<T>: requests it could take that found no carer "
        "with enough free beds", SHARE, requires="pathways"),
    Kpi("placements.<T>.occupancy", "<T>: average share of its beds occupied", UTILISATION,
        better=None, requires="pathways"),
    Kpi("placements.siblings_split_share", "Sibling groups placed with more than one carer",
        SHARE, requires="sibling_groups"),
    Kpi("custody.transfer_share", "Children charged and refused bail who are transferred to "
        "council accommodation", SHARE, better="higher", requires="custody"),
    Kpi("custody.hours_after_charge.mean", "Average hours a charged child stays in the police "
        "station after charge", HOURS, requires="custody"),
    Kpi("custody.held_until_court_share", "Children charged and refused bail held in the cell "
        "until court", SHARE, requires="custody"),
    # --- each stream, one stream after another
    Kpi("streams.<S>.per_week", "<S>: contacts per week", PER_WEEK, better=None),
    Kpi("streams.<S>.response_hours.mean", "<S>: average wait until a worker starts", HOURS,
        precision=True),  # one per stream: too many for the headline table, but each is precise
    Kpi("streams.<S>.response_hours.p90", "<S>: wait until a worker starts that 1 in 10 "
        "exceed, mean over runs", HOURS),
    Kpi("streams.<S>.completion_hours.mean", "<S>: average time until the work is done", HOURS),
    Kpi("streams.<S>.deadline_breach_share", "<S>: not started within its deadline", SHARE,
        requires="deadline_hours"),
    Kpi("streams.<S>.handed_over_share", "<S>: passed to the day team unfinished", SHARE),
    Kpi("streams.<S>.limit_reached_share", "<S>: children reaching the legal time limit", SHARE,
        requires="limit_hours"),
    Kpi("handover.jobs_per_week", "Jobs passed to the day team per week", PER_WEEK),
    # --- Mental Health Act assessments (streams with an mha block)
    Kpi("amhp.doctor_wait_hours.mean", "Average wait for s12 doctors at a Mental Health Act "
        "assessment", HOURS, requires="mha"),
    Kpi("amhp.bed_wait_hours.mean", "Average wait for a mental-health bed after assessment",
        HOURS, requires="mha"),
    Kpi("amhp.s136_over_limit_share", "s136 detentions held past the legal limit (24 h + 12 h "
        "extension)", SHARE, requires="mha"),
    Kpi("amhp.not_completed_share", "Assessments not completed for want of a bed", SHARE,
        requires="mha"),
    Kpi("station.s136.hours.mean", "Average time a person detained under s136 is held in a "
        "police station", HOURS, requires="mha"),
    Kpi("police.mha_officer_hours_per_week", "Police officer-hours with people detained under "
        "s136 per week", HOURS_PER_WEEK, requires="mha"),
    # --- each staff group, one group after another
    Kpi("staff.<G>.callouts_per_week", "<G> staff: call-outs per week", PER_WEEK,
        requires="on_call"),
    Kpi("staff.<G>.callout_hours_per_week", "<G> staff: hours called out per week",
        HOURS_PER_WEEK, requires="on_call"),
    Kpi("staff.<G>.utilisation", "<G> staff: share of their time on duty spent busy",
        UTILISATION, better=None, headline=True, precision=True),
    Kpi("staff.<G>.overtime_hours_per_week", "<G> staff: overtime hours per week",
        HOURS_PER_WEEK),
    Kpi("staff.<G>.absent_shift_share", "<G> staff: shifts lost to absence", SHARE,
        requires="absence"),
    Kpi("staff.<G>.rest_breaches_per_week", "<G> staff: breaks missed or short rests between "
        "shifts (Working Time Regulations) per week", PER_WEEK, requires="rest"),
    # --- money
    Kpi("cost.per_week", "Cost per week as first defined: staff hours, call-out fees, police "
        "time with children, placement nights (no retainers, allowances or venue)",
        GBP_PER_WEEK, requires="costs"),  # kept for comparability; the budget holders' are headline
    Kpi("cost.council.per_week", "Council's cost per week: standing charges and variable costs",
        GBP_PER_WEEK, headline=True, requires="costs"),
    Kpi("cost.council.standing_per_week",
        "Council's standing charges per week (rostered shifts, on-call allowances, bed "
        "retainers, venue), paid whether used or not", GBP_PER_WEEK, requires="costs"),
    Kpi("cost.council.variable_per_week",
        "Council's variable costs per week (overtime, call-outs, placement nights, police "
        "reimbursed)", GBP_PER_WEEK, requires="costs"),
    Kpi("cost.police.per_week", "Police cost per week (officers' time with waiting children "
        "and with people detained under s136)", GBP_PER_WEEK, headline=True, requires="costs"),
    Kpi("cost.health.per_week", "Health cost per week (s12 doctors' fees)", GBP_PER_WEEK,
        requires="costs"),
    Kpi("cost.total.per_week", "Total public cost per week (council, police, health)",
        GBP_PER_WEEK, headline=True, requires="costs"),
    Kpi("cost.per_station_hour_saved", "Extra cost per child-hour in a police station avoided, "
        "from the cost per week as first defined (no retainers, allowances or venue)",
        GBP_PER_HOUR, requires="compare"),
    Kpi("cost.council.per_station_hour_saved",
        "Extra council cost (standing and variable) per child-hour in a police station avoided",
        GBP_PER_HOUR, headline=True, requires="compare"),
    Kpi("cost.police.per_station_hour_saved",
        "Extra police cost (officers' time) per child-hour in a police station avoided",
        GBP_PER_HOUR,
        requires="compare"),
    Kpi("cost.health.per_station_hour_saved",
        "Extra health cost (s12 doctors' fees) per child-hour in a police station avoided",
        GBP_PER_HOUR,
        requires="compare"),
    Kpi("cost.total.per_station_hour_saved",
        "Extra public cost (council, police, health) per child-hour in a police station avoided",
        GBP_PER_HOUR, headline=True, requires="compare"),
    # --- each council of a consortium (councils), one council after another
    Kpi("council.<C>.station.hours.mean", "<C>: average time a child waits in a police station",
        HOURS, requires=_PP),
    Kpi("council.<C>.station.hours.p90", "<C>: wait in a police station that 1 child in 10 "
        "exceeds, mean over runs", HOURS, requires=_PP),
    Kpi("council.<C>.station.children_per_week", "<C>: children held in police stations per "
        "week", PER_WEEK, better=None, requires=_PP),
    Kpi("council.<C>.station.officer_hours_per_week", "<C>: police officer-hours spent waiting "
        "with children per week", HOURS_PER_WEEK, requires=_PP),
    Kpi("council.<C>.placements.none_free_share", "<C>: placement requests that found no "
        "placement free", SHARE, requires=_PP),
    Kpi("council.<C>.jobs_per_week", "<C>: contacts per week", PER_WEEK, better=None),
    Kpi("council.<C>.response_hours.mean", "<C>: average wait until a worker starts", HOURS),
    Kpi("council.<C>.worker_hours_per_week", "<C>: worker-hours on its work per week",
        HOURS_PER_WEEK, better=None),
    Kpi("council.<C>.cost_share", "<C>: its share of the team's shared council costs", SHARE,
        better=None, requires="costs"),
    Kpi("council.<C>.cost.per_week", "<C>: its council cost per week (its own placements, "
        "retainers and police reimbursed, and its share of the rest)", GBP_PER_WEEK,
        requires="costs"),
)  # fmt: skip

_PATTERNS = {"H": r"(?P<H>[0-9][0-9.e+\-]*)"}
"""What a placeholder matches in a concrete name; others match a key (stream and group names)."""


def _regex(name: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(name)  # text, placeholder, text, …
    body = "".join(
        _PATTERNS.get(p, rf"(?P<{p}>[A-Za-z][A-Za-z0-9_]*)") if i % 2 else re.escape(p)
        for i, p in enumerate(parts)
    )
    return re.compile(f"^{body}$")


_EXACT = {k.name: k for k in CATALOGUE if k.placeholder is None}
_MATCHERS = [(_regex(k.name), k) for k in CATALOGUE if k.placeholder is not None]

DEFAULT_SWEEP_OUTPUTS = tuple(
    k.name for k in CATALOGUE if k.headline and k.placeholder is None and k.requires != "compare"
)
"""Outputs of an experiment that names none: the headline KPIs every scenario with police
streams and costs produces, whatever its streams and groups are called."""

# --------------------------------------------------------------------------------------------
# Lookup


def find(name: str) -> Kpi | None:
    """The catalogue entry of a concrete KPI name, or ``None`` if it has none."""
    if name in _EXACT:
        return _EXACT[name]
    for rx, k in _MATCHERS:
        if rx.match(name):
            return k
    return None


def spec(name: str) -> Kpi:
    """The catalogue entry of a concrete KPI name (``streams.amhp.response_hours.mean`` →
    ``streams.<S>.response_hours.mean``); KeyError for a name the catalogue does not know."""
    k = find(name)
    if k is None:
        raise KeyError(f"no KPI named {name!r} in the catalogue")
    return k


def placeholders(name: str) -> dict[str, str]:
    """What a concrete name puts in its entry's placeholders: ``{"S": "amhp"}``; {} if none."""
    for rx, _ in _MATCHERS:
        m = rx.match(name)
        if m:
            return m.groupdict()
    return {}


ACRONYMS = {"amhp": "AMHP", "edt": "EDT", "pp": "PP"}


def plain(key: str) -> str:
    """A stream or group key as words: 'children_referral' → 'children referral', 'amhp' →
    'AMHP'."""
    return " ".join(ACRONYMS.get(w, w) for w in key.split("_"))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def label(name: str) -> str:
    """The planner's words for a concrete KPI name (the name itself if the catalogue lacks it)."""
    k = find(name)
    if k is None:
        return name
    fill = placeholders(name)
    text = k.label
    for p, v in fill.items():
        words = v if p == "H" else plain(v)
        if p == "G" and words.lower().endswith("staff"):
            text = text.replace("<G> staff", words)  # not "venue staff staff"
        text = text.replace(f"<{p}>", words)
    return _cap(text)


def unit(name: str) -> str:
    """The unit's text for axes and column heads ("hours", "£ per week")."""
    return _unit(name).text


def is_percent(name: str) -> bool:
    """A share (0–1) shown as a percentage: axes format their ticks 0.4 → "40%"."""
    return _unit(name).percent


def _unit(name: str) -> Unit:
    k = find(name)
    return NUMBER if k is None else k.unit


def format(name: str, value: Any, *, signed: bool = False) -> str:
    """A KPI value as text, with its unit: "3.5 h", "46%", "£12,346", "−£48"; "–" when
    undefined. ``signed``: a difference ("+0.4 h", "−5.0 pts" for shares)."""
    x = finite_or_none(value)
    if x is None:
        return "–"
    return _unit(name).show(float(x), signed=signed)


def interval(name: str, low: Any, high: Any, *, signed: bool = False, to: str = " to ") -> str:
    """A 95% interval as text ("3.1 h to 3.8 h"); "–" when either end is undefined."""
    if finite_or_none(low) is None or finite_or_none(high) is None:
        return "–"
    return format(name, low, signed=signed) + to + format(name, high, signed=signed)


def better(name: str) -> Better:
    """Which way is better ("lower"/"higher"), or None when neither is (volumes, utilisation)."""
    k = find(name)
    return None if k is None else k.better


# --------------------------------------------------------------------------------------------
# The names a scenario produces

_NEEDS: dict[str, Callable[[Scenario, Any], bool]] = {
    "police_streams": lambda sc, _: bool(sc.police_streams),
    "deadline_hours": lambda _, st: st.deadline_hours is not None,
    "limit_hours": lambda _, st: st.limit_hours is not None,
    "on_call": lambda _, grp: bool(grp.on_call) or grp.standby is not None,
    "costs": lambda sc, _: sc.costs is not None,
    "compare": lambda sc, _: False,
    "mha": lambda sc, _: any(s.mha is not None for s in sc.streams.values()),
    "absence": lambda _, grp: grp.absence is not None,
    "rest": lambda _, grp: grp.rest is not None,
    # the children's pathways (issue 18): their KPIs exist only when the scenario uses them
    "child_pathway": lambda sc, st: sc.pathways and st.kind in CHILD_KINDS,
    "sibling_groups": lambda sc, _: any(s.group_size is not None for s in sc.streams.values()),
    "custody": lambda sc, _: bool(sc.custody_streams),
    "pathways": lambda sc, _: sc.pathways,
}


_SUBJECTS: dict[str, Callable[[Scenario], Mapping[str, Any]]] = {
    "S": lambda sc: sc.streams,
    "G": lambda sc: sc.staff,
    "T": lambda sc: sc.placements.all_types if sc.pathways else {},
    "C": lambda sc: sc.councils,
}
"""Placeholders that stand for a part of the scenario, and where its parts are (by key). A new
one (``<C>`` a council, say) needs an entry here; ``_PATTERNS`` too if its values are not keys."""


def hours_text(hours: float) -> str:
    """A threshold as its KPI name shows it: ``2`` (also for 2.0), ``2.5``, ``1e-05``.

    Exact, so two different thresholds never share a name: ``f"{h:g}"`` alone shows 2.0000001
    as ``2`` and 0.30000000000000004 as ``0.3``, and one KPI would silently replace the other;
    those are written in full (``repr``) instead. Only digits, ``.``, ``e``, ``+`` and ``-``
    appear (thresholds are finite and positive), as the ``<H>`` pattern expects."""
    short = f"{hours:g}"
    return short if float(short) == hours else repr(float(hours))


def names_for(scenario: Scenario) -> list[str]:
    """The KPI names ``compute_kpis`` gives for ``scenario``, in its order, without running it."""
    out: list[str] = []
    i = 0
    while i < len(CATALOGUE):
        k = CATALOGUE[i]
        p = k.placeholder
        if p in _SUBJECTS:  # a block of entries, repeated per stream / per group
            j = i
            while j < len(CATALOGUE) and CATALOGUE[j].placeholder == p:
                j += 1
            for key, item in _SUBJECTS[p](scenario).items():
                for e in CATALOGUE[i:j]:
                    if e.requires is None or _NEEDS[e.requires](scenario, item):
                        out.append(e.name.replace(f"<{p}>", key))
            i = j
            continue
        if k.requires is None or _NEEDS[k.requires](scenario, None):
            if p == "H":
                hours = scenario.report.thresholds_hours
                out += [k.name.replace("<H>", hours_text(h)) for h in hours]
            else:
                out.append(k.name)
        i += 1
    return list(dict.fromkeys(out))  # a threshold listed twice is one KPI


def headline(scenario_or_names: Scenario | Iterable[str]) -> list[str]:
    """The headline KPI names of a scenario (from :func:`names_for`), or among given names (in
    their order)."""
    names = (
        names_for(scenario_or_names)
        if isinstance(scenario_or_names, Scenario)
        else list(scenario_or_names)
    )
    return [n for n in names if (k := find(n)) is not None and k.headline]


def in_catalogue_order(names: Iterable[str]) -> list[str]:
    """``names`` sorted by their entries' place in the catalogue (stable: streams and groups keep
    their order), unknown names last — for a list gathered from several scenarios."""
    rank = {k.name: i for i, k in enumerate(CATALOGUE)}
    return sorted(names, key=lambda n: rank[k.name] if (k := find(n)) else len(rank))


__all__ = [
    "BUDGET_HOLDERS",
    "CATALOGUE",
    "DEFAULT_SWEEP_OUTPUTS",
    "Kpi",
    "Unit",
    "better",
    "find",
    "format",
    "headline",
    "hours_text",
    "in_catalogue_order",
    "interval",
    "is_percent",
    "label",
    "names_for",
    "placeholders",
    "plain",
    "spec",
    "unit",
]
