"""A self-contained HTML report of a results folder, for people who will not open a CSV.

``ooh-sim report RESULTS_DIR`` (or ``run … --report``) writes ``report.html`` into the folder: the
headline KPIs with their 95% confidence intervals, the comparison when the folder holds one, the
scenario in plain words, its assumptions and sources (from the comments of ``scenario.yaml``), a
warm-up check, and the STRESS-DES reporting items that the configuration determines.

One file, nothing fetched: figures are embedded as base64 PNG ``data:`` URIs, the CSS is inline,
fonts are the reader's own, and there is no JavaScript — so the report can be e-mailed to a
board, opened offline, and archived as it is. Every text taken from a file passes through
``html.escape``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
import io
import math
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from ooh_sim.core import kpis
from ooh_sim.core.clock import WEEKDAYS
from ooh_sim.core.distributions import (
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
)
from ooh_sim.core.errors import InputError
from ooh_sim.core.precision import outcome_words
from ooh_sim.core.schema import Roster, Scenario
from ooh_sim.core.stats import finite_or_none
from ooh_sim.core.version import __version__
from ooh_sim.io.formats import COMPARISON_JSON, SUMMARY, read_jobs, read_json, read_summary
from ooh_sim.io.provenance import Notes, dotted, parse_comments
from ooh_sim.report.optimise_page import is_optimise_folder, optimise_page

REPORT_NAME = "report.html"
DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))

# --------------------------------------------------------------------------------------------
# KPI values as text: every label, unit and number format comes from the catalogue (core/kpis)


def _value(k: str, est: dict[str, Any] | None) -> str:
    """The mean of a KPI's summary ({mean, ci95_low, …} as in summary.json), formatted."""
    return kpis.format(k, (est or {}).get("mean"))


def _ci(k: str, est: dict[str, Any] | None, *, signed: bool = False) -> str:
    est = est or {}
    return kpis.interval(k, est.get("ci95_low"), est.get("ci95_high"), signed=signed)


# --------------------------------------------------------------------------------------------
# Reading a results folder


@dataclass
class Folder:
    """What the report needs from a results folder; anything missing is reported, not fatal."""

    path: Path
    summary: dict[str, Any] | None = None
    scenario: Scenario | None = None
    scenario_text: str = ""
    notes: Notes = field(default_factory=Notes)
    comparison: dict[str, Any] | None = None
    figures: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    subfolders: dict[str, Folder] = field(default_factory=dict)


def read_folder(path: Path, *, nested: bool = False) -> Folder:
    from ooh_sim.core.loader import load_scenario

    path = Path(path)
    if not path.is_dir():
        raise InputError("not a results folder (run `ooh-sim run` first)", file=str(path))
    f = Folder(path)
    s = path / SUMMARY
    if s.is_file():
        f.summary = read_summary(s)
    c = path / COMPARISON_JSON
    if c.is_file():
        f.comparison = read_json(c)
    y = path / "scenario.yaml"
    if y.is_file():
        f.scenario_text = y.read_text(encoding="utf-8")
        f.notes = parse_comments(f.scenario_text)
        f.scenario = load_scenario(y)
    elif f.comparison is None:
        f.problems.append("scenario.yaml is missing (results written by an older ooh-sim?)")
    f.figures = _figure_order(list(path.glob("*.png")))
    if f.comparison and not nested:
        for name in f.comparison.get("scenarios", []):
            sub = path / str(name)
            if sub.is_dir() and (sub / "summary.json").is_file():
                f.subfolders[str(name)] = read_folder(sub, nested=True)
        if not any(s.scenario for s in f.subfolders.values()):
            f.problems.append(
                "the scenario folders have no scenario.yaml (written by an older ooh-sim, or by "
                "the Python API): the scenarios cannot be described"
            )
    if f.summary is None and f.comparison is None:
        what = (
            "a sweep folder: its results are sweep.csv and figures/; a report covers the "
            "folder of one `run` or `compare`"
            if (path / "sweep.csv").is_file()
            else "not an ooh-sim results folder"
        )
        raise InputError(f"no summary.json or comparison.json here: {what}", file=str(path))
    return f


# --------------------------------------------------------------------------------------------
# The scenario in plain words


def describe_dist(d: Any, unit: str = "h") -> str:
    m = d.mean
    if isinstance(d, Fixed):
        return f"always {d.value:g} {unit}"
    if isinstance(d, Exponential):
        return f"on average {m:.2g} {unit} (exponential: many short, a few long)"
    if isinstance(d, Lognormal):
        return f"on average {m:.2g} {unit}, typically {d.sd:.2g} {unit} either way (lognormal)"
    if isinstance(d, Gamma):
        return f"on average {m:.2g} {unit}, typically ±{d.cv * m:.2g} {unit} (gamma)"
    if isinstance(d, Triangular):
        return f"between {d.min:g} and {d.max:g} {unit}, most often {d.mode:g} (mean {m:.2g})"
    if isinstance(d, Uniform):
        return f"anywhere between {d.min:g} and {d.max:g} {unit} (mean {m:.2g})"
    if isinstance(d, Empirical):
        return f"resampled from {len(d.values or [])} recorded values (mean {m:.2g} {unit})"
    return f"mean {m:.2g} {unit}"


def describe_cover(sc: Scenario) -> str:
    c = sc.calendar
    if c.cover == "always":
        return "around the clock, every day of the week (24/7)"
    fri = c.friday_start or c.weekday_start
    hol = c.bank_holidays
    if isinstance(hol, list):
        hols = f"and on {len(hol)} listed bank holidays all day"
    elif hol == "none":
        hols = "(bank holidays are not treated specially)"
    else:
        hols = f"and on bank holidays all day ({hol.replace('_', ' ').title()} list)"
    return (
        f"outside office hours: Monday to Thursday {c.weekday_start} to {c.weekday_end} the next "
        f"morning, the weekend from Friday {fri} to Monday {c.weekday_end}, {hols}"
    )


def describe_roster(r: Roster) -> str:
    if r == "cover":
        return "the whole out-of-hours period"
    if r == "always":
        return "around the clock"
    return "; ".join(f"{', '.join(DAY_NAMES[d] for d in s.days)} {s.start}–{s.end}" for s in r)


def _busiest(weights: list[float]) -> str:
    w = np.asarray(weights, dtype=float)
    if w.max() <= 0 or np.allclose(w, w[0]):
        return "evenly spread"
    by_hour = w.reshape(7, 24).sum(axis=0)
    h = int(np.argmax(by_hour))
    return f"peak {h:02d}:00"


