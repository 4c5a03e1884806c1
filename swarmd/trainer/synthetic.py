"""A synthetic task with a dense reward, for tests and experiments with tiny models.

A tiny random model cannot solve reasoning-gym's tasks: every completion scores
0, every group has zero advantage and nothing is learned or shared. The
``swarmd_letters`` task asks to repeat a few letters; its verifier gives
partial credit for each asked letter that appears (in order) in the answer —
the whole completion when there are no answer tags — so random text already
scores a little and the reward can rise.
It is registered with reasoning-gym like any dataset, so task references,
re-scoring by peers and the worker's code path are the same as for real tasks.

Runs in the worker (imports reasoning-gym).
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

NAME = "swarmd_letters"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class LettersConfig:
    length: int = 3
    seed: int | None = None
    size: int = 500

    def validate(self) -> None:
        if not 1 <= self.length <= 26:
            raise ValueError("length must be between 1 and 26")


def letters_reward(target: str, answer: str) -> float:
    """Fraction of the target letters found in ``answer``, each matched once, in order."""
    text = answer.lower()
    found, pos = 0, 0
    for letter in target:
        at = text.find(letter, pos)
        if at >= 0:
            found += 1
            pos = at + 1
    return found / len(target) if target else 0.0


def register() -> None:
    """Add the task to reasoning-gym's registry (once per process)."""
    import reasoning_gym
    from reasoning_gym.dataset import ProceduralDataset

    if NAME in reasoning_gym.factory.DATASETS:
        return

    class LettersDataset(ProceduralDataset):
        def __init__(self, config: LettersConfig) -> None:
            super().__init__(config=config, seed=config.seed, size=config.size)

        def __getitem__(self, idx: int) -> dict[str, Any]:
            rng = Random(self.seed + idx)
            target = "".join(rng.choice(_LETTERS) for _ in range(self.config.length))
            return {
                "question": f"Repeat these letters in order: {' '.join(target)}",
                "answer": target,
                "metadata": {"source_dataset": NAME, "source_index": idx},
            }

        def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
            return letters_reward(entry["answer"], answer or "")

    reasoning_gym.factory.register_dataset(NAME, LettersDataset, LettersConfig)
