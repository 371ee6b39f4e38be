"""KPIs of one replication (DESIGN §5), computed vectorised from the finished model's records.

Only jobs that arrive after the warm-up count; per-week figures divide by the measured weeks.
Times still open at the horizon are censored: such a job counts in volumes but not in means of
times it never finished (documented in the README).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ooh_sim.core.clock import clip_intervals, total_length
from ooh_sim.core.model import DAY_TEAM, EDT_PLACED, OUT_OF_AREA, UNLIMITED, Model

NAN = float("nan")


@dataclass
class JobTable:
    """One row per job (all arrivals, warm-up included, flagged), as numpy columns."""

    stream: np.ndarray
    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    station_end: np.ndarray
    handover: np.ndarray
    worker: np.ndarray
    outcome: np.ndarray
    none_free: np.ndarray


def job_table(m: Model) -> JobTable:
    return JobTable(
        stream=m.stream,
        arrival=m.arrival,
        start=np.asarray(m.start),
        end=np.asarray(m.end),
        station_end=np.asarray(m.station_end),
        handover=np.asarray(m.handover),
        worker=np.asarray(m.worker_of),
        outcome=np.asarray(m.outcome),
        none_free=np.asarray(m.none_free),
    )


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else NAN


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else NAN


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else NAN


def queued_until(t: JobTable, horizon: float) -> np.ndarray:
    """When each job stopped waiting: first start, else handover, else the horizon."""
    return np.where(
        np.isnan(t.start), np.fmin(np.nan_to_num(t.handover, nan=horizon), horizon), t.start
    )


def busy_intervals(m: Model) -> np.ndarray:
    """(k, 4) array of worker, from, to, job."""
    return np.asarray(m.rec.busy, dtype=float).reshape(-1, 4)


def compute_kpis(m: Model, jobs: JobTable | None = None) -> dict[str, float]:
    sc, H = m.sc, m.cal.hours
    w0 = sc.horizon.warmup_hours
    weeks = (H - w0) / 168.0
    t = jobs or job_table(m)
    meas = t.arrival >= w0
    k: dict[str, float] = {}

    # --- children in police stations
    is_pp = np.isin(t.stream, [m.stream_names.index(s) for s in sc.police_streams])
    kids = meas & is_pp
    left = kids & ~np.isnan(t.station_end)
    hours = (t.station_end - t.arrival)[left]
    officers = np.array([s.officer_count for s in sc.streams.values()], dtype=float)
    if sc.police_streams:
        k["station.hours.mean"] = _mean(hours)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95)):
            k[f"station.hours.{name}"] = _q(hours, q)
        k["station.hours.max"] = float(hours.max()) if len(hours) else NAN
        for h in sc.report.thresholds_hours:
            k[f"station.share_over_{h:g}h"] = _share(hours > h)
        k["station.children_per_week"] = kids.sum() / weeks
        k["station.child_hours_per_week"] = float(hours.sum() / weeks)
        # officers leave after officer_release_hours (handover to a supervised venue), if set
        release = np.array(
            [np.inf if s.officer_release_hours is None else s.officer_release_hours
             for s in sc.streams.values()]
        )  # fmt: skip
        k["station.officer_hours_per_week"] = float(
            (np.minimum(hours, release[t.stream[left]]) * officers[t.stream[left]]).sum() / weeks
        )
        day0 = np.floor(t.arrival[left] / 24.0)
        k["station.past_midnight_per_week"] = float(
            (np.floor(t.station_end[left] / 24.0) > day0).sum() / weeks
        )
        k["station.still_waiting_at_end"] = float((kids & np.isnan(t.station_end)).sum())
        k["station.day_team_share"] = _share(t.outcome[left] == DAY_TEAM)
        asked = kids & ~np.isnan(np.asarray(m.bed_asked, dtype=float))  # placement requested
        k["placements.none_free_share"] = _share(t.none_free[asked])
        k["placements.out_of_area_per_week"] = (
            float((kids & (t.outcome == OUT_OF_AREA)).sum()) / weeks
        )
        # nights of the placements the EDT secured (pool, unlimited or out of area)
        placed = left & np.isin(t.outcome, (EDT_PLACED, UNLIMITED, OUT_OF_AREA))
        k["placements.nights_per_week"] = float(m.stay[placed].sum()) / 24.0 / weeks

    # --- streams
    # not started within the deadline: started late, or handed over / still waiting past it
    waited = queued_until(t, H) - t.arrival
    for si, (name, st) in enumerate(sc.streams.items()):
        mine = meas & (t.stream == si)
        p = f"streams.{name}"
        k[f"{p}.per_week"] = mine.sum() / weeks
        started = mine & ~np.isnan(t.start)
        resp = (t.start - t.arrival)[started]
        k[f"{p}.response_hours.mean"] = _mean(resp)
        k[f"{p}.response_hours.p90"] = _q(resp, 0.9)
        done = mine & ~np.isnan(t.end)
        k[f"{p}.completion_hours.mean"] = _mean((t.end - t.arrival)[done])
        if st.deadline_hours is not None:
            k[f"{p}.deadline_breach_share"] = _share(waited[mine] > st.deadline_hours)
        k[f"{p}.handed_over_share"] = _share(~np.isnan(t.handover[mine]))
        if st.limit_hours is not None:
            # children still in the station at the horizon count once they pass the limit
            stay = np.fmin(np.nan_to_num(t.station_end, nan=H), H) - t.arrival
            own = mine & ((stay >= st.limit_hours) | ~np.isnan(t.station_end))
            k[f"{p}.limit_reached_share"] = _share(stay[own] >= st.limit_hours)
    k["handover.jobs_per_week"] = float((meas & ~np.isnan(t.handover)).sum()) / weeks

    # --- staff
    busy = busy_intervals(m)
    worker_group = np.array([w.group for w in m.workers])
    overtime = np.asarray(m.rec.overtime, dtype=float).reshape(-1, 3)
    overtime = overtime[overtime[:, 2] >= w0]  # shifts that end after the warm-up
    callouts = np.asarray(m.rec.callouts, dtype=float).reshape(-1, 3)
    callouts[np.isnan(callouts[:, 2]), 2] = H  # still called out at the horizon
    # paid hours a week: rostered shifts, callouts (call → stand-down), and rostered overtime
    # (on-call overtime is already inside the callout interval)
    shift_hours = callout_h = overtime_h = n_calls = 0.0
    for gi, (g, grp) in enumerate(sc.staff.items()):
        ws = np.flatnonzero(worker_group == gi)
        busy_h = total_length(busy[np.isin(busy[:, 0], ws), 1:3], w0, H)
        if grp.on_call:
            c = callouts[np.isin(callouts[:, 0], ws)]
            avail = total_length(c[:, 1:3], w0, H)
            k[f"staff.{g}.callouts_per_week"] = float((c[:, 1] >= w0).sum()) / weeks
            k[f"staff.{g}.callout_hours_per_week"] = avail / weeks
            n_calls += k[f"staff.{g}.callouts_per_week"]
            callout_h += k[f"staff.{g}.callout_hours_per_week"]
        else:
            avail = total_length(m.rosters[ws[0]], w0, H) * len(ws) if len(ws) else 0.0
            shift_hours += avail
        ot = overtime[np.isin(overtime[:, 0], ws), 1]
        k[f"staff.{g}.utilisation"] = busy_h / avail if avail > 0 else NAN
        k[f"staff.{g}.overtime_hours_per_week"] = float(ot.sum()) / weeks
        if not grp.on_call:
            overtime_h += k[f"staff.{g}.overtime_hours_per_week"]

    # --- costs
    if sc.costs is not None:
        c = sc.costs
        k["cost.per_week"] = (
            c.worker_hour * (shift_hours / weeks + callout_h + overtime_h)
            + c.callout * n_calls
            + c.officer_hour * k.get("station.officer_hours_per_week", 0.0)
            + c.placement_night * k.get("placements.nights_per_week", 0.0)
        )
    return k


def hour_of_week_profile(m: Model, intervals: np.ndarray, lo: float) -> np.ndarray:
    """Mean number of open intervals in each of the 168 hours of the week (from ``lo`` on)."""
    H = m.cal.hours
    iv = clip_intervals(intervals, lo, H)
    edges = np.arange(np.floor(lo), np.ceil(H) + 1.0)
    # occupied time in each hour bin: difference of cumulative coverage at the bin edges
    starts, ends = np.sort(iv[:, 0]), np.sort(iv[:, 1])

    def covered(x: np.ndarray) -> np.ndarray:
        # ∫_{-inf}^{x} (#open) dt = Σ max(0, min(x, e) - s)
        cs, ce = np.cumsum(starts), np.cumsum(ends)
        i_s = np.searchsorted(starts, x, side="right")
        i_e = np.searchsorted(ends, x, side="right")
        began = x * i_s - np.where(i_s > 0, cs[np.maximum(i_s - 1, 0)], 0.0)
        ended = x * i_e - np.where(i_e > 0, ce[np.maximum(i_e - 1, 0)], 0.0)
        return began - ended

    per_hour = np.diff(covered(edges)) if len(iv) else np.zeros(len(edges) - 1)
    how = m.cal.hour_of_week(edges[:-1])
    total = np.bincount(how, weights=per_hour, minlength=168)
    count = np.bincount(how, minlength=168)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def profiles(m: Model, jobs: JobTable | None = None) -> dict[str, np.ndarray]:
    """Hour-of-week curves for figures: jobs queued, workers busy, children in stations."""
    t = jobs or job_table(m)
    H, w0 = m.cal.hours, m.sc.horizon.warmup_hours
    queue = np.column_stack([t.arrival, queued_until(t, H)])
    busy = busy_intervals(m)[:, 1:3]
    kid = np.isin(t.stream, [m.stream_names.index(s) for s in m.sc.police_streams])
    station = np.column_stack(
        [t.arrival[kid], np.fmin(np.nan_to_num(t.station_end[kid], nan=H), H)]
    )
    return {
        "queue": hour_of_week_profile(m, queue, w0),
        "busy": hour_of_week_profile(m, busy, w0),
        "station": hour_of_week_profile(m, station, w0),
    }
