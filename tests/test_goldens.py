"""Refactoring changes no number a user sees: the goldens recorded before it, bit for bit.

``tests/goldens/goldens.json`` was recorded from the code before the layers refactor by
``python tests/goldens/record.py``: every KPI (mean, sd, n) of 16 scenarios — the shipped ones and
variants that switch on out-of-area placements, holding the worker, on-call triggers, a venue,
preemption, every dispatch rule and bank holidays — a hash of every replication's job records,
and the ``sweep.csv`` of a small sweep. Results that change on purpose are re-recorded and the
change is listed in the README ("Deliberate changes of results"); so far: six cost KPIs added
(every earlier value unchanged, checked before re-recording) and sweeps on common random numbers
(the pre-refactor per-point sweep is kept and still reproduced with
``common_random_numbers: false``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from goldens.golden_cases import CASES, GOLDEN_FILE
from goldens.record import record_case, record_sweep

GOLDEN = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_scenario_matches_golden(name: str) -> None:
    want = GOLDEN["cases"][name]
    got = json.loads(json.dumps(record_case(name)))  # same JSON round trip as the recording
    assert got["jobs"] == want["jobs"], "job records differ"
    assert list(got["kpis"]) == list(want["kpis"]), "KPI names or their order differ"
    diff = {k: (got["kpis"][k], v) for k, v in want["kpis"].items() if got["kpis"][k] != v}
    assert not diff, f"KPIs differ (got, golden): {diff}"


def test_sweep_matches_golden() -> None:
    assert record_sweep() == GOLDEN["sweep_csv"]


def test_sweep_without_common_random_numbers_matches_the_pre_refactor_golden() -> None:
    """Recorded before the layers refactor and never re-recorded: the per-point streams."""
    assert record_sweep(common_random_numbers=False) == GOLDEN["sweep_csv_per_point"]
