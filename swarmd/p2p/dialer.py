"""Redial policy (pure): exponential backoff with jitter, forever.

A bootnode that is down is retried at ``min_s``, then twice as long each
failure up to ``max_s``; a success resets it, so a connection that drops
later is redialed at once. Jitter (±20 %) keeps a swarm of nodes that lost the
same bootnode from redialing it in lockstep.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self.delay = 0.0
        self.next_at = float("-inf")
        self.failures = 0
        self._rng = rng or random.Random()

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> None:
        self.failures += 1
        self.delay = min(self.max_s, max(self.min_s, self.delay * 2))
        self.next_at = now + self.delay * self._rng.uniform(0.8, 1.2)

    def succeeded(self) -> None:
        self.failures = 0
        self.delay = 0.0
        self.next_at = float("-inf")
