"""Round sources: where a node learns the current (round, stage) and who may change it.

- ``ClockSource``: wall-clock slots; nodes with synchronized clocks agree without talking.
- ``CoordinatorSource``: signed announcements on the mesh's rounds topic from the peers named
  in ``swarm.coordinators`` (anyone else is rejected at the mesh boundary and counted). A
  coordinator node announces; a backup takes over after silence; a returning leader resumes.
  With a chain, a coordinator that holds the stage-manager role also moves the contract to
  its round, catching up after an outage: rounds never wait for the chain, and the
  contract stays the record of them.
- ``ChainSource``: the contract's ``currentRound``/``currentStage``; the stage manager
  advances. Used when a chain is configured and no coordinator is: a chain outage then
  pauses rounds (nothing else can say which round it is).

All of them only ever move forward: a node that was away simply sees a later key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.aio import cancel_all
from swarmd.errors import Busy, NotAvailable, Refused
from swarmd.swarm.rounds import RoundState, clock_state, next_key, should_advance, should_announce

if TYPE_CHECKING:
    from swarmd.swarm.game import SwarmGame

log = logging.getLogger(__name__)

ROUND_KIND = "round"
# The most trainer peers one announcement lists (what fits the round topic's size cap).
MAX_PARTICIPANTS = 1000
ROUND_MAX_BYTES = 64 * 1024


class Source:
    name = "none"

    def __init__(self, game: SwarmGame) -> None:
        self.game = game
        self.config = game.config.swarm
        self._state: RoundState | None = None
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []

    @property
    def can_drive(self) -> bool:
        return False

    def current(self) -> RoundState | None:
        return self._state

    async def _set(self, state: RoundState) -> None:
        if self._state is not None and state.key <= self._state.key and state.seq <= self._state.seq:
            return
        self._state = state
        async with self._changed:
            self._changed.notify_all()

    async def wait_after(self, key: tuple[int, int] | None, timeout: float) -> RoundState | None:
        """The current state once its key is after ``key``; None on timeout."""

        def ready() -> bool:
            return self._state is not None and (key is None or self._state.key > key)

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(ready), timeout)
        return self._state if ready() else None

    def _spawn(self, coro) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"{self.name}-source"))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await cancel_all(self._tasks)

    def _refuse(self) -> Refused:
        return Refused(f"rounds here come from the {self.name} source; this node cannot change them")

    async def start_round(self, round_: int) -> RoundState:
        raise self._refuse()

    async def advance(self) -> RoundState:
        raise self._refuse()

    def _stage_count(self) -> int:
        return self.game.env.stage_count

    def _published_and_expected(self, state: RoundState) -> tuple[set[str], set[str]]:
        """Who published for the stage, and which live trainer peers we wait for."""
        mesh = self.game.daemon.mesh
        published: set[str] = set()
        expected: set[str] = set()
        if mesh is not None:
            published = set(mesh.held(self.game.env.kind, state.round, state.stage))
            expected = self.game.expected_peers()
        if self.game.trains:
            expected.add(self.game.peer_id)
            if self.game.published_key == state.key:
                published.add(self.game.peer_id)
        return published, expected


class ClockSource(Source):
    name = "clock"

    async def start(self) -> None:
        await self._tick()
        self._spawn(self._run())

    async def _tick(self) -> float:
        state = clock_state(time.time(), self.config.clock_period_s, self._stage_count(), self.config.environment)
        await self._set(state)
        return state.deadline - time.time()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(0.01, await self._tick()))


class CoordinatorSource(Source):
    name = "coordinator"

    def __init__(self, game: SwarmGame) -> None:
        super().__init__(game)
        self.coordinators = list(self.config.coordinators)
        self.me = game.peer_id
        now = time.time()
        # Everyone counts as just heard at start, so no backup takes over
        # before it had a chance to hear the leader.
        self.last_heard: dict[str, float] = {p: now for p in self.coordinators if p != self.me}
        self._seq = game.state.coordinator_seq
        self._lock = asyncio.Lock()
        self._started_at = now
        self._mirror_wanted = asyncio.Event()
        self._chain_key: tuple[int, int] | None = None
        self.mirror_error = ""

    @property
    def can_drive(self) -> bool:
        return self.me in self.coordinators

    @property
    def announcing(self) -> bool:
        return should_announce(self.me, self.coordinators, self.last_heard, time.time(), self.config.takeover_s)

    def validate(self, message: gpb.RoundAnnouncement, sender: str) -> str | None:
        """Mesh-boundary check (pure: may run on the network thread)."""
        if sender not in self.coordinators:
            return "not_coordinator"
        if message.stage_count == 0 or message.stage >= message.stage_count:
            return "bad_stage"
        if message.deadline < message.started_at:
            return "bad_deadline"
        if len(message.participants) > MAX_PARTICIPANTS or len(set(message.participants)) != len(message.participants):
            return "bad_participants"
        return None

    async def start(self) -> None:
        mesh = self.game.daemon.mesh
        if mesh is None:
            raise NotAvailable("the coordinator round source needs the p2p mesh (p2p.enabled = true)")
        self._spawn(self._listen(mesh))
        if self.can_drive:
            self._spawn(self._announce_loop(mesh))
            if self.game.daemon.chain is not None:
                self._spawn(self._mirror(self.game.daemon.chain))

    async def _listen(self, mesh) -> None:
        async for received in mesh.subscribe(ROUND_KIND):
            ann: gpb.RoundAnnouncement = received.payload
            now = time.time()
            self.last_heard[received.sender] = now
            if received.sender == self.me:
                continue
            # Deadlines travel as durations from the send time, so clock skew
            # between coordinator and node does not shorten or stretch a stage.
            remaining = max(0.0, ann.deadline - max(received.sent_at, ann.started_at))
            state = RoundState(
                round=ann.round,
                stage=ann.stage,
                stage_count=ann.stage_count,
                source=self.name,
                started_at=now - max(0.0, received.sent_at - ann.started_at),
                deadline=now + remaining,
                environment=ann.environment,
                seq=ann.seq,
                participants=tuple(ann.participants),
            )
            if self._state is None or state.key > self._state.key:
                self._seq = max(self._seq, ann.seq)
                await self._set(state)

    def _announcement(self, state: RoundState) -> gpb.RoundAnnouncement:
        return gpb.RoundAnnouncement(
            round=state.round,
            stage=state.stage,
            stage_count=state.stage_count,
            environment=state.environment,
            started_at=state.started_at,
            deadline=state.deadline,
            seq=state.seq,
            participants=state.participants,
        )

    async def _move_to(self, round_: int, stage: int) -> RoundState:
        async with self._lock:
            now = time.time()
            self._seq += 1
            state = RoundState(
                round=round_,
                stage=stage,
                stage_count=self._stage_count(),
                source=self.name,
                started_at=now,
                deadline=now + self.config.stage_timeout_s,
                environment=self.config.environment,
                seq=self._seq,
                participants=tuple(sorted(self._live_trainers())),
            )
            self._state = None  # a coordinator's own move always wins locally
            await self._set(state)
            self.game.note_coordinator(self._seq, state.key)
            await self._publish(state)
            self._mirror_wanted.set()
            log.info("announced round %d stage %d", round_, stage)
            return state

    async def _publish(self, state: RoundState) -> None:
        mesh = self.game.daemon.mesh
        try:
            await mesh.publish(ROUND_KIND, state.round, state.stage, self._announcement(state))
        except Exception as e:  # noqa: BLE001 - the next announce retries
            log.warning("round announcement failed: %s", e)

    def _known_keys(self) -> list[tuple[int, int]]:
        """Every (round, stage) this coordinator knows the swarm played or announced."""
        known = [tuple(k) for k in (self.game.state.coordinator_key, self.game.state.last_done) if k]
        if self._state is not None:
            known.append(self._state.key)
        known += self.game.peer_rounds()
        return known

    def _first_round(self) -> tuple[int, int]:
        """Where a (re)starting coordinator begins: after what it or the swarm last reached,
        and never behind the contract's current round (which is current, not done)."""
        known = self._known_keys()
        start = next_key(*max(known), self._stage_count()) if known else (0, 0)
        if self._chain_key is not None and self._chain_key > start:
            start = self._chain_key
        return start

    async def _announce_loop(self, mesh) -> None:
        # Listen first: a restarted leader learns where the swarm is before it speaks.
        await asyncio.sleep(2 * self.config.announce_interval_s)
        while True:
            if self.announcing:
                state = self._state
                if state is None or state.source != self.name:
                    # start_min_peers only holds back the swarm's very first round: a
                    # restarted coordinator resumes whoever is left.
                    first_ever = self._known_keys() == []
                    enough = len(self._live_trainers()) >= self.config.start_min_peers
                    if self.config.auto_advance and (enough or not first_ever):
                        await self._move_to(*self._first_round())
                elif self.config.auto_advance and should_advance(
                    time.time(), state, *self._published_and_expected(state), self.config.min_stage_s
                ):
                    await self._move_to(*next_key(state.round, state.stage, state.stage_count))
                elif state is not None:
                    await self._publish(state)
            await asyncio.sleep(self.config.announce_interval_s)

    def _mirror_target(self) -> tuple[int, int] | None:
        """The round the contract must reach: the latest this coordinator ever announced.

        Peers may have played (and queued submissions for) any round it announced, so
        the contract catches up to it even after a restart or while another leads.
        """
        keys = [tuple(self.game.state.coordinator_key)] if self.game.state.coordinator_key else []
        if self._state is not None and self.announcing:
            keys.append(self._state.key)
        return max(keys) if keys else None

    async def _catch_up(self, chain) -> None:
        """One attempt to move the contract to the mirror target."""
        round_, stage, count = await chain.read_round()
        self._chain_key = (round_, stage)
        target = self._mirror_target()
        if target is None or (round_, stage) >= target or not chain.is_stage_manager:
            return
        if count != self._stage_count():
            raise RuntimeError(
                f"the contract has {count} stages but environment {self.config.environment} "
                f"has {self._stage_count()}: rounds are not mirrored on chain"
            )
        while (round_, stage) < target:
            round_, stage = await chain.advance()
            self._chain_key = (round_, stage)

    async def _mirror(self, chain) -> None:
        """Keep moving the contract to this coordinator's round; retried until the chain follows."""
        warned = ""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mirror_wanted.wait(), 5.0)
            self._mirror_wanted.clear()
            try:
                await self._catch_up(chain)
                if warned:
                    log.info("the chain follows the rounds again (at %s)", self._chain_key)
                warned = self.mirror_error = ""
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - rounds go on; the chain catches up later
                self.mirror_error = f"{type(e).__name__}: {e}"
                if self.mirror_error != warned:
                    log.warning("cannot move the chain to the current round: %s", self.mirror_error)
                warned = self.mirror_error

    async def stop(self) -> None:
        chain = self.game.daemon.chain
        await super().stop()
        if self.can_drive and chain is not None:
            # Leave the contract at the last announced round, so the swarm's queued
            # submissions for it can land even if this coordinator does not come back.
            try:
                await asyncio.wait_for(self._catch_up(chain), 10.0)
            except Exception as e:  # noqa: BLE001 - best effort while stopping
                log.info("the chain was not moved to the last announced round before stopping: %s", e)

    def _live_trainers(self) -> set[str]:
        return self.game.expected_peers() | ({self.me} if self.game.trains else set())

    def _require_leader(self) -> None:
        if not self.can_drive:
            raise Refused(
                "this node is not a coordinator of the swarm (swarm.coordinators does not list "
                f"{self.me}); ask the coordinator"
            )
        if not self.announcing:
            raise Refused("another coordinator with higher precedence is active; ask it")

    async def start_round(self, round_: int) -> RoundState:
        self._require_leader()
        current = self._state.key if self._state else None
        target = round_ if round_ else (current[0] + 1 if current else 0)
        if current is not None and (target, 0) <= current:
            raise Refused(f"round {target} is not after the current round {current[0]} stage {current[1]}")
        return await self._move_to(target, 0)

    async def advance(self) -> RoundState:
        self._require_leader()
        if self._state is None:
            return await self._move_to(*self._first_round())
        return await self._move_to(*next_key(self._state.round, self._state.stage, self._stage_count()))


