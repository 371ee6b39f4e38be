"""KPIs of one replication (docs/kpis.md), computed vectorised from the finished model's records.

Only jobs that arrive after the warm-up count; per-week figures divide by the measured weeks.
Times still open at the horizon are censored: such a job counts in volumes but not in means of
times it never finished (documented in the README).
"""

from __future__ import annotations

import numpy as np

from ooh_sim.core.calendar import clip_rows, roster_intervals
from ooh_sim.core.episode import HELD
from ooh_sim.core.kpis import hours_text
from ooh_sim.core.model import DAY_TEAM, EDT_PLACED, OUT_OF_AREA, UNLIMITED, Model
from ooh_sim.core.records import JobTable, job_table  # declared there; re-exported here
from ooh_sim.core.staffing import rest_breaches

NAN = float("nan")


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else NAN


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else NAN


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else NAN


def total_length(iv: np.ndarray, lo: float = -np.inf, hi: float = np.inf) -> float:
    """Hours covered by disjoint intervals within [lo, hi]."""
    c = clip_rows(iv, lo, hi)
    return float((c[:, 1] - c[:, 0]).sum())


def queued_until(jobs: JobTable, horizon: float) -> np.ndarray:
    """When each job stopped waiting: first start, else handover, else the horizon."""
    return np.where(
        np.isnan(jobs.start),
        np.fmin(np.nan_to_num(jobs.handover, nan=horizon), horizon),
        jobs.start,
    )


def busy_intervals(model: Model) -> np.ndarray:
    """(count, 4) array of worker, from, to, job (read-only: shared by its readers)."""
    return model.records.busy_array()


