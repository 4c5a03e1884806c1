"""Held-out evaluation in a training node: when it runs, and where its results go.

The game calls :meth:`Evaluator.between_stages` whenever it is not playing a
stage (after one, and while idle). An evaluation is due for the base model
once, then every ``swarm.eval_every_rounds`` rounds (see
swarmd.trainer.evaluation.Schedule). It goes through the swarm's held-out set
in slices of ``eval_batch`` questions; before each slice it checks that the
slice cannot push a stage this node still has to play into that stage's
deadline window (the last stretch before the deadline the node needs to play
it, measured from its recent stages) and that the whole stays within
``eval_budget_s``. When either fails the evaluation is abandoned (counted
under that reason) and tried again at the next gap. The policy cannot change
during it: the game trains only in stages, and it is not in one.

A finished evaluation goes to the game state (``evaluations``, and the round
record it follows), ``status.training.evaluation``, a TRAINING event with
state ``evaluated``, and ``swarmd_eval_*`` metrics.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.metrics import REGISTRY
from swarmd.trainer import evaluation

if TYPE_CHECKING:
    from swarmd.swarm.game import SwarmGame

log = logging.getLogger(__name__)

ACCURACY = Gauge("swarmd_eval_accuracy", "Greedy pass@1 on the held-out set, last evaluation.", registry=REGISTRY)
MEAN_REWARD = Gauge("swarmd_eval_reward_mean", "Mean verifier score on the held-out set, last evaluation.",
                    registry=REGISTRY)
ROUND = Gauge("swarmd_eval_round", "Rounds played at the last evaluation (0: the base model).", registry=REGISTRY)
TASK_ACCURACY = Gauge("swarmd_eval_task_accuracy", "Greedy pass@1 per task, last evaluation.", ["task"],
                      registry=REGISTRY)
TASK_REWARD = Gauge("swarmd_eval_task_reward_mean", "Mean verifier score per task, last evaluation.", ["task"],
                    registry=REGISTRY)
SECONDS = Histogram("swarmd_eval_seconds", "Wall time of a held-out evaluation.",
                    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800), registry=REGISTRY)
EVALUATIONS = Counter("swarmd_evaluations", "Held-out evaluations by outcome (done, budget, stage_window, failed).",
                      ["outcome"], registry=REGISTRY)

RECENT_STAGES = 5
RECORD_KEEP = 1000


class Evaluator:
    def __init__(self, game: SwarmGame) -> None:
        self.game = game
        cfg = game.config.swarm
        self.schedule = evaluation.Schedule(cfg.eval_every_rounds, cfg.eval_budget_s)
        self.questions = cfg.eval_questions
        self.batch = cfg.eval_batch
        self._refs: list | None = None
        self._per_question_s = 0.0  # measured, 0 until the first slice

    @property
    def enabled(self) -> bool:
        return self.schedule.every > 0

    def refs(self) -> list:
        if self._refs is None:
            self._refs = evaluation.heldout_refs(self.game.task_specs, self.game.swarm_id, self.questions)
        return self._refs

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.game.state.evaluations

    def last(self) -> evaluation.Result | None:
        return evaluation.Result.from_json(self.results[-1]) if self.results else None

    # -- when -------------------------------------------------------------------------

    def rounds_played(self) -> int:
        """Rounds this node is past: the round after its last finished (or skipped) last stage."""
        done = self.game.state.last_done
        if done is None:
            return 0
        round_, stage = done
        return round_ + 1 if stage >= self.game.env.stage_count - 1 else round_

    def open_deadline(self, now: float) -> float | None:
        """Deadline of a stage that is open and that this node has not played yet."""
        state = self.game.source.current()
        if state is None or state.stage >= self.game.env.stage_count or now >= state.deadline:
            return None
        done = self.game.state.last_done
        if done is not None and state.key <= tuple(done):
            return None
        return state.deadline

    def stage_seconds(self) -> float:
        """How long this node takes to play a stage: the median of its recent ones (0 before any)."""
        recent = [float(h["seconds"]) for h in list(self.game.state.history)[-RECENT_STAGES:] if "seconds" in h]
        return statistics.median(recent) if recent else 0.0

    def due(self) -> int | None:
        last = self.last()
        version = int(getattr(self.game.daemon.trainer, "policy_version", 0))
        return self.schedule.due(self.rounds_played(), None if last is None else last.round, version)

    # -- run --------------------------------------------------------------------------

    async def between_stages(self) -> evaluation.Result | None:
        """Run the evaluation that is due, if any and if it fits; the result or None."""
        trainer = self.game.daemon.trainer
        if not self.enabled or not self.game.trains or not getattr(trainer, "ready", False):
            return None
        label = self.due()
        if label is None:
            return None
        return await self.run(label)

    async def run(self, label: int) -> evaluation.Result | None:
        trainer = self.game.daemon.trainer
        refs = self.refs()
        max_new = self.game.config.swarm.eval_max_new_tokens or self.game.config.trainer.sampling.max_new_tokens
        version = int(trainer.policy_version)
        stage_s = self.stage_seconds()
        t0 = time.monotonic()
        datasets: list[str] = []
        rewards: list[float] = []
        self.game.set_phase("evaluating")
        try:
            for start in range(0, len(refs), self.batch):
                chunk = refs[start:start + self.batch]
                why = self.schedule.may_start_slice(time.time(), self.open_deadline(time.time()), stage_s,
                                                    self._per_question_s * len(chunk), time.monotonic() - t0)
                if why is not None:
                    EVALUATIONS.labels(why).inc()
                    log.info("held-out evaluation (round %d) abandoned after %d of %d questions: %s",
                             label, len(rewards), len(refs),
                             "over eval_budget_s" if why == "budget" else "a stage's deadline window is near")
                    return None
                out = await trainer.evaluate(chunk, max_new, self.batch)
                datasets += list(out["datasets"])
                rewards += [float(r) for r in out["rewards"]]
                if chunk:
                    self._per_question_s = float(out.get("seconds", 0.0)) / len(chunk)
        except Exception as e:  # noqa: BLE001 - an evaluation never stops the game
            EVALUATIONS.labels("failed").inc()
            log.warning("held-out evaluation (round %d) failed: %s", label, e)
            return None
        finally:
            self.game.set_phase("idle")
        result = evaluation.summarize(datasets, rewards, label, version)
        result.seconds = round(time.monotonic() - t0, 3)
        result.time = time.time()
        self.publish(result)
        return result

    def publish(self, result: evaluation.Result) -> None:
        data = result.to_json()
        state = self.game.state
        state.evaluations.append(data)
        del state.evaluations[:-RECORD_KEEP]
        if result.round > 0 and state.history and state.history[-1].get("round") == result.round - 1:
            state.history[-1]["evaluation"] = data
        self.game._save()
        EVALUATIONS.labels("done").inc()
        SECONDS.observe(result.seconds)
        ACCURACY.set(result.accuracy)
        MEAN_REWARD.set(result.mean_reward)
        ROUND.set(result.round)
        for task, r in result.per_task.items():
            TASK_ACCURACY.labels(task).set(r.accuracy)
            TASK_REWARD.labels(task).set(r.mean_reward)
        what = "base model" if result.round == 0 else f"after round {result.round}"
        message = (f"held-out evaluation ({what}, policy version {result.policy_version}): accuracy "
                   f"{result.accuracy:.3f}, mean reward {result.mean_reward:.3f} on {result.examples} questions "
                   f"in {result.seconds:.1f}s")
        log.info("%s", message)
        self.game.daemon.events.emit(
            pb.EVENT_KIND_TRAINING, message,
            training=pb.TrainingEvent(step=result.policy_version, state="evaluated", evaluation=to_pb(result)),
        )

    def fill_status(self, status: pb.Status) -> None:
        last = self.last()
        if last is not None:
            status.training.evaluation.CopyFrom(to_pb(last))


def to_pb(result: evaluation.Result) -> pb.Evaluation:
    msg = pb.Evaluation(round=result.round, policy_version=result.policy_version, accuracy=result.accuracy,
                        mean_reward=result.mean_reward, examples=result.examples, seconds=result.seconds)
    for task, r in result.per_task.items():
        msg.per_task[task].CopyFrom(pb.TaskEvaluation(accuracy=r.accuracy, mean_reward=r.mean_reward,
                                                      examples=r.examples))
    return msg