class ChainSource(Source):
    name = "chain"

    def __init__(self, game: SwarmGame) -> None:
        super().__init__(game)
        self.chain: Any = game.daemon.chain
        self.last_error = ""

    @property
    def can_drive(self) -> bool:
        return bool(getattr(self.chain, "is_stage_manager", False))

    async def start(self) -> None:
        if self.chain is None:
            raise NotAvailable("the chain round source needs the chain client (chain.enabled = true)")
        self._spawn(self._poll())

    async def _read(self) -> RoundState | None:
        try:
            round_, stage, stage_count = await self.chain.read_round()
        except Exception as e:  # noqa: BLE001 - an outage keeps the last round; training goes on
            message = f"{type(e).__name__}: {e}"
            if message != self.last_error:
                log.warning("cannot read the round from the chain: %s", message)
            self.last_error = message
            return None
        self.last_error = ""
        if self._state is not None and (round_, stage) == self._state.key:
            return self._state
        now = time.time()
        state = RoundState(
            round=round_,
            stage=stage,
            stage_count=stage_count or self._stage_count(),
            source=self.name,
            started_at=now,
            deadline=now + self.config.stage_timeout_s,
            environment=self.config.environment,
            seq=round_ * 1000 + stage,
        )
        await self._set(state)
        return state

    async def _poll(self) -> None:
        while True:
            state = await self._read()
            if (
                state is not None
                and self.can_drive
                and self.config.auto_advance
                and should_advance(time.time(), state, *self._published_and_expected(state), self.config.min_stage_s)
            ):
                with contextlib.suppress(Exception):
                    await self.advance()
            await asyncio.sleep(self.config.idle_poll_s)

    async def advance(self) -> RoundState:
        if not self.can_drive:
            raise Refused("this node's chain account is not the contract's stage manager")
        try:
            await self.chain.advance()
        except Refused:
            raise
        except Exception as e:  # noqa: BLE001 - surfaced to the operator
            raise Busy(f"advancing on chain failed: {e}") from None
        state = await self._read()
        if state is None:
            raise Busy(f"advanced on chain, but reading it back failed: {self.last_error}")
        return state

    async def start_round(self, round_: int) -> RoundState:
        raise Refused("rounds on chain start with the contract and only advance: use `swarmctl round advance`")


def make_source(game: SwarmGame) -> Source:
    cfg = game.config
    kind = cfg.swarm.round_source
    if kind == "auto":
        kind = "coordinator" if cfg.swarm.coordinators else ("chain" if cfg.chain.enabled else "clock")
    return {"clock": ClockSource, "coordinator": CoordinatorSource, "chain": ChainSource}[kind](game)
