"""Optimise files: the options a planner may choose from, the targets, and the goal.

An optimise file names a scenario, the **decisions** (settings to choose, each with its allowed
values), the **constraints** (KPI targets that must hold with 95% confidence, such as
``station.hours.p90 <= 4``) and the **objective** (by default the council's weekly cost). As
with sweeps, the whole file is checked before anything runs: a misspelt path, an unknown KPI or
an option that makes an invalid scenario is an :class:`InputError` naming the file and the key.

Decisions come in four shapes::

    decisions:
      staff.edt.count: [1, 2]                  # listed values of one setting
      placements.capacity: {min: 0, max: 6}    # whole numbers min..max (step 1 unless given)
      staff.manager: {on_off: {count: 1, skills: [children], roster: cover, on_call: true,
                               callout: {delay_hours: 1, child_waiting_hours: 2}}}
      amhp_rota:                               # a label (no dots): named options, each a set
        options:                               # of settings changed together
          shared: {}                           # as the scenario
          separate: {staff.edt.skills: [children, adults],
                     staff.amhp_rota: {count: 1, skills: [amhp], roster: cover}}

``on_off`` adds a key the scenario does not have (a staff group, say) or leaves it out. Options
may only add or change settings, never remove them, so that the chosen option can be written as
a small ``best.yaml`` that ``extends`` the scenario and runs as it is.

Only spaces that can be listed in full are supported (at most :data:`MAX_POINTS` options): the
ranking-and-selection procedure in :mod:`ooh_sim.core.optimise` runs every option at least
``first_stage`` times.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from ooh_sim.core import kpis
from ooh_sim.core.errors import InputError, InputErrors, did_you_mean
from ooh_sim.core.loader import (
    apply_overrides,
    check_kind,
    deep_merge,
    read_yaml,
    scenario_from_dict,
)
from ooh_sim.core.schema import FolderName, Horizon, Scenario
from ooh_sim.core.study_spec import (
    Strict,
    check_path,
    listed_twice,
    scenario_base,
    sha256_of,
)
from ooh_sim.core.version import __version__

MAX_POINTS = 200
"""Options in one file. Every option runs at least ``first_stage`` replications, so a larger
space needs a search method first (not yet supported: list fewer values)."""

COST_OBJECTIVES = ("cost.council.per_week", "cost.per_week")
"""The default objective: the first of these KPIs the scenario has (minimised)."""

_CONSTRAINT = re.compile(
    r"^\s*(?P<kpi>[A-Za-z0-9_.]+)\s*(?P<op><=|>=)\s*(?P<bound>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)"
    r"\s*$"
)
_OBJECTIVE = re.compile(
    r"^\s*(?:(?P<sense>minimi[sz]e|maximi[sz]e)\s+)?(?P<kpi>[A-Za-z0-9_.]+)\s*$"
)


class _PathError(ValueError):
    """A cross-field problem that knows which key it is about."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(problem)


class IntRange(Strict):
    """`{min, max, step}`: whole numbers from min to max."""

    min: int = Field(description="Smallest value.")
    max: int = Field(description="Largest value (above min).")
    step: Annotated[int, Field(ge=1)] = Field(1, description="Step between values.")


class OnOff(Strict):
    """`{on_off: VALUE}`: the key left out (as the scenario), or set to VALUE."""

    on_off: Any = Field(
        description="The value of the key when on (e.g. a whole staff group); off leaves the key "
        "out, as the scenario has it. Only for a key the scenario does not have."
    )


class Options(Strict):
    """`{options: {name: {path: value, …}, …}}`: named sets of settings changed together."""

    options: dict[str, dict[str, Any]] = Field(
        min_length=2,
        description="Named options, each a mapping of dotted setting paths to values changed "
        "together ({} = as the scenario).",
    )


class ConstraintSpec(Strict):
    """The long form of a constraint; the short form is the text `"kpi <= bound"`."""

    kpi: str = Field(description="The KPI the target is on (e.g. station.hours.p90).")
    max: float | None = Field(None, description="The KPI must be at most this (give max or min).")
    min: float | None = Field(None, description="The KPI must be at least this.")
    tolerance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None,
        description="An option whose true value is within this of the bound may be called "
        "either way (smaller: more replications near the bound); empty: 5% of the bound.",
    )

    @model_validator(mode="after")
    def _one_bound(self) -> ConstraintSpec:
        if (self.max is None) == (self.min is None):
            raise ValueError("give exactly one of max or min")
        return self


