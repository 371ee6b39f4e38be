"""The what-if app's logic, without Streamlit: levers, option files, cache keys, uploads, runs.

A **lever** is one control on the page. It is generated from the base scenario (its staff groups,
streams, placements and costs) and turns the page's values into dotted overrides
(``staff.edt.count: 2``). The option is the base with those overrides merged in exactly as
``extends:`` merges a child file (mappings merge, lists and scalars replace), so the option file
the page offers for download — ``extends: <base file>`` plus the overrides — loads in the CLI to
the same scenario, and with the same seed gives the same numbers.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ooh_sim.core import kpis
from ooh_sim.core.compare import (
    COST_PER_HOUR_SAVED,
    COST_RATIOS,
    Comparison,
    Difference,
    compare,
    compare_to_precision,
)
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import deep_merge, load_scenario, read_with_extends, read_yaml
from ooh_sim.core.loader import scenario_from_dict as _validate
from ooh_sim.core.schema import Costs, Scenario
from ooh_sim.core.stats import Estimate
from ooh_sim.io.formats import config_sha256, csv_text

MAX_UPLOAD_BYTES = 1_000_000
"""All uploaded files together (a scenario is a few kB; its profile CSVs a few more)."""
MAX_UPLOAD_FILES = 20
REPLICATIONS_DEFAULT = 20
REPLICATIONS_RANGE = (3, 500)
PRECISION_CHOICES = (0.05, 0.1, 0.2)
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}\.(ya?ml|csv|txt)$")

Values = Mapping[str, Any]
Overrides = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Levers


@dataclass(frozen=True)
class Lever:
    """One control: its widget, the value meaning "as in the base", and the overrides it makes.

    ``apply(values)`` gets every lever's value (by key) — a demand lever reads the all-streams
    lever too — and returns the dotted overrides, empty when the lever is at its base value.
    """

    key: str
    section: str
    label: str
    kind: str  # "int", "float", "bool", "choice", "percent"
    base: Any
    apply: Callable[[Values], Overrides] = field(compare=False, repr=False)
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[Any, ...] = ()
    option_labels: tuple[str, ...] = ()
    help: str = ""
    paths: tuple[str, ...] = ()  # the dotted settings it may change (for the page and tests)

    def describe(self, value: Any) -> str:
        """The value as the page shows it (a choice's words)."""
        if self.kind == "choice" and value in self.options:
            return self.option_labels[self.options.index(value)]
        return str(value)


SECTIONS = (
    "Staff and rosters",
    "Extra cover",
    "Placements",
    "Demand",
    "Costs",
)


def _simple(path: str) -> Callable[[str, Any], Callable[[Values], Overrides]]:
    """An ``apply`` for a lever that sets one setting to its own value."""

    def make(key: str, base: Any) -> Callable[[Values], Overrides]:
        def apply(values: Values) -> Overrides:
            v = values.get(key, base)
            return {} if _same(v, base) else {path: v}

        return apply

    return make


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


CALLOUT_LEVERS: tuple[tuple[str, str, str, float, float, float | None], ...] = (
    # (setting of a group's callout, words, kind, minimum, maximum, step)
    ("delay_hours", "hours from call to arrival", "float", 0, 6, 0.25),
    ("child_waiting_hours", "called when a child has waited (hours)", "float", 0, 24, 0.5),
    ("queue_length", "called when this many jobs wait", "int", 1, 30, None),
)
"""The levers of an on-call group's call-out, one per setting the scenario gives."""


def _number_lever(
    key: str,
    section: str,
    label: str,
    path: str,
    base: float,
    *,
    kind: str = "int",
    minimum: float = 0,
    maximum: float | None = None,
    step: float | None = None,
    help: str = "",
) -> Lever:
    if maximum is None:
        maximum = max(10.0, 4.0 * float(base))
    if kind == "int":
        base, minimum, maximum = int(base), int(minimum), int(maximum)
        step = 1 if step is None else int(step)
    else:
        base, minimum, maximum = float(base), float(minimum), float(maximum)
        step = step or _nice_step(maximum)
    return Lever(
        key,
        section,
        label,
        kind,
        base,
        _simple(path)(key, base),
        minimum,
        maximum,
        step,
        help=help,
        paths=(path,),
    )


def _nice_step(top: float) -> float:
    return 10 ** math.floor(math.log10(max(top, 1e-9))) / 10


def _words(key: str) -> str:
    return kpis.plain(key)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unique(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    return out


def _main_group(sc: Scenario) -> str | None:
    """The first rostered (not on-call) group: the EDT worker(s) today."""
    return next((g for g, grp in sc.staff.items() if not grp.on_call), None)


def _social_work_skills(sc: Scenario) -> list[str]:
    """Skills an extra social worker brings: the main group's, without AMHP work."""
    g = _main_group(sc)
    skills = list(sc.staff[g].skills) if g else sorted({s.skill for s in sc.streams.values()})
    return [s for s in skills if s != "amhp"] or skills


def levers_for(sc: Scenario) -> list[Lever]:
    """Every lever the scenario supports, section by section (see :data:`SECTIONS`)."""
    out: list[Lever] = []
    out += _staff_levers(sc)
    out += _extra_cover_levers(sc)
    out += _placement_levers(sc)
    out += _demand_levers(sc)
    out += _cost_levers(sc)
    return out


def _staff_levers(sc: Scenario) -> list[Lever]:
    out: list[Lever] = []
    section = SECTIONS[0]
    for g, grp in sc.staff.items():
        who = _cap(_words(g))
        kind = "on call" if grp.on_call else "on duty at a time"
        out.append(
            _number_lever(
                f"staff.{g}.count",
                section,
                f"{who}: workers {kind}",
                f"staff.{g}.count",
                grp.count,
                maximum=max(6, 3 * grp.count),
                help=f"skills: {', '.join(grp.skills)}",
            )
        )
        if isinstance(grp.roster, str) and not grp.on_call:
            opts = ("cover", "always")
            out.append(
                Lever(
                    f"staff.{g}.roster",
                    section,
                    f"{who}: rostered",
                    "choice",
                    grp.roster,
                    _simple(f"staff.{g}.roster")(f"staff.{g}.roster", grp.roster),
                    options=opts,
                    option_labels=("out-of-hours window", "24 hours a day"),
                    paths=(f"staff.{g}.roster",),
                )
            )
        if grp.on_call and grp.callout is not None:
            for setting, words, kind, low, high, step in CALLOUT_LEVERS:
                value = getattr(grp.callout, setting)
                if value is None:  # a trigger the scenario does not use gets no lever
                    continue
                path = f"staff.{g}.callout.{setting}"
                out.append(_number_lever(path, section, f"{who}: {words}", path, value, kind=kind,
                                         minimum=low, maximum=high, step=step))  # fmt: skip
    return out


SECOND_WORKER_SHIFTS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    # value: (words, days, end — None: the end of the out-of-hours window)
    "none": ("none (as today)", (), None),
    "fri_sat_2300": ("Friday and Saturday nights, until 23:00", ("fri", "sat"), "23:00"),
    "fri_sat_0100": ("Friday and Saturday nights, until 01:00", ("fri", "sat"), "01:00"),
    "fri_sat_night": ("Friday and Saturday, all night", ("fri", "sat"), None),
    "every_0100": (
        "every night, until 01:00",
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
        "01:00",
    ),
}
ON_CALL_TRIGGERS = (0.0, 1.0, 2.0, 4.0)  # hours a child has waited; 0 = no on-call manager
VENUE_RELEASE = (0.0, 0.5, 1.0, 2.0)  # hours until officers are released; 0 = no venue


def _extra_cover_levers(sc: Scenario) -> list[Lever]:
    out: list[Lever] = []
    section = SECTIONS[1]
    skills = _social_work_skills(sc)
    start = sc.calendar.weekday_start

    # a second worker on the busiest nights
    second = _unique("second_worker", sc.staff)

    def second_worker(values: Values) -> Overrides:
        days, end = SECOND_WORKER_SHIFTS[values.get("extra.second_worker", "none")][1:]
        if not days:
            return {}
        shift = {"days": list(days), "start": start, "end": end or sc.calendar.weekday_end}
        return {f"staff.{second}": {"count": 1, "skills": skills, "roster": [shift]}}

    keys = tuple(SECOND_WORKER_SHIFTS)
    out.append(
        Lever(
            "extra.second_worker",
            section,
            "Second worker",
            "choice",
            "none",
            second_worker,
            options=keys,
            option_labels=tuple(SECOND_WORKER_SHIFTS[k][0] for k in keys),
            help=f"an extra social worker ({', '.join(skills)}; not an AMHP) from {start}",
            paths=(f"staff.{second}",),
        )
    )

    # an on-call manager (only if the scenario has no on-call group: else its levers above)
    if sc.police_streams and not any(g.on_call for g in sc.staff.values()):
        manager = _unique("on_call_manager", sc.staff)

        def on_call(values: Values) -> Overrides:
            hours = float(values.get("extra.on_call", 0.0))
            if hours <= 0:
                return {}
            return {
                f"staff.{manager}": {
                    "count": 1,
                    "skills": skills,
                    "roster": "cover",
                    "on_call": True,
                    "callout": {"delay_hours": 1.0, "child_waiting_hours": hours},
                }
            }

        out.append(
            Lever(
                "extra.on_call",
                section,
                "On-call manager",
                "choice",
                0.0,
                on_call,
                options=ON_CALL_TRIGGERS,
                option_labels=(
                    "none (as today)",
                    *(f"called when a child has waited {h:g} h" for h in ON_CALL_TRIGGERS[1:]),
                ),
                help="arrives an hour after the call; works until nothing is waiting",
                paths=(f"staff.{manager}",),
            )
        )

    # a separate AMHP rota: AMHP work leaves the groups that also do other work
    shared = [g for g, grp in sc.staff.items() if "amhp" in grp.skills and len(grp.skills) > 1]
    own = any(grp.skills == ["amhp"] for grp in sc.staff.values())
    if shared and not own and any(s.skill == "amhp" for s in sc.streams.values()):
        rota = _unique("amhp_rota", sc.staff)

        def amhp(values: Values) -> Overrides:
            if not values.get("extra.amhp_rota", False):
                return {}
            o: Overrides = {
                f"staff.{g}.skills": [s for s in sc.staff[g].skills if s != "amhp"] for g in shared
            }
            o[f"staff.{rota}"] = {"count": 1, "skills": ["amhp"], "roster": "cover"}
            return o

        out.append(
            Lever(
                "extra.amhp_rota",
                section,
                "Separate AMHP rota",
                "bool",
                False,
                amhp,
                help="Mental Health Act assessments go to an AMHP on their own rota, through the "
                "out-of-hours window; the EDT keeps children's and adults' work",
                paths=(*(f"staff.{g}.skills" for g in shared), f"staff.{rota}"),
            )
        )

    # a supervised waiting venue that releases police officers
    police = sc.police_streams
    if police and all(sc.streams[s].officer_release_hours is None for s in police):
        venue = _unique("venue_staff", sc.staff)

        def venue_apply(values: Values) -> Overrides:
            hours = float(values.get("extra.venue", 0.0))
            if hours <= 0:
                return {}
            o: Overrides = {f"streams.{s}.officer_release_hours": hours for s in police}
            o[f"staff.{venue}"] = {"count": 1, "skills": ["venue"], "roster": "cover"}
            return o

        out.append(
            Lever(
                "extra.venue",
                section,
                "Supervised waiting venue",
                "choice",
                0.0,
                venue_apply,
                options=VENUE_RELEASE,
                option_labels=(
                    "none (as today)",
                    *(f"officers released after {h:g} h" for h in VENUE_RELEASE[1:]),
                ),
                help="a venue with a supervisor on duty (costed at the worker rate); the child "
                "still waits for the EDT and a placement",
                paths=(*(f"streams.{s}.officer_release_hours" for s in police), f"staff.{venue}"),
            )
        )
    elif police:
        s0 = police[0]
        base = float(sc.streams[s0].officer_release_hours or 0.0)

        def release(values: Values) -> Overrides:
            v = float(values.get("extra.officer_release_hours", base))
            return (
                {} if _same(v, base) else {f"streams.{s}.officer_release_hours": v for s in police}
            )

        out.append(
            Lever(
                "extra.officer_release_hours",
                section,
                "Officers released after (hours)",
                "float",
                base,
                release,
                0.0,
                12.0,
                0.25,
                paths=tuple(f"streams.{s}.officer_release_hours" for s in police),
            )
        )
    return out


_SCALABLE = ("mean", "sd", "min", "mode", "max", "value", "values")


def scale_distribution(spec: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """A distribution (as written in YAML) with every duration scaled by ``factor``; spreads given
    as a ratio (``cv``) stay as they are."""
    out = dict(spec)
    for k in _SCALABLE:
        if k in out and out[k] is not None:
            v = out[k]
            out[k] = (
                [round(x * factor, 6) for x in v] if isinstance(v, list) else round(v * factor, 6)
            )
    return out


def _placement_levers(sc: Scenario) -> list[Lever]:
    out: list[Lever] = []
    section = SECTIONS[2]
    p = sc.placements
    if not sc.police_streams:
        return out
    if p.capacity is not None:
        out.append(
            _number_lever(
                "placements.capacity",
                section,
                "Emergency placements (beds) on the rota",
                "placements.capacity",
                p.capacity,
                maximum=max(10, 3 * p.capacity),
                help="shared with other services",
            )
        )
    stay = p.stay_days.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "file" not in stay:

        def stays(values: Values) -> Overrides:
            pct = float(values.get("placements.stay_days", 0))
            if pct == 0:
                return {}
            return {"placements.stay_days": scale_distribution(stay, 1 + pct / 100)}

        out.append(
            Lever(
                "placements.stay_days",
                section,
                "Length of placement stays (% change)",
                "percent",
                0,
                stays,
                -50,
                100,
                10,
                help=f"today: {p.stay_days.mean:.2g} days on average",
                paths=("placements.stay_days",),
            )
        )
    out.append(
        _number_lever(
            "placements.other_demand_per_week",
            section,
            "Other services' requests for the same beds (per week)",
            "placements.other_demand_per_week",
            p.other_demand_per_week,
            kind="float",
            maximum=max(10.0, 3 * p.other_demand_per_week),
            step=0.5,
        )
    )
    opts = ("wait", "out_of_area")
    out.append(
        Lever(
            "placements.when_none_free",
            section,
            "When no bed is free",
            "choice",
            p.when_none_free,
            _simple("placements.when_none_free")("placements.when_none_free", p.when_none_free),
            options=opts,
            option_labels=("the child waits for a bed", "an out-of-area placement after a while"),
            paths=("placements.when_none_free",),
        )
    )
    return out


def _demand_levers(sc: Scenario) -> list[Lever]:
    out: list[Lever] = []
    section = SECTIONS[3]
    out.append(
        Lever(
            "demand.all",
            section,
            "All demand (% change)",
            "percent",
            0,
            lambda _v: {},
            -50,
            100,
            5,
            help="applies to every stream, on top of each stream's own change",
            paths=tuple(f"streams.{s}.arrivals.per_week" for s in sc.streams),
        )
    )
    for s, st in sc.streams.items():
        key = f"demand.{s}"
        base = st.arrivals.per_week
        path = f"streams.{s}.arrivals.per_week"

        def apply(
            values: Values, key: str = key, base: float = base, path: str = path
        ) -> Overrides:
            factor = (1 + float(values.get("demand.all", 0)) / 100) * (
                1 + float(values.get(key, 0)) / 100
            )
            return {} if factor == 1 else {path: round(base * factor, 6)}

        out.append(
            Lever(
                key,
                section,
                f"{_cap(_words(s))} (% change)",
                "percent",
                0,
                apply,
                -50,
                100,
                5,
                help=f"today {base:g} a week",
                paths=(path,),
            )
        )
    return out


COST_WORDS: dict[str, tuple[str, float | None, float | None]] = {
    # schema key: (label, largest value offered, step); None: from the value / the schema
    "worker_hour": ("Worker, per hour (£)", None, None),
    "officer_hour": ("Police officer, per hour (£)", None, None),
    "callout": ("On-call call-out (£)", None, None),
    "placement_night": ("Placement, per night (£)", None, None),
    "overtime_premium": ("Overtime premium (share of the hourly rate; 0.5 = time and a half)",
                         2.0, 0.05),
    "on_call_allowance": ("On-call allowance, per worker per shift (£)", None, None),
    "bed_retainer_week": ("Bed retainer, per placement per week (£)", None, None),
    "out_of_area_night": ("Out-of-area placement, per night (£)", None, None),
    "venue_week": ("Supervised waiting venue, per week (£)", None, None),
    "police_reimbursed": ("Share of police officers' cost the council pays back", None, None),
    "s12_fee": ("Section 12 doctors' fees, per Mental Health Act assessment (£)", None, None),
}  # fmt: skip


def _cost_levers(sc: Scenario) -> list[Lever]:
    """One lever per numeric cost in the schema (its description as help), so cost settings
    added to the schema get a lever too. A setting with an upper bound (a share) keeps it."""
    if sc.costs is None:
        return []
    out: list[Lever] = []
    for name, info in Costs.model_fields.items():
        key = info.alias or name
        value = getattr(sc.costs, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        upper = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
        if upper is not None:
            top, step = float(upper), float(upper) / 20
        else:
            top, step = max(1000.0, 4 * float(value)), 5.0
        words, top_here, step_here = COST_WORDS.get(key, (_cap(_words(key)), None, None))
        top, step = top_here or top, step_here or step
        lever = _number_lever(
            f"costs.{key}",
            SECTIONS[4],
            words,
            f"costs.{key}",
            value,
            kind="float",
            maximum=top,
            step=step,
            help=info.description or "",
        )
        out.append(lever)
    return out


def overrides_for(levers: Sequence[Lever], values: Values) -> Overrides:
    """Dotted overrides of every lever away from its base value, in lever order."""
    out: Overrides = {}
    for lever in levers:
        out.update(lever.apply(values))
    return out


def nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides as the nested mapping an option file holds."""
    root: dict[str, Any] = {}
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = root
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = copy.deepcopy(value)
    return root


# --------------------------------------------------------------------------------------------
# The base, the option and its file


@dataclass
class Base:
    """The scenario the meeting starts from: its file, resolved data and validated scenario."""

    path: Path
    data: dict[str, Any]
    scenario: Scenario
    shown_as: str  # the file name people know it by

    @classmethod
    def load(cls, path: str | Path, shown_as: str | None = None) -> Base:
        path = Path(path)
        return cls(path, read_with_extends(path), load_scenario(path), shown_as or path.name)


@dataclass
class Option:
    """The base with the page's changes: what runs, and what the option file says."""

    patch: dict[str, Any]  # the option file's content after extends:
    data: dict[str, Any]  # base data with the patch merged in (as extends merges)
    scenario: Scenario


def run_word(sc: Scenario) -> str:
    """What one replication is, in the planner's words: "years" for a 52-week horizon."""
    days = sc.horizon.days - sc.horizon.warmup_days
    return "years" if 330 <= days <= 371 else f"runs of {days:g} days"


def option_name(base: Scenario, wanted: str | None = None) -> str:
    name = (wanted or "").strip() or f"{base.name}_what_if"
    return name


def make_option(
    base: Base, overrides: Mapping[str, Any], *, name: str, replications: int, seed: int
) -> Option:
    """The option: ``name``, the run settings, and the overrides, merged into the base.

    ``replications`` and ``seed`` are written into the option so that ``ooh-sim run`` of its
    file alone gives the option's numbers as the page showed them.
    """
    if name == base.scenario.name:
        raise InputError(
            f"the option needs a name of its own, not the base's {name!r}", path="name"
        )
    patch = {"name": name, "replications": int(replications), "seed": int(seed)}
    patch.update(nest(overrides))
    data = deep_merge(base.data, patch)
    scenario = _validate(data, file="option", base_dir=base.path.parent)
    return Option(patch, data, scenario)


def option_yaml(base: Base, option: Option, *, made: dt.date | None = None) -> str:
    """The option file: comments saying how to use it, ``extends:`` the base, then the changes."""
    made = made or dt.date.today()
    sc = option.scenario
    header = (
        f"# What-if option made with the ooh-sim app on {made.isoformat()}, from "
        f"{base.shown_as}.\n"
        f"# Save it in the same folder as {base.shown_as}. Then\n"
        f"#   ooh-sim run {sc.name}.yaml        gives the option's numbers as the app showed "
        "them;\n"
        f"#   ooh-sim compare {base.shown_as} {sc.name}.yaml -n {sc.replications} "
        f"--seed {sc.seed}\n"
        "# gives the comparison. Every setting below differs from the base (lists replace the "
        "base's).\n"
    )
    top = {"extends": base.shown_as, **option.patch}
    return header + "".join(_yaml({k: v}) for k, v in top.items())  # one top-level key a block


def _yaml(data: Any) -> str:
    """Block style, with lists and mappings of plain values inline (``skills: [a, b]``), as the
    shipped scenario files are written."""
    return yaml.dump(
        _plain(data),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None if _nested(data) else False,
        width=100,
    )


def _nested(data: Any) -> bool:
    return any(isinstance(v, (Mapping, list)) for v in data.values())


class _Dumper(yaml.SafeDumper):
    """Safe YAML with clock times quoted ("01:00"), as people write them in scenario files."""


_Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar(
        "tag:yaml.org,2002:str", s, style="'" if re.fullmatch(r"\d{1,2}:\d{2}", s) else None
    ),
)


def scenario_yaml(data: Mapping[str, Any]) -> str:
    """A resolved scenario as YAML text (for the line-by-line difference)."""
    return "".join(_yaml({k: v}) for k, v in data.items())


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (dt.date, Path)):
        return str(obj)
    return obj


def yaml_diff(base: Base, option: Option) -> str:
    """Unified difference between the base and the option, resolved (``extends:`` merged)."""
    a = scenario_yaml(base.data).splitlines(keepends=True)
    b = scenario_yaml(option.data).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(a, b, fromfile=base.shown_as, tofile=f"{option.scenario.name}.yaml")
    )