def scenario_words(sc: Scenario) -> str:
    """HTML: the scenario as a planner would explain it."""
    e = html.escape
    hz = sc.horizon
    start = hz.start.strftime("%A %-d %B %Y") if sys.platform != "win32" else str(hz.start)
    out = []
    if sc.description:
        out.append(f"<p>{e(sc.description)}</p>")
    out.append("<ul>")
    out.append(f"<li><b>Cover.</b> The team is responsible {e(describe_cover(sc))}.</li>")
    out.append(
        f"<li><b>Period simulated.</b> {hz.days:g} days from {e(start)}; the first "
        f"{hz.warmup_days:g} days are a warm-up and are not counted in the results.</li>"
    )
    staff = []
    for g, grp in sc.staff.items():
        who = f"{grp.count} worker{'s' if grp.count != 1 else ''}"
        txt = (
            f"<b>{e(g)}</b>: {who} for {e(', '.join(grp.skills))} work, on shift "
            f"{e(describe_roster(grp.roster))}"
        )
        if grp.on_call and grp.callout:
            c = grp.callout
            why = []
            if c.queue_length is not None:
                why.append(f"{c.queue_length} or more jobs are waiting")
            if c.child_waiting_hours is not None:
                why.append(f"a child has waited {c.child_waiting_hours:g} h in a police station")
            txt += (
                f"; <i>on call</i>, arriving {c.delay_hours:g} h after being called when "
                f"{e(' or '.join(why))}"
            )
        staff.append(txt)
    out.append("<li><b>Staff.</b><ul>" + "".join(f"<li>{s}</li>" for s in staff) + "</ul></li>")
    pl = sc.placements
    cap = "unlimited" if pl.capacity is None else f"{pl.capacity}"
    pw = (
        f"{cap} emergency placement{'s' if pl.capacity != 1 else ''}"
        + (
            f", shared with other services ({pl.other_demand_per_week:g} other requests a week)"
            if pl.other_demand_per_week
            else ""
        )
        + f"; a child stays {e(describe_dist(pl.stay_days, 'days'))}"
        + f"; finding a placement when one is free takes {e(describe_dist(pl.search))}. "
    )
    if pl.when_none_free == "wait":
        pw += (
            "When none is free the child waits in the station until one frees or the day team acts."
        )
    else:
        pw += (
            f"When none is free, an out-of-area placement is found after "
            f"{pl.out_of_area.after_hours:g} h, with extra travel "
            f"{e(describe_dist(pl.out_of_area.extra_travel))}."
        )
    out.append(f"<li><b>Placements.</b> {pw}</li>")
    pol = sc.policy
    rule = {
        "priority": "the most urgent first (lower priority number), first come first served "
        "within a priority",
        "fifo": "first come, first served",
        "deadline": "the earliest deadline first",
    }[pol.dispatch]
    pre = (
        "more urgent work interrupts work marked interruptible, which is resumed later"
        if pol.preemption
        else "work in hand is finished before the next job is started"
    )
    out.append(f"<li><b>Who is seen first.</b> Jobs are taken {rule}; {pre}.</li>")
    if sc.calendar.cover != "always":
        out.append(
            f"<li><b>Day team.</b> When cover ends, jobs still waiting pass to the day team; a "
            "child still in a police station is collected "
            f"{e(describe_dist(sc.day_team.response))} "
            "later (counted in the child's station time).</li>"
        )
    if sc.costs is not None:
        c = sc.costs
        charges = [
            f"£{c.worker_hour:g} per worker hour on shift",
            f"£{c.callout:g} per call-out",
            f"£{c.officer_hour:g} per police officer hour",
            f"£{c.placement_night:g} per placement night",
        ]
        optional = [  # standing charges and the rest, named only when the scenario sets them
            (c.overtime_premium, f"overtime at {1 + c.overtime_premium:g} × the hourly rate"),
            (c.on_call_allowance, f"£{c.on_call_allowance:g} per on-call shift"),
            (c.bed_retainer_week, f"£{c.bed_retainer_week:g} per placement per week retained"),
            (c.venue_week, f"£{c.venue_week:g} per week for a waiting venue"),
            (c.out_of_area_night, f"£{c.out_of_area_night or 0:g} per out-of-area night"),
            (c.police_reimbursed, f"{c.police_reimbursed:.0%} of police time paid by the council"),
            (c.s12_fee, f"£{c.s12_fee:g} of doctors' fees per assessment"),
        ]
        charges += [text for value, text in optional if value]
        out.append(
            f"<li><b>Costs.</b> {e('; '.join(charges))}. Each cost measure in the results says "
            "what it includes.</li>"
        )
    out.append("</ul>")
    rows = []
    for n, s in sc.streams.items():
        w = s.arrivals.profile.hour_of_week_weights()
        what = {
            "police_protection": "child held in a police station: assess, find a placement, "
            "collect",
            "custody": "child charged and refused bail: transfer to council accommodation if a "
            "bed of a suitable type is free, else held in the cell until court",
        }.get(s.kind, "referral")
        dur = describe_dist(s.duration)
        if s.kind == "police_protection":
            dur = f"assessment {dur}; collecting the child {describe_dist(s.transport_dist)}"
            what += f" ({s.officer_count} officer{'s' if s.officer_count != 1 else ''} stay)"
        urgency = f"priority {s.priority}" + (
            "" if s.deadline_hours is None else f"; start within {s.deadline_hours:g} h"
        )
        rows.append(  # six columns: the table fits A4 portrait
            f"<tr><td>{e(kpis.plain(n))}</td><td>{e(what)} <small>(skill: {e(s.skill)})</small>"
            f"</td><td class=num>{s.arrivals.per_week:.3g}<br><small>{e(_busiest(w))}</small>"
            f"</td><td>{e(dur)}</td><td>{e(urgency)}</td></tr>"
        )
    out.append(
        "<table><caption>Work arriving during cover</caption><thead><tr><th>stream</th>"
        "<th>what it is</th><th>per week</th><th>worker time per job</th>"
        "<th>urgency (priority 1 first)</th></tr></thead><tbody>" + "".join(rows)
        + "</tbody></table>"
    )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Results tables


def _kpi_row(k: str, e: dict[str, Any], text: str | None = None) -> str:
    """A KPI's row: its words (``text``: the catalogue's words without their subject, under a
    heading that names it), mean, 95% CI and contract name."""
    words = kpis.label(k) if text is None else text
    return (
        f"<tr><td>{html.escape(words)}</td><td class=num><b>{_value(k, e)}</b></td>"
        f"<td class=num>{_ci(k, e)}</td><td class=key>{_key(k)}</td></tr>"
    )


def _table(caption: str, rows: Iterable[str], note: str = "") -> str:
    body = "".join(rows)
    if not body:
        return ""
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr><th>measure</th>"
        "<th>mean</th><th>95% confidence interval</th><th>KPI name</th></tr></thead>"
        f"<tbody>{body}</tbody></table>" + (f"<p class=note>{note}</p>" if note else "")
    )


def set_for_run(summary: dict[str, Any] | None) -> str:
    """The settings changed with ``--set`` for this run (summary.json's ``overrides``): a board
    must not read the file's own words ("a single EDT social worker") as what was run."""
    changed = (summary or {}).get("overrides") or {}
    if not isinstance(changed, dict) or not changed:
        return ""
    shown = ", ".join(f"<code>{html.escape(str(k))} = {html.escape(str(v))}</code>"
                      for k, v in changed.items())  # fmt: skip
    return (f"<p class=warn><b>Changed for this run with --set:</b> {shown}. The scenario's own "
            "description and notes below are the file's, written for its values.</p>")