class Budget(Strict):
    max_replications: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        20_000,
        description="Replications over all options at most; then the best-looking option shown "
        "to meet the targets is returned and cheaper unsettled ones are listed.",
    )


class OptimiseSpec(Strict):
    name: FolderName = Field(
        description="Short name of the question; results go to results/<name>/."
    )
    description: str = Field("", description="The question, in a sentence or two.")
    scenario: Annotated[str, Field(min_length=1)] = Field(
        description="Today's scenario, which the options change; relative to this file."
    )
    seed: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Random seed; empty: the scenario's."
    )
    decisions: dict[str, list[Any] | IntRange | OnOff | Options] = Field(
        min_length=1,
        description="What may be chosen: a dotted setting path (e.g. staff.edt.count) with a "
        "list of values, {min, max, step} whole numbers, or {on_off: VALUE}; or a label with "
        "{options: {name: {path: value, …}}}. Every combination is an option (at most 200).",
    )
    constraints: list[str | ConstraintSpec] = Field(
        default=[],
        description="KPI targets that must hold with the given confidence: 'station.hours.p90 "
        "<= 4', or {kpi, max or min, tolerance}.",
    )
    objective: str | None = Field(
        None,
        description="'minimise KPI' or 'maximise KPI'; empty: minimise cost.council.per_week "
        "(else cost.per_week).",
    )
    indifference: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None,
        description="Options closer than this in the objective count as equally good (e.g. "
        "£100 a week); empty: 1% of the mean objective after the first stage.",
    )
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        0.95,
        description="Probability that the option returned meets the targets (within their "
        "tolerances) and is within the indifference zone of the best one that does.",
    )
    first_stage: Annotated[int, Field(ge=5, le=1000)] = Field(
        10, description="Replications of every option before any is dropped."
    )
    batch: Annotated[int, Field(ge=1, le=1000)] = Field(
        5, description="Replications added per round to every option still in."
    )
    budget: Budget = Field(
        default_factory=Budget, description="When to stop if the options are not yet settled."
    )

    @model_validator(mode="after")
    def _shapes(self) -> OptimiseSpec:
        if ".." in self.name:
            raise _PathError("name", "must not contain '..' (it names a folder under results/)")
        for key, spec in self.decisions.items():
            where = f"decisions.{key}"
            if isinstance(spec, Options):
                if "." in key:
                    raise _PathError(
                        where,
                        "named options need a label without dots as their "
                        "key (e.g. amhp_rota), not a setting path",
                    )
                continue
            if "[" in key or any(part.lstrip("-").isdigit() for part in key.split(".")):
                raise _PathError(
                    where,
                    "decisions name settings by key; list items cannot be "
                    "chosen one by one (give the whole list as the value)",
                )
            if isinstance(spec, list):
                if len(spec) < 2:
                    raise _PathError(where, "list at least two values to choose from")
                twice = listed_twice(spec)
                if twice is not None:
                    raise _PathError(where, f"value {twice!r} is listed twice")
            if isinstance(spec, IntRange) and spec.max <= spec.min:
                raise _PathError(where, f"max ({spec.max}) must be above min ({spec.min})")
        return self


# --------------------------------------------------------------------------------------------
# checked problem


@dataclass(frozen=True)
class Constraint:
    """``kpi <= bound`` (or ``>=``), to hold with the problem's confidence, within ``tolerance``:
    an option whose true value is within the tolerance of the bound may be called either way."""

    kpi: str
    op: Literal["<=", ">="]
    bound: float
    tolerance: float

    @property
    def text(self) -> str:
        return f"{self.kpi} {self.op} {self.bound:g}"

    def slack(self, value: float) -> float:
        """How far inside the bound a value is (negative: outside)."""
        return self.bound - value if self.op == "<=" else value - self.bound


@dataclass(frozen=True)
class Decision:
    """One choice: its name (a setting path or a label) and its options as labelled patches."""

    name: str
    labels: list[str]  # shown in optimise.csv
    values: list[Any]  # the raw value per option (None = as the scenario, for on/off)
    patches: list[dict[str, Any]]  # nested mapping merged over the scenario, per option


