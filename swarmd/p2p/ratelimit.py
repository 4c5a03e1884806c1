"""Per-peer token buckets (pure: the caller passes the clock).

py-libp2p's own spam protection drops silently and counts our own publishes;
it is off, and this limit runs in the topic validator instead, where every
rejection is counted. Buckets are kept for a bounded number of peers (least
recently used go first) so a flood of fresh identities cannot grow memory.
"""

from __future__ import annotations

from collections import OrderedDict


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_peers: int = 4096) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_peers = max_peers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # peer -> (tokens, at)

    def allow(self, peer: str, now: float, cost: float = 1.0) -> bool:
        tokens, at = self._buckets.pop(peer, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        self._buckets[peer] = (tokens, now)
        while len(self._buckets) > self.max_peers:
            self._buckets.popitem(last=False)
        return ok

    def __len__(self) -> int:
        return len(self._buckets)