def compute_kpis(model: Model, jobs: JobTable | None = None) -> dict[str, float]:
    scenario, horizon = model.scenario, model.calendar.hours
    warmup = scenario.horizon.warmup_hours
    weeks = (horizon - warmup) / 168.0
    jobs = jobs or job_table(model)
    measured = jobs.arrival >= warmup
    kpis: dict[str, float] = {}

    # --- children in police stations
    police = [model.stream_names.index(s) for s in scenario.police_streams]
    is_child = np.isin(jobs.stream, police)
    children = measured & is_child
    left_station = children & ~np.isnan(jobs.station_end)
    hours = (jobs.station_end - jobs.arrival)[left_station]
    officers = np.array([s.officer_count for s in scenario.streams.values()], dtype=float)
    # each child of a sibling group counts (pathways; one child per arrival otherwise)
    child_hours = np.repeat(hours, _group(model)[left_station]) if model.pathways else hours
    if scenario.police_streams:
        kpis["station.hours.mean"] = _mean(child_hours)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95)):
            kpis[f"station.hours.{name}"] = _q(child_hours, q)
        kpis["station.hours.max"] = float(hours.max()) if len(hours) else NAN
        for h in scenario.report.thresholds_hours:
            kpis[f"station.share_over_{hours_text(h)}h"] = _share(child_hours > h)
        kpis["station.children_per_week"] = (
            _group(model)[children].sum() if model.pathways else children.sum()
        ) / weeks
        kpis["station.child_hours_per_week"] = float(child_hours.sum() / weeks)
        # officers leave after officer_release_hours (handover to a supervised venue), if set
        release = np.array(
            [np.inf if s.officer_release_hours is None else s.officer_release_hours
             for s in scenario.streams.values()]
        )  # fmt: skip
        their_stream = jobs.stream[left_station]
        kpis["station.officer_hours_per_week"] = float(
            (np.minimum(hours, release[their_stream]) * officers[their_stream]).sum() / weeks
        )
        day0 = np.floor(jobs.arrival[left_station] / 24.0)
        past_midnight = np.floor(jobs.station_end[left_station] / 24.0) > day0
        day_team = jobs.outcome[left_station] == DAY_TEAM
        if model.pathways:  # children counts count every sibling; officer hours stay per group
            past_midnight = np.repeat(past_midnight, _group(model)[left_station])
            day_team = np.repeat(day_team, _group(model)[left_station])
        kpis["station.past_midnight_per_week"] = float(past_midnight.sum() / weeks)
        still = children & np.isnan(jobs.station_end)
        kpis["station.still_waiting_at_end"] = float(
            _group(model)[still].sum() if model.pathways else still.sum()
        )
        kpis["station.day_team_share"] = _share(day_team)
        requested = np.asarray(model.placement_requested_at, dtype=float)
        asked = children & ~np.isnan(requested)  # a placement was requested
        kpis["placements.none_free_share"] = _share(jobs.none_free[asked])
        kpis["placements.out_of_area_per_week"] = (
            float((children & (jobs.outcome == OUT_OF_AREA)).sum()) / weeks
        )
        # nights of the placements the EDT secured (pool, unlimited or out of area)
        placed = left_station & np.isin(jobs.outcome, (EDT_PLACED, UNLIMITED, OUT_OF_AREA))
        nights = float(model.placement_stay[placed].sum()) / 24.0
        kpis["placements.nights_per_week"] = nights / weeks
    if model.pathways:
        if scenario.custody_streams and "placements.nights_per_week" in kpis:  # custody too
            stays = model.placement_stay[_placed(model, jobs, measured)]
            kpis["placements.nights_per_week"] = float(stays.sum()) / 24.0 / weeks
        kpis.update(_pathways(model, jobs, measured, weeks))

    # --- streams
    # not started within the deadline: started late, or handed over / still waiting past it
    waited = queued_until(jobs, horizon) - jobs.arrival
    requested = np.asarray(model.custody_requested, dtype=bool) if model.pathways else measured
    for stream_index, (name, spec) in enumerate(scenario.streams.items()):
        mine = measured & (jobs.stream == stream_index)
        prefix = f"streams.{name}"
        kpis[f"{prefix}.per_week"] = mine.sum() / weeks
        started = mine & ~np.isnan(jobs.start)
        resp = (jobs.start - jobs.arrival)[started]
        kpis[f"{prefix}.response_hours.mean"] = _mean(resp)
        kpis[f"{prefix}.response_hours.p90"] = _q(resp, 0.9)
        done = mine & ~np.isnan(jobs.end)
        kpis[f"{prefix}.completion_hours.mean"] = _mean((jobs.end - jobs.arrival)[done])
        if spec.deadline_hours is not None:
            # a charged child for whom no transfer was requested waits for no worker
            asked = mine & requested if spec.kind == "custody" else mine
            kpis[f"{prefix}.deadline_breach_share"] = _share(waited[asked] > spec.deadline_hours)
        kpis[f"{prefix}.handed_over_share"] = _share(~np.isnan(jobs.handover[mine]))
        if spec.limit_hours is not None:
            # children still in the station at the horizon count once they pass the limit
            stay = np.fmin(np.nan_to_num(jobs.station_end, nan=horizon), horizon) - jobs.arrival
            own = mine & ((stay >= spec.limit_hours) | ~np.isnan(jobs.station_end))
            kpis[f"{prefix}.limit_reached_share"] = _share(stay[own] >= spec.limit_hours)
    kpis["handover.jobs_per_week"] = float((measured & ~np.isnan(jobs.handover)).sum()) / weeks
    if model.mha_streams:
        kpis.update(_mental_health_act(model, jobs, measured, horizon, weeks))

    # --- staff
    busy = busy_intervals(model)
    worker_group = np.array([w.group for w in model.workers])
    overtime = np.asarray(model.records.overtime, dtype=float).reshape(-1, 3)
    overtime = overtime[overtime[:, 2] >= warmup]  # shifts that end after the warm-up
    callouts = np.asarray(model.records.callouts, dtype=float).reshape(-1, 3)
    callouts[np.isnan(callouts[:, 2]), 2] = horizon  # still called out at the horizon
    # paid hours a week: rostered shifts, callouts (call → stand-down), and rostered overtime
    # (on-call overtime is already inside the callout interval)
    shift_hours = callout_h = overtime_h = n_calls = 0.0
    for group_index, (group_name, group) in enumerate(scenario.staff.items()):
        members = np.flatnonzero(worker_group == group_index)
        busy_h = total_length(busy[np.isin(busy[:, 0], members), 1:3], warmup, horizon)
        if group.on_call:
            calls = callouts[np.isin(callouts[:, 0], members)]
            avail = total_length(calls[:, 1:3], warmup, horizon)
            called_after_warmup = float((calls[:, 1] >= warmup).sum())
            kpis[f"staff.{group_name}.callouts_per_week"] = called_after_warmup / weeks
            kpis[f"staff.{group_name}.callout_hours_per_week"] = avail / weeks
            n_calls += kpis[f"staff.{group_name}.callouts_per_week"]
            callout_h += kpis[f"staff.{group_name}.callout_hours_per_week"]
        elif group.absence is not None:  # rosters differ by worker (lost shifts, late cover)
            avail = sum(total_length(model.rosters[i], warmup, horizon) for i in members)
            shift_hours += avail
        else:
            avail = (
                total_length(model.rosters[members[0]], warmup, horizon) * len(members)
                if len(members)
                else 0.0
            )
            shift_hours += avail
        if group.standby is not None:  # standby at home: paid as call-outs (issue 19)
            at_home = sum(total_length(model.standby_windows[i], warmup, horizon) for i in members)
            mine = np.isin(callouts[:, 0], members)
            called_h = total_length(callouts[mine, 1:3], warmup, horizon)  # stays up too
            avail += called_h - at_home
            shift_hours -= at_home
            mine[model.stay_up_rows] = False  # staying up to finish work is no call-out
            n_called = float((callouts[mine, 1] >= warmup).sum())
            kpis[f"staff.{group_name}.callouts_per_week"] = n_called / weeks
            kpis[f"staff.{group_name}.callout_hours_per_week"] = called_h / weeks
            n_calls += kpis[f"staff.{group_name}.callouts_per_week"]
            callout_h += kpis[f"staff.{group_name}.callout_hours_per_week"]
        group_overtime = overtime[np.isin(overtime[:, 0], members), 1]
        kpis[f"staff.{group_name}.utilisation"] = busy_h / avail if avail > 0 else NAN
        kpis[f"staff.{group_name}.overtime_hours_per_week"] = float(group_overtime.sum()) / weeks
        if not group.on_call:
            overtime_h += kpis[f"staff.{group_name}.overtime_hours_per_week"]
        kpis.update(_availability(model, group_index, group_name, members, busy, overtime, weeks))

    # --- costs
    if scenario.costs is not None:
        c = scenario.costs
        kpis["cost.per_week"] = (
            c.worker_hour * (shift_hours / weeks + callout_h + overtime_h)
            + c.callout * n_calls
            + c.officer_hour * kpis.get("station.officer_hours_per_week", 0.0)
            + c.placement_night * kpis.get("placements.nights_per_week", 0.0)
        )
        kpis.update(_costs_by_budget_holder(model, jobs, kpis, shift_hours / weeks, overtime_h,
                                            callout_h, n_calls, weeks))  # fmt: skip
    if scenario.councils:  # a consortium: each council's results and cost (issue 19)
        kpis.update(_councils(model, jobs, kpis, measured, busy, weeks))
    return kpis


