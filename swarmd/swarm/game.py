"""The swarm game subsystem (the daemon's ``swarm`` slot): drives rounds and stages.

For every (round, stage) the round source reports, a training node plays the
environment's stage once, records what it verified (history, leaderboard),
checkpoints, hands its results to the chain queue, and emits events. A node
that was away skips straight to the current stage; a stage whose deadline has
already passed is skipped, not played late. Bootnodes run the game without
playing, so they validate, relay and serve the game's messages (and may
coordinate rounds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.aio import cancel_all
from swarmd.errors import NotAvailable
from swarmd.metrics import REGISTRY
from swarmd.swarm import leaderboard as lb
from swarmd.swarm.env import Environment, StageContext, StageReport
from swarmd.swarm.rounds import RoundState
from swarmd.swarm.selection import ScoredGroup, scaled_reward
from swarmd.swarm.sources import ROUND_KIND, ROUND_MAX_BYTES, CoordinatorSource, make_source

log = logging.getLogger(__name__)

ROUNDS = Counter("swarmd_rounds_completed", "Stages this node played to the end", ["environment"], registry=REGISTRY)
ROUNDS_SKIPPED = Counter("swarmd_rounds_skipped", "Stages skipped (deadline passed, trainer down)", ["reason"], registry=REGISTRY)
ROUND_GAUGE = Gauge("swarmd_round", "Current round", registry=REGISTRY)
STAGE_GAUGE = Gauge("swarmd_stage", "Current stage", registry=REGISTRY)
STAGE_SECONDS = Histogram(
    "swarmd_stage_seconds", "Time to play one stage", buckets=(1, 2, 5, 10, 20, 40, 80, 160, 320, 640), registry=REGISTRY
)
REWARD = Gauge("swarmd_round_reward", "Mean verified reward of this node's own completions, last stage", registry=REGISTRY)
GROUPS_REJECTED = Counter(
    "swarmd_rollout_groups_rejected", "Peers' rollout groups (or batches) rejected by the game", ["reason"], registry=REGISTRY
)
GROUPS_TRAINED = Counter("swarmd_groups_trained", "Groups in training steps", ["source"], registry=REGISTRY)
ROLLOUTS_RECEIVED = Counter("swarmd_rollout_batches_received", "Peers' batches received", ["via"], registry=REGISTRY)
STALENESS = Histogram(
    "swarmd_rollout_staleness_rounds", "Rounds between a peer batch and the step that trained on it",
    buckets=(0, 1, 2, 3, 5, 10), registry=REGISTRY,
)


def make_environment(game: SwarmGame) -> Environment:
    name = game.config.swarm.environment
    if name == "sapo":
        from swarmd.swarm.sapo import Sapo

        return Sapo(game)
    from swarmd.swarm.debate import Debate

    return Debate(game)


class SwarmGame:
    name = "swarm"

    def __init__(self, daemon) -> None:
        self.daemon = daemon
        self.config = daemon.config
        self.peer_id: str = daemon.identity.peer_id
        self.swarm_id: str = daemon.config.node.swarm_id
        self.state_path = daemon.config.data_dir / "swarm" / "state.json"
        self.state = lb.load(self.state_path, self.config.swarm.history_rounds)
        from swarmd import tasks  # pure: no torch, no reasoning-gym

        self.tasks = tasks
        self.task_specs = tasks.preset(self.config.swarm.tasks)
        self.env = make_environment(self)
        self.source = make_source(self)
        from swarmd.swarm.evaluator import Evaluator

        self.evaluator = Evaluator(self)
        self.phase = "idle"
        self.phase_since = time.monotonic()
        self.current: RoundState | None = None
        self.published_key: tuple[int, int] | None = None
        self.last_reward: float | None = None
        self.chain_totals: dict[str, tuple[int, int]] = {}
        # PauseTraining: stages are skipped (the node keeps relaying) until ResumeTraining.
        self.paused = False
        self._tasks: list[asyncio.Task] = []

    # -- helpers the environments use -------------------------------------------

    @property
    def trains(self) -> bool:
        return self.config.node.mode == "trainer" and self.daemon.trainer is not None

    def expected_peers(self) -> set[str]:
        """Live trainer peers whose stage output we wait for (stale ones are not waited on)."""
        mesh = self.daemon.mesh
        if mesh is None:
            return set()
        return {p.peer_id for p in mesh.live_peers() if "trainer" in getattr(p, "roles", [])}

    def stage_peers(self, state: RoundState) -> Callable[[], set[str]]:
        """Whom a stage's collect waits for (the mesh leaves out any it knows are stale).

        The live trainer peers when the collect starts and, for a coordinator's stage, the
        coordinator's roster. A roster peer this node has never heard of is waited for only
        until ``p2p.stale_after_s`` after the stage started: it may have gone since.
        """
        live = self.expected_peers()
        roster = set(state.participants) - {self.peer_id}
        if not roster:
            return lambda: live

        def wanted() -> set[str]:
            mesh = self.daemon.mesh
            known = {p.peer_id for p in mesh.peers} if mesh is not None else set()
            fresh = time.time() < state.started_at + self.config.p2p.stale_after_s
            return live | {p for p in roster if p in known or fresh}

        return wanted

    def peer_rounds(self) -> list[tuple[int, int]]:
        mesh = self.daemon.mesh
        if mesh is None:
            return []
        return [(p.round, p.stage) for p in mesh.live_peers() if getattr(p, "round", 0) or getattr(p, "stage", 0)]

    def peer_names(self) -> dict[str, str]:
        names = {self.peer_id: self.daemon.identity.name}
        if self.daemon.mesh is not None:
            names.update({p.peer_id: p.name for p in self.daemon.mesh.live_peers() if getattr(p, "name", "")})
        return names

    def score_item(self, ref, question: str, completions: list[str]):
        from swarmd.trainer.protocol import ScoreItem

        return ScoreItem(ref=ref, question=question, completions=completions)

    def train_group(self, g: ScoredGroup):
        from swarmd.trainer.protocol import TrainGroup

        return TrainGroup(prompt=g.prompt, completions=g.completions, rewards=g.rewards, source=g.sender,
                          behavior_logprobs=list(g.behavior_logprobs) if g.behavior_logprobs else None,
                          token_ids=[list(t) for t in g.token_ids] if g.token_ids else None)

    def train_group_from(self, prompt: list[dict], completions: list[str], rewards: list[float]):
        from swarmd.trainer.protocol import TrainGroup

        return TrainGroup(prompt=prompt, completions=completions, rewards=rewards, source=self.peer_id)

    def set_phase(self, phase: str, state: RoundState | None = None) -> None:
        self.phase = phase
        self.phase_since = time.monotonic()
        if state is not None:
            self.daemon.events.emit(
                pb.EVENT_KIND_ROUND,
                f"round {state.round} stage {state.stage}: {phase}",
                round=pb.RoundEvent(round=state.round, stage=state.stage, phase=phase),
            )

    def note_coordinator(self, seq: int, key: tuple[int, int]) -> None:
        self.state.coordinator_seq = seq
        self.state.coordinator_key = key
        self._save()

    def _save(self) -> None:
        try:
            lb.save(self.state, self.state_path)
        except OSError as e:
            log.error("cannot save game state to %s: %s", self.state_path, e)

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        mesh = self.daemon.mesh
        if mesh is not None:
            mesh.register_kind(self.env.kind, self.env.message_type, self.config.swarm.max_batch_bytes, self.env.check)
            if isinstance(self.source, CoordinatorSource):
                from swarmd._pb.swarm.v1 import game_pb2 as gpb

                mesh.register_kind(ROUND_KIND, gpb.RoundAnnouncement, ROUND_MAX_BYTES, self.source.validate)
            self._tasks.append(asyncio.create_task(self._watch_rollouts(mesh), name="swarm-rollouts"))
        await self.source.start()
        self._tasks.append(asyncio.create_task(self._run(), name="swarm-game"))
        if self.daemon.chain is not None:
            self._tasks.append(asyncio.create_task(self._refresh_chain_totals(), name="swarm-chain-totals"))
        log.info(
            "swarm game: environment %s, round source %s%s",
            self.env.name,
            self.source.name,
            "" if self.trains else " (not training: relaying and serving only)",
        )

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        await self.source.stop()
        self._save()

    async def _watch_rollouts(self, mesh) -> None:
        async for received in mesh.subscribe(self.env.kind):
            if received.sender == self.peer_id:
                continue
            ROLLOUTS_RECEIVED.labels(received.via).inc()
            items = len(getattr(received.payload, "items", []))
            self.daemon.events.emit(
                pb.EVENT_KIND_ROLLOUT,
                f"{items} groups from {received.sender[-8:]} for round {received.round} via {received.via}",
                rollout=pb.RolloutEvent(
                    peer_id=received.sender, round=received.round, stage=received.stage, groups=items, via=received.via
                ),
            )

    async def refresh_chain_totals(self, timeout: float = 5.0) -> None:
        """Read the on-chain totals of every peer on the leaderboard (the local view stays on failure)."""
        peers = list(self.state.peers)
        if self.daemon.chain is None or not peers:
            return
        try:
            self.chain_totals = await asyncio.wait_for(self.daemon.chain.totals(peers), timeout)
        except Exception as e:  # noqa: BLE001 - retried later
            log.debug("chain totals unavailable: %s", e)

    async def _refresh_chain_totals(self) -> None:
        while True:
            await self.refresh_chain_totals()
            await asyncio.sleep(10)

    async def _run(self) -> None:
        while True:
            await self.evaluator.between_stages()
            state = await self.source.wait_after(self.state.last_done, self.config.swarm.idle_poll_s)
            if state is None:
                continue
            self.current = state
            ROUND_GAUGE.set(state.round)
            STAGE_GAUGE.set(state.stage)
            mesh = self.daemon.mesh
            if mesh is not None and hasattr(mesh, "set_presence"):
                trainer = self.daemon.trainer
                mesh.set_presence(state.round, state.stage, getattr(trainer, "model_name", "") or "", [self.env.name])
            if state.stage >= self.env.stage_count:
                if self.phase != "stage_mismatch":
                    log.error(
                        "the round source has %d stages but environment %s has %d; stage %d is not played",
                        state.stage_count, self.env.name, self.env.stage_count, state.stage,
                    )
                    self.set_phase("stage_mismatch", state)
                self.state.last_done = state.key
                continue
            if not self.trains:
                self.state.last_done = state.key
                self.set_phase("relaying", state)
                continue
            if self.paused:
                ROUNDS_SKIPPED.labels("paused").inc()
                self.state.last_done = state.key
                self.set_phase("paused", state)
                continue
            if not getattr(self.daemon.trainer, "ready", False):
                if self.phase != "waiting_trainer":
                    self.set_phase("waiting_trainer", state)
                await asyncio.sleep(self.config.swarm.idle_poll_s)
                continue
            if time.time() >= state.deadline:
                ROUNDS_SKIPPED.labels("deadline_passed").inc()
                log.info("skipping round %d stage %d: its deadline passed", state.round, state.stage)
                self.state.last_done = state.key
                continue
            await self._play(state)

    async def _play(self, state: RoundState) -> None:
        t0 = time.monotonic()
        try:
            report = await self.env.play(StageContext(self, state))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a failed stage must not stop the game
            ROUNDS_SKIPPED.labels("failed").inc()
            log.warning("round %d stage %d failed: %s", state.round, state.stage, e, exc_info=not isinstance(e, NotAvailable))
            self.daemon.events.emit(
                pb.EVENT_KIND_ROUND,
                f"round {state.round} stage {state.stage} failed: {e}",
                round=pb.RoundEvent(round=state.round, stage=state.stage, phase="failed"),
            )
            self.state.last_done = state.key
            self.set_phase("idle")
            return
        self.set_phase("checkpointing", state)
        try:
            await self.daemon.trainer.checkpoint({"round": state.round, "stage": state.stage})
        except Exception as e:  # noqa: BLE001 - the next stage checkpoints again
            log.warning("checkpoint after round %d stage %d failed: %s", state.round, state.stage, e)
        self._record(state, report, time.monotonic() - t0)

    def _record(self, state: RoundState, report: StageReport, seconds: float) -> None:
        STAGE_SECONDS.observe(seconds)
        ROUNDS.labels(self.env.name).inc()
        for r in report.rejections:
            GROUPS_REJECTED.labels(r.reason).inc()
            self.daemon.events.emit(
                pb.EVENT_KIND_REJECTION,
                f"rejected {r.reason} from {r.sender[-8:]}",
                rejection=pb.RejectionEvent(peer_id=r.sender, reason=r.reason, detail=r.detail),
            )
        for s in report.staleness:
            STALENESS.observe(s)
        GROUPS_TRAINED.labels("local").inc(report.local_groups)
        GROUPS_TRAINED.labels("external").inc(report.external_groups)
        if report.own_reward is not None:
            self.last_reward = report.own_reward
            REWARD.set(report.own_reward)
        if state.is_last_stage:
            self.state.record_round(state.round, report.scores, report.winners, self.peer_names())
        record = {
            "round": state.round,
            "stage": state.stage,
            "own_reward": report.own_reward,
            "rewards": report.scores,
            "winners": report.winners,
            "local_groups": report.local_groups,
            "external_groups": report.external_groups,
            "external_peers": report.external_peers,
            "batch_ids": report.batch_ids,
            "rejections": len(report.rejections),
            "staleness": report.staleness,
            "train": report.train or {},
            "seconds": round(seconds, 3),
            "finished_at": time.time(),
            **report.detail,
        }
        self.state.history.append(record)
        if report.train:
            self.state.stages_trained += 1
        self.state.last_done = state.key
        if self._queue_chain(state, report):
            record["chain_queued"] = True
        self._save()
        self.set_phase("done")
        reward = report.own_reward if report.own_reward is not None else 0.0
        self.daemon.events.emit(
            pb.EVENT_KIND_ROUND,
            f"round {state.round} stage {state.stage} done: reward {reward:.3f}, "
            f"{report.local_groups} local + {report.external_groups} external groups"
            + (f", winners {', '.join(w[-8:] for w in report.winners)}" if report.winners else ""),
            round=pb.RoundEvent(
                round=state.round,
                stage=state.stage,
                phase="done",
                reward=reward,
                local_groups=report.local_groups,
                external_groups=report.external_groups,
                external_peers=report.external_peers,
                winners=report.winners,
            ),
        )
        log.info(
            "round %d stage %d done in %.1fs: reward %.3f, %d local + %d external groups from %s, %d rejected",
            state.round, state.stage, seconds, reward, report.local_groups, report.external_groups,
            ", ".join(p[-8:] for p in report.external_peers) or "nobody", len(report.rejections),
        )

    def _queue_chain(self, state: RoundState, report: StageReport) -> bool:
        """Hand the stage's results to the chain queue; True once the queue holds them."""
        chain = self.daemon.chain
        if chain is None or report.own_reward is None:
            return False
        winners = report.winners if state.is_last_stage else []
        try:
            chain.queue_results(
                state.round, state.stage, scaled_reward(report.own_reward, self.config.swarm.reward_scale), winners
            )
            return True
        except Exception as e:  # noqa: BLE001 - a queue problem never stops the game
            log.error("cannot queue round %d stage %d for the chain: %s", state.round, state.stage, e)
            return False

    # -- control plane --------------------------------------------------------------

    def fill_status(self, status: pb.Status) -> None:
        r = status.round
        state = self.current or self.source.current()
        if state is not None:
            r.round, r.stage, r.stage_count = state.round, state.stage, state.stage_count
        r.phase = self.phase
        r.source = self.source.name
        r.environment = self.env.name
        r.rounds_completed = self.state.stages_trained
        if self.last_reward is not None:
            r.last_reward, r.has_last_reward = self.last_reward, True
        r.seconds_in_phase = time.monotonic() - self.phase_since
        if self.source.can_drive and "coordinator" not in status.roles and self.source.name == "coordinator":
            status.roles.append("coordinator")
        if self.source.can_drive and self.source.name == "chain" and "stage_manager" not in status.roles:
            status.roles.append("stage_manager")
        self.evaluator.fill_status(status)

    def _round_response(self, state: RoundState) -> pb.RoundResponse:
        return pb.RoundResponse(round=state.round, stage=state.stage, source=state.source)

    async def start_round(self, round_: int) -> pb.RoundResponse:
        return self._round_response(await self.source.start_round(round_))

    async def advance_round(self) -> pb.RoundResponse:
        return self._round_response(await self.source.advance())

    async def submit_results(self, round_: int) -> pb.SubmitResultsResponse:
        """Queue a round's results (0: the last completed one) for the chain.

        Stages already handed to the chain (by the game after playing them, or
        by an earlier call) are not sent again; the reply counts them. A round
        this node has no results for is refused (NotAvailable).
        """
        chain = self.daemon.require_chain()
        records = [h for h in self.state.history if h.get("own_reward") is not None]
        if round_:
            records = [h for h in records if h["round"] == round_]
        elif records:
            last = records[-1]["round"]
            records = [h for h in records if h["round"] == last]
        if not records:
            which = f"round {round_}" if round_ else "completed round"
            raise NotAvailable(f"this node has no {which} with results to submit")
        last_stage = max(h["stage"] for h in records)
        queued = already = 0
        for h in records:
            if h.get("chain_queued"):
                already += 1
                continue
            winners = h["winners"] if h["stage"] == last_stage else []
            queued += chain.queue_results(
                h["round"], h["stage"], scaled_reward(h["own_reward"], self.config.swarm.reward_scale), winners
            )
            h["chain_queued"] = True
        if queued:
            self._save()
        pending = chain.pending_count() if hasattr(chain, "pending_count") else 0
        return pb.SubmitResultsResponse(
            queued=queued, pending=pending, round=records[0]["round"], already_submitted=already
        )

    def pause_training(self, paused: bool) -> pb.TrainingControlResponse:
        if not self.trains:
            raise NotAvailable("this node does not train (a bootnode relays only)")
        unchanged = self.paused == paused
        self.paused = paused
        if not unchanged:
            log.info("training %s over the control plane", "paused" if paused else "resumed")
            self.daemon.events.emit(
                pb.EVENT_KIND_TRAINING,
                "training paused: stages are skipped until resumed" if paused else "training resumed",
                training=pb.TrainingEvent(state="paused" if paused else "resumed"),
            )
            if not paused and self.phase == "paused":
                self.set_phase("idle")
        return pb.TrainingControlResponse(paused=paused, unchanged=unchanged)

    def last_round_state(self) -> dict[str, Any]:
        """The round state a checkpoint taken now belongs to (the last stage played)."""
        for h in reversed(self.state.history):
            return {"round": h["round"], "stage": h["stage"]}
        return {}

    def leaderboard(self, query: str = "", limit: int = 0) -> pb.Leaderboard:
        board = pb.Leaderboard(chain_reward_scale=self.config.swarm.reward_scale)
        for rec in self.state.leaderboard(query, limit):
            entry = board.entries.add(
                peer_id=rec.peer_id, name=rec.name, rounds=rec.rounds, verified_reward=rec.verified_reward, wins=rec.wins
            )
            if rec.peer_id in self.chain_totals:
                reward, wins = self.chain_totals[rec.peer_id]
                entry.has_chain_totals, entry.chain_reward, entry.chain_wins = True, int(reward), int(wins)
        return board

    def card_facts(self) -> dict[str, Any]:
        """What an exported adapter's model card says about the training (swarmd.trainer.card)."""
        from swarmd.tasks import preset

        trained = [h["round"] for h in self.state.history if h.get("train")]
        metrics = getattr(self.daemon.trainer, "last_metrics", None) or {}
        return {
            "swarm_id": self.daemon.config.node.swarm_id,
            "node_name": self.daemon.identity.name,
            "peer_id": self.daemon.identity.peer_id,
            "environment": self.env.name,
            "rounds": self.state.stages_trained,
            "last_round": max(trained) if trained else None,
            "task_preset": self.config.swarm.tasks,
            "tasks": [t.to_json() for t in preset(self.config.swarm.tasks)],
            "held_out": self._held_out(metrics),
        }

    def _held_out(self, metrics: dict) -> dict[str, float]:
        """The latest held-out evaluation (swarmd.swarm.evaluator), for the model card."""
        last = self.evaluator.last()
        if last is None:
            return {k: float(v) for k, v in metrics.items() if k.startswith(("heldout", "held_out"))}
        return {f"greedy pass@1 after round {last.round} ({last.examples} questions)": last.accuracy,
                "mean verifier score": last.mean_reward}

    def evaluations(self, limit: int = 0) -> list[dict[str, Any]]:
        """Held-out evaluations, oldest first (the base model's has round 0)."""
        rows = list(self.state.evaluations)
        return rows[-limit:] if limit else rows

    def round_history(self, limit: int = 0) -> list[dict[str, Any]]:
        rows = list(self.state.history)
        return rows[-limit:] if limit else rows
