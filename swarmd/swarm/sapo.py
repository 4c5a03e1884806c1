"""SAPO: Swarm sAmpling Policy Optimization, one stage per round.

Each round a node draws I questions (a deterministic function of the swarm, the
node and the round, so every peer can tell which questions a node was asked),
samples G completions per question, publishes them as a RolloutBatch, gathers
peers' batches until every live peer published or the deadline, keeps only the
items each peer was asked, re-scores every peer completion with its own
verifier (claimed rewards are ignored), drops groups with zero advantage,
samples J of the remaining external groups uniformly, and trains one GRPO step
on its I local groups plus those J.

Simplification: peers' batches that arrive after a round's collection ended
are kept and may be trained on in the next ``staleness_window`` rounds; older
ones are dropped.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import asdict
from typing import TYPE_CHECKING

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.swarm.env import StageContext, StageReport
from swarmd.swarm.selection import ScoredGroup, peer_scores, pick_winners, sample_external
from swarmd.swarm.validate import BatchLimits, Rejection, check_batch, check_items
from swarmd.swarm.wire import config_from_json, ref_to_pb
from swarmd.tasks import build_prompt

if TYPE_CHECKING:
    from swarmd.swarm.game import SwarmGame

log = logging.getLogger(__name__)


def batch_digest(batch) -> str:
    return hashlib.sha256(batch.SerializeToString(deterministic=True)).hexdigest()[:16]


class Sapo:
    name = "sapo"
    kind = "rollouts"
    message_type = gpb.RolloutBatch
    stage_count = 1

    def __init__(self, game: SwarmGame) -> None:
        self.game = game
        cfg = game.config.swarm
        self.cfg = cfg
        self.limits = BatchLimits(
            environment=self.name,
            stage_count=self.stage_count,
            max_items=cfg.questions_per_round,
            max_completions=cfg.group_size,
            max_completion_chars=cfg.max_completion_chars,
        )
        # round → senders whose batch of that round was already used
        self._used: dict[int, set[str]] = {}

    def check(self, message: gpb.RolloutBatch, sender: str) -> str | None:
        return check_batch(message, self.limits)

    def expected_refs(self, sender: str, round_: int) -> list:
        tasks = self.game.tasks
        return tasks.draw_refs(self.game.task_specs, tasks.round_seed(self.game.swarm_id, sender, round_), self.cfg.questions_per_round)

    async def play(self, ctx: StageContext) -> StageReport:
        game, state = ctx.game, ctx.state
        trainer, mesh = game.daemon.trainer, game.daemon.mesh
        me = game.peer_id
        report = StageReport(state.round, state.stage)

        ctx.phase("generating")
        refs = self.expected_refs(me, state.round)
        groups = await trainer.rollouts(refs, self.cfg.group_size)
        own = [
            ScoredGroup(me, state.round, trainer.policy_version, g.prompt, g.question, list(g.completions), list(g.rewards))
            for g in groups
        ]
        batch = gpb.RolloutBatch(
            round=state.round,
            stage=state.stage,
            environment=self.name,
            policy_version=trainer.policy_version,
            model=trainer.model_name,
            items=[
                gpb.RolloutItem(ref=ref_to_pb(g.ref), question=g.question, completions=g.completions,
                                claimed_rewards=g.rewards, completion_logprobs=g.logprobs,
                                completion_token_ids=[gpb.TokenIds(ids=t) for t in g.token_ids])
                for g in groups
            ],
        )
        if batch.ByteSize() > self.cfg.max_batch_bytes // 2:
            # Token ids are an optimization for same-model peers: never what pushes a batch
            # towards the size peers accept.
            for item in batch.items:
                del item.completion_token_ids[:]
        report.batch_ids[me] = batch_digest(batch)

        external: list[ScoredGroup] = []
        if mesh is not None:
            ctx.phase("publishing")
            await mesh.publish(self.kind, state.round, state.stage, batch)
            game.published_key = state.key
            ctx.phase("collecting")
            held = await mesh.collect(self.kind, state.round, state.stage, game.stage_peers(state), ctx.loop_deadline())
            candidates: list[tuple[int, str, gpb.RolloutBatch]] = [
                (state.round, sender, b) for sender, b in held.items() if sender != me
            ]
            for sender, b in held.items():
                report.batch_ids.setdefault(sender, batch_digest(b))
            # Late arrivals from recent rounds, not used yet.
            for back in range(1, self.cfg.staleness_window + 1):
                old = state.round - back
                if old < 0:
                    break
                used = self._used.get(old, set())
                for sender, b in mesh.held(self.kind, old, 0).items():
                    if sender != me and sender not in used:
                        candidates.append((old, sender, b))
            external = await self._verify(candidates, report)
            for round_, sender, _ in candidates:
                self._used.setdefault(round_, set()).add(sender)
            for old in [r for r in self._used if r < state.round - self.cfg.staleness_window]:
                del self._used[old]

        current = [g for g in own + external if g.round == state.round]
        report.scores = peer_scores(current)
        report.own_reward = report.scores.get(me)
        report.winners = pick_winners(report.scores, self.cfg.winners_per_round)

        rng = random.Random(f"{game.swarm_id}/{me}/{state.round}/sample")
        chosen = sample_external(external, self.cfg.external_groups, rng)
        report.local_groups = len(own)
        report.external_groups = len(chosen)
        report.external_peers = sorted({g.sender for g in chosen})
        # The verified external groups that carry signal (the candidates for J), and their senders.
        useful = [g for g in external if g.has_signal]
        report.detail["signal_groups"] = len(useful)
        report.detail["signal_peers"] = sorted({g.sender for g in useful})
        report.staleness = [state.round - g.round for g in chosen]

        ctx.phase("training")
        stats = await trainer.train([game.train_group(g) for g in own + chosen], round=state.round)
        report.train = asdict(stats)
        return report

    async def _verify(
        self, candidates: list[tuple[int, str, gpb.RolloutBatch]], report: StageReport
    ) -> list[ScoredGroup]:
        """Keep the items each peer was asked, re-score them, and count what is rejected."""
        game = self.game
        items: list[tuple[int, str, int, gpb.RolloutItem, bool]] = []
        model = game.daemon.trainer.model_name
        for round_, sender, batch in candidates:
            reason = check_batch(batch, self.limits)
            if reason is not None:
                report.rejections.append(Rejection(sender, reason))
                continue
            expected = [r.key for r in self.expected_refs(sender, round_)]
            kept, rejected = check_items(sender, round_, batch, expected)
            report.rejections += rejected
            # Sender log-probs mean something here only when the sender runs our model.
            items += [(round_, sender, batch.policy_version, item, batch.model == model) for item in kept]
        if not items:
            return []
        score_items, parsed = [], []
        for entry in items:
            item = entry[3]
            try:
                config = config_from_json(item.ref.config_json)
            except ValueError:
                # Cannot happen for items matching an expected ref; kept as a guard.
                report.rejections.append(Rejection(entry[1], "malformed_ref", item.ref.dataset[:64]))
                continue
            ref = game.tasks.TaskRef(dataset=item.ref.dataset, config=config, seed=item.ref.seed, index=item.ref.index)
            score_items.append(game.score_item(ref, item.question, list(item.completions)))
            parsed.append(entry)
        items = parsed
        if not items:
            return []
        results = await game.daemon.trainer.score(score_items)
        scored: list[ScoredGroup] = []
        for (round_, sender, version, item, same_model), result in zip(items, results, strict=True):
            if result.error:
                report.rejections.append(Rejection(sender, result.error, f"{item.ref.dataset}#{item.ref.index}"))
                continue
            scored.append(
                ScoredGroup(
                    sender, round_, version, build_prompt(item.question), item.question,
                    list(item.completions), list(result.rewards),
                    tuple(item.completion_logprobs)
                    if same_model and len(item.completion_logprobs) == len(item.completions)
                    and all(math.isfinite(x) for x in item.completion_logprobs) else (),
                    tuple(tuple(t.ids) for t in item.completion_token_ids)
                    if same_model and len(item.completion_token_ids) == len(item.completions) else (),
                )
            )
        return scored