def _costs_by_budget_holder(
    model: Model,
    jobs: JobTable,
    kpis: dict[str, float],
    shift_h: float,
    overtime_h: float,
    callout_h: float,
    n_calls: float,
    weeks: float,
) -> dict[str, float]:
    """Weekly costs by who pays: standing charges (paid whether used: rostered shifts, on-call
    allowances, bed retainers, a venue) apart from variable ones (overtime, call-outs, nights,
    officers' time, doctors' fees). ``cost.per_week`` above keeps its earlier definition."""
    scenario = model.scenario
    c = scenario.costs
    assert c is not None
    warmup, horizon = scenario.horizon.warmup_hours, model.calendar.hours
    on_call_shifts = 0.0  # on-call windows (shifts) starting after the warm-up, per week
    for worker, windows in zip(model.workers, model.rosters, strict=True):
        if worker.on_call and len(windows):
            on_call_shifts += float(((windows[:, 0] >= warmup) & (windows[:, 0] < horizon)).sum())
    for windows in model.standby_windows:  # each standby night is paid like an on-call shift
        on_call_shifts += float(((windows[:, 0] >= warmup) & (windows[:, 0] < horizon)).sum())
    beds = scenario.placements.capacity or 0  # unlimited (None): no beds retained
    standing = (
        c.worker_hour * shift_h
        + c.on_call_allowance * on_call_shifts / weeks
        + c.bed_retainer_week * beds
        + c.venue_week
    )
    nights = kpis.get("placements.nights_per_week", 0.0)
    ooa_nights = 0.0
    if c.out_of_area_night is not None and scenario.police_streams:
        away = (jobs.arrival >= warmup) & (jobs.outcome == OUT_OF_AREA)
        away &= ~np.isnan(jobs.station_end)
        ooa_nights = float(model.placement_stay[away].sum()) / 24.0 / weeks
    night_cost = c.placement_night * (nights - ooa_nights) + (c.out_of_area_night or 0.0) * (
        ooa_nights
    )
    if scenario.placements.types:  # each type's own night cost and retainer (issue 18)
        standing += sum(
            t.retainer_week * (t.carers or 0) for t in scenario.placements.types.values()
        )
        night_cost = _typed_night_cost(model, jobs, weeks)
    officers = c.officer_hour * (
        kpis.get("station.officer_hours_per_week", 0.0)
        + kpis.get("police.mha_officer_hours_per_week", 0.0)  # s136 waits (issue 19)
    )
    variable = (
        c.worker_hour * (callout_h + overtime_h * (1.0 + c.overtime_premium))
        + c.callout * n_calls
        + night_cost
        + c.police_reimbursed * officers
    )
    assessments = sum(
        kpis.get(f"streams.{name}.per_week", 0.0) for name in c.s12_streams
        if name in scenario.streams
    )  # fmt: skip
    police = (1.0 - c.police_reimbursed) * officers
    health = c.s12_fee * assessments
    return {
        "cost.council.per_week": float(standing + variable),
        "cost.council.standing_per_week": float(standing),
        "cost.council.variable_per_week": float(variable),
        "cost.police.per_week": float(police),
        "cost.health.per_week": float(health),
        "cost.total.per_week": float(standing + variable + police + health),
    }


