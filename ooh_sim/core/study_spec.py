"""What sweep files (:mod:`.experiment`) and optimise files (:mod:`.optimise_spec`) share.

Both name a scenario by a path relative to themselves, name settings of it by dotted key paths,
list values that must differ, and fingerprint what decides their numbers (for checkpoints).
Each rule is written here once, so the two kinds of file say the same thing in the same words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ooh_sim.core.errors import InputError, did_you_mean
from ooh_sim.core.loader import (
    apply_overrides,
    check_kind,
    normalise_path,
    read_with_extends,
    setting_type,
)


class Strict(BaseModel):
    """A block of a study file: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def scenario_base(file: Path, scenario: str, *, shown: str, kind: str) -> tuple[Path, dict]:
    """The scenario file a study names (relative to the study ``file``) and its data with every
    ``extends`` merged; a missing file is an InputError with "did you mean" (``kind`` names
    the study file in the message: "experiment", "optimise")."""
    scenario_file = file.parent / scenario
    if not scenario_file.is_file():
        try:
            names = [c.name for c in scenario_file.parent.iterdir()]
        except OSError:
            names = []
        raise InputError(
            f"scenario file {scenario!r} not found (looked in {scenario_file.parent}; "
            f"the path is relative to the {kind} file)",
            file=shown,
            path="scenario",
            suggestion=did_you_mean(scenario_file.name, names),
        )
    base = read_with_extends(scenario_file)
    check_kind(base, "scenario", scenario_file)  # a study named here: one line, not its keys
    base.pop("extends", None)
    return scenario_file, base


def check_path(base: Mapping[str, Any], dotted: str, file: str, *, where: str) -> Any:
    """Check that ``dotted`` names a scenario setting; return the setting's schema type.

    The check is ``loader.apply_overrides`` itself (the same rule a run's overrides obey); on a
    typo the suggestion is rewritten to the whole corrected path. Errors name key ``where``.
    """
    try:
        apply_overrides(base, {dotted: None}, file=file)
    except InputError as e:
        parts = normalise_path(dotted).split(".")
        suggestion = e.suggestion
        if suggestion:
            for i in range(1, len(parts) + 1):  # the first prefix that fails holds the typo
                try:
                    apply_overrides(base, {".".join(parts[:i]): None})
                except InputError:
                    suggestion = ".".join([*parts[: i - 1], suggestion, *parts[i:]])
                    break
        problem = e.problem.replace("override names no setting", "names no scenario setting")
        raise InputError(problem, file=file, path=where, suggestion=suggestion) from None
    return setting_type(base, dotted)


def listed_twice(values: Sequence[Any]) -> Any | None:
    """The first value listed a second time (compared as JSON), or None when all differ."""
    seen: set[str] = set()
    for v in values:
        text = json.dumps(v, sort_keys=True, default=str)
        if text in seen:
            return v
        seen.add(text)
    return None


def sha256_of(payload: Mapping[str, Any]) -> str:
    """The fingerprint of what decides a study's numbers (stable: sorted keys, no NaN)."""
    text = json.dumps(payload, sort_keys=True, default=str, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


__all__ = ["Strict", "check_path", "listed_twice", "scenario_base", "sha256_of"]
