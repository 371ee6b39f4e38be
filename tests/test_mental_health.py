"""Mental Health Act assessments that wait for s12 doctors and beds, the s136 clock and police time
(issue 19). Checks are per job against the model's own trace (busy intervals), so one mis-booked
wait fails them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ooh_sim.core.kpis import names_for
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.metrics import compute_kpis, job_table
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SEED = 1912


def spec(mha: dict[str, Any] | None, *, cover: str = "out_of_hours", days: int = 112) -> dict:
    amhp: dict[str, Any] = {
        "skill": "amhp",
        "priority": 1,
        "arrivals": {"per_week": 6.0},
        "duration": {"dist": "lognormal", "mean": 3.0, "sd": 1.0},
    }
    if mha is not None:
        amhp["mha"] = mha
    return {
        "name": "mha",
        "horizon": {"start": "2023-01-02", "days": days, "warmup_days": 7},
        "calendar": {"cover": cover},
        "staff": {"edt": {"count": 1, "skills": ["amhp", "adults"]}},
        "streams": {
            "amhp": amhp,
            "calls": {"skill": "adults", "priority": 2, "arrivals": {"per_week": 30},
                      "duration": {"dist": "exponential", "mean": 0.4}},
        },
    }


WAITS = {
    "doctor_wait": {"dist": "lognormal", "mean": 2.0, "sd": 1.5},
    "admission_share": 0.5,
    "bed_wait": {"dist": "lognormal", "mean": 8.0, "sd": 6.0},
    "bed_found_share": 0.9,
    "conveyance": {"dist": "fixed", "value": 0.5},
    "s136_share": 0.4,
    "station_share": 0.5,
    "officers": 2,
}


def run(data: dict, replication: int = 0) -> Model:
    return Model(Scenario.model_validate(data), RandomStreams(SEED, replication)).run()


def busy_by_job(m: Model) -> np.ndarray:
    busy = np.asarray(m.records.busy, dtype=float).reshape(-1, 4)
    return np.bincount(busy[:, 3].astype(int), weights=busy[:, 2] - busy[:, 1], minlength=m.n_jobs)


@pytest.mark.parametrize("hold", [True, False])
@pytest.mark.parametrize("cover", ["out_of_hours", "always"])
def test_zero_waits_change_nothing_bit_for_bit(hold: bool, cover: str) -> None:
    """An mha block with no waits (but admissions, s136 …) runs the jobs exactly as without."""
    zero = {"admission_share": 0.5, "bed_found_share": 1.0, "s136_share": 0.3, "hold_amhp": hold}
    for rep in range(3):
        a, b = run(spec(None, cover=cover), rep), run(spec(zero, cover=cover), rep)
        ja, jb = job_table(a), job_table(b)
        for col in ("arrival", "start", "end", "handover", "worker"):
            assert np.array_equal(getattr(ja, col), getattr(jb, col), equal_nan=True), col
        assert a.records.busy == b.records.busy
        ka, kb = compute_kpis(a), compute_kpis(b)
        assert {k: ka[k] for k in ka} == {k: kb[k] for k in ka}
        assert kb["amhp.doctor_wait_hours.mean"] == 0.0
        assert kb["amhp.not_completed_share"] == 0.0


def test_the_shipped_baseline_with_an_empty_mha_block_is_unchanged() -> None:
    base = load_scenario(ROOT / "scenarios" / "baseline.yaml").model_dump(by_alias=True)
    base["horizon"] = {"start": "2023-01-02", "days": 56, "warmup_days": 7}
    with_mha = {**base, "streams": {**base["streams"],
                                    "amhp": {**base["streams"]["amhp"], "mha": {}}}}  # fmt: skip
    a, b = run(base), run(with_mha)
    assert a.records.busy == b.records.busy
    ja, jb = job_table(a), job_table(b)
    for col in ("start", "end", "station_end", "handover"):
        assert np.array_equal(getattr(ja, col), getattr(jb, col), equal_nan=True), col


def test_held_amhp_is_busy_for_exactly_the_simulated_waits() -> None:
    """Trace check: each finished assessment's busy time is its duration plus the waits drawn
    for it (doctors; a bed for the admitted; conveyance when a bed is found), to rounding; and
    the whole run's AMHP busy time grows over the no-wait run by the sum of those waits."""
    m = run(spec({**WAITS, "hold_amhp": True}, cover="always"))
    is_mha = np.asarray(m.is_mha)
    done = is_mha & ~np.isnan(np.asarray(m.end))
    assert done.sum() > 60
    waits = m.doctor_wait + m.admitted * (m.bed_wait + m.bed_found * m.conveyance)
    np.testing.assert_allclose(busy_by_job(m)[done], (m.duration + waits)[done], rtol=0,
                               atol=1e-9)  # fmt: skip
    # elapsed time = busy time for a held case (never released while waiting)
    elapsed = (np.asarray(m.end) - np.asarray(m.start))[done]
    np.testing.assert_allclose(elapsed, (m.duration + waits)[done], atol=1e-9)
    # totals: with every case finished in both runs, busy time differs by exactly the waits
    plain = run(spec(None, cover="always"))
    finished = np.flatnonzero(is_mha & ~np.isnan(np.asarray(plain.end)) & done)
    extra = busy_by_job(m)[finished].sum() - busy_by_job(plain)[finished].sum()
    assert extra == pytest.approx(waits[finished].sum(), rel=1e-12)
    assert np.asarray(m.not_completed)[done].sum() == (m.admitted & ~m.bed_found)[done].sum()


