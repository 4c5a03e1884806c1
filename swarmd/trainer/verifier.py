"""The verifier (worker side): a task reference materialized by reasoning-gym, an answer scored.

reasoning-gym is imported lazily, inside these functions: only the trainer worker
calls them. The references themselves, and every pure choice about them, live in
:mod:`swarmd.tasks`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from swarmd.errors import SwarmdError
from swarmd.tasks import INDEX_LIMIT, TaskRef, canonical_json, check_ref

# -- answer extraction (pure) ------------------------------------------------------

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(r"<answer>", re.IGNORECASE)


def extract_answer(completion: str) -> str | None:
    """The last ``<answer>…</answer>``; an unclosed final ``<answer>`` counts up to the end.

    Small models often stop (or get cut off) before the closing tag; what
    follows the last opening tag is then their answer. Returns None when
    there is no tag at all.
    """
    matches = _ANSWER.findall(completion)
    closed = matches[-1].strip() if matches else None
    opens = list(_OPEN.finditer(completion))
    if opens:
        tail = completion[opens[-1].end():]
        if "</answer>" not in tail.lower():
            text = tail.strip()
            # An unclosed tag after a closed one: prefer the closed answer
            # unless the tail holds something.
            if text or closed is None:
                return text
    return closed


# -- reasoning-gym -----------------------------------------------------------------


class TaskError(SwarmdError, ValueError):
    """A reference that cannot be materialized: the message names what is wrong."""


_DATASET_CACHE_SIZE = 128


@functools.lru_cache(maxsize=_DATASET_CACHE_SIZE)
def _dataset(name: str, config_json: str, seed: int):
    import reasoning_gym

    from swarmd.trainer import synthetic

    synthetic.register()
    if name not in reasoning_gym.factory.DATASETS:
        raise TaskError(f"unknown dataset {name!r}")
    config = json.loads(config_json)
    try:
        # The size only bounds iteration; entry i depends on seed + i alone.
        return reasoning_gym.create_dataset(name, seed=seed, size=INDEX_LIMIT, **config)
    except TaskError:
        raise
    except Exception as e:  # noqa: BLE001 - reasoning-gym raises many types on bad configs
        raise TaskError(f"bad config for {name}: {type(e).__name__}: {str(e)[:200]}") from None


def materialize(ref: TaskRef) -> tuple[str, dict[str, Any]]:
    """(question, entry) of a reference; TaskError naming what is wrong."""
    problem = check_ref(ref)
    if problem:
        raise TaskError(problem)
    ds = _dataset(ref.dataset, canonical_json(ref.config), ref.seed)
    try:
        entry = ds[ref.index]
    except Exception as e:  # noqa: BLE001
        raise TaskError(f"{ref.dataset}[{ref.index}] cannot be generated: {type(e).__name__}: {e}") from None
    return entry["question"], entry


def score(ref: TaskRef, entry: dict[str, Any], completion: str) -> float:
    """The dataset's verifier on the extracted answer, in [0, 1]; any failure scores 0.

    Without answer tags the verifier judges the whole completion: small models
    rarely use the tags, and reasoning-gym's default partial credit (the oracle
    answer inside a longer text scores len(answer) / len(text)) then still
    separates a completion that contains the answer from one that does not,
    while an exact answer scores 1.
    """
    answer = extract_answer(completion)
    if answer is None:
        answer = completion.strip()
    if not answer:
        return 0.0
    try:
        ds = _dataset(ref.dataset, canonical_json(ref.config), ref.seed)
        value = float(ds.score_answer(answer, entry))
    except Exception:  # noqa: BLE001 - some verifiers raise on junk answers
        return 0.0
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, value))