def _group(model: Model) -> np.ndarray:
    """Children in each job: a sibling group's size (pathways), else 1."""
    return np.asarray(model.group_size, dtype=np.int64)


def _placed(model: Model, jobs: JobTable, measured: np.ndarray) -> np.ndarray:
    """Measured children (police protection or custody) who left the station for a placement."""
    children = np.isin(jobs.stream, _child_streams(model))
    left = measured & children & ~np.isnan(jobs.station_end)
    return left & np.isin(jobs.outcome, (EDT_PLACED, UNLIMITED, OUT_OF_AREA))


def _child_streams(model: Model) -> list[int]:
    kinds = ("police_protection", "custody")
    return [i for i, s in enumerate(model.scenario.streams.values()) if s.kind in kinds]


def _pathways(
    model: Model, jobs: JobTable, measured: np.ndarray, weeks: float
) -> dict[str, float]:
    """KPIs of the children's pathways (issue 18): each child stream's time in the station,
    each placement type's refusals and occupancy, split sibling groups, the custody pathway."""
    scenario = model.scenario
    horizon, warmup = model.calendar.hours, scenario.horizon.warmup_hours
    group = _group(model)
    left = measured & ~np.isnan(jobs.station_end)
    out: dict[str, float] = {}
    for s in _child_streams(model):
        mine = left & (jobs.stream == s)
        hours = np.repeat((jobs.station_end - jobs.arrival)[mine], group[mine])
        name = model.stream_names[s]
        out[f"station.{name}.hours.mean"] = _mean(hours)
        out[f"station.{name}.hours.p90"] = _q(hours, 0.9)
    pool = model.pool
    assert pool is not None
    checks = np.asarray(pool.checks, dtype=float).reshape(-1, 3)
    checks = checks[measured[checks[:, 0].astype(np.int64)]] if len(checks) else checks
    intervals = np.asarray(pool.intervals, dtype=float).reshape(-1, 4)
    for t, (name, kind) in enumerate(zip(pool.names, pool.types, strict=True)):
        mine = checks[checks[:, 1] == t]
        out[f"placements.{name}.none_free_share"] = _share(mine[:, 2] == 0)
        beds = intervals[intervals[:, 0] == t]
        lengths = np.clip(beds[:, 3], warmup, horizon) - np.clip(beds[:, 2], warmup, horizon)
        used = float(np.dot(beds[:, 1], lengths))  # bed-hours inside the measured period
        capacity = kind.capacity
        out[f"placements.{name}.occupancy"] = (
            used / (capacity * (horizon - warmup)) if capacity else NAN
        )
    if any(s.group_size is not None for s in scenario.streams.values()):
        groups = [
            len(model.allocations[j]) > 1
            for j in np.flatnonzero(measured & (group > 1)).tolist()
            if j in model.allocations
        ]
        out["placements.siblings_split_share"] = _share(np.asarray(groups, dtype=bool))
    if scenario.custody_streams:
        custody = [list(scenario.streams).index(s) for s in scenario.custody_streams]
        charged = left & np.isin(jobs.stream, custody)
        outcome = jobs.outcome[charged]
        out["custody.transfer_share"] = _share(np.isin(outcome, (EDT_PLACED, UNLIMITED)))
        out["custody.hours_after_charge.mean"] = _mean((jobs.station_end - jobs.arrival)[charged])
        out["custody.held_until_court_share"] = _share(outcome == HELD)
    return out


