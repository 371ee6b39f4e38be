"""A Mental Health Act assessment that waits for others: s12 doctors, a bed, and the s136 clock.

A mixin of :class:`~ooh_sim.core.model.Model` (like :mod:`ooh_sim.core.episode`), active only for
streams with an ``mha`` block. Such a job runs in phases: *doctor wait* → *assess* (the stream's
``duration``) → for an admitted person *bed wait* → *conveyance* (AMHP work) → done. With
``hold_amhp`` the AMHP is busy with the case through every wait (a held wait is a phase of
work, booked like any other); without it the AMHP is released during a wait and the case
rejoins the queue (same priority and place) when the wait ends — or, out of cover, passes to the
day team. A person not found a bed is *not completed* when the search is given up.

Every per-job figure is drawn up front from the stream's own ``mha/...`` random streams, so a
scenario without ``mha`` draws nothing new, and a zero wait adds no event: with every wait zero
the jobs run exactly as without the block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ooh_sim.core.episode import ASSESS, DONE

if TYPE_CHECKING:
    from collections.abc import Callable

    import simpy

    from ooh_sim.core.model import Worker
    from ooh_sim.core.rng import RandomStreams
    from ooh_sim.core.schema import Scenario

# The extra phases of an MHA job (ASSESS and DONE are shared with every job)
DOCTOR_WAIT, BED_WAIT, CONVEYANCE = 10, 11, 12


class MentalHealthPathway:
    """The Mental Health Act part of :class:`~ooh_sim.core.model.Model` (see the module doc)."""

    # provided by Model
    scenario: Scenario
    env: simpy.Environment
    stream: np.ndarray
    stream_names: list[str]
    duration: np.ndarray
    n_jobs: int
    phase: list[int]
    remaining: list[float]
    end: list[float]
    handover: list[float]
    _at: Callable[..., None]
    _continue: Callable[[Worker, int], None]
    _release: Callable[[Worker], None]
    _enqueue: Callable[[int], None]

    def _build_mha(self, random_streams: RandomStreams) -> None:
        """Per-job MHA figures (drawn only for streams with an ``mha`` block)."""
        n = self.n_jobs
        self.is_mha = [False] * n
        specs = [(i, name, s.mha) for i, (name, s) in enumerate(self.scenario.streams.items())]
        self.mha_streams = [i for i, _, m in specs if m is not None]
        if not self.mha_streams:
            return
        zeros = np.zeros(n)
        self.doctor_wait, self.bed_wait, self.conveyance = zeros.copy(), zeros.copy(), zeros.copy()
        self.mha_day_team = zeros.copy()
        self.admitted = np.zeros(n, bool)
        self.bed_found = np.ones(n, bool)
        self.s136 = np.zeros(n, bool)
        self.in_station = np.zeros(n, bool)
        self.mha_officers = zeros.copy()
        self.mha_hold = [True] * n
        for index, name, mha in specs:
            if mha is None:
                continue
            jobs = np.flatnonzero(self.stream == index)  # the stream's jobs in arrival order
            k = len(jobs)

            def draw(purpose: str, name: str = name):
                return random_streams(f"mha/{purpose}/{name}")

            self.doctor_wait[jobs] = mha.doctor_wait.sample(draw("doctor_wait"), k)
            self.admitted[jobs] = draw("admitted").random(k) < mha.admission_share
            self.bed_wait[jobs] = mha.bed_wait.sample(draw("bed_wait"), k)
            self.bed_found[jobs] = draw("bed_found").random(k) < mha.bed_found_share
            self.conveyance[jobs] = mha.conveyance.sample(draw("conveyance"), k)
            if mha.s136_share > 0:
                self.s136[jobs] = draw("s136").random(k) < mha.s136_share
                self.in_station[jobs] = draw("station").random(k) < mha.station_share
                self.mha_day_team[jobs] = self.scenario.day_team.response.sample(
                    draw("day_team"), k
                )
                self.mha_officers[jobs] = mha.officers
            for job in jobs.tolist():
                self.is_mha[job] = True
                self.mha_hold[job] = mha.hold_amhp
                if self.doctor_wait[job] > 0:  # a zero wait is no phase (no event)
                    self.phase[job] = DOCTOR_WAIT
                    self.remaining[job] = float(self.doctor_wait[job]) if mha.hold_amhp else 0.0
        nan = float("nan")
        self.doctor_done = [nan] * n  # the s12 doctors are there
        self.assessed = [nan] * n  # the assessment is done
        self.bed_done = [nan] * n  # a bed found, or the search given up
        self.not_completed = [False] * n

    # ------------------------------------------------------------------ phases
    def _mha_phase_done(self, worker: Worker, job: int) -> None:
        """``worker`` finished a phase of MHA job ``job`` (called from ``Model._finish``)."""
        now = self.env.now
        phase = self.phase[job]
        if phase == DOCTOR_WAIT:
            self.phase[job] = ASSESS
            self.remaining[job] = float(self.duration[job])
            if self.mha_hold[job]:  # the held wait is over: assess now
                self.doctor_done[job] = now
                self._continue(worker, job)
            else:  # the AMHP goes; the case comes back when the doctors are there
                self._at(now + float(self.doctor_wait[job]), self._mha_wait_over, job)
                self._release(worker)
        elif phase == ASSESS:
            self.assessed[job] = now
            if not self.admitted[job]:
                self._mha_done(worker, job)
            elif self.mha_hold[job]:
                if self.bed_wait[job] > 0:
                    self.phase[job] = BED_WAIT
                    self.remaining[job] = float(self.bed_wait[job])
                    self._continue(worker, job)
                else:
                    self._mha_bed_over(worker, job)
            else:
                self.phase[job] = BED_WAIT
                self._release(worker)
                if self.bed_wait[job] > 0:
                    self._at(now + float(self.bed_wait[job]), self._mha_wait_over, job)
                else:
                    self._mha_bed_over(None, job)
        elif phase == BED_WAIT:  # held through the bed wait
            self._mha_bed_over(worker, job)
        else:  # CONVEYANCE
            self._mha_done(worker, job)

    def _mha_wait_over(self, job: int) -> None:
        """A wait without the AMHP ends: the case rejoins the queue (or the bed search ends)."""
        if self.phase[job] == ASSESS:
            self.doctor_done[job] = self.env.now
            self._enqueue(job)
        else:
            self._mha_bed_over(None, job)

    def _mha_bed_over(self, worker: Worker | None, job: int) -> None:
        """The bed search ends: convey the person (found) or close the case not completed."""
        self.bed_done[job] = self.env.now
        if not self.bed_found[job]:
            self.not_completed[job] = True
            self._mha_done(worker, job)
        elif self.conveyance[job] > 0:
            self.phase[job] = CONVEYANCE
            self.remaining[job] = float(self.conveyance[job])
            if worker is not None:
                self._continue(worker, job)
            else:
                self._enqueue(job)
        else:
            self._mha_done(worker, job)

    def _mha_done(self, worker: Worker | None, job: int) -> None:
        self.phase[job] = DONE
        self.end[job] = self.env.now
        if worker is not None:
            self._release(worker)

    # ------------------------------------------------------------------ results
    def s136_end(self, horizon: float) -> np.ndarray:
        """When each s136 detention ends (NaN: not s136, or still open at the horizon).

        It ends when the assessment ends (done or not completed). A case handed over at the end
        of cover ends when the day team has responded and done what was left of it (its waits and
        assessment as drawn).
        """
        end = np.asarray(self.end, dtype=float)
        handover = np.asarray(self.handover, dtype=float)
        left = np.where(np.isnan(np.asarray(self.doctor_done)) & (self.doctor_wait > 0),
                        self.doctor_wait, 0.0)  # fmt: skip
        left = left + np.where(np.isnan(np.asarray(self.assessed)), self.duration, 0.0)
        no_bed_yet = self.admitted & np.isnan(np.asarray(self.bed_done))
        left = left + np.where(no_bed_yet, self.bed_wait + self.conveyance * self.bed_found, 0.0)
        by_day_team = handover + self.mha_day_team + left
        out = np.where(np.isnan(end), by_day_team, end)
        out = np.where(out <= horizon, out, np.nan)
        return np.where(self.s136, out, np.nan)