def headline_cards(summaries: dict[str, dict[str, Any]], pooled: bool = True) -> str:
    """A card per headline KPI (the catalogue's headline flag), in the order of the results;
    ``pooled``: the folder has a figure of every child's wait pooled, which the note contrasts."""
    cards = []
    for k in kpis.headline(summaries):
        e = summaries[k]
        cards.append(
            f"<div class=card><div class=big>{_value(k, e)}</div>"
            f"<div class=label>{html.escape(kpis.label(k))}</div>"
            f"<div class=ci>95% CI {_ci(k, e)}</div></div>"
        )
    note = MEAN_OF_RUNS + (POOLED if pooled else "")
    return f"<div class=cards>{''.join(cards)}</div><p class=note>{note}</p>"


MEAN_OF_RUNS = (
    "Each figure is the mean over the runs of the value in each run, with its 95% confidence "
    "interval: a wait that 1 child in 10 exceeds, or the longest wait, is each run's own, "
    "averaged over the runs."
)
POOLED = (
    " The figure of police-station waits (Figures) instead pools every child of every run, so "
    "its 90th percentile differs and its longest wait is the longest of all runs."
)
"""How a card's percentile differs from a pooled figure's (said under the cards when the folder
has one: not after --no-figures or --no-jobs-file)."""
_POOLED_FIGURES = ("station_hours_distribution.png", "station_hours_ecdf.png")


STREAM_COLUMNS = [k for k in kpis.CATALOGUE if k.placeholder == "S"]
"""The streams table: a row per per-stream KPI of the catalogue that the stream has."""


def results_tables(summaries: dict[str, dict[str, Any]], sc: Scenario | None) -> str:
    e = summaries
    station = [k for k in e if k.startswith("station.")]
    place = [k for k in e if k.startswith("placements.")]
    staff = [k for k in e if k.startswith("staff.")]
    other = [k for k in e if k.startswith(("handover.", "cost."))]
    out = [
        _table("Children in police stations", (_kpi_row(k, e[k]) for k in station)),
        _table("Emergency placements", (_kpi_row(k, e[k]) for k in place)),
    ]
    streams = sorted(
        {s for k in e if k.startswith("streams.") and (s := kpis.placeholders(k).get("S"))},
        key=lambda s: list(sc.streams).index(s) if sc and s in sc.streams else 0,
    )
    if streams:  # a block of rows per stream: the columns stay four however many KPIs it has
        rows = []
        for s in streams:
            mine = [c.name.replace("<S>", s) for c in STREAM_COLUMNS]
            mine = [k for k in mine if k.startswith("streams.") and k in e]
            rows.append(f"<tr class=group><th colspan=4>{html.escape(kpis.plain(s))}</th></tr>")
            rows += [_kpi_row(k, e[k], text=kpis.spec(k).what) for k in mine]
        out.append(_table("Each kind of work: volume and waiting", rows))
    out.append(_table("Staff", (_kpi_row(k, e[k]) for k in staff)))
    out.append(_table("Day team and cost", (_kpi_row(k, e[k]) for k in other)))
    return "\n".join(x for x in out if x)


def confidence_section(summary: dict[str, Any], sc: Scenario | None) -> str:
    n = summary.get("replications")
    p = summary.get("precision")
    out = [
        f"<p>The model was run <b>{n}</b> times (replications) with seed {summary.get('seed')}; "
        "each run is a different but equally likely year. Every figure above is the mean over "
        "the runs, with a 95% confidence interval (Student t): if the model is right, the true "
        "long-run value lies in that range with 95% confidence. The interval reflects only "
        "the randomness of the simulation, not uncertainty in the inputs — that is what the "
        "assumptions below, and option comparisons, are for.</p>"
    ]
    if p:
        achieved = ("" if p.get("reason") == "reached"
                    else "; the intervals below are the precision achieved")  # fmt: skip
        rows = "".join(
            f"<tr><td>{html.escape(kpis.label(k))}</td><td class=num>"
            f"{'–' if v is None else f'±{100 * v:.1f}%'}</td><td class=key>{_key(k)}</td>"
            "</tr>"
            for k, v in (p.get("half_widths") or {}).items()
        )
        out.append(
            f"<p>The number of runs was chosen automatically (Hoad, Robinson &amp; Davies 2010): "
            f"runs were added until the 95% interval of each measure below was within "
            f"±{100 * p.get('target', 0):.1f}% of its mean, and stayed so for the next "
            f"{p.get('k_limit')} runs. Outcome: {html.escape(outcome_words(p))}{achieved}.</p>"
            "<table><caption>Precision achieved (half-width of the 95% interval, relative to "
            "the mean)</caption><thead><tr><th>measure</th><th>precision</th><th>KPI name</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Comparison


def _flat(sc: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, dict) and node and "dist" not in node:
            for k, v in node.items():
                walk(v, (*path, k))
        else:
            out[dotted(path)] = node

    data = sc.model_dump(mode="json", by_alias=True, exclude_none=True)
    for k in ("name", "description", "sources"):
        data.pop(k, None)
    walk(data, ())
    return out


def _key(k: str) -> str:
    """A dotted key, escaped, that may wrap after its dots and underscores."""
    return html.escape(k).replace(".", ".<wbr>").replace("_", "_<wbr>")


def _show(v: Any) -> str:
    if v is None:
        return "(not set)"
    if isinstance(v, dict) and {"days", "start", "end"} <= set(v):
        return f"{', '.join(DAY_NAMES.get(d, d) for d in v['days'])} {v['start']}–{v['end']}"
    if isinstance(v, dict):
        return " ".join(str(x) if k == "dist" else f"{k} {_short(x)}" for k, x in v.items())
    if isinstance(v, list):
        text = ", ".join(_show(x) if isinstance(x, dict) else _short(x) for x in v)
        return text if len(text) < 60 else text[:57] + "…"
    return _short(v)


def option_changes(ref: Scenario, opt: Folder) -> str:
    """HTML: an option as the settings that differ from the reference, with the option's notes."""
    e = html.escape
    assert opt.scenario is not None
    a, b = _flat(ref), _flat(opt.scenario)
    notes = {dotted(p): t for p, t in opt.notes.commented()}
    rows = []
    for k in [*a, *(k for k in b if k not in a)]:
        if a.get(k) != b.get(k):
            note = notes.get(k) or notes.get(k.rsplit(".", 1)[0], "")
            rows.append(
                f"<tr><td class=key>{_key(k)}</td><td>{e(_show(a.get(k)))}</td>"
                f"<td><b>{e(_show(b.get(k)))}</b></td><td>{_mark(note)}</td></tr>"
            )
    desc = f"<p>{e(opt.scenario.description)}</p>" if opt.scenario.description else ""
    table = (
        "<table class=notes><caption>What this option changes</caption><thead><tr>"
        f"<th>setting</th><th>{e(ref.name)}</th><th>{e(opt.scenario.name)}</th><th>note</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No setting differs from the reference.</p>"
    )
    return f"<h3>Option: {e(opt.scenario.name)}</h3>{desc}{table}"


def compare_confidence(f: Folder) -> str:
    cmp = f.comparison or {}
    n = cmp.get("replications")
    out = [
        f"<p>Each option was run <b>{n}</b> times (replications) with seed {cmp.get('seed')}, on "
        "<i>common random numbers</i>: run number <i>r</i> of every option sees the same "
        "arrivals and the same job durations, so a difference between options comes from the "
        "option, not from luck. Differences are computed run by run, with a 95% confidence "
        "interval (Student t); a <span class=sig>clear difference</span> is one whose interval "
        "excludes zero. The intervals reflect only the randomness of the simulation, not "
        "uncertainty in the inputs.</p>"
    ]
    rows = []
    target = None
    for name, sub in f.subfolders.items():
        p = (sub.summary or {}).get("precision")
        if p:
            target = p.get("target")
            hws = [v for v in (p.get("half_widths") or {}).values() if v is not None]
            worst = f"±{100 * max(hws):.1f}%" if hws else "–"
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td class=num>{p.get('own_n')}</td>"
                f"<td>{html.escape(str(p.get('reason')))}</td><td class=num>{worst}</td></tr>"
            )
    if rows:
        out.append(
            "<p>The number of runs was chosen automatically (Hoad, Robinson &amp; Davies 2010) "
            f"for ±{100 * (target or 0):.1f}% precision of each option's headline measures; all "
            "options then use the largest number any of them needed.</p><table><thead><tr>"
            "<th>option</th><th>runs it needed</th><th>outcome</th>"
            f"<th>worst precision at {n} runs</th></tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table>"
        )
    return "\n".join(out)


