"""Round and stage arithmetic: pure functions, no I/O.

A round has ``stage_count`` stages. Every key in the game is (round, stage),
never a local counter, so a node that restarts or joins late computes the same
keys as everyone else and simply skips to the current one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RoundState:
    round: int
    stage: int
    stage_count: int
    source: str  # "chain", "coordinator", "clock"
    started_at: float  # unix time the stage started
    deadline: float  # unix time collection for the stage ends
    environment: str = ""
    seq: int = 0  # coordinator announcements: orders them
    participants: tuple[str, ...] = ()  # coordinator announcements: its live trainers at the stage's start

    @property
    def key(self) -> tuple[int, int]:
        return (self.round, self.stage)

    @property
    def is_last_stage(self) -> bool:
        return self.stage == self.stage_count - 1

    def with_times(self, started_at: float, deadline: float) -> RoundState:
        return replace(self, started_at=started_at, deadline=deadline)


def next_key(round_: int, stage: int, stage_count: int) -> tuple[int, int]:
    """The (round, stage) after this one."""
    if stage + 1 < stage_count:
        return (round_, stage + 1)
    return (round_ + 1, 0)


def is_after(a: tuple[int, int], b: tuple[int, int] | None) -> bool:
    """Whether key ``a`` comes after ``b`` (None is before everything)."""
    return b is None or a > b


def clock_state(now: float, period_s: float, stage_count: int, environment: str = "") -> RoundState:
    """The wall-clock slot containing ``now``: every stage lasts ``period_s`` seconds.

    Slot n (counted from the Unix epoch) is round n // stage_count, stage
    n % stage_count, so nodes with synchronized clocks agree without talking.
    """
    slot = math.floor(now / period_s)
    started = slot * period_s
    return RoundState(
        round=slot // stage_count,
        stage=slot % stage_count,
        stage_count=stage_count,
        source="clock",
        started_at=started,
        deadline=started + period_s,
        environment=environment,
        seq=slot,
    )


def should_advance(
    now: float,
    state: RoundState,
    published: set[str],
    expected: set[str],
    min_stage_s: float,
) -> bool:
    """A coordinator's rule: advance at the deadline, or once every expected peer published.

    ``expected`` is the set of live trainer peers (the coordinator included when
    it trains); an empty set never advances early, since then nobody is playing.
    """
    if now >= state.deadline:
        return True
    if now - state.started_at < min_stage_s:
        return False
    return bool(expected) and expected <= published


def should_announce(
    me: str,
    coordinators: list[str],
    last_heard: dict[str, float],
    now: float,
    takeover_s: float,
) -> bool:
    """Whether coordinator ``me`` should be announcing rounds now.

    Coordinators are listed in order of precedence. The one ranked k announces
    when every coordinator ranked j < k has been silent for more than
    (k - j) × takeover_s, so when the leader dies the next one takes over after
    takeover_s, the one after it only if that one stays silent too, and a
    returning leader takes its place back at once. ``last_heard`` should start
    at the node's start time for every coordinator, so nobody takes over
    before it had a chance to hear the leader.
    """
    if me not in coordinators:
        return False
    rank = coordinators.index(me)
    return all(
        now - last_heard.get(peer, float("-inf")) > (rank - j) * takeover_s
        for j, peer in enumerate(coordinators[:rank])
    )
