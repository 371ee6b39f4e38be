"""The golden cases: shipped scenarios and variants that switch on every option.

Recorded once from the code before the layers refactor (``python tests/goldens/record.py``);
``tests/test_goldens.py`` asserts that today's code gives the same numbers bit for bit. A
deliberate change of results re-records them and says why in the README.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
GOLDEN_FILE = Path(__file__).with_name("goldens.json")
REPLICATIONS = 3
SEED = 20240601
SHORT = {"horizon.days": 91, "horizon.warmup_days": 14}

# name → (scenario file, overrides)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline.yaml", {}),
    "combined": ("combined.yaml", {}),
    "more_placements": ("more_placements.yaml", {}),
    "on_call_manager": ("on_call_manager.yaml", {}),
    "second_worker_fri_sat": ("second_worker_fri_sat.yaml", {}),
    "separate_amhp": ("separate_amhp.yaml", {}),
    "supervised_venue": ("supervised_venue.yaml", {}),
    "out_of_area": ("baseline.yaml", {"placements.when_none_free": "out_of_area"}),
    "hold_worker": ("baseline.yaml", {"placements.hold_worker": True}),
    "preemption": ("baseline.yaml", {"policy.preemption": True}),
    "on_call_queue_trigger": (
        "on_call_manager.yaml",
        {"staff.manager.callout.queue_length": 3, "placements.hold_worker": True},
    ),
    "sweep_like_three_workers": ("baseline.yaml", {"staff.edt.count": 3}),
    "deadline_dispatch": ("baseline.yaml", {"policy.dispatch": "deadline"}),
    "fifo_no_bank_holidays": (
        "baseline.yaml", {"policy.dispatch": "fifo", "calendar.bank_holidays": "none"}
    ),
    "no_beds_other_demand": ("baseline.yaml", {"placements.capacity": 0}),
    "unlimited_beds": ("baseline.yaml", {"placements.capacity": None}),
}


def job_hash(jobs: Any) -> str:
    """SHA-256 of a replication's job records as float64 columns (format-independent)."""
    h = hashlib.sha256()
    for name in ("stream", "arrival", "start", "end", "station_end", "handover", "worker",
                 "outcome", "none_free"):
        h.update(name.encode())
        h.update(np.ascontiguousarray(np.asarray(getattr(jobs, name), dtype=float)).tobytes())
    return h.hexdigest()
