"""Staff who are absent and who need rest: lost shifts and how they are covered, and the Working
Time Regulations checks (a break in every long stretch, rest between shifts).

Absence changes a worker's roster windows before the run (a lost shift is dropped, or starts late
when someone on call covers it, or is worked in full by an agency worker); it draws from the
group's own ``absence/<group>`` random stream, so a scenario without absence draws nothing new.
Breaks and rest are measured from the finished run's trace (busy intervals, overtime), not
enforced: the KPI says how often the rota as simulated would breach them.

:class:`StaffAvailability`, a mixin of :class:`~ooh_sim.core.model.Model` like
:mod:`ooh_sim.core.episode`, adds two kinds of staff that change who works when, both active only
when configured (with neither, not one event or draw changes):

* **standby** (``staff.<G>.standby``): each night from ``from`` to ``until`` (within the worker's
  shifts) a worker with nothing in hand is at home; work queued for them calls them out and they
  start ``delay_hours`` later; when nothing is left they go home again. A worker busy when standby
  starts finishes what is in hand (and anything queued) first. Call-outs are recorded like an
  on-call worker's (KPIs ``staff.<G>.callouts_per_week`` and ``callout_hours_per_week``);
* **support workers** (``staff.<G>.support``): they take no referral or assessment. When a
  child's transport phase starts and a support worker (whose skills include the child's stream's)
  is free, the support worker transports the child and the social worker is released; when a
  social worker would be held with a child waiting for a bed (``placements.hold_worker``), a free
  support worker sits with the child instead. When a bed is found for a child a support worker
  sits with, that support worker carries the episode through: it agrees the placement (the
  search phase, by phone — an ASSUMPTION: handing it back to a social worker who may be holding
  another child could leave every bed reserved and nobody free) and transports the child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ooh_sim.core.clock import merge_intervals, parse_hhmm
from ooh_sim.core.episode import TRANSPORT
from ooh_sim.core.schema import Absence, Rest, Standby

if TYPE_CHECKING:
    from collections.abc import Callable

    import simpy

    from ooh_sim.core.model import Records, Worker
    from ooh_sim.core.schema import Scenario


def apply_absence(
    absence: Absence, windows: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One worker's roster windows after absence, and which of the original shifts were lost.

    Every shift gets one draw, in order, whatever the cover rule (so switching the rule keeps the
    same absences: common random numbers).
    """
    absent = rng.random(len(windows)) < absence.probability
    if absence.cover == "agency" or not absent.any():
        return windows, absent
    if absence.cover == "none":
        return windows[~absent], absent
    late = windows.copy()
    late[absent, 0] = np.minimum(late[absent, 0] + absence.cover_delay_hours, late[absent, 1])
    return late[late[:, 1] > late[:, 0]], absent


def rest_breaches(
    rest: Rest,
    windows: np.ndarray,
    busy: np.ndarray,
    overtime: np.ndarray,
    lo: float,
    hi: float,
) -> int:
    """Breaches of one worker in [lo, hi): stretches of work longer than ``break_after_hours``
    without a gap of ``break_minutes``, and rests shorter than ``min_rest_hours`` between the end
    of a shift's work (its end plus overtime) and the next shift's start.

    ``busy``: (n, 2) busy intervals; ``overtime``: (m, 2) rows of hours and the shift end they
    follow.
    """
    count = 0
    if len(busy):
        gap = rest.break_minutes / 60.0
        joined = merge_intervals(np.column_stack([busy[:, 0], busy[:, 1] + gap]).tolist())
        stretches = np.asarray(joined, dtype=float).reshape(-1, 2)
        stretches[:, 1] -= gap
        long = (stretches[:, 1] - stretches[:, 0]) > rest.break_after_hours
        count += int((long & (stretches[:, 0] >= lo) & (stretches[:, 0] < hi)).sum())
    if len(windows) > 1:
        ends = windows[:-1, 1].copy()
        extra = dict(zip(overtime[:, 1].tolist(), overtime[:, 0].tolist(), strict=True))
        ends += np.array([extra.get(e, 0.0) for e in ends.tolist()])
        short = (windows[1:, 0] - ends) < rest.min_rest_hours
        count += int((short & (windows[1:, 0] >= lo) & (windows[1:, 0] < hi)).sum())
    return count


def absences(
    groups: list, worker_groups: list[int], rosters: list[np.ndarray], random_streams
) -> list[np.ndarray]:
    """Apply each group's absence to its workers' rosters (in place) and return, per worker,
    the start times of the shifts they were absent from (empty without absence).

    ``groups``: (name, StaffGroup) pairs in scenario order; ``worker_groups``: each worker's
    group index; ``random_streams``: the replication's :class:`~ooh_sim.core.rng.RandomStreams`.
    """
    lost: list[np.ndarray] = []
    for i, g in enumerate(worker_groups):
        name, group = groups[g]
        if group.absence is None:
            lost.append(np.zeros(0))
            continue
        windows = rosters[i]
        rosters[i], absent = apply_absence(
            group.absence, windows, random_streams(f"absence/{name}")
        )
        lost.append(windows[absent, 0])
    return lost


