"""The trainer's decisions about batches and restarts, as pure functions (no torch, no worker)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Limits:
    """Batch sizes sent with every request; shrunk after out-of-memory errors, never grown back."""

    micro_batch: int  # sequences per forward/backward pass in training (0: sized by the worker)
    gen_batch: int = 0  # sequences per sampling pass (0: all of a request at once)

    def to_json(self) -> dict[str, int]:
        return {"micro_batch": self.micro_batch, "gen_batch": self.gen_batch}


GENERATING_OPS = frozenset({"rollouts", "generate"})


def shrink_after_oom(op: str, limits: Limits, batch: int) -> Limits | None:
    """Halve the batch that ran out of memory; None when it was already 1 (or ``op`` has no batch).

    ``batch`` is how many sequences were in flight when the allocation failed
    (it may be smaller than the limit: the last chunk of a request).
    """
    if op == "train":
        current = max(1, batch if limits.micro_batch == 0 else min(limits.micro_batch, batch))
        return None if current <= 1 else replace(limits, micro_batch=current // 2)
    if op in GENERATING_OPS:
        current = max(1, batch if limits.gen_batch == 0 else min(limits.gen_batch, batch))
        return None if current <= 1 else replace(limits, gen_batch=current // 2)
    return None


def activation_bytes_per_token(hidden: int, intermediate: int, layers: int, dtype_bytes: int,
                               checkpointing: bool) -> int:
    """Training memory one token of a sequence holds until backward (an estimate, on the safe side).

    Without checkpointing every layer keeps its inputs to the adapted and
    non-linear parts (about 8 hidden-sized and 3 intermediate-sized vectors);
    with it, each layer keeps only its input and one layer at a time is
    recomputed in full.
    """
    per_layer = (8 * hidden + 3 * intermediate) * dtype_bytes
    if checkpointing:
        return layers * hidden * dtype_bytes + per_layer
    return layers * per_layer


def auto_micro_batch(free_bytes: int, seq_len: int, per_token_bytes: int, fixed_bytes: int = 0,
                     fraction: float = 0.7, cap: int = 4096) -> int:
    """Sequences per training pass that fit in ``fraction`` of ``free_bytes`` (at least 1).

    ``fixed_bytes``: what a pass needs whatever its size (the log-prob
    chunk's logits). Out-of-memory halving remains the safety net.
    """
    budget = free_bytes * fraction - fixed_bytes
    per_row = max(1, seq_len) * max(1, per_token_bytes)
    return max(1, min(cap, int(budget // per_row)))


def restart_delay(failures: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before the ``failures``-th consecutive restart: base · 2^(n-1), capped."""
    if failures <= 0:
        return 0.0
    return min(cap_s, base_s * 2.0 ** min(failures - 1, 30))


def plan_chunks(sizes: list[int], limit: int) -> list[list[tuple[int, int, int]]]:
    """Split groups of ``sizes[i]`` rows into passes of at most ``limit`` rows (0: one pass).

    Groups stay whole where they fit, so a pass shares each prompt among its
    rows; a group larger than ``limit`` is split. Returns per pass a list of
    (group index, first row, rows taken), in order.
    """
    if limit <= 0:
        whole = [(i, 0, n) for i, n in enumerate(sizes) if n > 0]
        return [whole] if whole else []
    chunks: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    room = limit
    for i, n in enumerate(sizes):
        start = 0
        if current and n > room and n <= limit:
            chunks.append(current)  # start the group in a fresh pass rather than split it
            current, room = [], limit
        while start < n:
            if room == 0:
                chunks.append(current)
                current, room = [], limit
            take = min(n - start, room)
            current.append((i, start, take))
            start += take
            room -= take
    if current:
        chunks.append(current)
    return chunks
