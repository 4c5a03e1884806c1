"""Held-out evaluation: which questions, how results are summarized, when it may run.

Pure (standard library only): the daemon imports it, the worker's greedy pass
(greedy.py) produces the per-question rewards it summarizes.

- **The set.** :func:`heldout_refs` draws ``n`` questions from the swarm's task
  list with a dataset seed that is a function of the swarm ID alone, taken from
  the band of seeds training never uses (``tasks.TRAIN_SEED_LIMIT`` and above):
  every node of a swarm evaluates on the same questions, and none of them is
  ever a training question.
- **The measure.** One greedy completion per question (deterministic for a
  fixed adapter); pass@1 accuracy counts a question as solved when the
  verifier gives it full marks, mean reward averages the verifier's score
  (partial credit included); both overall and per task.
- **When.** :class:`Schedule` decides: the base model once (round 0), then
  after every ``every`` rounds; only between stages; and a slice of questions
  starts only if it cannot push an open stage into its deadline window (the
  time the node needs before the deadline to play it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from swarmd import tasks

MAX_QUESTIONS = 4096
# A greedy answer "solves" a question when the verifier gives it full marks.
SOLVED = 1.0 - 1e-9


def heldout_seed(swarm_id: str) -> int:
    """The held-out set's dataset seed: in the band training never draws from."""
    span = tasks.HELDOUT_BAND - MAX_QUESTIONS
    return tasks.TRAIN_SEED_LIMIT + tasks._u64("swarmd/heldout/v1", swarm_id) % span


def heldout_refs(specs, swarm_id: str, n: int) -> list[tasks.TaskRef]:
    """The swarm's held-out questions: the same on every node, disjoint from training's."""
    if not 1 <= n <= MAX_QUESTIONS:
        raise ValueError(f"the held-out set needs 1..{MAX_QUESTIONS} questions, got {n}")
    return tasks.draw_refs(specs, heldout_seed(swarm_id), n)


@dataclass
class TaskResult:
    accuracy: float
    mean_reward: float
    examples: int

    def to_json(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "mean_reward": self.mean_reward, "examples": self.examples}


@dataclass
class Result:
    """One evaluation: overall and per task. ``round`` is 0 for the base model."""

    round: int
    policy_version: int
    accuracy: float
    mean_reward: float
    examples: int
    per_task: dict[str, TaskResult] = field(default_factory=dict)
    seconds: float = 0.0
    time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round, "policy_version": self.policy_version, "accuracy": self.accuracy,
            "mean_reward": self.mean_reward, "examples": self.examples,
            "per_task": {k: v.to_json() for k, v in sorted(self.per_task.items())},
            "seconds": self.seconds, "time": self.time,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Result:
        return cls(
            int(d["round"]), int(d["policy_version"]), float(d["accuracy"]), float(d["mean_reward"]),
            int(d["examples"]),
            {k: TaskResult(float(v["accuracy"]), float(v["mean_reward"]), int(v["examples"]))
             for k, v in (d.get("per_task") or {}).items()},
            float(d.get("seconds", 0.0)), float(d.get("time", 0.0)),
        )


def summarize(datasets: list[str], rewards: list[float], round_: int, policy_version: int) -> Result:
    """Accuracy (share of full marks) and mean reward, overall and per dataset."""
    if len(datasets) != len(rewards) or not rewards:
        raise ValueError("one reward per held-out question, and at least one question")
    by_task: dict[str, list[float]] = {}
    for name, r in zip(datasets, rewards, strict=True):
        by_task.setdefault(name, []).append(float(r))

    def measure(values: list[float]) -> TaskResult:
        return TaskResult(sum(v >= SOLVED for v in values) / len(values), sum(values) / len(values), len(values))

    overall = measure([float(r) for r in rewards])
    return Result(round_, policy_version, overall.accuracy, overall.mean_reward, overall.examples,
                  {k: measure(v) for k, v in by_task.items()})


@dataclass
class Schedule:
    """When an evaluation is due and whether a slice of it may start now.

    ``every`` rounds (0: never), the base model once. ``stage_s`` is how long this
    node takes to play a stage (its recent median), ``slice_s`` how long a slice of
    questions takes (measured; a first guess before that).
    """

    every: int
    budget_s: float

    def due(self, rounds_played: int, last: int | None, policy_version: int) -> int | None:
        """The round label of the evaluation due now, or None.

        The base model (label 0) while no step has been taken and none was made;
        afterwards label ``rounds_played`` once ``every`` rounds have passed since the
        last one (so one that could not run is made at the next chance).
        """
        if self.every <= 0:
            return None
        if last is None and policy_version == 0:
            return 0
        if rounds_played > 0 and rounds_played >= (last or 0) + self.every:
            return rounds_played
        return None

    def may_start_slice(self, now: float, open_deadline: float | None, stage_s: float, slice_s: float,
                        spent_s: float) -> str | None:
        """Why the next slice must not start (None: it may).

        ``open_deadline``: the deadline of a stage that is open and that this node has
        not played yet (None when there is none). The slice must end before that
        stage's deadline window, the last ``stage_s`` seconds before its deadline.
        The whole evaluation stays within ``budget_s``.
        """
        if not math.isfinite(slice_s) or slice_s < 0:
            slice_s = 0.0
        if spent_s + slice_s > self.budget_s:
            return "budget"
        if open_deadline is not None and now + slice_s > open_deadline - stage_s:
            return "stage_window"
        return None