def _typed_night_cost(model: Model, jobs: JobTable, weeks: float) -> float:
    """£ a week for the nights of every measured placement: each type at its own rate, out of
    area at ``out_of_area_night`` (or ``placement_night``)."""
    c = model.scenario.costs
    assert c is not None and model.pool is not None
    placed = _placed(model, jobs, jobs.arrival >= model.scenario.horizon.warmup_hours)
    cost = 0.0
    for job in np.flatnonzero(placed).tolist():
        if jobs.outcome[job] == OUT_OF_AREA:
            rate = c.placement_night if c.out_of_area_night is None else c.out_of_area_night
            cost += rate * float(model.placement_stay[job]) / 24.0
            continue
        for t, _carer, beds, _interval in model.allocations[job]:
            kind = model.pool.types[t]
            rate = c.placement_night if kind.cost_night is None else kind.cost_night
            cost += rate * beds * float(model.type_stay[t][job]) / 24.0
    return cost / weeks


def _availability(
    model: Model,
    group_index: int,
    group_name: str,
    members: np.ndarray,
    busy: np.ndarray,
    overtime: np.ndarray,
    weeks: float,
) -> dict[str, float]:
    """Absence and Working Time Regulations KPIs of one staff group (when configured)."""
    group = list(model.scenario.staff.values())[group_index]
    warmup, horizon = model.scenario.horizon.warmup_hours, model.calendar.hours
    out: dict[str, float] = {}
    if group.absence is not None:
        shifts = roster_intervals(group.roster, model.calendar)[:, 0]
        total = float((shifts >= warmup).sum()) * len(members)
        lost = sum(float((model.absent_shift_starts[i] >= warmup).sum()) for i in members)
        out[f"staff.{group_name}.absent_shift_share"] = lost / total if total else NAN
    if group.rest is not None:
        breaches = 0
        for i in members:
            mine = busy[busy[:, 0] == i, 1:3]
            own_overtime = overtime[overtime[:, 0] == i, 1:3]
            breaches += rest_breaches(group.rest, model.rosters[i], mine, own_overtime, warmup,
                                      horizon)  # fmt: skip
        out[f"staff.{group_name}.rest_breaches_per_week"] = breaches / weeks
    return out


def _mental_health_act(
    model: Model, jobs: JobTable, measured: np.ndarray, horizon: float, weeks: float
) -> dict[str, float]:
    """Waits of Mental Health Act assessments, the s136 clock and the police time it costs.

    A wait counts once it is over (a wait still running at the horizon is censored); the s136
    time of a detention open at the horizon counts towards the over-limit share once it has
    passed the limit (as ``limit_reached_share`` does for children).
    """
    mha = measured & np.asarray(model.is_mha)
    doctor = mha & (model.doctor_wait > 0) & ~np.isnan(np.asarray(model.doctor_done))
    doctor |= mha & (model.doctor_wait == 0) & ~np.isnan(jobs.start)
    bed = mha & model.admitted & ~np.isnan(np.asarray(model.bed_done))
    ended = mha & ~np.isnan(jobs.end)
    s136 = mha & model.s136
    s136_end = model.s136_end(horizon)
    s136_hours = s136_end - jobs.arrival
    so_far = np.fmin(np.nan_to_num(s136_end, nan=horizon), horizon) - jobs.arrival
    limit = np.zeros(len(jobs.arrival))
    for index in model.mha_streams:
        spec = list(model.scenario.streams.values())[index].mha
        assert spec is not None
        limit[jobs.stream == index] = spec.s136_limit_hours + spec.s136_extension_hours
    counted = s136 & (~np.isnan(s136_end) | (so_far > limit))
    closed = s136 & ~np.isnan(s136_end)
    station = closed & model.in_station
    return {
        "amhp.doctor_wait_hours.mean": _mean(model.doctor_wait[doctor]),
        "amhp.bed_wait_hours.mean": _mean(model.bed_wait[bed]),
        "amhp.s136_over_limit_share": _share(so_far[counted] > limit[counted]),
        "amhp.not_completed_share": _share(np.asarray(model.not_completed)[ended]),
        "station.s136.hours.mean": _mean(s136_hours[station]),
        "police.mha_officer_hours_per_week": float(
            (s136_hours[closed] * model.mha_officers[closed]).sum() / weeks
        ),
    }


