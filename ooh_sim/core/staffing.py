"""Staff who are absent and who need rest: lost shifts and how they are covered, and the Working
Time Regulations checks (a break in every long stretch, rest between shifts).

Absence changes a worker's roster windows before the run (a lost shift is dropped, or starts late
when someone on call covers it, or is worked in full by an agency worker); it draws from the
group's own ``absence/<group>`` random stream, so a scenario without absence draws nothing new.
Breaks and rest are measured from the finished run's trace (busy intervals, overtime), not
enforced: the KPI says how often the rota as simulated would breach them.
"""

from __future__ import annotations

import numpy as np

from ooh_sim.core.clock import merge_intervals
from ooh_sim.core.schema import Absence, Rest


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
        stretches = merge_intervals(np.column_stack([busy[:, 0], busy[:, 1] + gap]))
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