def comparison_section(cmp: dict[str, Any]) -> str:
    """The options against the reference: a block of rows per headline KPI, one row per option,
    so the table has four columns however many options there are (it fits A4 portrait)."""
    e = html.escape
    names = [str(n) for n in cmp.get("scenarios", [])]
    ref = str(cmp.get("reference", names[0] if names else ""))
    summaries = cmp.get("kpis", {})
    diffs = cmp.get("differences", {})
    derived = cmp.get("derived", {})
    present: dict[str, None] = {}
    for n in names:  # the reference's KPIs first, then any an option adds
        present.update(dict.fromkeys(summaries.get(n, {})))
    for n in names:
        present.update(dict.fromkeys(derived.get(n, {})))
    blocks = []
    for k in kpis.headline(kpis.in_catalogue_order(present)):
        unit = kpis.unit(k)
        rows = [
            f"<tr class=group><th colspan=4>{e(kpis.label(k))}"
            + (f" <small>({e(unit)})</small>" if unit else "")
            + f" <span class=key>{_key(k)}</span></th></tr>"
        ]
        for n in names:
            est = summaries.get(n, {}).get(k) or derived.get(n, {}).get(k)
            who = e(n) + (" <small>(reference)</small>" if n == ref else "")
            if est is None:  # a staff group only some options have: said once, for the reference
                if n == ref:
                    rows.append(f"<tr><td>{who}</td><td colspan=3>not in {e(ref)}</td></tr>")
                continue
            d = diffs.get(n, {}).get(k)
            change = _change(k, d) if d and n != ref else ""
            rows.append(
                f"<tr><td>{who}</td><td class=num><b>{_value(k, est)}</b></td>"
                f"<td class=num>{_ci(k, est)}</td><td>{change}</td></tr>"
            )
        blocks.append(f"<tbody class=kpi>{''.join(rows)}</tbody>")
    return (
        f"<p><b>Method:</b> {e(str(cmp.get('method', '')))}.</p>"
        f"<table class=compare><caption>Options against {e(ref)} ({cmp.get('replications')} runs "
        f"each, seed {cmp.get('seed')}): for each measure, every option's mean and 95% CI, and "
        "its change from the reference with the change's 95% CI (shares change in percentage "
        "points, pts)</caption><thead><tr><th>option</th><th>mean</th><th>95% CI</th>"
        f"<th>change from {e(ref)}</th></tr></thead>{''.join(blocks)}</table>"
    )


def _change(k: str, d: dict[str, Any]) -> str:
    """An option's paired change from the reference, and whether it is clearly better/worse."""
    pd = d.get("paired", {})
    m = finite_or_none(pd.get("mean"))
    arrow = "" if not m else ("▲" if m > 0 else "▼")
    if d.get("significant"):
        cls, verdict = "sig", "clear difference"
        way = kpis.better(k)
        if way and m:
            verdict += ", better" if (m < 0) == (way == "lower") else ", worse"
    else:
        cls, verdict = "nosig", "no clear difference"
    change = f"{kpis.format(k, m, signed=True)} ({_ci(k, pd, signed=True)})"
    return f"<span class={cls}>{arrow} {change}: {verdict}</span>"


# --------------------------------------------------------------------------------------------
# Assumptions and sources


def _group(path: tuple) -> tuple[str, tuple]:
    """(section heading, rest of the path) for grouping notes by what they describe."""
    if len(path) >= 2 and path[0] in ("streams", "staff"):
        kind = "Work stream" if path[0] == "streams" else "Staff group"
        return f"{kind}: {kpis.plain(str(path[1]))}", path[2:]
    heads = {
        "horizon": "Period simulated",
        "calendar": "Cover hours",
        "placements": "Placements",
        "day_team": "Day team",
        "policy": "Who is seen first",
        "costs": "Costs",
        "report": "Reporting",
        "replications": "Runs",
        "seed": "Runs",
    }
    return heads.get(str(path[0]), kpis.plain(str(path[0])).capitalize()), path[1:]


def _notes_table(caption: str, items: list[tuple[tuple, str]], values: dict[str, str]) -> str:
    e = html.escape
    rows, last = [], None
    for path, text in items:
        head, rest = _group(path)
        if head != last:
            rows.append(f"<tr class=group><th colspan=2>{e(head)}</th></tr>")
            last = head
        key = dotted(rest) if rest else dotted(path)
        val = values.get(dotted(path), "")
        shown = f"<span class=key>{_key(key)}</span>" + (
            f"<br><span class=val>= {e(val)}</span>" if val else ""
        )
        rows.append(f"<tr><td class=setting>{shown}</td><td>{_mark(text)}</td></tr>")
    return (
        f"<table class=notes><caption>{e(caption)}</caption><thead><tr><th>setting</th>"
        f"<th>note in the scenario file</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def assumptions_section(f: Folder) -> str:
    e = html.escape
    notes = f.notes
    values = _leaf_values(f.scenario)
    assumed, sourced = [], []
    for path, text in notes.commented():
        (assumed if "ASSUMPTION" in text.upper() else sourced).append((path, text))
    out = []
    if assumed:
        out.append(
            f"<p><b>{len(assumed)}</b> settings are marked <mark>ASSUMPTION</mark> in the "
            "scenario file: there is no public or local figure behind them (or only part of "
            "the figure is sourced), so they are the first to replace with local data. "
            f"{len(sourced)} more carry a source or a derivation (listed below, folded).</p>"
            + _notes_table("Assumptions (replace with local data)", assumed, values)
        )
    if sourced:
        out.append(
            "<details><summary>Settings with a stated source or derivation "
            f"({len(sourced)})</summary>"
            + _notes_table("Settings with a source or derivation", sourced, values)
            + "</details>"
        )
    if f.scenario is not None and f.scenario.sources:
        items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in f.scenario.sources.items())
        out.append(f"<h3>Sources</h3><ul>{items}</ul>")
    if notes.header:
        out.append(
            "<details><summary>Notes at the top of the scenario file</summary><pre>"
            + e("\n".join(notes.header))
            + "</pre></details>"
        )
    if not out:
        out.append(
            "<p>The scenario file carries no comments or <code>sources:</code>; the origin of "
            "its figures is not documented.</p>"
        )
    return "\n".join(out)


