"""The round store: one value per (kind, round, stage, sender), for a window of recent rounds.

The network thread keeps the original signed pubsub messages here to serve
pulls; the asyncio side keeps the decoded payloads (``Mesh.held``). Each
sender's window is its own: entries older than ``window`` rounds behind that
sender's newest round (per kind) are dropped. So a peer that claims round
10**9 only evicts its own data, never anyone else's; a sender also holds at
most ``per_sender`` entries per kind (many stages of one round). A byte cap
bounds the whole store; when it is exceeded the oldest insertions go first.

Simplification: a sender's rounds are compared as numbers; stage is not part
of the window (all stages of a kept round are kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")
Key = tuple[str, int, int]  # (kind, round, stage)


class RoundStore(Generic[V]):
    def __init__(
        self, window: int, max_bytes: int, size_of: Callable[[V], int] = lambda v: 0, per_sender: int | None = None
    ) -> None:
        self.window = window
        self.per_sender = per_sender or window * 16
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._by_key: dict[Key, dict[str, V]] = {}
        # insertion order of (kind, round, stage, sender) for the byte cap
        self._order: OrderedDict[tuple[str, int, int, str], int] = OrderedDict()
        self._newest: dict[tuple[str, str], int] = {}  # (kind, sender) -> newest round
        self._mine: dict[tuple[str, str], OrderedDict[tuple[int, int], None]] = {}
        self.bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._order)

    def has(self, kind: str, round: int, stage: int, sender: str) -> bool:
        return sender in self._by_key.get((kind, round, stage), {})

    def get(self, kind: str, round: int, stage: int) -> dict[str, V]:
        """A copy: sender → value."""
        return dict(self._by_key.get((kind, round, stage), {}))

    def senders(self, kind: str, round: int, stage: int) -> set[str]:
        return set(self._by_key.get((kind, round, stage), {}))

    def add(self, kind: str, round: int, stage: int, sender: str, value: V, replace: bool = False) -> bool:
        """Keep ``value``; False when it is a duplicate (unless ``replace``) or too old to keep."""
        newest = self._newest.get((kind, sender), -1)
        if newest >= 0 and round <= newest - self.window:
            return False
        slot = self._by_key.setdefault((kind, round, stage), {})
        if sender in slot:
            if not replace:
                return False
            self._remove(kind, round, stage, sender)
            slot = self._by_key.setdefault((kind, round, stage), {})
        slot[sender] = value
        size = self._size_of(value)
        self._order[(kind, round, stage, sender)] = size
        self.bytes += size
        mine = self._mine.setdefault((kind, sender), OrderedDict())
        mine[(round, stage)] = None
        if round > newest:
            self._newest[(kind, sender)] = round
            for r, s in [k for k in mine if k[0] <= round - self.window]:
                self._remove(kind, r, s, sender)
        while len(mine) > self.per_sender:
            r, s = next(iter(mine))
            self._remove(kind, r, s, sender)
        while self.bytes > self.max_bytes and len(self._order) > 1:
            (k, r, s, snd), _ = next(iter(self._order.items()))
            self._remove(k, r, s, snd)
            self.evicted += 1
        return True

    def _remove(self, kind: str, round: int, stage: int, sender: str) -> None:
        slot = self._by_key.get((kind, round, stage))
        if slot is None or sender not in slot:
            return
        del slot[sender]
        if not slot:
            del self._by_key[(kind, round, stage)]
        self.bytes -= self._order.pop((kind, round, stage, sender), 0)
        mine = self._mine.get((kind, sender))
        if mine is not None:
            mine.pop((round, stage), None)
            if not mine:
                del self._mine[(kind, sender)]

    def forget_sender(self, sender: str) -> None:
        for kind, round, stage in list(self._by_key):
            self._remove(kind, round, stage, sender)
        for key in [k for k in self._newest if k[1] == sender]:
            del self._newest[key]
        self._mine = {k: v for k, v in self._mine.items() if k[1] != sender}
