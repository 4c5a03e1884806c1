"""The asyncio ↔ trio bridge with a real trio thread: results, errors, deadlines, cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from swarmd.p2p.bridge import Bridge, BridgeClosed


class TrioThread:
    """A trio run in its own thread, attached to a bridge; stop() ends it."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.ready = threading.Event()
        self.stop_event: trio.Event | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self.cancelled: list[str] = []
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self.stop_event = trio.Event()
        self.token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self.bridge.attach(nursery)
            self.ready.set()
            await self.stop_event.wait()
            self.bridge.detach()
            nursery.cancel_scope.cancel()

    def start(self) -> TrioThread:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.token.run_sync_soon(self.stop_event.set)
            self.thread.join(10)


async def add(a: int, b: int) -> tuple[int, bool]:
    await trio.sleep(0.01)
    return a + b, threading.current_thread() is not threading.main_thread()


async def fail() -> None:
    await trio.lowlevel.checkpoint()
    raise KeyError("boom")


def run(coro_fn):
    async def main():
        bridge = Bridge(asyncio.get_running_loop())
        t = TrioThread(bridge).start()
        try:
            return await coro_fn(bridge, t)
        finally:
            t.stop()

    return asyncio.run(main())


def test_call_returns_the_result_computed_on_the_trio_thread():
    async def go(bridge, t):
        return await bridge.call(add, 2, 3, timeout=5)

    assert run(go) == (5, True)


def test_exceptions_cross_the_bridge():
    async def go(bridge, t):
        with pytest.raises(KeyError, match="boom"):
            await bridge.call(fail, timeout=5)

    run(go)


def test_deadline_cancels_the_trio_task():
    async def go(bridge, t):
        async def slow():
            try:
                await trio.sleep(30)
            except trio.Cancelled:
                t.cancelled.append("slow")
                raise

        with pytest.raises(TimeoutError):
            await bridge.call(slow, timeout=0.2)
        await asyncio.wait_for(_until(lambda: t.cancelled), 5)
        return t.cancelled

    assert run(go) == ["slow"]


def test_cancelling_the_caller_cancels_the_trio_task():
    async def go(bridge, t):
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def slow():
            loop.call_soon_threadsafe(started.set)
            try:
                await trio.sleep(30)
            except trio.Cancelled:
                t.cancelled.append("caller gone")
                raise

        task = asyncio.create_task(bridge.call(slow, timeout=30))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(_until(lambda: t.cancelled), 5)
        return t.cancelled

    assert run(go) == ["caller gone"]


def test_a_cancelled_nursery_inside_the_call_is_a_timeout_not_an_error():
    async def go(bridge, t):
        async def fan_out():
            async with trio.open_nursery() as n:
                for _ in range(3):
                    n.start_soon(trio.sleep, 30)

        with pytest.raises(TimeoutError):
            await bridge.call(fan_out, timeout=0.2)

    run(go)


def test_closed_bridge_refuses_and_post_after_loop_close_is_dropped():
    async def go(bridge, t):
        t.stop()
        with pytest.raises(BridgeClosed):
            await bridge.call(add, 1, 1, timeout=1)
        return bridge

    bridge = run(go)
    bridge.post(print, "never")  # the loop is closed now
    assert bridge.posted_dropped == 1


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
