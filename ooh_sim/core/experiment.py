"""Experiment (sweep) files: one scenario, the settings to vary, and how to vary them.

An experiment is checked completely before any simulation starts — a misspelt parameter path,
a range on a text setting, or a design point that makes an invalid scenario (a negative
capacity, 1.5 workers) is an :class:`InputError` naming the experiment file and the key, not a
failure an hour into a sweep. The design points themselves are fixed here, from the
experiment's seed, so that a resumed sweep and an uninterrupted one run exactly the same points.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import Field, ValidationError, model_validator

from ooh_sim.core import kpis, limits
from ooh_sim.core.errors import InputError, InputErrors, did_you_mean
from ooh_sim.core.loader import (
    apply_overrides,
    check_kind,
    input_errors,
    normalise_path,
    read_yaml,
    scenario_from_dict,
)
from ooh_sim.core.schema import FieldError, FolderName, Scenario
from ooh_sim.core.study_spec import Strict, check_path, listed_twice, scenario_base, sha256_of
from ooh_sim.core.version import __version__

if TYPE_CHECKING:
    import numpy as np

MAX_POINTS = 1_000_000
"""A design bigger than this is a typo (a grid of long lists), not an experiment."""

DEFAULT_OUTPUTS = kpis.DEFAULT_SWEEP_OUTPUTS
"""Outputs used when an experiment names none (those the scenario produces)."""


class Range(Strict):
    """A range {low, high} of one setting, for designs lhs and sobol."""

    low: Annotated[float, Field(allow_inf_nan=False)] = Field(description="Lowest value.")
    high: Annotated[float, Field(allow_inf_nan=False)] = Field(
        description="Highest value (above low)."
    )
    integer: bool | None = Field(
        None,
        description="true: sample whole numbers only; empty: as the scenario setting's type "
        "(counts and capacities are whole numbers).",
    )


class ExperimentSpec(Strict):
    name: FolderName = Field(
        description="Short name of the sweep; results go to results/<name>/."
    )
    description: str = Field("", description="What the sweep asks, in a sentence or two.")
    scenario: Annotated[str, Field(min_length=1)] = Field(
        description="The scenario file to vary, relative to this file."
    )
    replications: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="Replications per design point; empty: the scenario's."
    )
    seed: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Random seed (also fixes the lhs/sobol points); empty: the scenario's."
    )
    design: Literal["grid", "lhs", "sobol", "saltelli"] = Field(
        "grid",
        description="grid: every combination of listed values; lhs (Latin hypercube) or sobol: "
        "samples points spread over {low, high} ranges; saltelli: samples x (parameters + 2) "
        "points arranged for Sobol sensitivity indices (needs the sensitivity extra, SALib).",
    )
    parameters: dict[str, Annotated[list[Any], Field(min_length=1)] | Range] = Field(
        min_length=1,
        description="Settings to vary, as dotted paths into the scenario (e.g. staff.edt.count): "
        "a list of values (grid) or a range {low, high} (lhs, sobol).",
    )
    samples: Annotated[int, Field(ge=2, le=MAX_POINTS)] | None = Field(
        None, description="Design points for lhs and sobol (sobol rounds up to a power of 2)."
    )
    outputs: Annotated[list[str], Field(min_length=1)] | None = Field(
        None,
        description="KPI names to report (e.g. station.hours.mean); empty: the main station, "
        "placement and cost KPIs.",
    )
    common_random_numbers: bool = Field(
        True,
        description="true: replication r of every design point uses the same random streams, "
        "so differences between points are not noise; false: each point its own streams.",
    )

    @model_validator(mode="after")
    def _design_fits(self) -> ExperimentSpec:
        if ".." in self.name:
            raise FieldError("name", "must not contain '..' (it names a folder under results/)")
        for key, spec in self.parameters.items():
            where = f"parameters.{key}"
            if self.design == "grid" and isinstance(spec, Range):
                raise FieldError(
                    where,
                    "the grid design needs a list of values, e.g. [1, 2, 3] ({low, high} ranges "
                    "are for design: lhs or sobol)",
                )
            if self.design != "grid" and not isinstance(spec, Range):
                raise FieldError(
                    where,
                    f"the {self.design} design needs a range {{low: …, high: …}} (lists of values "
                    "are for design: grid)",
                )
            if isinstance(spec, Range) and not spec.low < spec.high:
                raise FieldError(where, f"low ({spec.low:g}) must be below high ({spec.high:g})")
            if isinstance(spec, list) and (twice := listed_twice(spec)) is not None:
                raise FieldError(where, f"value {twice!r} is listed twice")
        if self.design == "grid" and self.samples is not None:
            raise FieldError("samples", "applies only to design: lhs or sobol (a grid runs every "
                             "combination of the listed values)")  # fmt: skip
        if self.design != "grid" and self.samples is None:
            raise FieldError("samples", f"required for design: {self.design} (how many points)")
        return self


@dataclass(frozen=True)
class Parameter:
    """One varied setting: a dotted scenario path and either grid values or a range."""

    path: str
    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @property
    def numeric(self) -> bool:
        if self.values is None:
            return True
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


@dataclass
class Experiment:
    """A validated experiment: the scenario data, the design points and the run settings."""

    spec: ExperimentSpec
    file: Path
    scenario_file: Path
    base: dict[str, Any]
    parameters: list[Parameter]
    points: list[dict[str, Any]]
    replications: int
    seed: int
    outputs: list[str]
    notes: list[str] = field(default_factory=list)
    sha256: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def design(self) -> str:
        return self.spec.design

    def scenario(self, point: int) -> Scenario:
        """The scenario of one design point (validated; cheap, ~1 ms)."""
        data = apply_overrides(self.base, self.points[point], file=str(self.file))
        return scenario_from_dict(
            data, file=str(self.scenario_file), base_dir=self.scenario_file.parent
        )


# --------------------------------------------------------------------------------------------
# pydantic errors → InputError


def _spec_errors(exc: ValidationError, data: Mapping[str, Any], file: str) -> InputErrors:
    """The loader's wording of validation errors, with one experiment-specific sentence."""

    def reword(err: Mapping[str, Any]) -> str | None:
        loc = err.get("loc", ())
        if len(loc) == 3 and loc[0] == "parameters" and err["type"] in ("list_type", "model_type"):
            return "must be a list of values (grid) or a range {low: …, high: …} (lhs, sobol)"
        return None

    return input_errors(exc.errors(include_url=False), data, file, ExperimentSpec, reword=reword)


