"""What a node trains on and whom it votes for: pure functions, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredGroup:
    """A question's completions with rewards this node verified itself."""

    sender: str
    round: int
    policy_version: int
    prompt: list[dict]
    question: str
    completions: list[str]
    rewards: list[float]
    # The sender's mean log-prob per token of each completion, when it runs our model.
    behavior_logprobs: tuple[float, ...] = ()
    # The token ids the sender sampled, when it runs our model.
    token_ids: tuple[tuple[int, ...], ...] = ()

    @property
    def has_signal(self) -> bool:
        """GRPO learns nothing from a group whose rewards are all equal (zero advantage)."""
        return max(self.rewards) - min(self.rewards) > 1e-9

    @property
    def mean_reward(self) -> float:
        return sum(self.rewards) / len(self.rewards)


def sample_external(groups: list[ScoredGroup], j: int, rng: random.Random) -> list[ScoredGroup]:
    """SAPO's external share: J groups drawn uniformly from peers' groups that carry signal."""
    useful = [g for g in groups if g.has_signal]
    if len(useful) <= j:
        return useful
    return rng.sample(useful, j)


def peer_scores(groups: list[ScoredGroup]) -> dict[str, float]:
    """Each sender's mean verified reward over its groups."""
    totals: dict[str, list[float]] = {}
    for g in groups:
        totals.setdefault(g.sender, []).append(g.mean_reward)
    return {peer: sum(v) / len(v) for peer, v in totals.items()}


def pick_winners(scores: dict[str, float], k: int) -> list[str]:
    """The k best-scoring peers; ties go to the smaller peer ID so every node agrees.

    A peer with a score of zero never wins: a round where nobody answered
    anything right has no winner.
    """
    ranked = sorted((p for p, s in scores.items() if s > 0), key=lambda p: (-scores[p], p))
    return ranked[:k]


def scaled_reward(mean_reward: float, scale: int) -> int:
    """The on-chain integer for a mean reward in [0, 1]."""
    return int(round(mean_reward * scale))