@dataclass
class Problem:
    """A checked optimise file: scenario data, every option as a patch, constraints, objective."""

    spec: OptimiseSpec
    file: Path
    scenario_file: Path
    base: dict[str, Any]
    decisions: list[Decision]
    points: list[tuple[int, ...]]  # the option index of each decision, per point
    constraints: list[Constraint]
    objective: str
    sense: Literal["minimise", "maximise"]
    seed: int
    notes: list[str] = field(default_factory=list)
    sha256: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    def patch(self, point: int) -> dict[str, Any]:
        """The settings point ``point`` changes, as a nested mapping over the scenario."""
        out: dict[str, Any] = {}
        for d, j in zip(self.decisions, self.points[point], strict=True):
            out = deep_merge(out, d.patches[j])
        return out

    def data(self, point: int) -> dict[str, Any]:
        return deep_merge(self.base, self.patch(point))

    def scenario(self, point: int) -> Scenario:
        """The validated scenario of one point (~1 ms)."""
        return scenario_from_dict(
            self.data(point), file=str(self.scenario_file), base_dir=self.scenario_file.parent
        )

    def labels(self, point: int) -> dict[str, str]:
        return {
            d.name: d.labels[j] for d, j in zip(self.decisions, self.points[point], strict=True)
        }

    def values(self, point: int) -> dict[str, Any]:
        return {
            d.name: d.values[j] for d, j in zip(self.decisions, self.points[point], strict=True)
        }

    @property
    def kpis(self) -> list[str]:
        """The KPIs the procedure needs: the objective, then each constrained KPI."""
        return list(dict.fromkeys([self.objective, *(c.kpi for c in self.constraints)]))


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    out: Any = copy.deepcopy(value)
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def _label(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float, str)):
        return str(v)
    return json.dumps(v, sort_keys=True, default=str, separators=(",", ":"))


def _new_key_ok(base: Mapping[str, Any], dotted: str, file: str, where: str) -> None:
    """A path to a key the scenario lacks: its parent must be a mapping the scenario has or may
    have (a new staff group under ``staff``, a ``costs`` section …); the values are checked with
    the scenario of each point."""
    parent, _, key = dotted.rpartition(".")
    if parent:
        check_path(base, parent, file, where=where)  # a typo in the parent: whole-path hint
    node: Any = base
    for part in parent.split(".") if parent else []:
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None and not isinstance(node, dict):
        raise InputError(
            f"{parent} is not a mapping, so {key!r} cannot be added to it", file=file, path=where
        )


def _setting(base: Mapping[str, Any], dotted: str, file: str, where: str) -> bool:
    """Check that ``dotted`` names a setting or a key that may be added; True if it exists."""
    try:
        apply_overrides(base, {dotted: None})
        exists = True
    except InputError:
        exists = False
    if exists:
        node: Any = base
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node is not None
    try:
        _new_key_ok(base, dotted, file, where)
    except InputError as e:
        raise InputError(e.problem, file=file, path=where, suggestion=e.suggestion) from None
    return False


def _decision(base: Mapping[str, Any], key: str, spec: Any, file: str) -> Decision:
    where = f"decisions.{key}"
    if isinstance(spec, Options):
        labels, patches = [], []
        for name, settings in spec.options.items():
            patch: dict[str, Any] = {}
            for path, value in settings.items():
                _setting(base, path, file, f"{where}.options.{name}.{path}")
                patch = deep_merge(patch, _nested(path, value))
            labels.append(name)
            patches.append(patch)
        return Decision(key, labels, labels, patches)
    if isinstance(spec, OnOff):
        if _setting(base, key, file, where):
            raise InputError(
                "on_off can only add a key the scenario does not have (best.yaml extends the "
                "scenario, which cannot remove keys); use a list of values, or named options",
                file=file,
                path=where,
            )
        return Decision(key, ["off", "on"], [None, spec.on_off], [{}, _nested(key, spec.on_off)])
    check_path(base, key, file, where=where)
    values = list(range(spec.min, spec.max + 1, spec.step)) if isinstance(spec, IntRange) else spec
    return Decision(
        key, [_label(v) for v in values], list(values), [_nested(key, v) for v in values]
    )