def cache_key(
    base: Scenario,
    option: Scenario,
    seed: int,
    replications: int | None,
    precision: float | None = None,
) -> str:
    """Same configurations, seed and replications → same key (the page's result cache)."""
    parts = [
        config_sha256(base),
        config_sha256(option),
        str(seed),
        str(replications),
        str(precision),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Uploads


def stage_upload(files: Sequence[tuple[str, bytes]], folder: Path) -> tuple[Path, str]:
    """Write uploaded files into ``folder`` (empty) after checking them; return the scenario's path
    and the name it was uploaded as.

    Refused (InputError, one message): more than :data:`MAX_UPLOAD_BYTES` or
    :data:`MAX_UPLOAD_FILES`; names that are not plain file names; and any ``extends:`` or data
    ``file:`` that is not one of the files uploaded with it — an uploaded scenario must not read
    anything else on the server.
    """
    if not files:
        raise InputError("no file uploaded")
    if len(files) > MAX_UPLOAD_FILES:
        raise InputError(f"too many files ({len(files)}; at most {MAX_UPLOAD_FILES})")
    total = sum(len(b) for _, b in files)
    if total > MAX_UPLOAD_BYTES:
        raise InputError(f"upload too large ({total:,} bytes; the limit is {MAX_UPLOAD_BYTES:,})")
    names = [n for n, _ in files]
    for n in names:
        if not UPLOAD_NAME.match(n):
            raise InputError(
                "not an allowed file name (letters, digits, '_', '-', '.'; ending .yaml, .yml, "
                ".csv or .txt)",
                file=n,
            )
    if len(set(names)) != len(names):
        raise InputError("two uploaded files have the same name")
    for n, b in files:
        (folder / n).write_bytes(b)
    yamls = [n for n in names if n.endswith((".yaml", ".yml"))]
    if not yamls:
        raise InputError("no scenario file (.yaml) among the uploaded files")
    extended: set[str] = set()
    for n in yamls:
        data = read_yaml(folder / n)
        ref = data.get("extends")
        if ref is not None:
            _check_ref(ref, names, n, "extends")
            extended.add(str(ref))
        for path, value in _file_refs(data):
            _check_ref(value, names, n, path)
    tops = [n for n in yamls if n not in extended]
    if len(tops) != 1:
        raise InputError(
            "upload one scenario, with the files it extends or reads; found "
            f"{len(tops) or 'no'} scenario files that no other file extends"
            + (f" ({', '.join(tops)})" if tops else "")
        )
    return folder / tops[0], tops[0]


def _check_ref(ref: object, names: Sequence[str], file: str, path: str) -> None:
    if not isinstance(ref, str) or ref not in names:
        raise InputError(
            f"refers to {ref!r}, which was not uploaded with it: an uploaded scenario may only "
            "extend or read files uploaded at the same time (same folder, plain file names)",
            file=file,
            path=path,
        )


def _file_refs(node: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    """Every ``file:`` value (profiles, empirical distributions), with its key path."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if here in ("sources", "description"):
                continue
            if k == "file":
                yield here, v
            else:
                yield from _file_refs(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _file_refs(v, f"{path}[{i}]")


def message(exc: BaseException, folder: Path | None = None) -> str:
    """One line for the page: an input problem as the CLI words it; anything else briefly.

    ``folder`` (an upload's temporary folder) is cut from file names: people know their files by
    the names they uploaded.
    """
    text = (
        str(exc)
        if isinstance(exc, InputError)
        else (f"Something went wrong ({type(exc).__name__}: {exc}). This is a bug in ooh-sim.")
    )
    if folder is not None:
        text = text.replace(f"{folder}/", "").replace(str(folder), "")
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# Running the comparison


@dataclass
class Outcome:
    """A comparison reduced to what the page shows (small, picklable: the page caches it)."""

    base: str
    option: str
    seed: int
    replications: int
    summaries: dict[str, dict[str, Estimate]]
    differences: dict[str, Difference]
    derived: dict[str, Estimate]
    station_hours: dict[str, np.ndarray]  # every measured child's hours, all replications
    station_by_hour: dict[str, np.ndarray]  # mean children in stations by hour of week (168)
    seconds: float
    thresholds: tuple[float, ...] = ()
    precision: dict[str, int] = field(default_factory=dict)  # scenario → its own n

    def estimate(self, name: str, kpi: str) -> Estimate | None:
        e = self.summaries.get(name, {}).get(kpi)
        if e is None and name == self.option:
            e = self.derived.get(kpi)
        return e


def run_comparison(
    base: Scenario,
    option: Scenario,
    *,
    replications: int,
    seed: int,
    precision: float | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Outcome, Comparison]:
    """Option against base on common random numbers (fixed ``replications``, or as many as
    ``precision`` needs, up to ``replications``)."""
    t0 = time.perf_counter()
    if precision is None:
        c = compare([base, option], replications, seed, jobs, progress)
    else:
        c = compare_to_precision(
            [base, option],
            precision,
            max_replications=replications,
            seed=seed,
            jobs=jobs,
            choosing=progress,
            progress=progress,
        )
    return outcome_of(c, time.perf_counter() - t0), c


def outcome_of(c: Comparison, seconds: float = math.nan) -> Outcome:
    base, option = c.results[0], c.results[1]
    return Outcome(
        base=base.scenario.name,
        option=option.scenario.name,
        seed=c.seed,
        replications=c.replications,
        summaries={r.scenario.name: dict(r.summary) for r in c.results},
        differences=dict(c.differences.get(option.scenario.name, {})),
        derived=dict(c.derived.get(option.scenario.name, {})),
        station_hours={r.scenario.name: station_hours(r) for r in c.results},
        station_by_hour={
            r.scenario.name: np.asarray(r.profile("station"), dtype=float)
            for r in c.results
            if r.scenario.police_streams
        },
        seconds=seconds,
        thresholds=tuple(base.scenario.report.thresholds_hours),
        precision={k: p.n for k, p in (c.precision or {}).items()},
    )


def station_hours(result: Any) -> np.ndarray:
    """Hours each measured child (arrived after warm-up, collected) spent waiting, all runs."""
    children = result.station_children()
    return np.zeros(0) if children is None else children[1]


class OutcomeCache:
    """The last ``max_entries`` outcomes by :func:`cache_key`, shared by every session of the
    page (thread-safe). Same settings twice → the stored outcome, with no simulation.

    Not ``st.cache_data``: that replays the Streamlit calls a cached function made, and the
    progress bar the run updates lives outside it (Streamlit refuses that replay).
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Outcome] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Outcome | None:
        with self._lock:
            o = self._items.get(key)
            if o is not None:
                self._items.move_to_end(key)
            return o

    def put(self, key: str, outcome: Outcome) -> None:
        with self._lock:
            self._items[key] = outcome
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------------------------
# Reading the outcome


def card_kpis(o: Outcome, base: Scenario) -> list[str]:
    """The KPIs on the cards: the children's wait first, then police time, AMHP, beds, staff,
    money — those the run produced."""
    have = o.summaries.get(o.base, {})
    th = [h for h in o.thresholds]
    middle = th[len(th) // 2] if th else None
    wanted = ["station.hours.mean", "station.hours.p90"]
    if middle is not None:
        wanted.append(f"station.share_over_{kpis.hours_text(middle)}h")
    wanted.append("station.officer_hours_per_week")
    wanted += [
        f"streams.{s}.response_hours.mean" for s, st in base.streams.items() if st.skill == "amhp"
    ][:1]
    wanted.append("placements.none_free_share")
    g = _main_group(base)
    if g:
        wanted.append(f"staff.{g}.utilisation")
    # the whole public cost where costs are split by budget holder, else the variable cost
    wanted.append("cost.total.per_week" if "cost.total.per_week" in have else "cost.per_week")
    return [k for k in wanted if k in have]


def cost_kpis(o: Outcome) -> list[str]:
    """Costs by budget holder where the model gives them (``cost.<holder>.per_week``), the total,
    and the extra cost per child-hour in a station avoided, each holder's and in total.

    Where costs are split by holder, the first, simpler sum (``cost.per_week``, without what is
    paid whether used or not) and its cost per hour avoided are left out of the page (they stay
    in the CSV): beside the whole cost they mislead — two more beds "save" £48 a child-hour by
    that sum, and cost the council £335 once the bed retainers are counted."""
    have = o.summaries.get(o.base, {})
    holders = {k: r for k, r in COST_RATIOS.items() if k != "cost.per_week"}
    by_holder = any(k in have for k in holders)
    names = [k for k in have if k.startswith("cost.") and not (by_holder and k == "cost.per_week")]
    per_hour = list(holders.values()) if by_holder else [COST_PER_HOUR_SAVED]
    return names + [k for k in per_hour if k in o.derived]


def verdict(kpi: str, d: Difference | None) -> str:
    """The difference in plain words, for a meeting: is it clear, and is it better?"""
    if d is None:
        return "not compared"
    p = d.paired
    if p.n < 2 or not math.isfinite(p.mean):
        return "too few runs to tell"
    if p.mean == 0 and (p.sd == 0 or not math.isfinite(p.sd)):
        return "no change: the same on every simulated night"
    if not d.significant:
        return "no clear difference from today"
    way = "higher" if p.mean > 0 else "lower"
    unit = kpis.unit(kpi)
    if unit in ("hours", "hours per week"):
        way = "longer" if p.mean > 0 else "shorter"
    elif unit.startswith("£"):
        way = "costs more" if p.mean > 0 else "costs less"
    b = kpis.better(kpi)
    if b is None or unit.startswith("£"):
        return f"clearly {way} than today" if not unit.startswith("£") else f"clearly {way}"
    good = (b == "lower") == (p.mean < 0)
    return f"{'better' if good else 'worse'}: clearly {way} than today"


def card(o: Outcome, kpi: str) -> dict[str, str]:
    """What one card shows: label, the option's value, the change, its interval, the verdict."""
    base_e, opt_e = o.summaries[o.base].get(kpi), o.summaries[o.option].get(kpi)
    d = o.differences.get(kpi)
    return {
        "kpi": kpi,
        "label": kpis.label(kpi),
        "today": kpis.format(kpi, base_e.mean if base_e else None),
        "option": kpis.format(kpi, opt_e.mean if opt_e else None),
        "change": kpis.format(kpi, d.paired.mean if d else None, signed=True),
        "ci": kpis.interval(kpi, d.paired.ci95_low, d.paired.ci95_high, signed=True) if d else "–",
        "verdict": verdict(kpi, d),
        "better": kpis.better(kpi) or "",
    }


def table_rows(o: Outcome, names: Iterable[str], *, merged: bool = False) -> list[dict[str, str]]:
    """One row per KPI for the page's tables: today, option, change, its 95% CI, verdict
    (``merged``: the change and its interval in one column, for a narrow table)."""
    rows = []
    for k in names:
        if k in o.derived:  # exists only relative to today
            e = o.derived[k]
            c = {
                "label": kpis.label(k),
                "today": "",
                "option": kpis.format(k, e.mean),
                "change": "",
                "ci": kpis.interval(k, e.ci95_low, e.ci95_high),
                "verdict": "",
            }
        else:
            c = card(o, k)
        row = {"measure": c["label"], "today": c["today"], "option": c["option"]}
        if merged:
            row["change (95% CI)"] = f"{c['change']} ({c['ci']})" if c["change"] else c["ci"]
        else:
            row.update({"change": c["change"], "95% CI": c["ci"]})
        row["verdict"] = c["verdict"]
        rows.append(row)
    return rows


def precision_note(o: Outcome, base: Scenario, wanted: float) -> str:
    """How precise the headline figures are, and about how many runs ±``wanted`` would take."""
    worst, worst_k = 0.0, None
    for k in kpis.headline(base):
        spec = kpis.find(k)
        if spec is None or not spec.precision:
            continue
        for name in (o.base, o.option):
            e = o.summaries.get(name, {}).get(k)
            if e is None or e.n < 2 or not e.mean or not math.isfinite(e.half_width):
                continue
            rel = abs(e.half_width / e.mean)
            if rel > worst:
                worst, worst_k = rel, k
    if worst_k is None:
        return ""
    need = math.ceil(o.replications * (worst / wanted) ** 2)
    met = "within" if worst <= wanted else "not yet within"
    text = (
        f"With {o.replications} simulated {run_word(base)} each, the least precise headline "
        "figure "
        f"({kpis.label(worst_k).lower()}) is known to ±{worst:.0%} (95% interval): {met} "
        f"±{wanted:.0%}."
    )
    if worst > wanted:
        text += f" About {need} would bring it within ±{wanted:.0%}."
    return text


# --------------------------------------------------------------------------------------------
# Downloads


SUMMARY_COLUMNS = ("scenario", "kpi", "label", "unit", "mean", "ci95_low", "ci95_high", "sd", "n")


def summary_csv(o: Outcome) -> str:
    """Both scenarios' KPIs, one row each: scenario, kpi, label, unit, mean, ci95_low, ci95_high,
    sd, n (the columns of a run's summary.csv, with the scenario first)."""
    rows = []
    for name in (o.base, o.option):
        items = list(o.summaries[name].items())
        if name == o.option:
            items += list(o.derived.items())
        for k, e in items:
            rows.append(
                [name, k, kpis.label(k), kpis.unit(k), e.mean, e.ci95_low, e.ci95_high, e.sd, e.n]
            )
    return csv_text(list(SUMMARY_COLUMNS), rows)


def report_html(c: Comparison, folder: Path, sources: Sequence[Path | None] = ()) -> bytes:
    """The self-contained HTML report of this comparison (written into ``folder``)."""
    # imported here for speed: the report modules (and matplotlib) are needed only on request
    from ooh_sim.report.folders import write_comparison
    from ooh_sim.report.html import write_report

    out = folder / "comparison"
    write_comparison(c, out, sources=list(sources) or None)
    return write_report(out).read_bytes()


def json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Estimate):
        return o.as_dict()
    raise TypeError(type(o).__name__)


def dumps(o: Any) -> str:
    return json.dumps(o, default=json_default, sort_keys=True)


__all__ = [
    "MAX_UPLOAD_BYTES",
    "SECTIONS",
    "Base",
    "Lever",
    "Option",
    "Outcome",
    "OutcomeCache",
    "cache_key",
    "card",
    "card_kpis",
    "cost_kpis",
    "levers_for",
    "make_option",
    "message",
    "nest",
    "option_name",
    "option_yaml",
    "outcome_of",
    "overrides_for",
    "precision_note",
    "run_comparison",
    "scale_distribution",
    "stage_upload",
    "summary_csv",
    "table_rows",
    "verdict",
    "yaml_diff",
]