def _councils(
    model: Model,
    jobs: JobTable,
    kpis: dict[str, float],
    measured: np.ndarray,
    busy: np.ndarray,
    weeks: float,
) -> dict[str, float]:
    """Each council's results in a consortium, as the team-wide KPIs above restricted to its
    streams, and its cost: what is its own (its children's placement nights, its own placement
    types' retainers, the police time it reimburses for its children) plus its share of the rest
    of ``cost.council.per_week`` (``cost_share``, or its share of worker-hours).
    """
    scenario = model.scenario
    warmup, horizon = scenario.horizon.warmup_hours, model.calendar.hours
    names = list(scenario.councils)
    council_of = np.array([names.index(s.council) for s in scenario.streams.values()])
    job_council = council_of[jobs.stream] if len(jobs.stream) else np.zeros(0, np.int64)
    police = np.isin(jobs.stream, [model.stream_names.index(s) for s in scenario.police_streams])
    group = _group(model)
    left = ~np.isnan(jobs.station_end)
    officers = np.array([s.officer_count for s in scenario.streams.values()], dtype=float)
    release = np.array(
        [np.inf if s.officer_release_hours is None else s.officer_release_hours
         for s in scenario.streams.values()]
    )  # fmt: skip
    requested = ~np.isnan(np.asarray(model.placement_requested_at, dtype=float))
    # worker-hours on each council's jobs in the measured period
    lo, hi = np.clip(busy[:, 1], warmup, horizon), np.clip(busy[:, 2], warmup, horizon)
    busy_council = job_council[busy[:, 3].astype(np.int64)] if len(busy) else np.zeros(0, int)
    hours_of = np.bincount(busy_council, weights=hi - lo, minlength=len(names))
    c = scenario.costs
    placed = _placed(model, jobs, measured) if model.pathways else (
        measured & police & left & np.isin(jobs.outcome, (EDT_PLACED, UNLIMITED, OUT_OF_AREA))
    )  # fmt: skip
    blocks: list[dict[str, float]] = []  # one per council, in the catalogue's order
    own: list[float] = []
    for i, name in enumerate(names):
        prefix = f"council.{name}"
        out: dict[str, float] = {}
        blocks.append(out)
        mine = measured & (job_council == i)
        if scenario.police_streams:
            kids = mine & police & left
            hours = (jobs.station_end - jobs.arrival)[kids]
            child_hours = np.repeat(hours, group[kids]) if model.pathways else hours
            out[f"{prefix}.station.hours.mean"] = _mean(child_hours)
            out[f"{prefix}.station.hours.p90"] = _q(child_hours, 0.9)
            n_children = group[mine & police].sum() if model.pathways else (mine & police).sum()
            out[f"{prefix}.station.children_per_week"] = float(n_children) / weeks
            their = jobs.stream[kids]
            officer_h = float((np.minimum(hours, release[their]) * officers[their]).sum()) / weeks
            out[f"{prefix}.station.officer_hours_per_week"] = officer_h
            asked = mine & police & requested
            out[f"{prefix}.placements.none_free_share"] = _share(jobs.none_free[asked])
        out[f"{prefix}.jobs_per_week"] = float(mine.sum()) / weeks
        started = mine & ~np.isnan(jobs.start)
        out[f"{prefix}.response_hours.mean"] = _mean((jobs.start - jobs.arrival)[started])
        out[f"{prefix}.worker_hours_per_week"] = float(hours_of[i]) / weeks
        if c is not None:
            own.append(_council_own_cost(model, jobs, placed & (job_council == i), name)
                       + c.police_reimbursed * c.officer_hour
                       * out.get(f"{prefix}.station.officer_hours_per_week", 0.0))  # fmt: skip
    if c is not None:
        _split_costs(model, blocks, own, hours_of, kpis["cost.council.per_week"])
    return {k: v for block in blocks for k, v in block.items()}