def _constraint(i: int, c: str | ConstraintSpec, file: str) -> Constraint:
    where = f"constraints[{i}]"
    if isinstance(c, str):
        m = _CONSTRAINT.match(c)
        if not m:
            raise InputError(
                f"not a constraint: {c!r} (write e.g. 'station.hours.p90 <= 4', or "
                "{kpi: station.hours.p90, max: 4, tolerance: 0.2})",
                file=file,
                path=where,
            )
        kpi, op, bound, tol = m["kpi"], m["op"], float(m["bound"]), None
    else:
        kpi = c.kpi
        op, bound = ("<=", c.max) if c.max is not None else (">=", c.min)
        tol = c.tolerance
    assert bound is not None
    if tol is None:  # default tolerance: 5% of the bound (0.05 for a bound of 0 … 1, e.g. shares)
        tol = 0.05 * max(abs(bound), 1.0)
    return Constraint(kpi, op, float(bound), float(tol))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# pydantic errors → InputError


def _spec_errors(exc: ValidationError, data: Mapping[str, Any], file: str) -> InputErrors:
    out: list[InputError] = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        if isinstance(ctx.get("error"), _PathError):
            e: _PathError = ctx["error"]
            out.append(InputError(str(e), file=file, path=e.path))
            continue
        loc = [str(s) for s in err.get("loc", ())]
        kind = err["type"]
        if len(loc) >= 3 and loc[0] in ("decisions", "constraints"):
            # a union: keep only the branch meant for the value's shape
            value = (data.get(loc[0]) or {}) if isinstance(data, Mapping) else {}
            item = (
                value.get(loc[1])
                if isinstance(value, dict)
                else (
                    value[int(loc[1])]
                    if isinstance(value, list) and loc[1].isdigit() and int(loc[1]) < len(value)
                    else None
                )
            )
            branch = loc[2]
            if not _branch_fits(branch, item):
                continue
            loc = [loc[0], loc[1], *loc[3:]]
        path = (
            ".".join(loc)
            if loc[:1] != ["constraints"]
            else (f"constraints[{loc[1]}]" + "".join(f".{x}" for x in loc[2:]))
        )
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        suggestion = None
        if kind == "extra_forbidden":
            key = loc[-1]
            known = _known_keys(loc)
            suggestion = did_you_mean(key, known)
            problem = f"unknown key {key!r}"
            if not suggestion:
                problem += f" (allowed: {', '.join(known)})"
        elif kind == "missing":
            problem = "required key missing"
        else:
            value = err.get("input")
            shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
            problem = msg + shown
        e2 = InputError(problem, file=file, path=path, suggestion=suggestion)
        if not any((e2.path, e2.problem) == (o.path, o.problem) for o in out):
            out.append(e2)
    if not out:
        out = [InputError(str(exc), file=file)]
    return InputErrors(out)


def _branch_fits(branch: str, item: Any) -> bool:
    if isinstance(item, list):
        return branch.startswith("list[")
    if isinstance(item, str):
        return branch == "str"
    if isinstance(item, dict):
        if "options" in item:
            return branch == "Options"
        if "on_off" in item:
            return branch == "OnOff"
        if branch == "ConstraintSpec":
            return True
        return branch == "IntRange"
    return branch in ("list[any]", "str")


def _known_keys(loc: list[str]) -> list[str]:
    if loc[0] == "decisions" and len(loc) > 2:
        return ["min", "max", "step", "on_off", "options"]
    if loc[0] == "constraints":
        return list(ConstraintSpec.model_fields)
    if loc[0] == "budget":
        return list(Budget.model_fields)
    return list(OptimiseSpec.model_fields)


# --------------------------------------------------------------------------------------------
# loading


def _check_options(problem: Problem) -> list[str]:
    """Check that every option makes a valid scenario (each distinct problem reported once),
    and return the KPI names the options produce (from their structure: nothing is run). One
    pass for both, FOR SPEED: building an option's scenario is what checking it costs (~1 ms;
    building them twice took 20 ms of the shipped file's ~0.3 s ``validate``)."""
    seen: dict[str, InputError] = {}
    count: dict[str, int] = {}
    known: dict[str, None] = {}  # ordered, as the options name them
    for i in range(len(problem.points)):
        try:
            known.update(dict.fromkeys(kpis.names_for(problem.scenario(i))))
        except InputError as exc:
            for e in getattr(exc, "errors", [exc]):
                key = f"{e.path}: {re.sub(r' [(]got .*[)]$', '', e.problem)}"
                count[key] = count.get(key, 0) + 1
                if key not in seen:
                    shown = ", ".join(f"{k}={v}" for k, v in problem.labels(i).items())
                    seen[key] = InputError(
                        f"option {i} ({shown}) makes an invalid scenario at {e.path}: {e.problem}",
                        file=str(problem.file),
                        path="decisions",
                        suggestion=e.suggestion,
                    )
    if seen:
        for key, err in seen.items():
            if count[key] > 1:
                err.problem += f" — {count[key]} of {len(problem.points)} options fail like this"
        raise InputErrors(list(seen.values()))
    return list(known)


