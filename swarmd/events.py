"""The daemon's event bus: typed events fanned out to any number of subscribers.

Events are the control plane's ``Event`` messages, so what `swarmctl events`,
the dashboard feed and tests see is one and the same record. Every event has a
sequence number; the bus keeps the newest ``history`` of them so a client can
replay recent events and resume after a disconnect (``since``).

A slow subscriber never slows the publisher and never loses events silently:
when its queue is full it stops taking new events, and once it has read what
it holds it catches up from the history. Whatever left the history in the
meantime is announced by one gap marker (an ``EVENT_KIND_GAP`` event naming
the missed sequence numbers) instead of being skipped without a word.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterable

from swarmd._pb.swarm.v1 import control_pb2 as pb

log = logging.getLogger(__name__)

Kind = pb.EventKind


class Subscription:
    """One subscriber's view of the bus: replayed events, then live ones.

    ``cursor`` is the highest sequence number this subscriber has accounted
    for (taken, or skipped by its kind filter); catching up resumes after it.
    """

    def __init__(self, bus: EventBus, kinds: frozenset[int], maxsize: int, cursor: int) -> None:
        self._bus = bus
        self.kinds = kinds
        self.maxsize = maxsize
        self.cursor = cursor
        self._items: collections.deque[pb.Event] = collections.deque()
        self._wake = asyncio.Event()
        self.lagging = False
        self.closed = False
        # Times the queue filled up, and events announced as missed by gap markers.
        self.overflows = 0
        self.missed = 0

    def _wanted(self, event: pb.Event) -> bool:
        return not self.kinds or event.kind in self.kinds or event.kind == Kind.EVENT_KIND_GAP

    def offer(self, event: pb.Event | None) -> None:
        """Called by the bus for every event; ``None`` ends the stream."""
        if event is None:
            self.closed = True
            self._wake.set()
            return
        if self.lagging or event.seq <= self.cursor:
            return
        if len(self._items) >= self.maxsize:
            # Stop taking events; the reader catches up from history (or is
            # told what it missed) once it has drained what it holds.
            self.lagging = True
            self.overflows += 1
            return
        self.cursor = event.seq
        if self._wanted(event):
            self._items.append(event)
            self._wake.set()

    def _catch_up(self) -> None:
        """Refill from the bus history after an overflow (no await: nothing can slip in between)."""
        backlog, gap = self._bus.after(self.cursor, reason="slow_client")
        if gap is not None:
            self._items.append(gap)
            self.missed += gap.gap.last_missed - gap.gap.first_missed + 1
        self._items.extend(e for e in backlog if self._wanted(e))
        self.cursor = self._bus.last_seq
        self.lagging = False

    def get_nowait(self) -> pb.Event | None:
        """The next event if one is ready; raises asyncio.QueueEmpty otherwise (None: the stream ended)."""
        if not self._items and self.lagging:
            self._catch_up()
        if self._items:
            return self._items.popleft()
        if self.closed:
            return None
        raise asyncio.QueueEmpty

    async def get(self) -> pb.Event | None:
        """The next event, waiting for one; ``None`` once the stream has ended."""
        while True:
            try:
                return self.get_nowait()
            except asyncio.QueueEmpty:
                self._wake.clear()
                await self._wake.wait()

    def __aiter__(self) -> AsyncIterator[pb.Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[pb.Event]:
        while True:
            event = await self.get()
            if event is None:  # the bus closed
                return
            yield event

    def close(self) -> None:
        self._bus._subscribers.discard(self)


class EventBus:
    def __init__(self, history: int = 1000, subscriber_queue: int = 1000) -> None:
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._subscribers: set[Subscription] = set()
        self._subscriber_queue = subscriber_queue
        self.history: collections.deque[pb.Event] = collections.deque(maxlen=history)
        self.closed = False
        self.published = 0

    def after(self, seq: int, reason: str = "not_buffered") -> tuple[list[pb.Event], pb.Event | None]:
        """Buffered events with a sequence number above ``seq``, and a gap marker
        when some of those are no longer buffered (else None)."""
        if seq >= self.last_seq:
            return [], None
        oldest = self.history[0].seq if self.history else self.last_seq + 1
        gap = None
        if oldest > seq + 1:
            first, last = seq + 1, oldest - 1
            gap = pb.Event(
                seq=last, time=time.time(), kind=Kind.EVENT_KIND_GAP,
                message=f"missed events {first}..{last}: they are no longer buffered ({reason})",
                gap=pb.GapEvent(first_missed=first, last_missed=last, reason=reason),
            )
        return [e for e in self.history if e.seq > seq], gap

    def subscribe(self, kinds: Iterable[int] = (), since: int | None = None, replay: int = 0,
                  maxsize: int | None = None) -> Subscription:
        """Subscribe to live events, after a replay of the buffered events with a
        sequence number above ``since`` (a resume) or, without ``since``, of the
        newest ``replay`` events of the chosen kinds.

        A ``since`` above the last sequence number this bus issued means the
        client saw a previous run of the daemon: it gets the ``replay`` default.
        """
        sub = Subscription(self, frozenset(kinds), maxsize or self._subscriber_queue, self.last_seq)
        if since is not None and since <= self.last_seq:
            backlog, gap = self.after(since)
            if gap is not None:
                sub._items.append(gap)
                sub.missed += gap.gap.last_missed - gap.gap.first_missed + 1
            sub._items.extend(e for e in backlog if sub._wanted(e))
        elif replay > 0:
            chosen = [e for e in self.history if sub._wanted(e)]
            sub._items.extend(chosen[-replay:])
        if self.closed:
            sub.offer(None)
        else:
            self._subscribers.add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def emit(self, kind: int, message: str, **detail: object) -> pb.Event:
        """Publish an event; ``detail`` is one keyword naming the oneof field, e.g. round=RoundEvent(...)."""
        event = pb.Event(seq=next(self._seq), time=time.time(), kind=kind, message=message)
        for field, value in detail.items():
            getattr(event, field).CopyFrom(value)
        self.last_seq = event.seq
        self.history.append(event)
        self.published += 1
        for sub in list(self._subscribers):
            sub.offer(event)
        return event

    def lifecycle(self, phase: str, message: str, subsystem: str = "", elapsed_s: float = 0.0) -> None:
        self.emit(
            Kind.EVENT_KIND_LIFECYCLE,
            message,
            lifecycle=pb.LifecycleEvent(phase=phase, subsystem=subsystem, elapsed_s=elapsed_s),
        )

    def close(self) -> None:
        """End every subscriber's stream (the daemon is stopping)."""
        self.closed = True
        for sub in list(self._subscribers):
            sub.offer(None)
        self._subscribers.clear()


async def wait_for_event(sub: Subscription, predicate, timeout: float) -> pb.Event:
    """The first event on ``sub`` satisfying ``predicate`` (used by subsystems and tests)."""
    async def _find() -> pb.Event:
        async for event in sub:
            if predicate(event):
                return event
        raise EOFError("event stream closed")

    return await asyncio.wait_for(_find(), timeout)
