"""The daemon's event bus: typed events fanned out to any number of subscribers.

Events are the control plane's ``Event`` messages, so what `swarmctl events`,
the dashboard feed and tests see is one and the same record. A slow subscriber
never slows the publisher: each has a bounded queue, and when it is full the
oldest event is dropped and counted.
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
    def __init__(self, bus: EventBus, kinds: frozenset[int], maxsize: int) -> None:
        self._bus = bus
        self.kinds = kinds
        self.queue: asyncio.Queue[pb.Event | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: pb.Event | None) -> None:
        if event is not None and self.kinds and event.kind not in self.kinds:
            return
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.dropped += 1

    def __aiter__(self) -> AsyncIterator[pb.Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[pb.Event]:
        while True:
            event = await self.queue.get()
            if event is None:  # the bus closed
                return
            yield event

    def close(self) -> None:
        self._bus._subscribers.discard(self)


class EventBus:
    def __init__(self, history: int = 500, subscriber_queue: int = 1000) -> None:
        self._seq = itertools.count(1)
        self._subscribers: set[Subscription] = set()
        self._subscriber_queue = subscriber_queue
        self.history: collections.deque[pb.Event] = collections.deque(maxlen=history)
        self.closed = False
        self.published = 0

    def subscribe(self, kinds: Iterable[int] = ()) -> Subscription:
        sub = Subscription(self, frozenset(kinds), self._subscriber_queue)
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
