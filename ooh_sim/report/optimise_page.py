"""The report of an optimise folder: the board's answer in plain words, every option evaluated,
the cost-against-target figure and the method.

:mod:`ooh_sim.report.html` wraps these sections in its page (the same styles, the same
Content-Security-Policy: no scripts, no forms, nothing fetched). Everything read from the
folder passes through ``html.escape``, numbers through the KPI catalogue's formats; a value of
the wrong type (a crafted ``optimise.json``) is a ValueError or TypeError, which the report
turns into "results folder is damaged".
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ooh_sim.core import kpis
from ooh_sim.core.optimise import FEASIBLE, INFEASIBLE, money_words
from ooh_sim.io.optimise_files import FRONTIER_PNG, OPTIMISE_JSON, read_optimise

e = html.escape

HOLDER_COSTS = tuple((f"cost.{who}.per_week", who) for who in kpis.BUDGET_HOLDERS)
"""(KPI, who pays), in the order a board asks."""

OUTCOME = {FEASIBLE: "meets the target", INFEASIBLE: "misses the target",
           "undecided": "not settled"}  # fmt: skip
STATUS = {
    "chosen": "chosen",
    "infeasible": "dropped",
    "eliminated": "dropped as dearer",
    "alive": "still in at the end",
}


@dataclass
class OptimisePage:
    """What :mod:`ooh_sim.report.html` puts in its page."""

    title: str
    subtitle: str
    sections: list[tuple[str, str, str]]  # (id, title, html)


def is_optimise_folder(folder: Path) -> bool:
    return (Path(folder) / OPTIMISE_JSON).is_file()


def _num(x: Any) -> float:
    """A number from the file (None: undefined); text where a number belongs is damage."""
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a number, got {type(x).__name__}")
    return float(x)


def _fmt(k: str, x: Any, *, signed: bool = False) -> str:
    return e(kpis.format(k, _num(x), signed=signed))


def _ci(k: str, est: dict[str, Any], *, signed: bool = False) -> str:
    return e(kpis.interval(k, _num(est.get("ci95_low")), _num(est.get("ci95_high")),
                           signed=signed))  # fmt: skip


def _name(k: str) -> str:
    try:
        return kpis.label(k)
    except (KeyError, ValueError):
        return k


def _target(c: dict[str, Any]) -> str:
    op = {"<=": "≤", ">=": "≥"}.get(str(c["op"]), str(c["op"]))
    return f"{c['kpi']} {op} {kpis.format(str(c['kpi']), _num(c['bound']))}"


def _option(decisions: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in decisions.items())


def _money_words(who: str, d: dict[str, Any]) -> str:
    mean = _num(d.get("mean"))
    if not math.isfinite(mean):
        return ""
    return money_words(who, mean, _num(d.get("ci95_low")), _num(d.get("ci95_high")))


def answer_section(data: dict[str, Any]) -> str:
    """The board's answer: the option, what it costs each budget holder against today, and how
    it does on each target, paired with today on common random numbers."""
    constraints = data.get("constraints") or []
    targets = " and ".join(_target(c) for c in constraints) or "no target"
    conf = f"{_num(data.get('confidence')):.0%}"
    objective = data.get("objective") or {}
    cheapest = str(objective.get("kpi", "")).startswith("cost.") and objective.get(
        "sense") == "minimise"  # fmt: skip
    chosen = data.get("chosen")
    parts = []
    if chosen is None:
        why = ("every option was found to miss it" if data.get("stopped") == "none_feasible"
               else "none was shown to meet it within the replication budget")  # fmt: skip
        parts.append(f"<p class=answer><b>No option meets {e(targets)} with {e(conf)} "
                     f"confidence</b> ({e(why)}).</p>")  # fmt: skip
    else:
        verb = "Cheapest" if cheapest else "Best"
        what = _option(chosen["decisions"])
        v = data.get("versus_today") or {}
        diff, today = v.get("difference") or {}, v.get("today") or {}
        words = [w for k, who in HOLDER_COSTS if k in diff
                 for w in [_money_words(who, diff[k])] if w]  # fmt: skip
        sentence = f"{verb} option meeting {targets} with {conf} confidence: {what}."
        if words:
            sentence += " It " + "; ".join(words) + "."
        parts.append(f"<p class=answer><b>{e(sentence)}</b></p>")
        parts.append(
            "<p>The chosen option is written as <code>best.yaml</code> in this folder "
            "(it extends the scenario; <code>ooh-sim run best.yaml</code> runs it).</p>"
        )
        rows = []
        shown = [k for k, _ in HOLDER_COSTS] + ["cost.total.per_week"]
        shown += [str(c["kpi"]) for c in constraints]
        for k in dict.fromkeys(shown):
            if k not in diff or k not in today:
                continue
            t, d = today[k], diff[k]
            rows.append(
                f"<tr><td>{e(_name(k))}<br><span class=key>{e(k)}</span></td>"
                f"<td class=num>{_fmt(k, t.get('mean'))}</td>"
                f"<td class=num>{_fmt(k, _num(t.get('mean')) + _num(d.get('mean')))}</td>"
                f"<td class=num><b>{_fmt(k, d.get('mean'), signed=True)}</b></td>"
                f"<td class=num>{_ci(k, d, signed=True)}</td></tr>"
            )
        if rows:
            n = v.get("replications")
            parts.append(
                f"<table><caption>The chosen option against today, paired over {e(str(n))} "
                "replications on common random numbers</caption><thead><tr><th>measure</th>"
                "<th>today</th><th>chosen</th><th>difference</th><th>95% CI of the difference"
                f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            )
    undecided = data.get("undecided_cheaper") or []
    if undecided:
        points = {p.get("point"): p for p in data.get("points", []) if isinstance(p, dict)}
        names = "; ".join(_option(points[i]["decisions"]) for i in undecided[:3] if i in points)
        parts.append(
            f"<p class=warn>Not settled within the budget: {len(undecided)} cheaper option(s) "
            f"could not yet be shown to meet the target or to miss it ({e(names)}). More "
            "replications (budget) would settle them.</p>"
        )
    return "".join(parts)


def options_section(data: dict[str, Any]) -> str:
    """Every option as a row (cheapest first): outcome, replications, and the objective and
    each constrained KPI with 95% intervals: few columns, so it prints on A4."""
    objective = str((data.get("objective") or {}).get("kpi", ""))
    cons = [str(c["kpi"]) for c in data.get("constraints") or []]
    columns = list(dict.fromkeys([objective, *cons]))
    points = [p for p in data["points"] if isinstance(p, dict)]

    def key(p: dict[str, Any]) -> tuple[float, int]:
        m = _num((p.get("estimates") or {}).get(objective, {}).get("mean"))
        return (m if math.isfinite(m) else math.inf, int(p["point"]))

    head = "".join(f"<th>{e(_name(k))}<br><span class=key>{e(k)}</span></th>" for k in columns)
    rows = []
    for p in sorted(points, key=key):
        est = p.get("estimates") or {}
        status = str(p.get("status"))
        outcome = OUTCOME.get(str(p.get("feasible")), str(p.get("feasible")))
        what = STATUS.get(status, status)
        if status == "eliminated" and p.get("eliminated_by") is not None:
            what += f" than #{p['eliminated_by']}"
        cells = "".join(
            f"<td class=num>{_fmt(k, est.get(k, {}).get('mean'))}<br><small>"
            f"{_ci(k, est.get(k, {}))}</small></td>"
            for k in columns
        )
        mark = " class=chosen" if status == "chosen" else ""
        rows.append(
            f"<tr{mark}><td class=num>{e(str(p['point']))}</td>"
            f"<td>{e(_option(p.get('decisions') or {}))}</td>"
            f"<td>{e(outcome)}<br><small>{e(what)}</small></td>"
            f"<td class=num>{e(str(p.get('replications')))}</td>{cells}</tr>"
        )
    return (
        "<table class=options><caption>Cheapest first: means, with 95% confidence intervals "
        "below them</caption><thead><tr><th>#</th><th>option</th>"
        f"<th>outcome</th><th>replications</th>{head}</tr></thead><tbody>{''.join(rows)}"
        "</tbody></table><p class=note>Options dropped early have wide intervals: they were not "
        "worth more replications. &ldquo;Not settled&rdquo;: whether it meets the target was "
        "still unclear when it was dropped as dearer, or when the procedure stopped (&ldquo;still "
        "in at the end&rdquo;).</p>"
    )


def method_section(data: dict[str, Any]) -> str:
    """The procedure in words, with this run's settings."""
    objective = data.get("objective") or {}
    k = str(objective.get("kpi", ""))
    conf = f"{_num(data.get('confidence')):.0%}"
    delta = kpis.format(k, _num(data.get("indifference")))
    tolerances = "; ".join(
        f"{_target(c)} within {kpis.format(str(c['kpi']), _num(c['tolerance']))}"
        for c in data.get("constraints") or []
    )
    n, spent = int(_num(data.get("options"))), int(_num(data.get("replications")))
    stopped = {"one_left": "one option meeting the target was left",
               "none_feasible": "no option could meet the target",
               "budget": "the replication budget was spent"}.get(
                   str(data.get("stopped")), str(data.get("stopped")))  # fmt: skip
    text = [
        f"Each of the {n} options (every combination of the decisions) was simulated on "
        "<b>common random numbers</b>: replication <i>r</i> of every option uses the same random "
        "streams, so the differences between options are differences between the options, not "
        "luck of the draw.",
        "The options were run in rounds and compared by a <b>ranking-and-selection</b> "
        f"procedure: {e(str(data.get('first_stage')))} replications of every option first, "
        f"then {e(str(data.get('batch')))} more per round for the options still in. After each "
        "round, an option is dropped when it is shown to miss a target (a feasibility check, "
        "Andradóttir &amp; Kim 2010, with an exact one-sided t rule beside it), or when it is "
        "shown to cost more than an option already shown to meet every target (Kim &amp; Nelson "
        "2001). Only options shown to meet the targets may drop others, so a cheap option that "
        "later fails cannot have knocked out the true answer.",
        f"<b>Indifference zone</b>: options closer than {e(delta)} in {e(k)} count as equally "
        f"good; <b>tolerance</b>: an option whose true value is within the tolerance of a "
        f"target may be called either way ({e(tolerances) or 'no targets'}).",
        f"<b>The guarantee</b>: with probability at least {e(conf)}, the option returned meets "
        "every target (within its tolerance) and is within the indifference zone of the "
        "cheapest option that does (Bonferroni splits of the error over the checks).",
        f"This run spent {spent:,} replications ({spent / max(n, 1):,.0f} an option on "
        f"average) and stopped because {e(stopped)}.",
    ]
    return "".join(f"<p>{t}</p>" for t in text)


