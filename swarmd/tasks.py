"""The task layer: which questions a node asks, named so that any peer can regenerate them.

Pure (no torch, no reasoning-gym): the daemon and the swarm game use it, and so does
the trainer worker. A question is named by a :class:`TaskRef` (dataset, config, seed,
index) from which any peer regenerates the same reasoning-gym entry; :func:`draw_refs`
picks a round's questions from a weighted task list, deterministically from a seed;
:func:`round_seed` derives that seed from (swarm, peer, round); :func:`ref_key` is the
one identity of a reference, whether it comes as a :class:`TaskRef` or off the wire.
Materializing a reference and scoring an answer with the dataset's verifier is the
worker's job (:mod:`swarmd.trainer.verifier`).

Determinism is specified here rather than borrowed: the dataset choice uses
sha256, not :mod:`random`, so two versions of Python or of swarmd draw the
same questions from the same seed. reasoning-gym itself derives entry ``i``
from ``seed + i`` independently of the dataset's size, which is what makes a
reference sufficient.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

# Dataset seeds are kept below 2**31 and indices below 2**31: some datasets seed
# numpy's legacy generator with ``seed + index``, which must fit in 32 bits.
SEED_LIMIT = 2**31
INDEX_LIMIT = 2**31
# Keys reasoning-gym config classes use for the dataset's own seed and size:
# they come from the reference, never from its config.
RESERVED_CONFIG_KEYS = frozenset({"seed", "size"})

SYSTEM_PROMPT = (
    "Given a problem, think step by step, then give the final answer in the format\n"
    "<answer>answer here</answer>\n"
    "Do not explain your reasoning inside the answer tags, provide only the final answer. "
    "When an example is provided, strictly follow the format of its output."
)


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a config: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


RefKey = tuple[str, str, int, int]


def ref_key(dataset: str, config_json: str, seed: int, index: int) -> RefKey:
    """The identity of a task reference: the config as JSON text, canonical for our own refs.

    A reference off the wire is keyed by its ``config_json`` as sent, so a peer's
    non-canonical spelling never matches the canonical key of a reference it was asked.
    """
    return (dataset, config_json, int(seed), int(index))


@dataclass(frozen=True)
class TaskRef:
    """Enough to regenerate a reasoning-gym entry anywhere."""

    dataset: str
    config: dict[str, Any]
    seed: int
    index: int

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "config": self.config, "seed": self.seed, "index": self.index}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskRef:
        if not isinstance(d, dict):
            raise ValueError("a task reference must be an object")
        config = d.get("config", {})
        if not isinstance(config, dict):
            raise ValueError("task reference config must be an object")
        return cls(str(d["dataset"]), config, int(d["seed"]), int(d["index"]))

    @property
    def key(self) -> RefKey:
        """Hashable identity (the config in canonical JSON)."""
        return ref_key(self.dataset, canonical_json(self.config), self.seed, self.index)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskRef) and self.key == other.key


@dataclass(frozen=True)
class TaskSpec:
    """One entry of a task list: a dataset, its config and its weight in the draw."""

    dataset: str
    config: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "config": self.config, "weight": self.weight}


# SAPO's 9-task composite, equal weights, reasoning-gym's default difficulty
# except where the default makes prompts very long (arc_1d grids).
SAPO_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("arc_1d", {"min_size": 10, "max_size": 30, "num_train": 3}),
    TaskSpec("basic_arithmetic", {"min_terms": 2, "max_terms": 6, "min_digits": 1, "max_digits": 4}),
    TaskSpec("base_conversion", {}),
    TaskSpec("bf", {}),
    TaskSpec("binary_matrix", {"min_n": 3, "max_n": 10}),
    TaskSpec("calendar_arithmetic", {}),
    TaskSpec("decimal_arithmetic", {}),
    TaskSpec("fraction_simplification", {}),
    TaskSpec("propositional_logic", {}),
)

# Small enough that a 135M model on a CPU gets some right: GRPO needs groups
# whose rewards differ.
EASY_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("basic_arithmetic", {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1,
                                  "operators": ["+", "-"], "allow_parentheses": False,
                                  "allow_negation": False}, 2.0),
    TaskSpec("spell_backward", {"min_word_len": 3, "max_word_len": 3}, 2.0),
    TaskSpec("base_conversion", {"min_base": 2, "max_base": 10, "min_value": 0, "max_value": 15}),
    TaskSpec("fraction_simplification", {"min_value": 1, "max_value": 12, "min_factor": 1,
                                         "max_factor": 3, "styles": ["plain"]}),
)

# A synthetic task with a dense reward (swarmd.trainer.synthetic): for tiny models
# in tests and experiments, which score 0 on everything else.
DENSE_TASKS: tuple[TaskSpec, ...] = (TaskSpec("swarmd_letters", {"length": 3}),)
DIGITS_TASKS: tuple[TaskSpec, ...] = (TaskSpec("swarmd_digits", {}),)
# All-or-nothing reward a fresh tiny model rarely earns (swarmd.trainer.synthetic).
SPARSE_TASKS: tuple[TaskSpec, ...] = (TaskSpec("swarmd_sparse", {"min_digits": 2}),)

PRESETS: dict[str, tuple[TaskSpec, ...]] = {
    "sapo": SAPO_TASKS, "easy": EASY_TASKS, "dense": DENSE_TASKS, "digits": DIGITS_TASKS,
    "sparse": SPARSE_TASKS,
}


def preset(name: str) -> list[TaskSpec]:
    """A named task list; ValueError naming the known presets."""
    try:
        return list(PRESETS[name])
    except KeyError:
        raise ValueError(f"unknown task preset {name!r} (known: {', '.join(sorted(PRESETS))})") from None


# -- (a) pure, deterministic choices -------------------------------------------


def _u64(*parts: object) -> int:
    h = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


# Training questions take dataset seeds below TRAIN_SEED_LIMIT, with at most
# MAX_ROUND_QUESTIONS indices each; held-out sets (swarmd.trainer.evaluation) take the
# band above it. Entry i of a dataset derives from seed + i, so the two never share one.
HELDOUT_BAND = 2**24
TRAIN_SEED_LIMIT = SEED_LIMIT - HELDOUT_BAND
MAX_ROUND_QUESTIONS = 64


def round_seed(swarm_id: str, peer_id: str, round_: int) -> int:
    """The seed of a peer's questions in a round: sha256 of the three, below the held-out band.

    Stable across versions by construction (a version tag is hashed in; changing
    the derivation means changing the tag). The 0.8% of hashes that would reach the
    held-out band are drawn again below it.
    """
    seed = _u64("swarmd/round-seed/v1", swarm_id, peer_id, int(round_)) % SEED_LIMIT
    if seed > TRAIN_SEED_LIMIT - MAX_ROUND_QUESTIONS:
        seed = _u64("swarmd/round-seed/v1/below-heldout", swarm_id, peer_id, int(round_)) % (
            TRAIN_SEED_LIMIT - MAX_ROUND_QUESTIONS)
    return seed


def draw_refs(tasks: list[TaskSpec] | tuple[TaskSpec, ...], seed: int, n: int) -> list[TaskRef]:
    """``n`` task references; which dataset question ``i`` comes from is a function of (seed, i).

    Question ``i`` uses dataset seed ``seed`` and index ``i``: distinct
    questions within a dataset, and regenerable by anyone from the reference.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not tasks:
        raise ValueError("the task list is empty")
    weights = [float(t.weight) for t in tasks]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("task weights must be finite, >= 0, and not all zero")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**31), got {seed}")
    total = sum(weights)
    refs = []
    for i in range(n):
        # A uniform draw in [0, total) from 53 bits of sha256(seed, i).
        u = (_u64("swarmd/draw/v1", seed, i) >> 11) / float(1 << 53) * total
        acc = 0.0
        chosen = tasks[-1]
        for spec, w in zip(tasks, weights, strict=True):
            acc += w
            if u < acc and w > 0:
                chosen = spec
                break
        refs.append(TaskRef(chosen.dataset, dict(chosen.config), seed, i))
    return refs


