"""Record the goldens: ``python tests/goldens/record.py``.

Run only when results change on purpose; say why in the README ("Deliberate changes of results").
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as pytest does

from goldens.golden_cases import (
    CASES,
    GOLDEN_FILE,
    REPLICATIONS,
    ROOT,
    SCENARIOS,
    SEED,
    SHORT,
    job_hash,
)


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else x


def record_case(name: str) -> dict:
    import ooh_sim

    file, overrides = CASES[name]
    scenario = ooh_sim.load_scenario(SCENARIOS / file, overrides={**SHORT, **overrides})
    result = ooh_sim.run(scenario, replications=REPLICATIONS, seed=SEED, jobs=1)
    return {
        "kpis": {k: [_num(v.mean), _num(v.sd), v.n] for k, v in result.summary.items()},
        "jobs": [job_hash(r.jobs) for r in result.replications],
    }


def record_sweep(common_random_numbers: bool = True) -> str:
    """sweep.csv of a 4-point grid (2 replications a point), through the CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "exp.yaml"
        exp.write_text(
            "name: golden_sweep\n"
            f"scenario: {SCENARIOS / 'baseline.yaml'}\n"
            "replications: 2\nseed: 7\ndesign: grid\n"
            f"common_random_numbers: {str(common_random_numbers).lower()}\n"
            "parameters:\n  staff.edt.count: [1, 2]\n  placements.capacity: [1, 3]\n"
            "  horizon.days: [91]\n"
            "outputs: [station.hours.mean, station.hours.p90, cost.per_week]\n"
        )
        out = Path(tmp) / "out"
        subprocess.run(
            [sys.executable, "-m", "ooh_sim", "sweep", str(exp), "--out", str(out),
             "--jobs", "1", "--quiet", "--no-figures"],
            check=True, cwd=ROOT,
        )  # fmt: skip
        return (out / "sweep.csv").read_text(encoding="utf-8")


def main() -> None:
    old = json.loads(GOLDEN_FILE.read_text(encoding="utf-8")) if GOLDEN_FILE.exists() else {}
    golden = {
        "replications": REPLICATIONS,
        "seed": SEED,
        "cases": {name: record_case(name) for name in CASES},
        "sweep_csv": record_sweep(),
        # recorded before sweeps shared random numbers across points; kept, never re-recorded:
        # `common_random_numbers: false` must still give exactly the old per-point streams
        "sweep_csv_per_point": old.get("sweep_csv_per_point") or record_sweep(False),
    }
    GOLDEN_FILE.write_text(json.dumps(golden, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN_FILE} ({len(CASES)} scenarios + a sweep)")


if __name__ == "__main__":
    main()
