"""A child's episode in a police station: placement request, bed pool, waitlist, leaving it.

Kept apart from :mod:`ooh_sim.core.model` because it is the one part of the model a planner asks
about in detail ("what happens when no bed is free?"), and it reads best on its own. It is a
mixin of :class:`~ooh_sim.core.model.Model` rather than a collaborator object: its methods run on
the model's per-event path, where ``self.model.env`` chains would cost time on every event.

A police-protection child's job has three phases: *assess* (the stream's ``duration``), *search*
for a placement (only once one is free) and *transport*; the child's station time ends when
transport starts. After the assessment a placement is requested: a free bed in the pool is
reserved at once; otherwise the child joins the bed waitlist (first come, first served) and,
depending on the scenario, its worker stays with it (``hold_worker``) and an out-of-area
placement is sought after ``out_of_area.after_hours``. At cover end a waiting child passes to the
day team. A bed is occupied from reservation until ``stay`` after the child leaves the station;
daytime services take free beds too (``other_demand_per_week``).

The children's pathways (issue 18), switched on by placement types, sibling groups or a custody
stream (``Scenario.pathways``; otherwise nothing below changes a draw or an event):

* beds are kept by :class:`~ooh_sim.core.placement.TypedPool` — types tried in order, carers with
  several beds, a sibling group placed with one carer or split — and a freed bed goes to the first
  waiting child who fits (with one type and single children: the first waiting, as before);
* a police-protection arrival may be a sibling group (``group_size``): one episode, one worker,
  ``group_size`` beds, every child counted in the station KPIs;
* a *custody* child (charged, refused bail) is asked for (``request_share``) or not; a request
  not taken up by a worker within ``transfer_cutoff_hours`` lapses; a worker who takes it
  transfers the child if a bed of a suitable type is free (a secure request: a secure type) and
  otherwise — or when the request lapses, is not made, or cover ends — the child is held in the
  cell until the next court sitting (:mod:`ooh_sim.core.custody`). Custody children never wait
  for a bed.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from ooh_sim.core.custody import CourtSittings
from ooh_sim.core.placement import POOL, Allocation, TypedPool
from ooh_sim.core.schema import CHILD_KINDS

if TYPE_CHECKING:
    from collections.abc import Callable

    import simpy

    from ooh_sim.core.calendar import Calendar
    from ooh_sim.core.model import Worker
    from ooh_sim.core.rng import RandomStreams
    from ooh_sim.core.schema import Scenario

# A job's phase (every job but a child's has only ASSESS, then DONE)
ASSESS, SEARCH, TRANSPORT, DONE = 0, 1, 2, 3
# How a child left the station (``outcome``)
WAITING, EDT_PLACED, OUT_OF_AREA, DAY_TEAM, UNLIMITED = 0, 1, 2, 3, 4
HELD = 5  # a custody child held in the cell until court


class ChildEpisode:
    """The police-protection part of :class:`~ooh_sim.core.model.Model` (see the module doc)."""

    # provided by Model
    scenario: Scenario
    calendar: Calendar
    env: simpy.Environment
    workers: list[Worker]
    in_cover: bool
    beds_free: float
    bed_waitlist: list[int]
    child_wait_trigger_hours: list[float]
    arrival: np.ndarray
    search: np.ndarray
    transport: np.ndarray
    out_of_area_travel: np.ndarray
    placement_stay: np.ndarray
    phase: list[int]
    remaining: list[float]
    station_end: list[float]
    outcome: list[int]
    placed_at: list[float]
    placement_requested_at: list[float]
    none_free: list[bool]
    has_bed: list[bool]
    _random_streams: RandomStreams
    stream: np.ndarray
    stream_names: list[str]
    n_jobs: int
    start: list[float]
    queues: list[list[tuple]]
    queued: int
    queue_key: Callable[[int], tuple[float, float, int]]
    job_skill: list[int]
    _queue_tick: Callable[[], None]
    _at: Callable[..., None]
    _book: Callable[[Worker], None]
    _continue: Callable[[Worker, int], None]
    _release: Callable[[Worker], None]
    _enqueue: Callable[[int], None]
    _hand_over: Callable[[int], None]
    _child_wait_trigger: Callable[[int, float], None]

    def _on_child_arrival(self, job: int) -> bool:
        """Schedule the on-call triggers that fire if this child is still waiting after h hours.

        False: the child needs no worker (a custody child for whom no transfer is requested).
        """
        if self.pathways and self.is_custody[job]:
            if not self.custody_requested[job]:
                self._hold_until_court(job, self.env.now)
                return False
            cutoff = self.custody_cutoff[job]
            if cutoff == cutoff:  # not NaN
                self._at(self.env.now + cutoff, self._custody_cutoff, job)
        for hours in self.child_wait_trigger_hours:
            self._at(self.arrival[job] + hours, self._child_wait_trigger, job, hours)
        return True

    def _leave_station(self, job: int, t: float) -> None:
        self.station_end[job] = t
        if self.has_bed[job]:
            if self.pool is None:
                self._at(t + self.placement_stay[job], self._free_bed)
            else:
                for allocation in self.allocations[job]:
                    stay = self.type_stay[allocation[0]][job]
                    self._at(t + stay, self._free_typed, allocation)

    def _child_handed_over(self, job: int, now: float) -> None:
        """Cover ended with the child still in the station: the day team (custody: the court)."""
        if self.pathways and self.is_custody[job]:
            self._hold_until_court(job, now)
            return
        self.outcome[job] = DAY_TEAM
        self._leave_station(job, now + self.day_team_response[job])

    def _request_placement(self, worker: Worker, job: int) -> None:
        """After assessment: reserve a bed and search, or wait for one.

        Assessed in overtime after cover ended: the worker finishes the episode if a bed is free
        (work in hand); otherwise the child passes to the day team (nobody waits for a bed then).
        """
        self.placement_requested_at[job] = self.env.now
        if self.pool is not None:
            self._request_typed(worker, job)
            return
        if self.beds_free > 0:
            self._take_bed(job)
            self.phase[job] = SEARCH
            self.remaining[job] = self.search[job]
            self._continue(worker, job)
            return
        self._no_placement_free(worker, job)

    def _no_placement_free(self, worker: Worker, job: int) -> None:
        """No bed for ``job``: wait for one (or out of area), or the day team out of cover."""
        self.none_free[job] = True
        if not self.in_cover:
            self._hand_over(job)
            self._release(worker)
            return
        self.bed_waitlist.append(job)
        placements = self.scenario.placements
        if placements.when_none_free == "out_of_area":
            self._at(self.env.now + placements.out_of_area.after_hours, self._out_of_area, job)
        if placements.hold_worker and worker.rostered:  # a worker past shift end goes off instead
            worker.holding = True  # (_finish booked the assessment; the hold is booked at its end)
            worker.busy_from = self.env.now
        else:
            self._release(worker)

    def _take_bed(self, job: int) -> None:
        self.beds_free -= 1
        self.has_bed[job] = True
        self.placed_at[job] = self.env.now
        self.outcome[job] = UNLIMITED if self.scenario.placements.capacity is None else EDT_PLACED

    def _free_bed(self) -> None:
        self.beds_free += 1
        if self.bed_waitlist:
            self._placement_found(self.bed_waitlist.pop(0))

    def _placement_found(self, job: int, where: list | None = None) -> None:
        """A bed (or an out-of-area placement) is found for waiting child ``job``: carry on."""
        holder = self._holder(job)
        if self.outcome[job] != OUT_OF_AREA:
            if where is None:
                self._take_bed(job)
            else:
                self._take_typed(job, where)
            self.phase[job] = SEARCH
            self.remaining[job] = self.search[job]
        else:
            self.phase[job] = TRANSPORT
            self.remaining[job] = self.transport[job] + self.out_of_area_travel[job]
        if holder is not None:
            self._book(holder)
            holder.holding = False
            self._continue(holder, job)
        else:
            self._enqueue(job)

    def _out_of_area(self, job: int) -> None:
        if job in self.bed_waitlist:
            self.bed_waitlist.remove(job)
            self.outcome[job] = OUT_OF_AREA
            if self.pathways and self.group_size[job] > 1:  # nights of every sibling
                self.placement_stay[job] *= self.group_size[job]
            self._placement_found(job)

    def _holder(self, job: int) -> Worker | None:
        """The worker held with waiting child ``job``, if any."""
        for worker in self.workers:
            if worker.holding and worker.job == job:
                return worker
        return None

    def _drop_held_child(self, worker: Worker) -> None:
        """A worker held with a child reaches shift end: the child stays on the bed waitlist.

        Another worker takes it on when a bed frees, or the day team at cover end (a cover end
        at the same instant runs after shift ends, so the child is handed over then).
        """
        self._book(worker)
        worker.holding = False
        worker.job = -1

    # ------------------------------------------------------------------ other demand on beds
    def _schedule_other_demand(self) -> None:
        placements = self.scenario.placements
        if placements.capacity is None or placements.other_demand_per_week <= 0:
            return
        rng = self._random_streams("placements/other_demand")
        horizon = self.calendar.hours
        count = rng.poisson(placements.other_demand_per_week * horizon / 168.0)
        times = np.sort(rng.uniform(0.0, horizon, count))
        stays = (
            placements.stay_days.sample(self._random_streams("placements/other_stay"), count) * 24.0
        )
        for t, stay in zip(times.tolist(), stays.tolist(), strict=True):
            self._at(t, self._other_placement, stay)

    def _other_placement(self, stay: float) -> None:
        """Daytime services take a free bed (if none is free they place elsewhere)."""
        if self.pool is not None:  # the single pool is type 0 of a TypedPool (pathways)
            carer = self.pool.carer_with_room(0, 1)
            if carer != -2:
                (allocation,) = self.pool.take([(0, carer, 1)], self.env.now)
                self._at(self.env.now + stay, self._free_typed, allocation)
            return
        if self.beds_free > 0:
            self.beds_free -= 1
            self._at(self.env.now + stay, self._free_bed)

    # ------------------------------------------------------------------ pathways (issue 18)
    def _build_pathways(self, random_streams: RandomStreams) -> None:
        """Per-job draws of the pathways model, each from its own purpose and only when its
        feature is configured (a scenario without them draws nothing more)."""
        scenario, n = self.scenario, self.n_jobs
        self.pathways = scenario.pathways
        self.pool: TypedPool | None = None
        self.group_size = [1] * n
        self.is_custody = [False] * n
        self.held_since = [math.nan] * n  # a custody child held in the cell for court from then
        if not self.pathways:
            return
        nan = float("nan")
        pool = self.pool = TypedPool.build(scenario.placements, scenario.streams)
        self.allocations: dict[int, list[Allocation]] = {}
        age = np.full(n, nan)
        requested = np.ones(n, dtype=bool)
        secure = np.zeros(n, dtype=bool)
        cutoff = np.full(n, nan)
        group = np.ones(n, dtype=np.int64)
        # the single pool's stays as drawn before (a copy: groups scale placement_stay)
        self.type_stay = [
            self.placement_stay.copy() if name == POOL else np.zeros(n) for name in pool.names
        ]
        self.courts: dict[int, CourtSittings] = {}
        for s, (name, spec) in enumerate(scenario.streams.items()):
            if spec.kind not in CHILD_KINDS:
                continue
            mine = np.flatnonzero(self.stream == s)  # in arrival order, as drawn
            count = len(mine)
            if spec.group_size is not None:
                sizes = spec.group_size.sample(random_streams(f"group_size/{name}"), count)
                group[mine] = np.maximum(1, np.rint(sizes)).astype(np.int64)
            if spec.age_years is not None:
                age[mine] = spec.age_years.sample(random_streams(f"age/{name}"), count)
            if spec.kind == "custody":
                horizon = scenario.horizon
                self.courts[s] = CourtSittings(
                    spec, horizon.start, horizon.days, scenario.calendar
                )
                if spec.request_share is not None:
                    draws = random_streams(f"custody_request/{name}").random(count)
                    requested[mine] = draws < spec.request_share
                if spec.secure_share is not None:
                    draws = random_streams(f"custody_secure/{name}").random(count)
                    secure[mine] = draws < spec.secure_share
                if spec.transfer_cutoff_hours is not None:
                    cutoff[mine] = spec.transfer_cutoff_hours
            for t, (type_name, kind) in enumerate(zip(pool.names, pool.types, strict=True)):
                if type_name != POOL and pool.takes_stream[t][s]:
                    rng = random_streams(f"stay/{type_name}/{name}")
                    self.type_stay[t][mine] = kind.stay_days.sample(rng, count) * 24.0
        self.group_size = group.tolist()
        self.child_age = age.tolist()
        custody_of = [spec.kind == "custody" for spec in scenario.streams.values()]
        self.is_custody = [custody_of[s] for s in self.stream.tolist()]
        self.custody_requested = requested.tolist()
        self.custody_secure = secure.tolist()
        self.custody_cutoff = cutoff.tolist()

    def _suitable(self, job: int) -> list[int]:
        assert self.pool is not None
        return self.pool.suitable(
            int(self.stream[job]), self.child_age[job], self.custody_secure[job]
        )

    def _request_typed(self, worker: Worker, job: int) -> None:
        """After assessment, with placement types: the first suitable type with room, else wait
        (police protection) or stay in the cell until court (custody)."""
        pool = self.pool
        assert pool is not None
        types = self._suitable(job)
        size = self.group_size[job]
        for t in types:
            pool.checks.append((job, t, pool.carer_with_room(t, size) != -2))
        where = pool.find(types, size)
        if where is not None:
            self._take_typed(job, where)
            self.phase[job] = SEARCH
            self.remaining[job] = self.search[job]
            self._continue(worker, job)
            return
        if self.is_custody[job]:
            self.none_free[job] = True
            self._hold_until_court(job, self.env.now)
            self._release(worker)
            return
        self._no_placement_free(worker, job)

    def _take_typed(self, job: int, where: list[tuple[int, int, int]]) -> None:
        assert self.pool is not None
        allocations = self.allocations[job] = self.pool.take(where, self.env.now)
        self.has_bed[job] = True
        self.placed_at[job] = self.env.now
        unlimited = all(a[1] == -1 for a in allocations)
        self.outcome[job] = UNLIMITED if unlimited else EDT_PLACED
        # child-nights of every bed taken (one child: the type's stay, exactly)
        self.placement_stay[job] = sum(a[2] * self.type_stay[a[0]][job] for a in allocations)

    def _free_typed(self, allocation: Allocation) -> None:
        """A bed (or a carer's beds) frees: place every waiting child who now fits, in order."""
        assert self.pool is not None
        self.pool.release(allocation, self.env.now)
        i = 0
        while i < len(self.bed_waitlist):
            job = self.bed_waitlist[i]
            where = self.pool.find(self._suitable(job), self.group_size[job])
            if where is None:
                i += 1
                continue
            self.bed_waitlist.pop(i)
            self._placement_found(job, where)

    def _hold_until_court(self, job: int, t: float) -> None:
        """Custody child ``job`` stays in the cell until the first court sitting after ``t``."""
        self.outcome[job] = HELD
        self.held_since[job] = t
        self.phase[job] = DONE
        self.station_end[job] = self.courts[int(self.stream[job])].next_after(t)

    def _custody_cutoff(self, job: int) -> None:
        """No worker has taken the transfer request by the cut-off: it lapses."""
        if not math.isnan(self.start[job]) or not math.isnan(self.station_end[job]):
            return  # a worker took it (transfer or not), or it is settled already
        queue = self.queues[self.job_skill[job]]
        key = self.queue_key(job)
        if key in queue:
            queue.remove(key)
            heapq.heapify(queue)
            self._queue_tick()
            self.queued -= 1
        self._hold_until_court(job, self.env.now)