# --------------------------------------------------------------------------------------------
# parameter paths against the scenario schema


def _parameter(path: str, spec: list[Any] | Range, leaf: Any, file: str) -> Parameter:
    where = f"parameters.{path}"
    if isinstance(spec, list):
        return Parameter(path, values=list(spec))
    if leaf is bool or (leaf is not None and leaf not in (int, float)):
        if get_origin(leaf) is Literal:
            kind = f"a choice ({', '.join(map(str, get_args(leaf)))})"
        else:
            kind = getattr(leaf, "__name__", None) or str(leaf).replace("typing.", "")
        raise InputError(
            f"a {{low, high}} range needs a numeric setting, and this one is {kind}; "
            "list its values in a grid design instead",
            file=file,
            path=where,
        )
    integer = leaf is int if spec.integer is None else spec.integer
    if leaf is int and not integer:
        raise InputError(
            "this setting takes whole numbers only; drop 'integer: false'", file=file, path=where
        )
    if integer and not (spec.low.is_integer() and spec.high.is_integer()):
        raise InputError(
            f"a whole-number range needs whole-number ends (got {spec.low:g} … {spec.high:g})",
            file=file,
            path=where,
        )
    return Parameter(path, low=spec.low, high=spec.high, integer=integer)


# --------------------------------------------------------------------------------------------
# designs


def _design_rng(seed: int) -> np.random.Generator:
    """The design's own generator: a spawn key no replication stream uses."""
    import numpy as np  # here, FOR SPEED (see design_points)

    from ooh_sim.core.rng import purpose_key

    ss = np.random.SeedSequence(entropy=seed, spawn_key=(purpose_key("sweep/design"),))
    return np.random.Generator(np.random.PCG64(ss))


def _scale(u: np.ndarray, p: Parameter) -> list[int | float]:
    """Unit-cube coordinates → setting values.

    Integers: [low, high] is cut into ``high - low + 1`` equal bins, one per whole number, so
    every value (the ends included) is equally likely and an LHS keeps its stratification.
    """
    assert p.low is not None and p.high is not None
    if p.integer:
        lo, hi = int(p.low), int(p.high)
        return [int(min(hi, lo + math.floor(x * (hi - lo + 1)))) for x in u]
    return [float(p.low + x * (p.high - p.low)) for x in u]


