"""The SimPy model of one replication: referrals, children in police stations, workers, placements.

Vocabulary (after simmer's trajectories): a **job** arrives, queues for a **worker** with the right
skill, is served in one or more **phases**, and leaves. A police-protection child's job has three
phases — assess, search for a placement, transport — told in :mod:`ooh_sim.core.episode`, which
this model mixes in.

Design choices that matter for speed and for common random numbers:

* All arrival times and all per-job durations are drawn up front, vectorised, from the job's own
  stream's generators, so a job's duration does not depend on when it is served or on what else
  the scenario contains.
* Events are SimPy timeouts with plain callbacks (no process per job). A running phase is
  cancelled (preemption) by bumping the worker's ``token``; the stale callback then does nothing.
  The token a phase started with rides on its timeout as the event's value, and each worker's
  completion callback is built once, so the per-event path allocates nothing but the timeout.
* Every time handed to SimPy is a Python float: one numpy scalar there would turn the clock, and
  so every later heap comparison and sum, into slow numpy scalar arithmetic.
* Queues are one heap per skill, keyed by the dispatch policy; a freed worker looks only at the
  heads of the heaps of its own skills.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import simpy
from pydantic import BaseModel

from ooh_sim.core.amhp import MentalHealthPathway
from ooh_sim.core.arrivals import rate_function
from ooh_sim.core.calendar import Calendar, build_calendar, roster_intervals
from ooh_sim.core.episode import (
    ASSESS,
    DAY_TEAM,
    DONE,
    EDT_PLACED,
    HELD,
    OUT_OF_AREA,
    SEARCH,
    TRANSPORT,
    UNLIMITED,
    WAITING,
    ChildEpisode,
)
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import CHILD_KINDS, Callout, Scenario
from ooh_sim.core.staffing import StaffAvailability, absences

__all__ = [  # the phases and outcomes live with the child's episode; re-exported for readers
    "ASSESS", "DAY_TEAM", "DONE", "EDT_PLACED", "HELD", "OUT_OF_AREA", "SEARCH", "TRANSPORT",
    "UNLIMITED", "WAITING", "Model", "Records", "Worker", "memo", "simulate",
]  # fmt: skip

_MEMO: dict[tuple, tuple[tuple, object]] = {}


def memo(fn, *args):
    """``fn(*args)``, cached on the values of ``args`` (immutable scenario parts).

    Replications of one scenario share its calendar and arrival-rate functions: rebuilding them
    (bank holidays, 9 000 rate pieces per stream) cost more than a quarter of a baseline
    replication. Scenario parts are keyed by their values, not their identity: each chunk of
    work brings its scenario to a pool worker as a new (unpickled) copy, and equal copies must
    share one entry (else a worker built them again for every chunk and kept up to 64 of them,
    ~20 MB a copy for a 10-year horizon). Other arguments (the calendar built here) are keyed by
    identity; the cache holds its arguments, so an ``id`` cannot be reused by another object
    while cached. It is small and cleared when full (a sweep moves on to new scenarios).
    """
    key = (fn, *map(_memo_key, args))
    hit = _MEMO.get(key)
    if hit is not None:
        return hit[1]
    if len(_MEMO) >= 64:
        _MEMO.clear()
    value = fn(*args)
    _MEMO[key] = (args, value)
    return value


def _memo_key(arg: object) -> object:
    """A scenario part by its fields (``repr``: ``==`` would also compare cached laws, and JSON
    would write inf and NaN alike), a string or number by itself, anything else by identity."""
    if isinstance(arg, BaseModel):
        return type(arg), repr(arg.model_dump())
    if isinstance(arg, str | int | float):
        return arg
    return id(arg)


@dataclass
class Worker:
    index: int
    group: int
    skills: tuple[int, ...]
    on_call: bool
    on_shift: bool = False  # may take new work
    job: int = -1  # job in hand, -1 when idle
    holding: bool = False  # held with a child while no placement is free
    token: int = 0  # bumps to cancel the pending completion of a preempted phase
    busy_from: float = 0.0
    busy_until: float = 0.0
    shift_end: float = np.inf  # end of the current roster window (for on-call: on-call window)
    rostered: bool = False  # inside a roster window (for on-call: on call)
    called: bool = False  # on-call worker currently called out (or on the way)
    support: bool = False  # a support worker: transports and sits with children only
    standby: bool = False  # in the standby part of a shift (at home unless called out)


@dataclass
class Records:
    """Per-replication outputs kept as flat lists, converted to arrays once at the end."""

    busy: list[tuple[int, float, float, int]] = field(default_factory=list)  # worker, from, to, job
    # worker, hours, shift end (to leave out warm-up shifts)
    overtime: list[tuple[int, float, float]] = field(default_factory=list)
    # worker, called at, stood down at
    callouts: list[tuple[int, float, float]] = field(default_factory=list)
    queue_area: float = 0.0  # time-integral of the number of queued jobs (Little's law check)
    _busy_array: np.ndarray | None = field(default=None, repr=False, compare=False)

    def busy_array(self) -> np.ndarray:
        """``busy`` as a read-only (count, 4) float array, converted once: the KPIs, the
        profiles and the timeline all read it (converting ~200,000 spells costs ~50 ms)."""
        a = self._busy_array
        if a is None or len(a) != len(self.busy):
            a = np.fromiter(
                itertools.chain.from_iterable(self.busy), float, 4 * len(self.busy)
            ).reshape(-1, 4)
            a.flags.writeable = False
            self._busy_array = a
        return a


class Model(ChildEpisode, MentalHealthPathway, StaffAvailability):
    """One replication. Build with a scenario and its random streams, then :meth:`run`."""

    def __init__(self, scenario: Scenario, streams: RandomStreams):
        self.scenario = scenario
        self.calendar: Calendar = memo(build_calendar, scenario.horizon, scenario.calendar)
        self.env = simpy.Environment()
        self.records = Records()
        self._build_jobs(streams)
        self._build_mha(streams)  # Mental Health Act waits (streams with an mha block)
        self._build_workers()
        self.absent_shift_starts = absences(  # lost shifts (groups with absence only)
            list(scenario.staff.items()), [w.group for w in self.workers], self.rosters, streams
        )
        self._build_standby_support(self._escort_skills)  # standby, support workers (if any)
        self.queues: list[list[tuple]] = [[] for _ in self.skill_names]
        self.queued = 0
        self._queue_changed_at = 0.0
        placements = scenario.placements
        self.beds_free = np.inf if placements.capacity is None else placements.capacity
        self.bed_waitlist: list[int] = []  # children waiting for a bed, FIFO
        self.in_cover = self.calendar.always or bool(self.calendar.is_covered(0.0))
        self._random_streams = streams
        # hot-path caches: no pydantic attribute chain, numpy scalar or partial per event
        self._preemption = scenario.policy.preemption
        self._arrive_callback = self._arrive
        self._finish_callbacks = [partial(self._finish, w) for w in self.workers]
        self.queue_triggers = [
            (worker, callout.queue_length)
            for worker in self.workers
            if worker.on_call
            and (callout := self._callout(worker)) is not None
            and callout.queue_length is not None
        ]
        # each on-call worker's own child-waiting trigger (groups may differ; None: no trigger)
        self.child_wait_trigger = {
            worker.index: callout.child_waiting_hours
            for worker in self.workers
            if worker.on_call and (callout := self._callout(worker)) is not None
        }
        self.child_wait_trigger_hours = sorted(
            {h for h in self.child_wait_trigger.values() if h is not None}
        )

    # ------------------------------------------------------------------ setup
    def _build_jobs(self, random_streams: RandomStreams) -> None:
        scenario, calendar = self.scenario, self.calendar
        self.stream_names = list(scenario.streams)
        self.skill_names = sorted({s for g in scenario.staff.values() for s in g.skills})
        # separate staff of a consortium: one queue per (skill, council)
        self.by_council = any(g.councils is not None for g in scenario.staff.values())
        if self.by_council:
            self.skill_names = [f"{s}@{c}" for s in self.skill_names for c in scenario.councils]
        placements = scenario.placements
        parts = []
        for stream_index, (name, spec) in enumerate(scenario.streams.items()):
            rates = memo(rate_function, spec.arrivals, scenario.calendar, calendar, name)
            arrivals = rates.sample(random_streams(f"arrivals/{name}"))
            count = len(arrivals)
            durations = spec.duration.sample(random_streams(f"duration/{name}"), count)
            if spec.kind in CHILD_KINDS:  # police protection, or custody (issue 18)
                transport = spec.transport_dist.sample(random_streams(f"transport/{name}"), count)
                search = placements.search.sample(random_streams(f"search/{name}"), count)
                day_team = scenario.day_team.response.sample(
                    random_streams(f"day_team/{name}"), count
                )
                out_of_area = placements.out_of_area.extra_travel.sample(
                    random_streams(f"out_of_area/{name}"), count
                )
                stay = placements.stay_days.sample(random_streams(f"stay/{name}"), count) * 24.0
            else:
                transport = search = day_team = out_of_area = stay = np.zeros(count)
            travel = scenario.councils[spec.council].travel_hours if spec.council else 0.0
            if travel > 0:  # a consortium council further from the team's base
                if spec.kind in CHILD_KINDS:
                    transport = transport + travel
                elif name in scenario.councils[spec.council].visits:
                    durations = durations + travel
            parts.append(
                (arrivals, np.full(count, stream_index), durations, transport, search, day_team,
                 out_of_area, stay)
            )  # fmt: skip
        columns = [np.concatenate([p[i] for p in parts]) for i in range(8)]
        order = np.argsort(columns[0], kind="stable")
        (
            self.arrival,
            self.stream,
            self.duration,
            self.transport,
            self.search,
            self.day_team_response,
            self.out_of_area_travel,
            self.placement_stay,  # hours a placement lasts after the child leaves the station
        ) = (c[order] for c in columns)
        self.stream = self.stream.astype(np.int64)
        n_jobs = self.n_jobs = len(self.arrival)
        specs = list(scenario.streams.values())
        priority = np.array([s.priority for s in specs])
        deadline = np.array([s.deadline_hours or np.inf for s in specs])
        dispatch = scenario.policy.dispatch
        arrival = self.arrival
        stream_of_job = self.stream.tolist()
        # heap key: dispatch rule, then arrival, then job number (unique: ties never compare on);
        # built when a job is queued (:meth:`queue_key`), not up front: a tuple a job held for
        # the whole run was ~120 bytes a job, the largest part of a long horizon's memory
        self._arrival_times = arrival.tolist()
        if dispatch == "fifo":
            self._first_key = self._arrival_times
        elif dispatch == "priority":  # each stream's priority as a float, shared by its jobs
            key_of = priority.astype(float).tolist()
            self._first_key = [key_of[s] for s in stream_of_job]
        else:  # earliest deadline first
            self._first_key = (arrival + deadline[self.stream]).tolist()
        self.job_priority = priority[self.stream].tolist()
        # per-job lists from per-stream values (no pydantic lookup per job)
        skill_of = [self.skill_names.index(_skill_key(s.skill, s.council, self.by_council))
                    for s in specs]  # fmt: skip
        child_of = [s.kind in CHILD_KINDS for s in specs]
        preemptible_of = [s.preemptible for s in specs]
        self.job_skill = [skill_of[s] for s in stream_of_job]
        self.is_child = [child_of[s] for s in stream_of_job]  # a police-protection child's job
        self.child_jobs = [j for j in range(n_jobs) if self.is_child[j]]  # in arrival order
        self.job_preemptible = [preemptible_of[s] for s in stream_of_job]
        # mutable per-job state and results (lists: cheap to index from Python)
        nan = float("nan")
        self.phase = [ASSESS] * n_jobs
        self.remaining = self.duration.tolist()
        self.start = [nan] * n_jobs
        self.end = [nan] * n_jobs
        self.station_end = [nan] * n_jobs
        self.handover = [nan] * n_jobs
        self.first_worker = [-1] * n_jobs
        self.none_free = [False] * n_jobs
        self.outcome = [WAITING] * n_jobs
        self.placed_at = [nan] * n_jobs  # bed reserved (pool placements only)
        self.placement_requested_at = [nan] * n_jobs  # assessment done, placement requested
        self.has_bed = [False] * n_jobs  # holds a pool bed
        self._next_arrival = 0
        self._build_pathways(random_streams)  # types, siblings, custody (draws only if given)

    def _build_workers(self) -> None:
        self.workers: list[Worker] = []
        self.group_names = list(self.scenario.staff)
        self.rosters: list[np.ndarray] = []  # each worker's roster windows, (k, 2) hours
        self._escort_skills: list[tuple[int, ...]] = []  # support workers' children
        councils = list(self.scenario.councils)
        for group_index, group in enumerate(self.scenario.staff.values()):
            keys = [_skill_key(s, c, self.by_council) for s in group.skills
                    for c in (group.councils or councils or [None])]  # fmt: skip
            skills = tuple(self.skill_names.index(k) for k in dict.fromkeys(keys))
            windows = roster_intervals(group.roster, self.calendar)
            for _ in range(group.count):
                own = () if group.support else skills  # support workers take no queued work
                worker = Worker(len(self.workers), group_index, own, group.on_call)
                worker.support = group.support
                self.workers.append(worker)
                self._escort_skills.append(skills if group.support else ())
                self.rosters.append(windows)
        self.by_skill: list[list[Worker]] = [  # rostered workers first, then on-call ones
            [w for w in self.workers if s in w.skills and not w.on_call]
            + [w for w in self.workers if s in w.skills and w.on_call]
            for s in range(len(self.skill_names))
        ]

    # ------------------------------------------------------------------ scheduling helpers
    def _at(self, t: float, fn, *args) -> None:
        """Call ``fn(*args)`` at absolute time ``t`` (a timeout with a plain callback)."""
        event = self.env.timeout(max(0.0, float(t) - self.env.now))
        event.callbacks.append(partial(_call, fn, args) if args else partial(_call0, fn))

    def run(self) -> Model:
        if self.n_jobs:
            self._at(self.arrival[0], self._arrive)
        for worker, windows in zip(self.workers, self.rosters, strict=True):
            for start, end in windows:
                self._at(start, self._shift_start, worker, end)
                self._at(end, self._shift_end, worker)
        if self.standby_workers:
            self._schedule_standby()
        for t in self.calendar.handover_times:
            self._at(t, self._handover)
        if not self.calendar.always:
            for t in self.calendar.cover[:, 0]:
                if t > 0:
                    self._at(t, self._cover_starts)
        self._schedule_other_demand()
        self.env.run(until=self.calendar.hours)
        self._queue_tick()
        for worker in self.workers:
            if worker.job >= 0:  # work (or a held child) still in hand at the horizon is busy
                self._book(worker)
        return self

    # ------------------------------------------------------------------ arrivals and queueing
    def _arrive(self, _event=None) -> None:
        job = self._next_arrival
        self._next_arrival = job + 1
        if job + 1 < self.n_jobs:  # _at inlined: one arrival event per job
            env = self.env
            env.timeout(max(0.0, self._arrival_times[job + 1] - env.now)).callbacks.append(
                self._arrive_callback
            )
        if self.is_child[job] and not self._on_child_arrival(job):
            return  # a custody child for whom no transfer is asked: held until court
        self._enqueue(job)

    def _enqueue(self, job: int) -> None:
        """Give ``job`` to an idle worker, preempt for it, or queue it."""
        if self.support_workers and self._support_takes(None, job):
            return  # a free support worker transports the child
        for worker in self.by_skill[self.job_skill[job]]:
            if worker.job < 0 and worker.on_shift:
                self._begin(worker, job)
                return
        if self._preemption and self._preempt_for(job):
            return
        if not self.in_cover:
            self._hand_over(job)  # nobody is responsible out of cover: the day team takes it
            return
        self._push(job)

    def _push(self, job: int) -> None:
        """Queue ``job`` (new, or interrupted by preemption); a longer queue may call out."""
        now = self.env.now  # _queue_tick inlined (once per queued job)
        self.records.queue_area += self.queued * (now - self._queue_changed_at)
        self._queue_changed_at = now
        self.queued += 1
        heapq.heappush(
            self.queues[self.job_skill[job]],
            (self._first_key[job], self._arrival_times[job], job),  # queue_key inlined
        )
        if self.queue_triggers:
            self._check_queue_trigger()
        if self.standby_workers:
            self._call_from_standby(job)

    def queue_key(self, job: int) -> tuple[float, float, int]:
        """``job``'s place in its queue: dispatch rule, then arrival, then job number."""
        return (self._first_key[job], self._arrival_times[job], job)

    def _queue_tick(self) -> None:
        now = self.env.now
        self.records.queue_area += self.queued * (now - self._queue_changed_at)
        self._queue_changed_at = now

    def _pop_for(self, worker: Worker) -> int:
        """Best queued job among ``worker``'s skills, or -1."""
        best = None
        best_queue = None
        for skill in worker.skills:
            queue = self.queues[skill]
            if queue and (best is None or queue[0] < best):
                best, best_queue = queue[0], queue
        if best_queue is None:
            return -1
        now = self.env.now  # _queue_tick inlined
        self.records.queue_area += self.queued * (now - self._queue_changed_at)
        self._queue_changed_at = now
        self.queued -= 1
        return heapq.heappop(best_queue)[2]

    # ------------------------------------------------------------------ service
    def _begin(self, worker: Worker, job: int) -> None:
        now = self.env.now
        if self.start[job] != self.start[job]:  # nan: first start is the response time
            self.start[job] = now
            self.first_worker[job] = worker.index
        worker.job = job
        worker.busy_from = now
        worker.token += 1
        if self.phase[job] == TRANSPORT and self.station_end[job] != self.station_end[job]:
            self._leave_station(job, now)
        duration = float(self.remaining[job])
        worker.busy_until = now + duration
        self.env.timeout(duration, worker.token).callbacks.append(
            self._finish_callbacks[worker.index]
        )

    def _finish(self, worker: Worker, event: simpy.Event) -> None:
        if event.value != worker.token:  # the token the phase started with
            return  # preempted: this completion was cancelled
        now = self.env.now
        job = worker.job
        self.records.busy.append((worker.index, worker.busy_from, now, job))  # _book inlined
        self.remaining[job] = 0.0
        if self.is_mha[job]:
            self._mha_phase_done(worker, job)
        elif not self.is_child[job] or self.phase[job] == TRANSPORT:
            self.phase[job] = DONE
            self.end[job] = now
            self._release(worker)
        elif self.phase[job] == ASSESS:
            self._request_placement(worker, job)
            if worker.holding and self.support_workers:
                self._escort(worker, job)  # a free support worker sits with the child instead
        else:  # search done: the child is collected
            self.phase[job] = TRANSPORT
            self.remaining[job] = self.transport[job]
            self._continue(worker, job)

    def _book(self, worker: Worker) -> None:
        """Record ``worker``'s busy interval on its job (a phase, or holding a child) up to now."""
        self.records.busy.append((worker.index, worker.busy_from, self.env.now, worker.job))

    def _continue(self, worker: Worker, job: int) -> None:
        """Keep ``worker`` on ``job`` for its next phase (work in hand, even past shift end)."""
        worker.job = -1
        if self.support_workers and self._support_takes(worker, job):
            return  # a support worker transports the child (or hands a search back)
        self._begin(worker, job)

    def _release(self, worker: Worker) -> None:
        """``worker`` is free: go off if the shift is over, else take the next job."""
        worker.job = -1
        worker.holding = False
        if not worker.rostered:
            self._go_off(worker)  # the task in hand was finished after shift end
            return
        job = self._pop_for(worker)  # rostered and free: on shift (on call: called, arrived)
        if job >= 0:
            self._begin(worker, job)
        elif worker.called or worker.standby:  # called out (on call or standby): back home
            self._stand_down(worker)

    def _preempt_for(self, job: int) -> bool:
        """Interrupt the lowest-priority preemptible job that ``job`` outranks, if any."""
        victim = None
        priority = self.job_priority[job]
        for worker in self.by_skill[self.job_skill[job]]:
            current = worker.job
            if (
                current >= 0
                and worker.on_shift
                and not worker.holding
                and self.job_preemptible[current]
                and self.job_priority[current] > priority
                and (victim is None or self.queue_key(current) > self.queue_key(victim.job))
            ):
                victim = worker
        if victim is None:
            return False
        interrupted = victim.job
        self._book(victim)
        self.remaining[interrupted] = victim.busy_until - self.env.now
        victim.token += 1
        victim.job = -1
        self._push(interrupted)
        self._begin(victim, job)
        return True

    # ------------------------------------------------------------------ rosters and handover
    def _shift_start(self, worker: Worker, end: float) -> None:
        now = self.env.now
        if worker.job >= 0 and worker.shift_end < now:  # still on the last shift's task
            self.records.overtime.append((worker.index, now - worker.shift_end, worker.shift_end))
        worker.rostered = True
        worker.shift_end = end
        if worker.on_call:
            if worker.called:  # still called out, working: carries on into the new window
                worker.on_shift = True
            else:
                self._on_call_window_opens(worker)  # on call: works only when called out
            return
        worker.on_shift = True
        if worker.job < 0:
            self._release(worker)

    def _shift_end(self, worker: Worker) -> None:
        worker.rostered = False
        if worker.standby:
            self._standby_over(worker)  # a call-out ends with the shift (work in hand: overtime)
        if worker.job >= 0 and not worker.holding:
            worker.on_shift = False  # finishes the task in hand, then goes off
            return
        if worker.holding:
            self._drop_held_child(worker)
        self._go_off(worker)

    def _go_off(self, worker: Worker) -> None:
        now = self.env.now
        if now > worker.shift_end + 1e-12:
            self.records.overtime.append((worker.index, now - worker.shift_end, worker.shift_end))
        worker.on_shift = False
        if worker.called:
            worker.called = False
            self._close_callout(worker, now)

    def _handover(self) -> None:
        """Cover ends: every queued job and every child waiting for a bed passes to the day team."""
        for queue in self.queues:
            for item in queue:
                self._hand_over(item[2])
            queue.clear()
        self._queue_tick()
        self.queued = 0
        waiting, self.bed_waitlist = self.bed_waitlist, []
        self.in_cover = False
        for job in waiting:
            holder = self._holder(job)
            self._hand_over(job)
            if holder is not None:  # a worker rostered past cover end is freed from the child
                self._book(holder)
                self._release(holder)

    def _cover_starts(self) -> None:
        self.in_cover = True

    def _hand_over(self, job: int) -> None:
        """The day team takes ``job``; a child leaves the station when the day team responds."""
        now = self.env.now
        self.handover[job] = now
        if self.is_child[job] and self.station_end[job] != self.station_end[job]:
            self._child_handed_over(job, now)

    # ------------------------------------------------------------------ on-call
    def _callout(self, worker: Worker) -> Callout | None:
        return self.scenario.staff[self.group_names[worker.group]].callout

    def _queued_for(self, worker: Worker) -> int:
        """Jobs waiting that ``worker`` could take (what a queue-length trigger counts)."""
        return sum(len(self.queues[s]) for s in worker.skills)

    def _check_queue_trigger(self) -> None:
        for worker, length in self.queue_triggers:
            if not worker.called and worker.rostered and self._queued_for(worker) >= length:
                self._call_out(worker)
                return

    def _child_wait_trigger(self, job: int, hours: float) -> None:
        """Child ``job`` has waited ``hours``: call out a worker whose trigger that is."""
        if self.station_end[job] == self.station_end[job]:
            return
        for worker in self.workers:
            if (
                self.child_wait_trigger.get(worker.index) == hours
                and not worker.called
                and worker.rostered
                and self.job_skill[job] in worker.skills
            ):
                self._call_out(worker)
                return

    def _on_call_window_opens(self, worker: Worker) -> None:
        """A trigger that already holds when the on-call window opens calls the worker at once."""
        callout = self._callout(worker)
        assert callout is not None
        if callout.queue_length is not None and self._queued_for(worker) >= callout.queue_length:
            self._call_out(worker)
            return
        hours = callout.child_waiting_hours
        if hours is None:
            return
        now = self.env.now
        for job in self.child_jobs:
            if job >= self._next_arrival:
                break
            if (
                self.station_end[job] != self.station_end[job]
                and self.arrival[job] + hours <= now
                and self.job_skill[job] in worker.skills
            ):
                self._call_out(worker)
                return

    def _call_out(self, worker: Worker) -> None:
        callout = self._callout(worker)
        assert callout is not None
        worker.called = True
        now = self.env.now
        self.records.callouts.append((worker.index, now, np.nan))
        self._at(now + callout.delay_hours, self._arrive_on_call, worker)

    def _arrive_on_call(self, worker: Worker) -> None:
        if not worker.called:
            return  # the on-call window closed on the way: _shift_end stood the worker down
        worker.on_shift = True
        self._release(worker)

    def _stand_down(self, worker: Worker) -> None:
        worker.on_shift = False
        worker.called = False
        self._close_callout(worker, self.env.now)

    def _close_callout(self, worker: Worker, now: float) -> None:
        """Close ``worker``'s open callout (never re-close a finished one)."""
        callouts = self.records.callouts
        for i in range(len(callouts) - 1, -1, -1):
            index, called_at, stood_down_at = callouts[i]
            if index == worker.index:
                if stood_down_at != stood_down_at:
                    callouts[i] = (index, called_at, now)
                break


def _skill_key(skill: str, council: str | None, by_council: bool) -> str:
    """A queue's name: the skill, or with separate consortium staff the skill at one council."""
    return f"{skill}@{council}" if by_council else skill


def _call(fn, args, _event) -> None:
    fn(*args)


def _call0(fn, _event) -> None:
    fn()


def simulate(scenario: Scenario, seed: int, replication: int, point: int | None = None) -> Model:
    """Run one replication and return the finished model (its records feed :mod:`metrics`)."""
    return Model(scenario, RandomStreams(seed, replication, point)).run()
