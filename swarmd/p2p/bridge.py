"""The asyncio ↔ trio bridge between the daemon's event loop and the network thread.

asyncio → trio: ``await bridge.call(fn, *args, timeout=...)`` runs the trio
coroutine function ``fn`` as a task in the network actor's nursery and
returns its result (or raises its exception). The deadline is enforced on the
trio side (the task is cancelled) and, as a backstop for a stuck thread, on
the asyncio side too. Cancelling the awaiting asyncio task cancels the trio
task.

trio → asyncio: ``bridge.post(fn, *args)`` schedules a plain callback on the
event loop; nothing there blocks the network thread. Callbacks posted after
the loop closed are dropped.

No libp2p object crosses the bridge: arguments and results are plain data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from swarmd.errors import SwarmdError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Extra time the asyncio side waits past the trio deadline before it gives up
# on the thread (the trio side should always answer first).
BACKSTOP_S = 2.0


def is_cancellation(e: BaseException) -> bool:
    """trio.Cancelled, or a group of nothing else (what a cancelled nursery raises)."""
    if isinstance(e, trio.Cancelled):
        return True
    if isinstance(e, BaseExceptionGroup):
        return e.split(trio.Cancelled)[1] is None
    return False


class BridgeClosed(SwarmdError):
    """The network thread is not running (not started yet, or stopped)."""


class Bridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self.posted_dropped = 0

    # -- trio side ---------------------------------------------------------------

    def attach(self, nursery: trio.Nursery) -> None:
        """Called on the network thread once its nursery is open."""
        self._token = trio.lowlevel.current_trio_token()
        self._nursery = nursery

    def detach(self) -> None:
        self._token = None
        self._nursery = None

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the daemon is gone
            self.posted_dropped += 1

    # -- asyncio side --------------------------------------------------------------

    @property
    def attached(self) -> bool:
        return self._token is not None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float) -> T:  # noqa: ASYNC109 - a deadline enforced on both threads
        token, nursery = self._token, self._nursery
        if token is None or nursery is None:
            raise BridgeClosed("the network thread is not running")
        fut: asyncio.Future[T] = self.loop.create_future()
        scope_box: list[trio.CancelScope] = []

        def resolve(result: Any, error: BaseException | None) -> None:
            if fut.done():
                return
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

        async def runner() -> None:
            resolved = False
            try:
                with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                    scope_box.append(scope)
                    try:
                        result = await fn(*args)
                    except BaseException as e:  # noqa: BLE001 - handed to the awaiting side
                        if is_cancellation(e):
                            raise
                        resolved = True
                        self.post(resolve, None, e)
                        return
                    resolved = True
                    self.post(resolve, result, None)
                    return
                # Only reached when our own scope was cancelled (deadline or caller gone).
                resolved = True
                self.post(resolve, None, TimeoutError(f"network call timed out after {timeout:.1f}s"))
            finally:
                if not resolved:  # the whole actor is shutting down
                    self.post(resolve, None, BridgeClosed("the network thread is stopping"))

        def start() -> None:
            try:
                nursery.start_soon(runner)
            except RuntimeError as e:  # the nursery is closing
                self.post(resolve, None, BridgeClosed(str(e)))

        try:
            token.run_sync_soon(start)
        except trio.RunFinishedError:
            raise BridgeClosed("the network thread has stopped") from None
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout + BACKSTOP_S)
        except asyncio.CancelledError:
            self._cancel(token, scope_box)
            raise
        except TimeoutError:
            self._cancel(token, scope_box)
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise fut.exception() from None
            raise TimeoutError(f"network call did not answer within {timeout + BACKSTOP_S:.1f}s") from None

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a quick, non-blocking function on the network thread (fire and forget)."""
        token = self._token
        if token is None:
            raise BridgeClosed("the network thread is not running")
        try:
            token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            raise BridgeClosed("the network thread has stopped") from None

    @staticmethod
    def _cancel(token: trio.lowlevel.TrioToken, scope_box: list[trio.CancelScope]) -> None:
        def cancel() -> None:
            for scope in scope_box:
                scope.cancel()

        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(cancel)