def figure_section(folder: Path) -> str:
    png = Path(folder) / FRONTIER_PNG
    if not png.is_file():
        return ""
    cap = ("Every option's cost against the target's measure, with 95% intervals: green meets "
           "the target, red misses it, grey was not settled; the step line is the feasible "
           "frontier (the cheapest option at each level), the star the chosen option and the "
           "dashed line the target.")  # fmt: skip
    uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
    return (f'<figure><img src="{uri}" alt="{e(cap)}"><figcaption>{e(cap)}</figcaption>'
            "</figure>")  # fmt: skip


def optimise_page(folder: Path) -> OptimisePage:
    """The sections of an optimise folder's report."""
    data = read_optimise(folder)
    name = str(data.get("optimise", ""))
    sections = [("answer", "The answer", answer_section(data)),
                ("options", "Every option evaluated", options_section(data))]  # fmt: skip
    fig = figure_section(folder)
    if fig:
        sections.append(("figure", "Cost against the target", fig))
    sections.append(("method", "How the answer was found", method_section(data)))
    subtitle = (f"{data.get('options')} options, {data.get('replications')} replications, seed "
                f"{data.get('seed')} · ooh-sim {data.get('version', '')}")  # fmt: skip
    return OptimisePage(f"Cheapest option meeting the targets: {name}", subtitle, sections)


__all__ = ["OptimisePage", "is_optimise_folder", "optimise_page"]