SALIB_MISSING = (
    "design: saltelli needs the optional dependency SALib; install it with "
    "pip install 'ooh-sim[sensitivity]'"
)


def import_salib_sobol() -> tuple[Any, Any]:
    """SALib's Saltelli sampler and Sobol analyser (an optional extra, imported only here)."""
    try:
        from SALib.analyze import sobol as analyze  # optional and slow to import: lazily
        from SALib.sample import sobol as sample
    except ImportError:
        raise InputError(SALIB_MISSING, path="design") from None
    return sample, analyze


def saltelli_unit_sample(d: int, n: int, seed: int) -> np.ndarray:
    """Saltelli's ``n × (d + 2)`` points in the unit cube (first-order and total indices)."""
    import numpy as np  # here, FOR SPEED (see design_points)

    sample, _ = import_salib_sobol()
    problem = {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}
    return np.asarray(sample.sample(problem, n, calc_second_order=False, scramble=True,
                                    seed=seed))  # fmt: skip


def design_points(
    params: list[Parameter], design: str, samples: int | None, seed: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The design points (overrides per point) and notes to show the user."""
    notes: list[str] = []
    if design == "grid":
        combos = itertools.product(*(p.values or [] for p in params))
        return [dict(zip([p.path for p in params], c, strict=True)) for c in combos], notes
    assert samples is not None
    # numpy and scipy only from here on, FOR SPEED: a grid (and `ooh-sim validate` of one) needs
    # neither (~0.1 s of imports, and most of a second with scipy)
    from scipy.stats import qmc

    d = len(params)
    if design == "lhs":
        u = qmc.LatinHypercube(d=d, rng=_design_rng(seed)).random(samples)
    else:
        m = _sobol_power(samples)
        if 2**m != samples:
            notes.append(
                f"{design}: samples {samples} rounded up to {2**m} (a power of 2 keeps the "
                "Sobol sequence balanced)"
            )
        if design == "saltelli":
            u = saltelli_unit_sample(d, 2**m, seed)
            notes.append(f"saltelli: {2**m} x ({d} + 2) = {u.shape[0]} points")
        else:
            u = qmc.Sobol(d=d, scramble=True, rng=_design_rng(seed)).random_base2(m)
    cols = [_scale(u[:, j], p) for j, p in enumerate(params)]
    return [{p.path: cols[j][i] for j, p in enumerate(params)} for i in range(u.shape[0])], notes


# --------------------------------------------------------------------------------------------
# loading


def _sobol_power(samples: int) -> int:
    """Sobol and Saltelli designs take 2**m base points, ``samples`` rounded up."""
    return max(1, math.ceil(math.log2(samples)))


def _design_size(params: list[Parameter], design: str, samples: int | None) -> int:
    """How many points :func:`design_points` will make, known before it makes any (so that the
    points limit is checked first): a grid's combinations, ``samples`` rounded up to a power of
    2 for Sobol, times (parameters + 2) for Saltelli."""
    if design == "grid":
        return math.prod(len(p.values or []) for p in params)
    if design == "lhs":
        return samples or 0
    base = 2 ** _sobol_power(samples or 2)
    return base * (len(params) + 2) if design == "saltelli" else base


def _point_text(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items())


PROGRESS_EVERY = 250
"""Design points checked between two calls of a ``progress`` callback (a point takes ~0.5 ms)."""


def _check_points(exp: Experiment, progress: Callable[[int, int], None] | None = None) -> None:
    """Every design point must make a valid scenario; each distinct problem is reported once,
    with the first point that has it and how many points share it. Linear in the points (a
    problem's count, not a list of points, is kept); ``progress(done, total)`` is told as it goes
    (every :data:`PROGRESS_EVERY` points and at the end)."""
    found: dict[tuple[str, str], list[Any]] = {}  # (path, problem) → [error, first point, count]
    file = str(exp.file)
    total = len(exp.points)
    for i, point in enumerate(exp.points):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i, total)
        try:
            exp.scenario(i)
        except InputErrors as exc:
            for e in exc.errors:
                varied = next(
                    (k for k in point if normalise_path(e.path) == normalise_path(k)), None
                )
                path = f"parameters.{varied}" if varied else e.path
                problem = e.problem.replace(" (value set by override)", "")
                key = (path, re.sub(r" \(got .*\)$", "", problem))
                if key in found:
                    found[key][2] += 1
                    continue
                where = "" if varied else f" at {e.path} of {exp.scenario_file}"
                text = f"design point {i} ({_point_text(point)}) makes an invalid scenario{where}"
                err = InputError(f"{text}: {problem}", file=file, path=path,
                                 suggestion=e.suggestion)  # fmt: skip
                found[key] = [err, i, 1]
        except InputError as e:
            key = ("", e.problem)
            if key not in found:
                found[key] = [InputError(f"design point {i}: {e.render()}", file=file), i, 0]
            found[key][2] += 1
    if progress is not None:
        progress(total, total)
    errors = []
    for err, _, count in found.values():
        if count > 1:
            err.problem += f" — {count} of {len(exp.points)} design points fail like this"
        errors.append(err)
    if errors:
        raise InputErrors(errors)


def _check_outputs(exp: Experiment, wanted: list[str] | None) -> list[str]:
    """Outputs must be KPI names the scenario produces (from its structure: nothing is run)."""
    known: list[str] = []
    targets = wanted or list(DEFAULT_OUTPUTS)
    for i in range(len(exp.points)):
        known += [k for k in kpis.names_for(exp.scenario(i)) if k not in known]
        if all(t in known for t in targets) or i >= 50:
            break
    if wanted is None:
        return [k for k in DEFAULT_OUTPUTS if k in known]
    for j, name in enumerate(wanted):
        if name not in known:
            raise InputError(
                f"no KPI named {name!r} in this scenario",
                file=str(exp.file),
                path=f"outputs[{j}]",
                suggestion=did_you_mean(name, known),
            )
    return list(dict.fromkeys(wanted))


def experiment_sha256(exp: Experiment) -> str:
    """What decides the simulated numbers: scenario data, design points, seed, replications.

    ``outputs`` and ``description`` are left out: they change only what is reported, so a
    resumed sweep may report other KPIs (the checkpoint keeps them all).
    """
    payload = {
        "format": 1,
        "ooh_sim": __version__,
        "name": exp.spec.name,
        "scenario": exp.base,
        "design": exp.spec.design,
        "parameters": [p.path for p in exp.parameters],
        "points": exp.points,
        "replications": exp.replications,
        "seed": exp.seed,
        "common_random_numbers": exp.spec.common_random_numbers,
    }
    return sha256_of(payload)


def load_experiment(
    path: str | Path, progress: Callable[[int, int], None] | None = None
) -> Experiment:
    """Read and check an experiment file and its scenario; fix the design points.

    Every design point is checked as a scenario (~0.5 ms each, so a minute for the largest
    design allowed): ``progress(done, total)`` is called while they are, for a progress bar."""
    file = Path(path)
    shown = str(path)
    data = read_yaml(file)
    check_kind(data, "experiment", shown)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_errors(exc, data, shown) from None
    scenario_file, base = scenario_base(file, spec.scenario, shown=shown, kind="experiment")
    params = [
        _parameter(k, v, check_path(base, k, shown, where=f"parameters.{k}"), shown)
        for k, v in spec.parameters.items()
    ]
    size = _design_size(params, spec.design, spec.samples)
    limits.POINTS.check(size, file=shown, path="parameters" if spec.design == "grid" else "samples")
    # the scenario itself must be valid before any point is (errors name the scenario file)
    scenario = scenario_from_dict(base, file=str(scenario_file), base_dir=scenario_file.parent)
    replications = spec.replications or scenario.replications
    seed = scenario.seed if spec.seed is None else spec.seed
    points, notes = design_points(params, spec.design, spec.samples, seed)
    exp = Experiment(spec, file, scenario_file, base, params, points, replications, seed, [], notes)
    _check_points(exp, progress)
    exp.outputs = _check_outputs(exp, spec.outputs)
    if not exp.outputs:
        raise InputError(
            "none of the default outputs exists for this scenario; list some under outputs:",
            file=shown,
            path="outputs",
        )
    exp.sha256 = experiment_sha256(exp)
    return exp


__all__ = [
    "DEFAULT_OUTPUTS",
    "Experiment",
    "ExperimentSpec",
    "Parameter",
    "Range",
    "design_points",
    "experiment_sha256",
    "load_experiment",
]