def standby_intervals(standby: Standby, windows: np.ndarray) -> np.ndarray:
    """The parts of a worker's roster ``windows`` spent on standby: each day's [from, until)
    (until before from: the next day) intersected with the windows, as (k, 2) hours."""
    if not len(windows):
        return np.zeros((0, 2))
    start, until = parse_hhmm(standby.from_time), parse_hhmm(standby.until)
    if until <= start:
        until += 24.0
    first, last = int(np.floor(windows[0, 0] / 24.0)) - 1, int(np.ceil(windows[-1, 1] / 24.0))
    days = np.arange(first, last + 1, dtype=float) * 24.0
    nights = np.column_stack([days + start, days + until])
    out = []
    for lo, hi in windows.tolist():
        for s, e in nights[(nights[:, 1] > lo) & (nights[:, 0] < hi)].tolist():
            out.append((max(s, lo), min(e, hi)))
    return np.asarray(out, dtype=float).reshape(-1, 2)


class StaffAvailability:
    """Standby from home and support workers: a mixin of :class:`~ooh_sim.core.model.Model`
    (see the module doc)."""

    # provided by Model
    scenario: Scenario
    env: simpy.Environment
    records: Records
    workers: list[Worker]
    rosters: list[np.ndarray]
    group_names: list[str]
    phase: list[int]
    job_skill: list[int]
    queues: list[list[tuple]]
    _at: Callable[..., None]
    _begin: Callable[[Worker, int], None]
    _release: Callable[[Worker], None]
    _close_callout: Callable[[Worker, float], None]

    def _build_standby_support(self, escort_skills: list[tuple[int, ...]]) -> None:
        """Standby windows of each worker (after absence) and the support workers.

        ``escort_skills``: per worker, the skill indices of the children a support worker
        escorts (empty for everyone else).
        """
        groups = list(self.scenario.staff.values())
        self.standby_windows: list[np.ndarray] = []
        self.standby_workers: list[Worker] = []
        self.standby_delay = [0.0] * len(self.workers)
        for worker, windows in zip(self.workers, self.rosters, strict=True):
            standby = groups[worker.group].standby
            if standby is None:
                self.standby_windows.append(np.zeros((0, 2)))
                continue
            self.standby_windows.append(standby_intervals(standby, windows))
            self.standby_workers.append(worker)
            self.standby_delay[worker.index] = standby.delay_hours
        self.support_workers = [w for w in self.workers if w.support]
        # rows of records.callouts that are a worker staying up past the standby hour to finish
        # work in hand (paid time, like a call-out's, but no call-out)
        self.stay_up_rows: list[int] = []
        self.escort_skills = escort_skills

    def _schedule_standby(self) -> None:
        for worker in self.standby_workers:
            ends = set(self.rosters[worker.index][:, 1].tolist())
            for start, end in self.standby_windows[worker.index].tolist():
                self._at(start, self._standby_starts, worker)
                if end not in ends:  # at a shift end, _shift_end sends the worker off
                    self._at(end, self._standby_ends, worker)

    # ------------------------------------------------------------------ standby
    def _standby_starts(self, worker: Worker) -> None:
        """Standby from home begins: an idle worker goes home; a busy one stays up, as if
        called out (paid time, not a call-out), until nothing is left for them."""
        if not worker.rostered:
            return
        worker.standby = True
        if worker.job < 0:
            worker.on_shift = False
            return
        worker.called = True
        self.stay_up_rows.append(len(self.records.callouts))
        self.records.callouts.append((worker.index, self.env.now, np.nan))

    def _standby_ends(self, worker: Worker) -> None:
        """Standby ends inside the shift: the worker is on duty again (a call-out in progress
        ends here; a worker still on the way counts as there)."""
        if not worker.standby:
            return
        self._standby_over(worker)
        if not worker.on_shift and worker.rostered:
            worker.on_shift = True
            if worker.job < 0:
                self._release(worker)

    def _standby_over(self, worker: Worker) -> None:
        """Standby ends (its end or the shift's): close a call-out in progress."""
        worker.standby = False
        if worker.called:
            worker.called = False
            self._close_callout(worker, self.env.now)

    def _call_from_standby(self, job: int) -> None:
        """Work is queued: call out one worker at home on standby who can take it."""
        skill = self.job_skill[job]
        for worker in self.standby_workers:
            if (worker.standby and not worker.on_shift and not worker.called
                    and worker.job < 0 and skill in worker.skills):  # fmt: skip
                worker.called = True
                now = self.env.now
                self.records.callouts.append((worker.index, now, np.nan))
                self._at(now + self.standby_delay[worker.index], self._standby_arrives, worker)
                return

    def _standby_arrives(self, worker: Worker) -> None:
        if not worker.called or worker.on_shift:
            return  # standby or the shift ended on the way
        worker.on_shift = True
        self._release(worker)

    # ------------------------------------------------------------------ support workers
    def _free_support(self, job: int) -> Worker | None:
        skill = self.job_skill[job]
        for worker in self.support_workers:
            if worker.job < 0 and worker.on_shift and skill in self.escort_skills[worker.index]:
                return worker
        return None

    def _support_takes(self, worker: Worker | None, job: int) -> bool:
        """Give ``job``'s next phase to a support worker if it is theirs and one is free.

        ``worker``: the worker whose phase just ended (None: the job is being queued). A support
        worker who sat with the child carries on with it itself.
        """
        if self.phase[job] != TRANSPORT or (worker is not None and worker.support):
            return False
        helper = self._free_support(job)
        if helper is None:
            return False
        self._begin(helper, job)
        if worker is not None:
            self._release(worker)
        return True

    def _escort(self, worker: Worker, job: int) -> None:
        """``worker`` is held with child ``job`` waiting for a bed: a free support worker sits
        with the child instead, and the social worker goes."""
        helper = self._free_support(job)
        if helper is None:
            return
        now = self.env.now
        helper.job = job
        helper.holding = True
        helper.busy_from = now
        worker.holding = False
        self._release(worker)
