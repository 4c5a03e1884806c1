"""Checks on peers' rollout batches: pure functions, no I/O.

Two layers. ``check_batch`` runs at the mesh boundary on every message and
rejects what is structurally wrong (the whole message is dropped and counted).
``check_items`` runs in the game with the round's context and keeps only the
items a peer was actually asked: a task reference must be one of the refs
that peer draws for that round (they are a deterministic function of the swarm,
the peer and the round), each at most once. What survives is then re-scored by
the node's own verifier; claimed rewards are never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.swarm.wire import pb_key


@dataclass(frozen=True)
class BatchLimits:
    environment: str
    stage_count: int
    max_items: int  # I
    max_completions: int  # G
    max_completion_chars: int


def check_batch(batch: gpb.RolloutBatch | gpb.DebateBatch, limits: BatchLimits) -> str | None:
    """A rejection reason for a structurally bad batch, or None."""
    environment = getattr(batch, "environment", limits.environment)
    if environment != limits.environment:
        return "environment_mismatch"
    if batch.stage >= limits.stage_count:
        return "bad_stage"
    if not batch.items:
        return "empty_batch"
    if len(batch.items) > limits.max_items:
        return "too_many_items"
    for item in batch.items:
        if not item.completions:
            return "empty_item"
        if len(item.completions) > limits.max_completions:
            return "too_many_completions"
        if any(len(c) > limits.max_completion_chars for c in item.completions):
            return "completion_too_long"
        if not item.ref.dataset:
            return "malformed_ref"
    return None


@dataclass(frozen=True)
class Rejection:
    sender: str
    reason: str
    detail: str = ""


def check_items(
    sender: str,
    round_: int,
    batch: gpb.RolloutBatch,
    expected_refs: Iterable[tuple[str, str, int, int]],
) -> tuple[list[gpb.RolloutItem], list[Rejection]]:
    """Keep the items whose refs the sender was asked this round, each at most once."""
    rejections: list[Rejection] = []
    if batch.round != round_:
        return [], [Rejection(sender, "round_mismatch", f"batch says round {batch.round}, envelope {round_}")]
    allowed = set(expected_refs)
    seen: set[tuple[str, str, int, int]] = set()
    kept: list[gpb.RolloutItem] = []
    for item in batch.items:
        key = pb_key(item.ref)
        if key not in allowed:
            rejections.append(Rejection(sender, "unexpected_ref", f"{item.ref.dataset}#{item.ref.index} seed {item.ref.seed}"))
        elif key in seen:
            rejections.append(Rejection(sender, "duplicate_ref", f"{item.ref.dataset}#{item.ref.index}"))
        else:
            seen.add(key)
            kept.append(item)
    return kept, rejections