def test_released_amhp_works_only_the_assessment_and_conveyance() -> None:
    m = run(spec({**WAITS, "hold_amhp": False}, cover="always"))
    is_mha = np.asarray(m.is_mha)
    done = is_mha & ~np.isnan(np.asarray(m.end))
    work = m.duration + m.admitted * m.bed_found * m.conveyance
    np.testing.assert_allclose(busy_by_job(m)[done], work[done], atol=1e-9)
    waits = m.doctor_wait + m.admitted * m.bed_wait
    elapsed = (np.asarray(m.end) - np.asarray(m.start))[done]
    assert np.all(elapsed >= (work + waits)[done] - 1e-9)  # the waits pass, plus any queueing
    # the other work is served sooner when the AMHP is released
    held = run(spec({**WAITS, "hold_amhp": True}, cover="always"))
    kr, kh = compute_kpis(m), compute_kpis(held)
    assert kr["streams.calls.response_hours.mean"] < kh["streams.calls.response_hours.mean"]


def test_kpis_follow_the_records() -> None:
    m = run(spec(WAITS, cover="always", days=364))
    k = compute_kpis(m)
    assert list(k) == names_for(m.scenario)
    warm = m.arrival >= 7 * 24
    mha = np.asarray(m.is_mha) & warm
    admitted = mha & m.admitted & ~np.isnan(np.asarray(m.bed_done))
    assert k["amhp.bed_wait_hours.mean"] == pytest.approx(m.bed_wait[admitted].mean())
    ended = mha & ~np.isnan(np.asarray(m.end))
    share = (m.admitted & ~m.bed_found)[ended].mean()
    assert k["amhp.not_completed_share"] == pytest.approx(share)
    # about admission_share × (1 − bed_found_share) = 5%, within binomial noise
    n = ended.sum()
    assert abs(share - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    # s136 clock: arrival → end for each closed detention; police time = 2 officers × hours
    s136 = mha & m.s136 & ~np.isnan(np.asarray(m.end))
    hours = (np.asarray(m.end) - m.arrival)[s136]
    weeks = (364 - 7) / 7
    assert k["police.mha_officer_hours_per_week"] == pytest.approx(2 * hours.sum() / weeks)
    station = s136 & m.in_station
    assert k["station.s136.hours.mean"] == pytest.approx(
        (np.asarray(m.end) - m.arrival)[station].mean()
    )
    assert k["amhp.s136_over_limit_share"] == pytest.approx((hours > 36).mean())


def test_s136_over_limit_share_sees_long_bed_waits() -> None:
    """Bed waits of 40 h for every admitted s136 detainee put every one of them past 36 h."""
    long = {**WAITS, "admission_share": 1.0, "bed_found_share": 1.0, "s136_share": 1.0,
            "bed_wait": {"dist": "fixed", "value": 40.0}, "hold_amhp": False}  # fmt: skip
    k = compute_kpis(run(spec(long, cover="always")))
    assert k["amhp.s136_over_limit_share"] == 1.0
    short = {**long, "bed_wait": {"dist": "fixed", "value": 1.0},
             "doctor_wait": {"dist": "fixed", "value": 1.0}}  # fmt: skip
    assert compute_kpis(run(spec(short, cover="always")))["amhp.s136_over_limit_share"] < 0.05


def test_mha_block_only_on_referrals() -> None:
    data = spec(WAITS)
    data["streams"]["amhp"]["kind"] = "police_protection"
    data["staff"]["edt"]["skills"].append("children")
    with pytest.raises(ValueError, match="'mha' applies only to kind: referral"):
        Scenario.model_validate(data)
