"""Waiting on readiness: the one poll helper of the tests, blocking and async.

``wait_until`` (blocking) is the package's own (``swarmd.tools.procs``: the demo and the
soak tool wait with it too); ``until`` is its twin for code on an event loop. Both
return the predicate's first truthy value and raise ``TimeoutError`` naming ``what``
(with the predicate's last exception, if any) when the deadline passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from swarmd.tools.procs import wait_until

T = TypeVar("T")

__all__ = ["until", "wait_until"]


async def until(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition",
                interval: float = 0.02) -> T:
    """Poll ``predicate`` on the running loop until it returns a truthy value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported if we time out
            last_exc = e
        if loop.time() > deadline:
            raise TimeoutError(
                f"{what} not reached within {timeout}s" + (f" (last error: {last_exc})" if last_exc else "")
            )
        await asyncio.sleep(interval)