def _short(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _mark(text: str) -> str:
    return html.escape(text).replace("ASSUMPTION", "<mark>ASSUMPTION</mark>")


def _leaf_values(sc: Scenario | None) -> dict[str, str]:
    if sc is None:
        return {}
    out: dict[str, str] = {}

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, dict):
            if "dist" in node:
                out[dotted(path)] = " ".join(
                    str(v) if k == "dist" else f"{k} {_short(v)}" for k, v in node.items()
                )
            elif path and node and all(not isinstance(v, dict | list) for v in node.values()):
                out[dotted(path)] = ", ".join(f"{k} {_short(v)}" for k, v in node.items())
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
            for i, v in enumerate(node):
                walk(v, (*path, i))
        else:
            text = ", ".join(map(_short, node)) if isinstance(node, list) else _short(node)
            out[dotted(path)] = text if len(text) < 48 else text[:45] + "…"

    walk(sc.model_dump(mode="json", by_alias=True, exclude_none=True), ())
    return out


# --------------------------------------------------------------------------------------------
# Warm-up check


@dataclass
class Warmup:
    days: np.ndarray  # day index
    waiting: np.ndarray  # mean jobs waiting (time-average over the day), over replications
    station_weekly: np.ndarray | None  # mean station hours by arrival week
    truncate_days: int  # MSER on weekly batch means
    warmup_days: float
    runs: int = 0  # replications averaged


WARMUP_RUNS = 50
"""The warm-up check reads the first runs only: enough for a mean by day, and fast on 500 runs."""


def _read_jobs(path: Path, runs: int = WARMUP_RUNS) -> dict[str, np.ndarray]:
    """The columns the warm-up check needs, for replications < ``runs`` (io reads in chunks:
    files reach millions of rows)."""
    want = ("replication", "arrival_h", "start_h", "station_hours", "handed_over")
    return read_jobs(path, want, below=runs)


def mser(y: np.ndarray) -> int:
    """Truncation point of a series by MSER (White 1997), kept only if it matters.

    MSER picks the d ≤ n/2 that minimises the squared standard error of the mean of y[d:]. On a
    series with no transient it still returns some d by chance, so d is kept only if the
    discarded part's mean differs from the rest's by more than 2 standard errors.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 4:
        return 0
    best, arg = math.inf, 0
    for d in range(n // 2 + 1):
        tail = y[d:]
        v = float(((tail - tail.mean()) ** 2).sum()) / len(tail) ** 2
        if v < best - 1e-15:
            best, arg = v, d
    if arg == 0:
        return 0
    head, tail = y[:arg], y[arg:]
    se = float(tail.std(ddof=1)) * math.sqrt(1 / len(head) + 1 / len(tail))
    return arg if abs(head.mean() - tail.mean()) > 2 * se else 0


def warmup_check(folder: Path, sc: Scenario) -> Warmup | None:
    """Daily mean number of jobs waiting, from jobs.csv.gz (warm-up arrivals included)."""
    from ooh_sim.core.calendar import build_calendar

    p = folder / "jobs.csv.gz"
    if not p.is_file():
        return None
    t = _read_jobs(p)
    if len(t["arrival_h"]) == 0:
        return None
    H = sc.horizon.hours
    cal = build_calendar(sc.horizon, sc.calendar)
    # when each job stopped waiting: started, else handed over at the end of its cover window
    idx = np.clip(np.searchsorted(cal.cover[:, 0], t["arrival_h"], side="right") - 1, 0, None)
    cover_end = cal.cover[idx, 1] if not cal.always else np.full(len(idx), H)
    until = np.where(
        ~np.isnan(t["start_h"]),
        t["start_h"],
        np.where(t["handed_over"] > 0, cover_end, H),
    )
    until = np.clip(until, t["arrival_h"], H)
    n_reps = len(np.unique(t["replication"]))
    edges = np.arange(0.0, math.ceil(H / 24) * 24 + 24, 24.0)
    edges = edges[edges <= H + 1e-9]
    waiting = np.diff(_covered(t["arrival_h"], until, edges)) / 24.0 / max(n_reps, 1)
    weekly = None
    if sc.police_streams:
        sh = t["station_hours"]
        ok = ~np.isnan(sh)
        if ok.any():
            wk = (t["arrival_h"][ok] // 168).astype(int)
            sums = np.bincount(wk, weights=sh[ok])
            cnt = np.bincount(wk)
            with np.errstate(invalid="ignore", divide="ignore"):
                weekly = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
    n_weeks = len(waiting) // 7
    batches = waiting[: n_weeks * 7].reshape(n_weeks, 7).mean(axis=1) if n_weeks else waiting
    d = mser(batches) * 7 if n_weeks else 0
    return Warmup(np.arange(len(waiting)), waiting, weekly, d, sc.horizon.warmup_days, n_reps)


def _covered(starts: np.ndarray, ends: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∫_0^x (number of open intervals) dt at each x."""
    s, e = np.sort(starts), np.sort(ends)
    cs, ce = np.concatenate([[0.0], np.cumsum(s)]), np.concatenate([[0.0], np.cumsum(e)])
    i_s = np.searchsorted(s, x, side="right")
    i_e = np.searchsorted(e, x, side="right")
    return (x * i_s - cs[i_s]) - (x * i_e - ce[i_e])


def warmup_section(w: Warmup | None, sc: Scenario | None) -> tuple[str, str | None]:
    """(HTML, figure data URI)."""
    if sc is None:
        return "<p>Not available: scenario.yaml is missing from the results folder.</p>", None
    if w is None:
        return (
            "<p>Not available: the results folder has no jobs.csv.gz (run without "
            "<code>--no-jobs-file</code> to get it).</p>",
            None,
        )
    ok = w.warmup_days >= w.truncate_days
    verdict = (
        f"The MSER rule (White 1997) on weekly averages of this series suggests discarding the "
        f"first <b>{w.truncate_days} days</b> (0: no start-up effect stands out from the "
        f"week-to-week noise); the scenario discards <b>{w.warmup_days:g}</b>. "
        + (
            "<span class=sig-ok>The warm-up is long enough.</span>"
            if ok
            else "<span class=warn>The warm-up looks too short: increase "
            "<code>horizon.warmup_days</code>.</span>"
        )
    )
    text = (
        "<p>The model starts empty: no jobs waiting, no placements occupied. Results are only "
        "trustworthy once that artificial start has worn off. The chart shows the average "
        f"number of jobs waiting for a worker on each day of the run (averaged over {w.runs} "
        "runs), "
        "its 7-day average, and — if there are police-protection streams — the average time "
        "in a police station of children arriving each week. The first "
        f"{w.warmup_days:g} days (shaded) are not counted in the results.</p><p>{verdict}</p>"
    )
    return text, _data_uri(_warmup_figure(w, sc))


