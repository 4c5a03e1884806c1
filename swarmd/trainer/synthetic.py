"""A synthetic task with a dense reward, for tests and experiments with tiny models.

A tiny random model cannot solve reasoning-gym's tasks: every completion scores
0, every group has zero advantage and nothing is learned or shared. The
``swarmd_letters`` task asks to repeat a few letters; its verifier gives
partial credit for each asked letter that appears (in order) in the answer —
the whole completion when there are no answer tags — so random text already
scores a little and the reward can rise. ``swarmd_digits`` ("reply with digits
only", scored by the share of digits) needs no reading at all: a tiny model
climbs it within a few dozen steps, which makes learning visible on a CPU.
``swarmd_sparse`` ("reply with a number") pays 1 only when the answer holds at
least ``min_digits`` digits and 0 otherwise: a fresh tiny model succeeds on
about 6% of its completions at ``min_digits = 2``, so most groups carry no
signal, which is the setting where peers' successes should matter.
It is registered with reasoning-gym like any dataset, so task references,
re-scoring by peers and the worker's code path are the same as for real tasks.

Runs in the worker (imports reasoning-gym).
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

NAME = "swarmd_letters"
DIGITS = "swarmd_digits"
SPARSE = "swarmd_sparse"
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


def digits_reward(answer: str) -> float:
    """Share of the non-space characters of ``answer`` that are digits."""
    chars = [c for c in answer if not c.isspace()]
    return sum(c.isdigit() for c in chars) / len(chars) if chars else 0.0


@dataclass
class DigitsConfig:
    seed: int | None = None
    size: int = 500

    def validate(self) -> None:
        pass


def sparse_reward(answer: str, min_digits: int) -> float:
    """1.0 when ``answer`` holds at least ``min_digits`` digit characters, else 0.0."""
    return 1.0 if sum(c.isdigit() for c in answer) >= min_digits else 0.0


@dataclass
class SparseConfig:
    min_digits: int = 2
    seed: int | None = None
    size: int = 500

    def validate(self) -> None:
        if not 1 <= self.min_digits <= 64:
            raise ValueError("min_digits must be between 1 and 64")


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

    class DigitsDataset(ProceduralDataset):
        """'Reply with digits only': a reward any policy can climb without reading the question."""

        def __init__(self, config: DigitsConfig) -> None:
            super().__init__(config=config, seed=config.seed, size=config.size)

        def __getitem__(self, idx: int) -> dict[str, Any]:
            rng = Random(self.seed + idx)
            word = "".join(rng.choice(_LETTERS) for _ in range(5))
            return {
                "question": f"Reply with digits only. Label: {word}",
                "answer": "0",
                "metadata": {"source_dataset": DIGITS, "source_index": idx},
            }

        def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
            return digits_reward(answer or "")

    reasoning_gym.factory.register_dataset(DIGITS, DigitsDataset, DigitsConfig)

    class SparseDataset(ProceduralDataset):
        """'Reply with a number': all-or-nothing, rarely earned by a fresh tiny model."""

        def __init__(self, config: SparseConfig) -> None:
            super().__init__(config=config, seed=config.seed, size=config.size)

        def __getitem__(self, idx: int) -> dict[str, Any]:
            rng = Random(self.seed + idx)
            word = "".join(rng.choice(_LETTERS) for _ in range(5))
            return {
                "question": f"Reply with a number of at least {self.config.min_digits} digits. Label: {word}",
                "answer": "1" * self.config.min_digits,
                "metadata": {"source_dataset": SPARSE, "source_index": idx},
            }

        def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
            return sparse_reward(answer or "", self.config.min_digits)

    reasoning_gym.factory.register_dataset(SPARSE, SparseDataset, SparseConfig)