def problem_sha256(problem: Problem) -> str:
    """What decides the simulated numbers and the procedure's path (for checkpoints)."""
    payload = {
        "format": 1,
        "ooh_sim": __version__,
        "scenario": problem.base,
        "patches": [problem.patch(i) for i in range(len(problem.points))],
        "kpis": problem.kpis,
        "seed": problem.seed,
    }
    return sha256_of(payload)


def problem_from_spec(spec: OptimiseSpec, file: Path, *, horizon: Horizon | None = None) -> Problem:
    """Check a parsed optimise file against its scenario. ``horizon`` replaces the scenario's
    (the validation benchmark uses a shorter one)."""
    shown = str(file)
    scenario_file, base = scenario_base(file, spec.scenario, shown=shown, kind="optimise")
    if horizon is not None:
        base["horizon"] = json.loads(horizon.model_dump_json())
    scenario = scenario_from_dict(base, file=str(scenario_file), base_dir=scenario_file.parent)
    decisions = [_decision(base, k, v, shown) for k, v in spec.decisions.items()]
    size = math.prod(len(d.labels) for d in decisions)
    if size > MAX_POINTS:
        raise InputError(
            f"the decisions make {size:,} options; at most {MAX_POINTS} are supported (every "
            "option is run at least first_stage times; searching a larger space is not "
            "supported yet): list fewer values",
            file=shown,
            path="decisions",
        )
    points = list(itertools.product(*(range(len(d.labels)) for d in decisions)))
    constraints = [_constraint(i, c, shown) for i, c in enumerate(spec.constraints)]
    seed = scenario.seed if spec.seed is None else spec.seed
    problem = Problem(
        spec, file, scenario_file, base, decisions, points, constraints, "", "minimise", seed
    )
    known = _check_options(problem)
    if spec.objective is None:
        found = next((k for k in COST_OBJECTIVES if k in known), None)
        if found is None:
            raise InputError(
                "no objective given and the scenario has no costs (cost.per_week); add a "
                "costs: section to the scenario, or write e.g. 'objective: minimise "
                "station.hours.mean'",
                file=shown,
                path="objective",
            )
        problem.objective = found
    else:
        m = _OBJECTIVE.match(spec.objective)
        if not m:
            raise InputError(
                f"not an objective: {spec.objective!r} (write e.g. 'minimise cost.per_week')",
                file=shown,
                path="objective",
            )
        problem.objective = m["kpi"]
        problem.sense = "maximise" if (m["sense"] or "").startswith("maxim") else "minimise"
        if problem.objective not in known:
            raise InputError(
                f"no KPI named {problem.objective!r} in this scenario",
                file=shown,
                path="objective",
                suggestion=did_you_mean(problem.objective, known),
            )
    for i, c in enumerate(constraints):
        if c.kpi not in known:
            raise InputError(
                f"no KPI named {c.kpi!r} in this scenario",
                file=shown,
                path=f"constraints[{i}]",
                suggestion=did_you_mean(c.kpi, known),
            )
    problem.sha256 = problem_sha256(problem)
    return problem


def load_problem(path: str | Path, *, horizon: Horizon | None = None) -> Problem:
    """Read and check an optimise file and its scenario."""
    file = Path(path)
    data = read_yaml(file)
    check_kind(data, "optimise", str(path))
    try:
        spec = OptimiseSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_errors(exc, data, str(path)) from None
    return problem_from_spec(spec, file, horizon=horizon)


__all__ = [
    "COST_OBJECTIVES",
    "MAX_POINTS",
    "Constraint",
    "Decision",
    "OptimiseSpec",
    "Problem",
    "load_problem",
    "problem_from_spec",
    "problem_sha256",
]
