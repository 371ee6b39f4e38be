"""The SimPy model of one replication: referrals, children in police stations, workers, placements.

Vocabulary (after simmer's trajectories): a **job** arrives, queues for a **worker** with the right
skill, is served in one or more **phases**, and leaves. A police-protection job has three phases:
*assess* (the stream's ``duration``), *search* for a placement (only once one is free) and
*transport*; the child's station time ends when transport starts.

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
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import simpy

from ooh_sim.core.arrivals import rate_function
from ooh_sim.core.calendar import Calendar, build_calendar, roster_intervals
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Callout, Scenario

# Job phases
ASSESS, SEARCH, TRANSPORT, DONE = 0, 1, 2, 3
# How a child left the station (``outcome``)
WAITING, EDT_PLACED, OUT_OF_AREA, DAY_TEAM, UNLIMITED = 0, 1, 2, 3, 4

_MEMO: dict[tuple, tuple[tuple, object]] = {}


def memo(fn, *args):
    """``fn(*args)``, cached on the identity of ``args`` (immutable scenario parts).

    Replications of one scenario share its calendar and arrival-rate functions: rebuilding them
    (bank holidays, 9 000 rate pieces per stream) cost more than a quarter of a baseline
    replication. The cache holds its arguments, so an ``id`` in a key cannot be reused by another
    object while cached; it is small and cleared when full (a sweep moves on to new scenarios).
    """
    key = (fn, *map(id, args))
    hit = _MEMO.get(key)
    if hit is not None:
        return hit[1]
    if len(_MEMO) >= 64:
        _MEMO.clear()
    value = fn(*args)
    _MEMO[key] = (args, value)
    return value


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


@dataclass
class Records:
    """Per-replication outputs kept as flat lists, converted to arrays once at the end."""

    busy: list[tuple[int, float, float, int]] = field(default_factory=list)  # worker, from, to, job
    # worker, hours, shift end (to leave out warm-up shifts)
    overtime: list[tuple[int, float, float]] = field(default_factory=list)
    # worker, called at, stood down at
    callouts: list[tuple[int, float, float]] = field(default_factory=list)
    queue_area: float = 0.0  # time-integral of the number of queued jobs (Little's law check)


class Model:
    """One replication. Build with a scenario and its random streams, then :meth:`run`."""

    def __init__(self, scenario: Scenario, streams: RandomStreams):
        self.sc = scenario
        self.cal: Calendar = memo(build_calendar, scenario.horizon, scenario.calendar)
        self.env = simpy.Environment()
        self.rec = Records()
        self._build_jobs(streams)
        self._build_workers()
        self.queues: list[list[tuple]] = [[] for _ in self.skill_names]
        self.queued = 0
        self._q_last = 0.0
        pl = scenario.placements
        self.beds_free = np.inf if pl.capacity is None else pl.capacity
        self.bed_waitlist: list[int] = []  # children waiting for a bed, FIFO
        self.in_cover = self.cal.always or bool(self.cal.is_covered(0.0))
        self._streams = streams
        # hot-path caches: no pydantic attribute chain, numpy scalar or partial per event
        self._preemption = scenario.policy.preemption
        self._arr = self.arrival.tolist()
        self._arrive_cb = self._arrive
        self._finish_cb = [partial(self._finish, w) for w in self.workers]
        self.queue_triggers = [
            (w, c.queue_length)
            for w in self.workers
            if w.on_call and (c := self._callout(w)) is not None and c.queue_length is not None
        ]
        # each on-call worker's own child-waiting trigger (groups may differ; None: no trigger)
        self.child_trigger = {
            w.index: c.child_waiting_hours
            for w in self.workers
            if w.on_call and (c := self._callout(w)) is not None
        }
        self.child_trigger_hours = sorted({h for h in self.child_trigger.values() if h is not None})

    # ------------------------------------------------------------------ setup
    def _build_jobs(self, rs: RandomStreams) -> None:
        sc, cal = self.sc, self.cal
        names = list(sc.streams)
        self.stream_names = names
        self.skill_names = sorted({s for g in sc.staff.values() for s in g.skills})
        parts = []
        for si, (name, st) in enumerate(sc.streams.items()):
            t = memo(rate_function, st.arrivals, sc.calendar, cal).sample(rs(f"arrivals/{name}"))
            n = len(t)
            d = st.duration.sample(rs(f"duration/{name}"), n)
            is_pp = st.kind == "police_protection"
            if is_pp:
                tr = st.transport_dist.sample(rs(f"transport/{name}"), n)
                se = sc.placements.search.sample(rs(f"search/{name}"), n)
                dtr = sc.day_team.response.sample(rs(f"day_team/{name}"), n)
                ooa = sc.placements.out_of_area.extra_travel.sample(rs(f"out_of_area/{name}"), n)
                stay = sc.placements.stay_days.sample(rs(f"stay/{name}"), n) * 24.0
            else:
                tr = se = dtr = ooa = stay = np.zeros(n)
            parts.append((t, np.full(n, si), d, tr, se, dtr, ooa, stay))
        cols = [np.concatenate([p[i] for p in parts]) for i in range(8)]
        order = np.argsort(cols[0], kind="stable")
        (
            self.arrival,
            self.stream,
            self.duration,
            self.transport,
            self.search,
            self.day_team_resp,
            self.ooa_travel,
            self.stay,
        ) = (c[order] for c in cols)
        self.stream = self.stream.astype(np.int64)
        n = self.n = len(self.arrival)
        prio = np.array([s.priority for s in sc.streams.values()])
        deadline = np.array([s.deadline_hours or np.inf for s in sc.streams.values()])
        policy = sc.policy.dispatch
        arr = self.arrival
        if policy == "fifo":
            k1 = arr
        elif policy == "priority":
            k1 = prio[self.stream].astype(float)
        else:
            k1 = arr + deadline[self.stream]
        self.key = list(zip(k1.tolist(), arr.tolist(), range(n), strict=True))
        self.j_prio = prio[self.stream].tolist()
        # per-job lists from per-stream values (no pydantic lookup per job)
        by_job = self.stream.tolist()
        specs = list(sc.streams.values())
        skill_of = [self.skill_names.index(s.skill) for s in specs]
        pp_of = [s.kind == "police_protection" for s in specs]
        self.j_skill = [skill_of[s] for s in by_job]
        self.j_pp = [pp_of[s] for s in by_job]
        self._pp_jobs = [j for j in range(n) if self.j_pp[j]]  # children, in arrival order
        pre_of = [s.preemptible for s in specs]
        self.j_preemptible = [pre_of[s] for s in by_job]
        # mutable per-job state and results (lists: cheap to index from Python)
        nan = float("nan")
        self.phase = [ASSESS] * n
        self.remaining = self.duration.tolist()
        self.start = [nan] * n
        self.end = [nan] * n
        self.station_end = [nan] * n
        self.handover = [nan] * n
        self.worker_of = [-1] * n
        self.none_free = [False] * n
        self.outcome = [WAITING] * n
        self.placed_at = [nan] * n  # bed reserved (pool placements only)
        self.bed_asked = [nan] * n  # assessment done, placement requested
        self.bed = [False] * n  # holds a pool bed
        self._next_arrival = 0

    def _build_workers(self) -> None:
        self.workers: list[Worker] = []
        self.group_names = list(self.sc.staff)
        self.rosters: list[np.ndarray] = []
        for gi, (_, g) in enumerate(self.sc.staff.items()):
            skills = tuple(self.skill_names.index(s) for s in g.skills)
            iv = roster_intervals(g.roster, self.cal)
            for _ in range(g.count):
                self.workers.append(Worker(len(self.workers), gi, skills, g.on_call))
                self.rosters.append(iv)
        self.by_skill: list[list[Worker]] = [
            [w for w in self.workers if s in w.skills and not w.on_call]
            + [w for w in self.workers if s in w.skills and w.on_call]
            for s in range(len(self.skill_names))
        ]

    # ------------------------------------------------------------------ scheduling helpers
    def _at(self, t: float, fn, *args) -> None:
        """Call ``fn(*args)`` at absolute time ``t`` (a timeout with a plain callback)."""
        ev = self.env.timeout(max(0.0, float(t) - self.env.now))
        ev.callbacks.append(partial(_call, fn, args) if args else partial(_call0, fn))

    def run(self) -> Model:
        env, H = self.env, self.cal.hours
        if self.n:
            self._at(self.arrival[0], self._arrive)
        for w, iv in zip(self.workers, self.rosters, strict=True):
            for s, e in iv:
                self._at(s, self._shift_start, w, e)
                self._at(e, self._shift_end, w)
        for t in self.cal.handover_times:
            self._at(t, self._handover)
        if not self.cal.always:
            for t in self.cal.cover[:, 0]:
                if t > 0:
                    self._at(t, self._cover_starts)
        self._schedule_other_demand()
        env.run(until=H)
        self._queue_tick()
        for w in self.workers:
            if w.job >= 0:  # work (or a held child) still in hand at the horizon counts as busy
                self._book(w)
        return self

    # ------------------------------------------------------------------ arrivals and queueing
    def _arrive(self, _ev=None) -> None:
        j = self._next_arrival
        self._next_arrival = j + 1
        if j + 1 < self.n:  # _at inlined: one arrival event per job
            env = self.env
            env.timeout(max(0.0, self._arr[j + 1] - env.now)).callbacks.append(self._arrive_cb)
        if self.j_pp[j]:
            self._on_child_arrival(j)
        self._enqueue(j)

    def _enqueue(self, j: int) -> None:
        """Give job ``j`` to an idle worker, preempt for it, or queue it."""
        for w in self.by_skill[self.j_skill[j]]:
            if w.job < 0 and w.on_shift:
                self._begin(w, j)
                return
        if self._preemption and self._preempt_for(j):
            return
        if not self.in_cover:
            self._hand_over(j)  # nobody is responsible out of cover: the day team takes it
            return
        self._push(j)

    def _push(self, j: int) -> None:
        """Queue job ``j`` (new, or interrupted by preemption); a longer queue may call out."""
        now = self.env.now  # _queue_tick inlined (once per queued job)
        self.rec.queue_area += self.queued * (now - self._q_last)
        self._q_last = now
        self.queued += 1
        heapq.heappush(self.queues[self.j_skill[j]], self.key[j])
        if self.queue_triggers:
            self._check_queue_trigger()

    def _queue_tick(self) -> None:
        now = self.env.now
        self.rec.queue_area += self.queued * (now - self._q_last)
        self._q_last = now

    def _pop_for(self, w: Worker) -> int:
        """Best queued job among ``w``'s skills, or -1."""
        best = None
        bq = None
        for s in w.skills:
            q = self.queues[s]
            if q and (best is None or q[0] < best):
                best, bq = q[0], q
        if bq is None:
            return -1
        now = self.env.now  # _queue_tick inlined
        self.rec.queue_area += self.queued * (now - self._q_last)
        self._q_last = now
        self.queued -= 1
        return heapq.heappop(bq)[2]

    # ------------------------------------------------------------------ service
    def _begin(self, w: Worker, j: int) -> None:
        now = self.env.now
        if self.start[j] != self.start[j]:  # nan: first start is the response time
            self.start[j] = now
            self.worker_of[j] = w.index
        w.job = j
        w.busy_from = now
        w.token += 1
        if self.phase[j] == TRANSPORT and self.station_end[j] != self.station_end[j]:
            self._leave_station(j, now)
        dur = float(self.remaining[j])
        w.busy_until = now + dur
        self.env.timeout(dur, w.token).callbacks.append(self._finish_cb[w.index])

    def _finish(self, w: Worker, ev: simpy.Event) -> None:
        if ev.value != w.token:  # the token the phase started with
            return  # preempted: this completion was cancelled
        now = self.env.now
        j = w.job
        self.rec.busy.append((w.index, w.busy_from, now, j))  # _book inlined (every completion)
        self.remaining[j] = 0.0
        if not self.j_pp[j] or self.phase[j] == TRANSPORT:
            self.phase[j] = DONE
            self.end[j] = now
            self._release(w)
        elif self.phase[j] == ASSESS:
            self._request_bed(w, j)
        else:  # search done: the child is collected
            self.phase[j] = TRANSPORT
            self.remaining[j] = self.transport[j]
            self._continue(w, j)

    def _book(self, w: Worker) -> None:
        """Record ``w``'s busy interval on its job (a phase, or holding a child) up to now."""
        self.rec.busy.append((w.index, w.busy_from, self.env.now, w.job))

    def _continue(self, w: Worker, j: int) -> None:
        """Keep ``w`` on job ``j`` for its next phase (work in hand, even past shift end)."""
        w.job = -1
        self._begin(w, j)

    def _release(self, w: Worker) -> None:
        """``w`` is free: go off if the shift is over, else take the next job."""
        w.job = -1
        w.holding = False
        if not w.rostered:
            self._go_off(w)  # the task in hand was finished after shift end
            return
        j = self._pop_for(w)  # rostered and free: on shift (an on-call worker: called, arrived)
        if j >= 0:
            self._begin(w, j)
        elif w.on_call and w.called:
            self._stand_down(w)

    def _preempt_for(self, j: int) -> bool:
        """Interrupt the lowest-priority preemptible job that ``j`` outranks, if any."""
        victim = None
        p = self.j_prio[j]
        for w in self.by_skill[self.j_skill[j]]:
            k = w.job
            if (
                k >= 0
                and w.on_shift
                and not w.holding
                and self.j_preemptible[k]
                and self.j_prio[k] > p
                and (victim is None or self.key[k] > self.key[victim.job])
            ):
                victim = w
        if victim is None:
            return False
        k = victim.job
        self._book(victim)
        self.remaining[k] = victim.busy_until - self.env.now
        victim.token += 1
        victim.job = -1
        self._push(k)
        self._begin(victim, j)
        return True

    # ------------------------------------------------------------------ rosters and handover
    def _shift_start(self, w: Worker, end: float) -> None:
        now = self.env.now
        if w.job >= 0 and w.shift_end < now:  # still on the last shift's task: overtime till now
            self.rec.overtime.append((w.index, now - w.shift_end, w.shift_end))
        w.rostered = True
        w.shift_end = end
        if w.on_call:
            if w.called:  # still called out, working: carries on into the new window
                w.on_shift = True
            else:
                self._on_call_window_opens(w)  # on call: works only when called out
            return
        w.on_shift = True
        if w.job < 0:
            self._release(w)

    def _shift_end(self, w: Worker) -> None:
        w.rostered = False
        if w.job >= 0 and not w.holding:
            w.on_shift = False  # finishes the task in hand, then goes off
            return
        if w.holding:
            self._drop_held_child(w)
        self._go_off(w)

    def _go_off(self, w: Worker) -> None:
        now = self.env.now
        if now > w.shift_end + 1e-12:
            self.rec.overtime.append((w.index, now - w.shift_end, w.shift_end))
        w.on_shift = False
        if w.called:
            w.called = False
            self._close_callout(w, now)

    def _handover(self) -> None:
        """Cover ends: every queued job and every child waiting for a bed passes to the day team."""
        for q in self.queues:
            for item in q:
                self._hand_over(item[2])
            q.clear()
        self._queue_tick()
        self.queued = 0
        waiting, self.bed_waitlist = self.bed_waitlist, []
        self.in_cover = False
        for j in waiting:
            held = self._holder(j)
            self._hand_over(j)
            if held is not None:  # a worker rostered past cover end is freed from the child
                self._book(held)
                self._release(held)

    def _cover_starts(self) -> None:
        self.in_cover = True

    def _hand_over(self, j: int) -> None:
        now = self.env.now
        self.handover[j] = now
        if self.j_pp[j] and self.station_end[j] != self.station_end[j]:
            self.outcome[j] = DAY_TEAM
            self._leave_station(j, now + self.day_team_resp[j])

    # ------------------------------------------------------------------ police protection
    def _on_child_arrival(self, j: int) -> None:
        for h in self.child_trigger_hours:
            self._at(self.arrival[j] + h, self._child_trigger, j, h)

    def _leave_station(self, j: int, t: float) -> None:
        self.station_end[j] = t
        if self.bed[j]:
            self._at(t + self.stay[j], self._free_bed)

    def _request_bed(self, w: Worker, j: int) -> None:
        """After assessment: reserve a bed and search, or wait for one.

        Assessed in overtime after cover ended: the worker finishes the episode if a bed is free
        (work in hand); otherwise the child passes to the day team (nobody waits for a bed then).
        """
        self.bed_asked[j] = self.env.now
        if self.beds_free > 0:
            self._take_bed(j)
            self.phase[j] = SEARCH
            self.remaining[j] = self.search[j]
            self._continue(w, j)
            return
        self.none_free[j] = True
        if not self.in_cover:
            self._hand_over(j)
            self._release(w)
            return
        self.bed_waitlist.append(j)
        pl = self.sc.placements
        if pl.when_none_free == "out_of_area":
            self._at(self.env.now + pl.out_of_area.after_hours, self._out_of_area, j)
        if pl.hold_worker and w.rostered:  # a worker past shift end goes off instead
            w.holding = True  # (_finish has booked the assessment; the hold is booked at its end)
            w.busy_from = self.env.now
        else:
            self._release(w)

    def _take_bed(self, j: int) -> None:
        self.beds_free -= 1
        self.bed[j] = True
        self.placed_at[j] = self.env.now
        self.outcome[j] = UNLIMITED if self.sc.placements.capacity is None else EDT_PLACED

    def _free_bed(self) -> None:
        self.beds_free += 1
        if self.bed_waitlist:
            self._bed_for(self.bed_waitlist.pop(0))

    def _bed_for(self, j: int) -> None:
        """A bed (or an out-of-area placement) is found for waiting child ``j``: carry on."""
        held = self._holder(j)
        if self.outcome[j] != OUT_OF_AREA:
            self._take_bed(j)
            self.phase[j] = SEARCH
            self.remaining[j] = self.search[j]
        else:
            self.phase[j] = TRANSPORT
            self.remaining[j] = self.transport[j] + self.ooa_travel[j]
        if held is not None:
            self._book(held)
            held.holding = False
            self._continue(held, j)
        else:
            self._enqueue(j)

    def _out_of_area(self, j: int) -> None:
        if j in self.bed_waitlist:
            self.bed_waitlist.remove(j)
            self.outcome[j] = OUT_OF_AREA
            self._bed_for(j)

    def _holder(self, j: int) -> Worker | None:
        for w in self.workers:
            if w.holding and w.job == j:
                return w
        return None

    def _drop_held_child(self, w: Worker) -> None:
        """A worker held with a child reaches shift end: the child stays on the bed waitlist.

        Another worker takes it on when a bed frees, or the day team at cover end (a cover end
        at the same instant runs after shift ends, so the child is handed over then).
        """
        self._book(w)
        w.holding = False
        w.job = -1

    # ------------------------------------------------------------------ placements, other demand
    def _schedule_other_demand(self) -> None:
        pl = self.sc.placements
        if pl.capacity is None or pl.other_demand_per_week <= 0:
            return
        rng = self._streams("placements/other_demand")
        H = self.cal.hours
        n = rng.poisson(pl.other_demand_per_week * H / 168.0)
        times = np.sort(rng.uniform(0.0, H, n))
        stays = pl.stay_days.sample(self._streams("placements/other_stay"), n) * 24.0
        for t, s in zip(times.tolist(), stays.tolist(), strict=True):
            self._at(t, self._other_placement, s)

    def _other_placement(self, stay: float) -> None:
        """Daytime services take a free bed (if none is free they place elsewhere)."""
        if self.beds_free > 0:
            self.beds_free -= 1
            self._at(self.env.now + stay, self._free_bed)

    # ------------------------------------------------------------------ on-call
    def _callout(self, w: Worker) -> Callout | None:
        return self.sc.staff[self.group_names[w.group]].callout

    def _queued_for(self, w: Worker) -> int:
        """Jobs waiting that ``w`` could take (what a queue-length trigger counts)."""
        return sum(len(self.queues[s]) for s in w.skills)

    def _check_queue_trigger(self) -> None:
        for w, n in self.queue_triggers:
            if not w.called and w.rostered and self._queued_for(w) >= n:
                self._call_out(w)
                return

    def _child_trigger(self, j: int, h: float) -> None:
        """Child ``j`` has waited ``h`` hours: call out a worker whose trigger that is."""
        if self.station_end[j] == self.station_end[j]:
            return
        for w in self.workers:
            if (
                self.child_trigger.get(w.index) == h
                and not w.called
                and w.rostered
                and self.j_skill[j] in w.skills
            ):
                self._call_out(w)
                return

    def _on_call_window_opens(self, w: Worker) -> None:
        """A trigger that already holds when the on-call window opens calls the worker at once."""
        c = self._callout(w)
        assert c is not None
        if c.queue_length is not None and self._queued_for(w) >= c.queue_length:
            self._call_out(w)
            return
        h = c.child_waiting_hours
        if h is None:
            return
        now = self.env.now
        for j in self._pp_jobs:
            if j >= self._next_arrival:
                break
            if (
                self.station_end[j] != self.station_end[j]
                and self.arrival[j] + h <= now
                and self.j_skill[j] in w.skills
            ):
                self._call_out(w)
                return

    def _call_out(self, w: Worker) -> None:
        c = self._callout(w)
        assert c is not None
        w.called = True
        now = self.env.now
        self.rec.callouts.append((w.index, now, np.nan))
        self._at(now + c.delay_hours, self._arrive_on_call, w)

    def _arrive_on_call(self, w: Worker) -> None:
        if not w.called:
            return  # the on-call window closed on the way: _shift_end stood the worker down
        w.on_shift = True
        self._release(w)

    def _stand_down(self, w: Worker) -> None:
        w.on_shift = False
        w.called = False
        self._close_callout(w, self.env.now)

    def _close_callout(self, w: Worker, now: float) -> None:
        """Close ``w``'s open callout (never re-close a finished one)."""
        for i in range(len(self.rec.callouts) - 1, -1, -1):
            wi, t0, t1 = self.rec.callouts[i]
            if wi == w.index:
                if t1 != t1:
                    self.rec.callouts[i] = (wi, t0, now)
                break


def _call(fn, args, _ev) -> None:
    fn(*args)


def _call0(fn, _ev) -> None:
    fn()


def simulate(scenario: Scenario, seed: int, replication: int, point: int | None = None) -> Model:
    """Run one replication and return the finished model (its records feed :mod:`metrics`)."""
    return Model(scenario, RandomStreams(seed, replication, point)).run()
