"""Duration draws: each family's numpy draw is what scipy's frozen law draws (issue 15).

The model samples with numpy directly, FOR SPEED (a worker never imports scipy.stats), while the
laws' means, quantiles and moments stay scipy's. That is only right if every draw is bit for bit
what ``law().rvs`` gives from the same generator, and uses exactly as many random numbers (the
stream's later draws, and so every result, depend on it). Seeds are fixed: nothing here is random.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from ooh_sim.core.distributions import Distribution

_DIST = TypeAdapter(Distribution)

SPECS = [
    {"dist": "exponential", "mean": 0.7},
    {"dist": "lognormal", "mean": 1.0, "sd": 0.5},
    {"dist": "lognormal", "mean": 6.0, "sd": 2.0},
    {"dist": "lognormal", "mean": 0.01, "sd": 9.0},
    {"dist": "lognormal", "mean": 2.0, "sd": 0.0},  # a point mass
    {"dist": "gamma", "mean": 3.8, "cv": 0.3},
    {"dist": "gamma", "mean": 2.5, "cv": 2.0},  # shape below 1: numpy's other branch
    {"dist": "triangular", "min": 0.25, "mode": 0.25, "max": 0.5},  # mode at the low end
    {"dist": "triangular", "min": 1.0, "mode": 1.7, "max": 3.0},
    {"dist": "triangular", "min": 0.0, "mode": 2.0, "max": 2.0},  # mode at the high end
    {"dist": "uniform", "min": 0.5, "max": 2.5},
    {"dist": "uniform", "min": 1.5, "max": 1.5},  # a point mass
    {"dist": "lognormal", "mean": 1.0, "sd": 1e-3},  # the spread limits
    {"dist": "lognormal", "mean": 1.0, "sd": 1e3},
    {"dist": "gamma", "mean": 1.0, "cv": 1e-3},
    {"dist": "gamma", "mean": 1.0, "cv": 1e3},  # shape 1e-6
    {"dist": "lognormal", "mean": 5e-324, "sd": 4.94e-321},  # scales that underflow to 0:
    {"dist": "gamma", "mean": 5e-324, "cv": 0.001},  # scipy draws nothing
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_draws_are_scipys_bit_for_bit(spec, n):
    d = _DIST.validate_python(spec)
    ours, theirs = np.random.default_rng(11), np.random.default_rng(11)
    got = d.sample(ours, n)
    want = np.asarray(d.law().rvs(size=n, random_state=theirs), dtype=float)
    assert got.dtype == np.float64 and got.shape == (n,)
    assert got.tobytes() == want.tobytes()
    # as many random numbers used: the next draw from each generator is the same
    assert ours.random() == theirs.random()


def _moments_checkable(spec: dict) -> bool:
    """Not the scales that underflow (a mean of 5e-324 h), nor spreads so wide (sd / mean or cv
    of 1,000) that 200,000 draws cannot pin their mean and sd down."""
    mean = spec.get("mean", 1.0)
    return mean > 1e-300 and spec.get("sd", 0) / mean <= 10 and spec.get("cv", 0) <= 10


MOMENT_CHECKED = [s for s in SPECS if _moments_checkable(s)]


@pytest.mark.parametrize("spec", MOMENT_CHECKED, ids=lambda s: "-".join(map(str, s.values())))
def test_draws_have_the_spec_mean_and_spread(spec):
    # a check beside the test above, which compares with scipy's own draws and so cannot see a
    # parameter mistake the draw and the scipy law share: 200,000 draws average to the mean the
    # planner wrote within 4 standard errors, and their sd is the planner's sd (lognormal) or
    # cv × mean (gamma) within 3 %
    d = _DIST.validate_python(spec)
    x = d.sample(np.random.default_rng(5), 200_000)
    sd = np.sqrt(d.second_moment - d.mean**2)
    assert abs(x.mean() - d.mean) <= max(4 * sd / np.sqrt(len(x)), 1e-12), spec
    if spec["dist"] in ("lognormal", "gamma"):
        want = spec["sd"] if spec["dist"] == "lognormal" else spec["cv"] * spec["mean"]
        assert sd == pytest.approx(want, rel=1e-9)  # the law's own, from scipy
        assert x.std() == pytest.approx(want, rel=0.03, abs=1e-12), spec


def test_a_spread_too_small_for_its_mean_is_refused():
    # sd / mean rounds to 0: once a scipy traceback, then silently a constant; now refused
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="sd / mean must be between"):
        _DIST.validate_python({"dist": "lognormal", "mean": 3.0, "sd": 5e-324})


def test_a_replication_of_every_shipped_scenario_imports_no_scipy_stats():
    """What the draws above are for: a worker runs any shipped scenario's replication without
    scipy.stats (most of a second to import, before the first replication could start), and a
    run's summary does not need it either (its t quantile comes from scipy.special). A fresh
    process, so nothing is loaded."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    code = (
        "import sys, glob\n"
        "from ooh_sim.core.loader import load_scenario\n"
        "from ooh_sim.core.runner import run_replication\n"
        "from ooh_sim.core.stats import t_interval\n"
        "files = sorted(glob.glob(sys.argv[1] + '/scenarios/*.yaml'))\n"
        "for f in files:\n"
        "    run_replication(load_scenario(f), 1, 0)\n"
        "t_interval([1.0, 2.0, 4.0])\n"
        # every family of the test above too, whether or not a shipped scenario uses it
        "import numpy as np, pydantic\n"
        "from ooh_sim.core.distributions import Distribution\n"
        "for spec in eval(sys.argv[2]):\n"
        "    pydantic.TypeAdapter(Distribution).validate_python(spec).sample(\n"
        "        np.random.default_rng(1), 10)\n"
        "print(len(files), 'scipy.stats' in sys.modules)\n"
    )
    got = subprocess.run([sys.executable, "-c", code, str(repo), repr(SPECS)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    count, imported = got.stdout.split()
    assert int(count) >= 19 and imported == "False", got.stdout + got.stderr