def _warmup_figure(w: Warmup, sc: Scenario) -> bytes:
    from ooh_sim.viz import run_figures as plots  # matplotlib only here

    plt = plots.plt
    rows = 2 if w.station_weekly is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.8 * rows + 0.4), squeeze=False)
    ax = axes[0][0]
    ax.plot(w.days, w.waiting, color=plots.PALETTE[5], lw=0.8, label="each day")
    if len(w.waiting) >= 7:
        ma = np.convolve(w.waiting, np.ones(7) / 7, mode="valid")
        ax.plot(w.days[6:], ma, color=plots.PALETTE[0], lw=2, label="7-day average")
    ax.axvspan(0, w.warmup_days, color="#999999", alpha=0.25, label="warm-up (not counted)")
    ax.set_ylabel("jobs waiting (mean)")
    ax.set_xlabel("day of the run")
    ax.set_title("Jobs waiting for a worker, by day of the run")
    ax.legend(loc="upper right", frameon=False, fontsize=8)
    ax.set_xlim(0, max(len(w.days), 1))
    if w.station_weekly is not None:
        ax2 = axes[1][0]
        x = np.arange(len(w.station_weekly)) * 7 + 3.5
        ax2.plot(x, w.station_weekly, "o-", color=plots.PALETTE[3], ms=3)
        ax2.axvspan(0, w.warmup_days, color="#999999", alpha=0.25)
        ax2.set_ylabel("hours in station (mean)")
        ax2.set_xlabel("day of the run (children grouped by week of arrival)")
        ax2.set_title("Time children spend in police stations, by week of arrival")
        ax2.set_xlim(0, max(len(w.days), 1))
        ax2.set_ylim(bottom=0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# STRESS-DES


def stress_items(f: Folder) -> list[tuple[str, str, str]]:
    """(item, title, HTML) for the STRESS-DES checklist (Monks et al. 2019)."""
    e = html.escape
    sc, s = f.scenario, f.summary or {}
    todo = "<i>Not set by the configuration: the study's author completes this item.</i>"
    items: list[tuple[str, str, str]] = [("1.1", "Purpose of the model", todo)]
    names = list((s.get("kpis") or {}).keys())
    items.append(
        (
            "1.2",
            "Model outputs",
            f"{len(names)} measures, each computed per run and summarised over runs (mean, 95% t "
            "interval), listed in summary.json; per-job records in jobs.csv.gz; definitions in the "
            "ooh-sim README. Headline: " + e(", ".join(kpis.headline(names)) or "–"),
        )
    )
    items.append(
        (
            "1.3",
            "Experimentation aims",
            todo
            if not f.comparison
            else "Compare options against "
            + e(str(f.comparison.get("reference")))
            + ": "
            + e(", ".join(map(str, f.comparison.get("scenarios", [])))),
        )
    )
    items.append(("2.1", "Base model overview diagram", todo))
    items.append(
        (
            "2.2",
            "Base model logic",
            "Jobs arrive by stream (a weekly volume spread over the hours of cover) and wait "
            "for a worker with the right skill on the roster, most urgent first. A child in "
            "police protection is assessed, a placement is found once a bed is free, and the "
            "child is collected; station time runs until collection. Work still waiting when "
            "cover ends is handed over to the day team. In full: docs/model.md of ooh-sim.",
        )
    )
    items.append(
        (
            "2.3",
            "Scenario logic",
            "The settings in <i>What was modelled</i> above "
            "(scenario.yaml in the results folder is the complete, resolved list).",
        )
    )
    items.append(
        (
            "2.4",
            "Algorithms",
            "Non-homogeneous Poisson arrivals sampled exactly from "
            "the piecewise-constant hour-of-week rate (inverse cumulative rate); durations "
            "drawn as scipy.stats's laws draw them (numpy's samplers, bit for bit); dispatch "
            "by priority/FIFO/deadline heaps.",
        )
    )
    if sc is not None:
        ent = ", ".join(
            f"{kpis.plain(n)} ({s_.arrivals.per_week:g}/week)" for n, s_ in sc.streams.items()
        )
        res = "; ".join(
            f"{g}: {grp.count} × [{', '.join(grp.skills)}]" for g, grp in sc.staff.items()
        )
        cap = "unlimited" if sc.placements.capacity is None else str(sc.placements.capacity)
        items += [
            ("2.5.1", "Entities", e(f"Jobs of {len(sc.streams)} streams: {ent}.")),
            (
                "2.5.2",
                "Activities",
                e(
                    "Worker time per job (assessment / referral work), "
                    "placement search and collection of a child; placement "
                    "stays."
                ),
            ),
            (
                "2.5.3",
                "Resources",
                e(
                    f"Staff groups {res}; {cap} emergency placements; police "
                    "officers (counted, not constrained)."
                ),
            ),
            (
                "2.5.4",
                "Queues",
                e(
                    f"One queue per skill, ordered by '{sc.policy.dispatch}'"
                    f"{', with preemption' if sc.policy.preemption else ''}; "
                    "children wait for a free placement first come first served."
                ),
            ),
            (
                "2.5.5",
                "Entry/exit points",
                e(
                    "Jobs enter at arrival within cover; leave when "
                    "done, or pass to the day team when cover ends."
                ),
            ),
        ]
        n_assume = sum("ASSUMPTION" in t.upper() for _, t in f.notes.commented())
        items += [
            (
                "3.1",
                "Data sources",
                e(
                    f"{len(f.notes.commented())} settings carry a note on their source in "
                    "the scenario file"
                    + (f", and its sources: block lists {len(sc.sources)}" if sc.sources else "")
                    + ". See Assumptions and sources."
                ),
            ),
            (
                "3.2",
                "Pre-processing",
                todo + " (if the volumes and durations were fitted with "
                "<code>ooh-sim fit</code>, the fit's report is in the scenario's comments)",
            ),
            ("3.3", "Input parameters", "All in <i>What was modelled</i> and scenario.yaml."),
            ("3.4", "Assumptions", e(f"{n_assume} settings marked ASSUMPTION (listed above).")),
            (
                "4.1",
                "Initialisation",
                e(
                    f"Starts empty and idle at 00:00 on {sc.horizon.start}; warm-up "
                    f"{sc.horizon.warmup_days:g} days discarded (arrivals before it are not "
                    "counted)."
                    + (" See the warm-up check." if (f.path / "jobs.csv.gz").is_file() else "")
                ),
            ),
            (
                "4.2",
                "Run length",
                e(
                    f"{sc.horizon.days:g} days per run "
                    f"({(sc.horizon.days - sc.horizon.warmup_days) / 7:.1f} "
                    "weeks counted)."
                ),
            ),
        ]
    else:
        items.append(
            (
                "2.5–4.2",
                "Components, data, initialisation, run length",
                "<i>scenario.yaml missing from the results folder.</i>",
            )
        )
    p = s.get("precision")
    est = (
        f"{s.get('replications')} independent replications; 95% Student-t intervals across "
        "replications"
    )
    if p:
        est += (
            f"; number chosen by the Hoad, Robinson & Davies (2010) algorithm for "
            f"±{100 * p['target']:.1f}% relative precision ({outcome_words(p)})"
        )
    if f.comparison:
        est += "; options compared on common random numbers with paired differences"
    items.append(("4.3", "Estimation approach", e(est + ".")))
    items += [
        (
            "5.1",
            "Software",
            e(
                f"ooh-sim {s.get('version', __version__)} (Python "
                f"{platform.python_version()}, SimPy {_ver('simpy')}, NumPy "
                f"{_ver('numpy')}, SciPy {_ver('scipy')})."
            ),
        ),
        (
            "5.2",
            "Random sampling",
            e(
                f"Seed {s.get('seed')}. NumPy PCG64 generators from one SeedSequence per "
                "replication (seed, replication) and one named stream per purpose (arrivals, "
                "durations … per stream), so options share their random numbers."
            ),
        ),
        (
            "5.3",
            "Model execution",
            e(
                "Event scheduling with SimPy (callbacks on timeouts); "
                "replications in parallel processes; results do not "
                "depend on the number of processes."
            ),
        ),
        (
            "5.4",
            "System specification",
            e(
                f"{platform.system()} {platform.machine()}, "
                f"{os.cpu_count()} CPUs (of the machine that wrote "
                "this report)."
            ),
        ),
        (
            "6.1",
            "Model sharing",
            "ooh-sim source and the results folder (scenario.yaml, "
            "summary.json, replications.csv, jobs.csv.gz) reproduce every figure: "
            "<code>ooh-sim run scenario.yaml --seed " + e(str(s.get("seed"))) + "</code>.",
        ),
    ]
    return items


def _ver(mod: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(mod)
    except PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------------------------
# Assembly


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


FIGURE_CAPTIONS = {  # in the order a reader wants them; other PNGs follow, by name
    "headline_kpis": "Headline measures for each option, with 95% confidence intervals.",
    "station_hours_ecdf": "How long children spend in police stations under each option: the "
    "share of children (up the page) who wait at most the hours along the bottom.",
    "workload_by_hour_of_week": "Workload by day and hour of the week: jobs waiting for a worker "
    "and workers busy (means over runs).",
    "station_hours_distribution": "How long children spend in police stations, every child of "
    "every run pooled (so its 90th percentile and longest wait are not the cards' means over "
    "runs), with the report thresholds.",
    # a run's (with the waits by arrival time) and a comparison's (a heat map per option)
    "station_by_hour_of_week": "Children waiting in police stations by hour of the week.",
    "timeline_worst_night": "The worst night of the first run: what the workers were doing while "
    "a child waited in a police station.",
}


def _figure_order(paths: list[Path]) -> list[Path]:
    known = list(FIGURE_CAPTIONS)
    return sorted(paths, key=lambda p: (known.index(p.stem) if p.stem in known else 99, p.name))


def _figure(path: Path) -> str:
    cap = FIGURE_CAPTIONS.get(path.stem) or path.stem.replace("_", " ").capitalize() + "."
    return (
        f'<figure><img src="{_data_uri(path.read_bytes())}" alt="{html.escape(cap)}">'
        f"<figcaption>{html.escape(cap)}</figcaption></figure>"
    )


CSS = """
:root { --ink:#1d2433; --muted:#5a6475; --line:#d9dee7; --accent:#0072B2; --bg:#f6f8fb;
        --warn:#b35900; --good:#00734d; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; line-height: 1.5; font-size: 16px; background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
header.top { background: var(--accent); color: #fff; padding: 1.5rem; }
header.top div { max-width: 62rem; margin: 0 auto; }
header.top h1 { margin: 0 0 .25rem; font-size: 1.7rem; }
header.top p { margin: 0; opacity: .9; }
h2 { margin-top: 2.5rem; border-bottom: 2px solid var(--line); padding-bottom: .3rem;
     font-size: 1.35rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
nav.toc { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
          padding: .6rem 1rem; margin: 1rem 0; font-size: .95rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.3rem; columns: 2; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(13.5rem, 1fr));
         gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--accent); border-radius: 6px;
        padding: .7rem .9rem; background: var(--bg); }
.card .big { font-size: 1.8rem; font-weight: 700; line-height: 1.2; }
.card .label { font-size: .92rem; margin: .2rem 0; }
.card .ci { font-size: .8rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 .5rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; font-size: .98rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; vertical-align: top;
         text-align: left; }
thead th { background: var(--bg); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
td.key, .key { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .75rem;
               color: var(--muted); overflow-wrap: break-word; }
table.notes td { font-size: .88rem; }
table.notes td.setting { width: 30%; }
table.notes tr.group th { background: #e8eef6; font-size: .92rem; padding-top: .5rem; }
.val { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .8rem; }
small { color: var(--muted); }
mark { background: #ffe08a; padding: 0 .15rem; border-radius: 2px; }
.sig { color: var(--accent); font-weight: 600; }
.nosig { color: var(--muted); }
.sig-ok { color: var(--good); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.note { font-size: .85rem; color: var(--muted); }
.problems { border-left: 4px solid var(--warn); background: #fff6ec; padding: .5rem 1rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: .88rem; color: var(--muted); }
details { margin: 1rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre { white-space: pre-wrap; font-size: .8rem; background: var(--bg); padding: .8rem;
      border-radius: 6px; }
footer { margin-top: 3rem; font-size: .8rem; color: var(--muted); }
table.compare tr.group th, table tr.group th { background: #e8eef6; padding-top: .5rem; }
table.compare td:first-child { width: 28%; }
p.answer { font-size: 1.1rem; border-left: 5px solid var(--good); background: var(--bg);
           padding: .6rem 1rem; }
table.options tr.chosen td { background: #e6f4ea; font-weight: 600; }
@page { size: A4 portrait; margin: 14mm 12mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  header.top { background: none; color: var(--ink); padding: 0 0 .5rem; }
  h2 { break-after: avoid; }
  figure, .card, tbody.kpi, tr { break-inside: avoid; }
  table { break-inside: auto; font-size: 8.5pt; }
  thead { display: table-header-group; }
  th, td { overflow-wrap: break-word; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  figure img { max-height: 240mm; width: auto; }  /* a tall figure on one page */
}
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ooh-sim $version">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline';
               form-action 'none'; base-uri 'none'">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header class="top"><div><h1>$title</h1><p>$subtitle</p></div></header>
<main>
$problems
<nav class="toc"><b>Contents</b><ol>$toc</ol></nav>
$sections
<footer>Written by ooh-sim $version on $when from $folder. $sha</footer>
</main>
</body>
</html>
""")


def build_html(f: Folder) -> str:
    e = html.escape
    sections: list[tuple[str, str, str]] = []  # (id, title, html)
    sc, s = f.scenario, f.summary
    pooled = any(p.name in _POOLED_FIGURES for p in f.figures)  # the cards' note contrasts it
    if f.comparison:
        ref = str(f.comparison.get("reference", ""))
        names = [str(n) for n in f.comparison.get("scenarios", [])]
        title = f"Out-of-hours options compared: {', '.join(names)}"
        ref_sub = f.subfolders.get(ref)
        sc = sc or (ref_sub.scenario if ref_sub else None)
        ref_kpis = (f.comparison.get("kpis") or {}).get(ref, {})
        sections.append(("glance", f"At a glance: {ref} (the reference)",
                         headline_cards(ref_kpis, pooled)))  # fmt: skip
        sections.append(("comparison", "Options compared", comparison_section(f.comparison)))
    else:
        assert s is not None
        title = f"Out-of-hours service simulation: {s.get('scenario', '')}"
        sections.append(("glance", "At a glance", headline_cards(s.get("kpis", {}), pooled)))
    if sc is not None:
        words = scenario_words(sc)
        if f.comparison:
            words = (f"<h3>The reference: {e(sc.name)}</h3>"
                     + set_for_run(ref_sub.summary if ref_sub else None) + words)  # fmt: skip
            for n, sub in f.subfolders.items():
                if sub.scenario is not None and n != ref:
                    words += option_changes(sc, sub) + set_for_run(sub.summary)
        else:
            words = set_for_run(s) + words
        sections.append(("scenario", "What was modelled", words))
    if s is not None:
        sections.append(("results", "Results in detail", results_tables(s.get("kpis", {}), sc)))
    elif f.comparison:
        parts = []
        for i, n in enumerate(f.comparison.get("scenarios", [])):
            k = (f.comparison.get("kpis") or {}).get(n, {})
            sub = f.subfolders.get(str(n))
            tables = results_tables(k, sub.scenario if sub and sub.scenario else sc)
            head = f"<summary>{e(str(n))}{' (reference)' if i == 0 else ''}</summary>"
            parts.append(f"<details{' open' if i == 0 else ''}>{head}{tables}</details>")
        sections.append(("results", "Results in detail, option by option", "".join(parts)))
    if f.figures:
        sections.append(("figures", "Figures", "".join(_figure(p) for p in f.figures)))
    if s is not None:
        sections.append(("confidence", "How sure are these figures?", confidence_section(s, sc)))
    elif f.comparison:
        sections.append(("confidence", "How sure are these figures?", compare_confidence(f)))
    if s is not None:
        w = warmup_check(f.path, sc) if sc is not None else None
        text, uri = warmup_section(w, sc)
        if uri:
            text += (
                f'<figure><img src="{uri}" alt="Warm-up check"><figcaption>Warm-up check: '
                "the model's state by day of the run.</figcaption></figure>"
            )
        sections.append(("warmup", "Warm-up check", text))
    # a comparison documents its reference scenario (options: see "What was modelled")
    ref_f = f.subfolders.get(str((f.comparison or {}).get("reference")))
    main = f
    if f.comparison and ref_f is not None:
        main = dataclasses.replace(ref_f, path=f.path, comparison=f.comparison, figures=f.figures)
        main.summary = {**(ref_f.summary or {}), "replications": f.comparison.get("replications")}
    sections.append(("assumptions", "Assumptions and sources", assumptions_section(main)))
    rows = "".join(
        f"<tr><td class=num>{e(i)}</td><td>{e(t)}</td><td>{body}</td></tr>"
        for i, t, body in stress_items(main)
    )
    sections.append(
        (
            "stress",
            "Reporting checklist (STRESS-DES)",
            "<p>The Strengthening the Reporting of Empirical Simulation Studies checklist for "
            "discrete-event simulation (Monks et al. 2019). Items the configuration determines are "
            "filled in; the rest are for the study's author.</p><table><thead><tr><th>item</th>"
            f"<th>topic</th><th>this study</th></tr></thead><tbody>{rows}</tbody></table>",
        )
    )
    meta = s or f.comparison or {}
    reps = meta.get("replications")
    subtitle = (
        f"{reps} runs of the model, seed {meta.get('seed')}"
        + (f" · {sc.horizon.days:g} days from {sc.horizon.start}" if sc else "")
        + f" · ooh-sim {meta.get('version', __version__)}"
    )
    problems = (
        "<div class=problems><b>Missing from the results folder:</b><ul>"
        + "".join(f"<li>{e(p)}</li>" for p in f.problems)
        + "</ul></div>"
        if f.problems
        else ""
    )
    warned = (s or {}).get("warnings") or []  # ooh_sim.core.checks, as in the terminal
    if isinstance(warned, list) and warned:
        problems += (
            "<div class=problems><b>Warnings about this scenario:</b><ul>"
            + "".join(f"<li>{e(str(w))}</li>" for w in warned)
            + "</ul></div>"
        )
    sha = f"Configuration SHA-256 {e(str(s.get('config_sha256')))}." if s else ""
    return render(title, subtitle, sections, folder=f.path, problems=problems, sha=sha)


def render(
    title: str,
    subtitle: str,
    sections: list[tuple[str, str, str]],
    *,
    folder: Path,
    problems: str = "",
    sha: str = "",
) -> str:
    """The page around ``sections`` (id, title, HTML): styles, Content-Security-Policy,
    contents and footer. ``title`` and ``subtitle`` are text (escaped here); ``problems`` and
    ``sha`` are HTML already escaped."""
    e = html.escape
    toc = "".join(f'<li><a href="#{i}">{e(t)}</a></li>' for i, t, _ in sections)
    body = "\n".join(f'<section id="{i}"><h2>{e(t)}</h2>\n{h}\n</section>' for i, t, h in sections)
    return PAGE.substitute(
        version=e(__version__),
        title=e(title),
        subtitle=e(subtitle),
        css=CSS,
        problems=problems,
        toc=toc,
        sections=body,
        when=dt.datetime.now().strftime("%d %b %Y %H:%M"),
        folder=e(folder.name),
        sha=sha,
    )


def optimise_html(folder: Path) -> str:
    """The report of an optimise folder (:mod:`ooh_sim.report.optimise_page`)."""
    page = optimise_page(folder)
    return render(page.title, page.subtitle, page.sections, folder=Path(folder))


def write_report(folder: str | Path) -> Path:
    """Build report.html inside a results folder (atomically: a reader never sees half a file)."""
    from ooh_sim.io.files import write_atomic

    folder = Path(folder)
    try:
        if is_optimise_folder(folder):
            page = optimise_html(folder)
        else:
            page = build_html(read_folder(folder))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        # a results folder edited by hand (or crafted): wrong types, missing keys
        raise InputError(
            f"results folder is damaged or was edited ({type(e).__name__}: "
            f"{' '.join(str(e).split())[:80]}); run the scenario again to rebuild it",
            file=str(folder),
        ) from None
    return write_atomic(folder / REPORT_NAME, page)
