"""The multi-stage debate environment: answer, critique, vote — three stages per round.

Every node of the swarm gets the same I questions each round (drawn from the
swarm and the round only).

- Stage 0, answer: sample G answers per question; reward = the verifier's score.
  Publish the best one.
- Stage 1, critique: the prompt shows the swarm's stage-0 answers to the question
  (labelled A, B, ... in peer-ID order) and asks for a short critique and the letter
  of the best one. Reward = 0.2 for a well-formed pick + 0.8 × the verified score of
  the picked answer. Publish the best critique with the candidate order.
- Stage 2, vote: the prompt shows the candidates and the peers' critiques and asks
  for a summary and the majority answer. Reward = 0.6 × correctness + 0.1 × format +
  0.3 × agreement with the swarm majority (the candidate answer most critiques picked).

Each stage trains one GRPO step on the node's own G-sample groups. Every peer
answer is re-scored by this node's verifier; a peer's score for the round is the
mean verified correctness of its stage-0 answers, and the winners are chosen
from it at the last stage.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import asdict
from typing import TYPE_CHECKING

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.swarm.env import StageContext, StageReport
from swarmd.swarm.sapo import batch_digest
from swarmd.swarm.selection import pick_winners
from swarmd.swarm.validate import BatchLimits, Rejection, check_batch, check_items
from swarmd.swarm.wire import ref_to_pb

if TYPE_CHECKING:
    from swarmd.swarm.game import SwarmGame

log = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
SYSTEM = (
    "You are a careful reasoner taking part in a discussion. Think briefly, then give your "
    "final answer between <answer> and </answer>."
)


def extract(text: str) -> str | None:
    """The last <answer>...</answer> in ``text``, stripped; None when there is none."""
    found = _ANSWER.findall(text)
    return found[-1].strip() if found else None


def normalize(answer: str | None) -> str:
    return re.sub(r"\s+", " ", (answer or "").strip().lower().rstrip("."))


def pick_letter(text: str, n: int) -> int | None:
    """The candidate index a critique picked, when it names a valid letter."""
    answer = extract(text)
    if answer is None:
        return None
    m = re.fullmatch(r"\(?([A-Za-z])\)?\.?", answer.strip())
    if not m:
        return None
    idx = LETTERS.index(m.group(1).upper())
    return idx if idx < n else None


def majority(answers: list[str]) -> str | None:
    """The most common normalized answer; ties go to the smallest string so every node agrees."""
    counts = Counter(normalize(a) for a in answers if normalize(a))
    if not counts:
        return None
    best = max(counts.values())
    return min(a for a, c in counts.items() if c == best)


def critique_prompt(question: str, answers: list[str]) -> list[dict]:
    shown = "\n".join(f"({LETTERS[i]}) {a}" for i, a in enumerate(answers))
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Question: {question}\n\nCandidate answers:\n{shown}\n\n"
            "Critique the candidates in one or two sentences, then give the letter of the best "
            "one as <answer>X</answer>.",
        },
    ]


def vote_prompt(question: str, answers: list[str], critiques: list[str]) -> list[dict]:
    shown = "\n".join(f"({LETTERS[i]}) {a}" for i, a in enumerate(answers))
    said = "\n".join(f"- {c}" for c in critiques) or "- (no critiques arrived)"
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Question: {question}\n\nCandidate answers:\n{shown}\n\nWhat the peers said:\n{said}\n\n"
            "Summarize the feedback in one sentence and state the answer the majority supports "
            "as <answer>...</answer>.",
        },
    ]


class Debate:
    name = "debate"
    kind = "debate"
    message_type = gpb.DebateBatch
    stage_count = 3

    def __init__(self, game: SwarmGame) -> None:
        self.game = game
        self.cfg = game.config.swarm
        self.limits = BatchLimits(
            environment=self.name,
            stage_count=self.stage_count,
            max_items=self.cfg.questions_per_round,
            max_completions=self.cfg.group_size,
            max_completion_chars=self.cfg.max_completion_chars,
        )

    def check(self, message: gpb.DebateBatch, sender: str) -> str | None:
        reason = check_batch(message, self.limits)
        if reason is None and message.stage > 0:
            for item in message.items:
                if len(item.candidates) > len(LETTERS) or len(set(item.candidates)) != len(item.candidates):
                    return "bad_candidates"
        return reason

    def refs(self, round_: int) -> list:
        tasks = self.game.tasks
        seed = tasks.round_seed(self.game.swarm_id, "debate", round_)
        return tasks.draw_refs(self.game.task_specs, seed, self.cfg.questions_per_round)

    def _valid(self, round_: int, stage: int, held: dict[str, gpb.DebateBatch], report: StageReport) -> dict[str, dict]:
        """sender → {ref key → item}, keeping only items about this round's questions."""
        expected = [r.key for r in self.refs(round_)]
        out: dict[str, dict] = {}
        for sender, batch in held.items():
            report.batch_ids.setdefault(f"{sender}/{stage}", batch_digest(batch))
            kept, rejected = check_items(sender, round_, batch, expected)  # type: ignore[arg-type]
            if batch.stage != stage:
                rejected = [Rejection(sender, "bad_stage")]
                kept = []
            if sender != self.game.peer_id:
                report.rejections += rejected
            out[sender] = {(i.ref.dataset, i.ref.config_json, i.ref.seed, i.ref.index): i for i in kept}
        return out

    async def _collect(self, ctx: StageContext, stage: int) -> dict[str, gpb.DebateBatch]:
        mesh = ctx.game.daemon.mesh
        if mesh is None:
            return {}
        if stage == ctx.state.stage:
            return await mesh.collect(self.kind, ctx.state.round, stage, ctx.game.stage_peers(ctx.state), ctx.loop_deadline())
        return mesh.held(self.kind, ctx.state.round, stage)

    async def _publish(self, ctx: StageContext, items: list[gpb.DebateItem], report: StageReport) -> None:
        trainer, mesh = ctx.game.daemon.trainer, ctx.game.daemon.mesh
        batch = gpb.DebateBatch(
            round=ctx.state.round, stage=ctx.state.stage, policy_version=trainer.policy_version,
            model=trainer.model_name, items=items,
        )
        report.batch_ids[f"{ctx.game.peer_id}/{ctx.state.stage}"] = batch_digest(batch)
        if mesh is not None:
            ctx.phase("publishing")
            await mesh.publish(self.kind, ctx.state.round, ctx.state.stage, batch)
            ctx.game.published_key = ctx.state.key

    async def _train(self, ctx: StageContext, groups: list[tuple[list[dict], list[str], list[float]]], report: StageReport) -> None:
        ctx.phase("training")
        train = [ctx.game.train_group_from(prompt, comps, rewards) for prompt, comps, rewards in groups]
        report.local_groups = len(train)
        stats = await ctx.game.daemon.trainer.train(train, round=ctx.state.round)
        report.train = asdict(stats)

    async def _verified(self, ctx: StageContext, ref, question: str, answers: list[str]) -> list[float]:
        result = (await ctx.game.daemon.trainer.score([ctx.game.score_item(ref, question, answers)]))[0]
        return list(result.rewards) if not result.error else [0.0] * len(answers)

    async def play(self, ctx: StageContext) -> StageReport:
        stage = ctx.state.stage
        report = StageReport(ctx.state.round, stage)
        if stage == 0:
            await self._answer(ctx, report)
        elif stage == 1:
            await self._critique(ctx, report)
        else:
            await self._vote(ctx, report)
        return report

    async def _answer(self, ctx: StageContext, report: StageReport) -> None:
        ctx.phase("generating")
        game, trainer = ctx.game, ctx.game.daemon.trainer
        groups = await trainer.rollouts(self.refs(ctx.state.round), self.cfg.group_size)
        items = []
        for g in groups:
            best = max(range(len(g.completions)), key=lambda i: g.rewards[i])
            items.append(gpb.DebateItem(ref=ref_to_pb(g.ref), question=g.question, completions=[g.completions[best]]))
        own = sum(sum(g.rewards) / len(g.rewards) for g in groups) / max(1, len(groups))
        report.own_reward = own
        report.scores[game.peer_id] = own
        await self._publish(ctx, items, report)
        ctx.phase("collecting")
        held = await self._collect(ctx, 0)
        report.external_peers = sorted(s for s in held if s != game.peer_id)
        await self._train(ctx, [(g.prompt, list(g.completions), list(g.rewards)) for g in groups], report)

    async def _answered(self, ctx: StageContext, answers: dict[str, dict]) -> list[tuple]:
        """For each of the round's questions that has stage-0 answers: (ref, key, question,
        senders in peer-ID order, their answers, the verified score of each answer)."""
        out = []
        for ref in self.refs(ctx.state.round):
            key = ref.key
            senders = sorted(s for s, items in answers.items() if key in items)
            if not senders:
                continue
            texts = [answers[s][key].completions[0] for s in senders]
            question = answers[senders[0]][key].question
            out.append((ref, key, question, senders, texts, await self._verified(ctx, ref, question, texts)))
        return out

    async def _critique(self, ctx: StageContext, report: StageReport) -> None:
        game, trainer = ctx.game, ctx.game.daemon.trainer
        answers = self._valid(ctx.state.round, 0, await self._collect(ctx, 0), report)
        ctx.phase("generating")
        prompts, plan = [], []
        for ref, _, question, senders, texts, verified in await self._answered(ctx, answers):
            prompts.append(critique_prompt(question, [extract(t) or t[:200] for t in texts]))
            plan.append((ref, question, senders, verified))
        if not prompts:
            report.detail["note"] = "no stage-0 answers to critique"
            return
        outputs = await trainer.generate(prompts, self.cfg.group_size)
        items, groups, rewards_all = [], [], []
        for prompt, (ref, question, senders, verified), comps in zip(prompts, plan, outputs, strict=True):
            rewards = []
            for c in comps:
                idx = pick_letter(c, len(senders))
                rewards.append(0.0 if idx is None else 0.2 + 0.8 * verified[idx])
            groups.append((prompt, list(comps), rewards))
            rewards_all += rewards
            best = max(range(len(comps)), key=lambda i: rewards[i])
            items.append(gpb.DebateItem(ref=ref_to_pb(ref), question=question, completions=[comps[best]], candidates=senders))
        report.own_reward = sum(rewards_all) / len(rewards_all)
        report.scores[game.peer_id] = report.own_reward
        await self._publish(ctx, items, report)
        ctx.phase("collecting")
        held = await self._collect(ctx, 1)
        report.external_peers = sorted(s for s in held if s != game.peer_id)
        await self._train(ctx, groups, report)

    async def _vote(self, ctx: StageContext, report: StageReport) -> None:
        game, trainer = ctx.game, ctx.game.daemon.trainer
        answers = self._valid(ctx.state.round, 0, await self._collect(ctx, 0), report)
        critiques = self._valid(ctx.state.round, 1, await self._collect(ctx, 1), report)
        ctx.phase("generating")
        prompts, plan = [], []
        peer_correct: dict[str, list[float]] = {}
        majorities: dict[str, str | None] = {}
        for ref, key, question, senders, texts, verified in await self._answered(ctx, answers):
            for s, v in zip(senders, verified, strict=True):
                peer_correct.setdefault(s, []).append(v)
            picked, said = [], []
            for _critic, items in sorted(critiques.items()):
                item = items.get(key)
                if item is None:
                    continue
                idx = pick_letter(item.completions[0], len(item.candidates))
                if idx is not None and item.candidates[idx] in senders:
                    picked.append(extract(texts[senders.index(item.candidates[idx])]) or "")
                said.append(item.completions[0][:300])
            majority_answer = majority(picked)
            majorities[f"{ref.dataset}#{ref.index}"] = majority_answer
            prompts.append(vote_prompt(question, [extract(t) or t[:200] for t in texts], said))
            plan.append((ref, question, majority_answer))
        if not prompts:
            report.detail["note"] = "no stage-0 answers to vote on"
            return
        outputs = await trainer.generate(prompts, self.cfg.group_size)
        items, groups, rewards_all = [], [], []
        for prompt, (ref, question, majority_answer), comps in zip(prompts, plan, outputs, strict=True):
            correct = await self._verified(ctx, ref, question, list(comps))
            rewards = []
            for c, ok in zip(comps, correct, strict=True):
                final = extract(c)
                agree = majority_answer is not None and normalize(final) == majority_answer
                rewards.append(0.6 * ok + 0.1 * (final is not None) + 0.3 * agree)
            groups.append((prompt, list(comps), rewards))
            rewards_all += rewards
            best = max(range(len(comps)), key=lambda i: rewards[i])
            items.append(gpb.DebateItem(ref=ref_to_pb(ref), question=question, completions=[comps[best]]))
        report.own_reward = sum(rewards_all) / len(rewards_all)
        report.scores = {p: sum(v) / len(v) for p, v in peer_correct.items()}
        report.winners = pick_winners(report.scores, self.cfg.winners_per_round)
        report.detail["majority"] = majorities
        await self._publish(ctx, items, report)
        report.external_peers = sorted(s for s in critiques if s != game.peer_id)
        await self._train(ctx, groups, report)