def _split_costs(
    model: Model,
    blocks: list[dict[str, float]],
    own: list[float],
    hours_of: np.ndarray,
    council_total: float,
) -> None:
    """Each council's cost share and cost: its own costs and its share of the rest."""
    scenario = model.scenario
    names = list(scenario.councils)
    given = [k.cost_share for k in scenario.councils.values()]
    total_hours = float(hours_of.sum())
    shares = (
        given if given[0] is not None
        else (hours_of / total_hours).tolist() if total_hours > 0
        else [1.0 / len(names)] * len(names)
    )  # fmt: skip
    shared = council_total - sum(own)
    for i, name in enumerate(names):
        blocks[i][f"council.{name}.cost_share"] = float(shares[i])  # type: ignore[arg-type]
        blocks[i][f"council.{name}.cost.per_week"] = float(own[i] + shares[i] * shared)  # type: ignore


def _council_own_cost(model: Model, jobs: JobTable, placed: np.ndarray, council: str) -> float:
    """£ a week a council pays in full: the nights of its children placed (``placed``), each
    at its type's or the out-of-area rate, and the retainers of placement types only it uses."""
    scenario = model.scenario
    c = scenario.costs
    assert c is not None
    weeks = (model.calendar.hours - scenario.horizon.warmup_hours) / 168.0
    ooa_rate = c.placement_night if c.out_of_area_night is None else c.out_of_area_night
    cost = 0.0
    mine = {s for s, spec in scenario.streams.items() if spec.council == council}
    for t in scenario.placements.types.values():
        if t.streams and set(t.streams) <= mine:
            cost += t.retainer_week * (t.carers or 0)
    for job in np.flatnonzero(placed).tolist():
        stay = float(model.placement_stay[job]) / 24.0
        if jobs.outcome[job] == OUT_OF_AREA:
            cost += ooa_rate * stay / weeks
        elif not scenario.placements.types:
            cost += c.placement_night * stay / weeks
        else:
            assert model.pool is not None
            for t, _carer, beds, _interval in model.allocations[job]:
                kind = model.pool.types[t]
                rate = c.placement_night if kind.cost_night is None else kind.cost_night
                cost += rate * beds * float(model.type_stay[t][job]) / 24.0 / weeks
    return cost


def hour_of_week_profile(model: Model, intervals: np.ndarray, lo: float) -> np.ndarray:
    """Mean number of open intervals in each of the 168 hours of the week (from ``lo`` on): the
    open time in each clock hour from ``floor(lo)`` to the horizon, averaged over the hours that
    fall on the same hour of the week."""
    total, count = model.calendar.open_by_hour_of_week(intervals, lo)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def profiles(model: Model, jobs: JobTable | None = None) -> dict[str, np.ndarray]:
    """Hour-of-week curves for figures: jobs queued, workers busy, children in stations."""
    jobs = jobs or job_table(model)
    horizon, warmup = model.calendar.hours, model.scenario.horizon.warmup_hours
    queue = np.column_stack([jobs.arrival, queued_until(jobs, horizon)])
    busy = busy_intervals(model)[:, 1:3]
    police = [model.stream_names.index(s) for s in model.scenario.police_streams]
    kid = np.isin(jobs.stream, police)
    station = np.column_stack(
        [jobs.arrival[kid], np.fmin(np.nan_to_num(jobs.station_end[kid], nan=horizon), horizon)]
    )
    return {
        "queue": hour_of_week_profile(model, queue, warmup),
        "busy": hour_of_week_profile(model, busy, warmup),
        "station": hour_of_week_profile(model, station, warmup),
    }
