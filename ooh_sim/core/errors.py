"""User-facing input errors: which file, which key, what is wrong, and what was probably meant.

Planners edit YAML by hand, so a bad input must be reported the way they think about it — a file
and a dotted key path, not a Python traceback. The CLI turns :class:`InputError` into exit code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

MAX_SHOWN = 20
"""How many problems :class:`InputErrors` renders before summarising the rest."""


class InputError(Exception):
    """Bad user input (a scenario, experiment or override), located as precisely as possible."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        path: str = "",
        suggestion: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.path = path
        self.problem = problem
        self.suggestion = suggestion
        super().__init__(problem)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would be lost by the default pickling (sweeps run in subprocesses).
        return (_rebuild, (type(self), self.problem, self.file, self.path, self.suggestion))

    def render(self, *, with_file: bool = True) -> str:
        """``file: path: problem — did you mean 'x'?`` with empty parts left out."""
        parts = [p for p in (self.file if with_file else None, self.path) if p]
        text = ": ".join([*parts, self.problem])
        if self.suggestion:
            text += f" — did you mean {self.suggestion!r}?"
        return text

    def __str__(self) -> str:
        return self.render()


def _rebuild(
    cls: type[InputError], problem: str, file: str | None, path: str, suggestion: str | None
) -> InputError:
    return cls(problem, file=file, path=path, suggestion=suggestion)


class InputErrors(InputError):
    """Several problems found at once (pydantic reports every bad key in one pass)."""

    def __init__(self, errors: Iterable[InputError]) -> None:
        self.errors = list(errors)
        if not self.errors:
            raise ValueError("InputErrors needs at least one error")
        first = self.errors[0]
        super().__init__(
            first.problem, file=first.file, path=first.path, suggestion=first.suggestion
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors,))

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return str(self.errors[0])
        lines = [str(e) for e in self.errors[:MAX_SHOWN]]
        hidden = len(self.errors) - MAX_SHOWN
        if hidden > 0:
            lines.append(f"… and {hidden} more problem{'s' if hidden > 1 else ''}")
        return "\n".join(lines)


def did_you_mean(word: object, candidates: Iterable[object], cutoff: float = 0.6) -> str | None:
    """The closest candidate to a mistyped ``word``, or None if nothing is plausibly meant."""
    if not isinstance(word, str) or not word:
        return None
    names = [c for c in dict.fromkeys(str(c) for c in candidates) if c != word]
    exact = [c for c in names if c.lower() == word.lower()]  # wrong case: always a good guess
    if exact:
        return exact[0]
    found = difflib.get_close_matches(word, names, n=1, cutoff=cutoff)
    return found[0] if found else None


class ScenarioWarning(UserWarning):
    """A legal but suspicious setting (``ooh_sim.core.checks``), raised with ``warnings.warn`` by
    the library: a notebook shows it, a test may turn it into an error, the CLI prints it."""


__all__ = ["MAX_SHOWN", "InputError", "InputErrors", "ScenarioWarning", "did_you_mean"]