def check_ref(ref: TaskRef, allowed: list[TaskSpec] | tuple[TaskSpec, ...] | None = None) -> str | None:
    """Why a reference is unacceptable, or None. Pure: no dataset is built.

    With ``allowed``, the (dataset, config) pair must be one of the task list's:
    a peer must not make us build arbitrary (possibly huge) datasets.
    """
    if not re.fullmatch(r"[a-z0-9_]{1,64}", ref.dataset):
        return f"bad dataset name {ref.dataset[:64]!r}"
    reserved = RESERVED_CONFIG_KEYS & set(ref.config)
    if reserved:
        return f"config of {ref.dataset} sets reserved key(s) {', '.join(sorted(reserved))}"
    if not 0 <= ref.seed < SEED_LIMIT:
        return f"seed {ref.seed} out of range [0, 2**31)"
    if not 0 <= ref.index < INDEX_LIMIT:
        return f"index {ref.index} out of range [0, 2**31)"
    if allowed is not None:
        key = (ref.dataset, canonical_json(ref.config))
        if key not in {(t.dataset, canonical_json(t.config)) for t in allowed}:
            return f"task {ref.dataset} with this config is not in this swarm's task list"
    return None


def build_prompt(question: str) -> list[dict[str, str]]:
    """Chat messages asking for the answer inside ``<answer>`` tags."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]

