"""Small asyncio helpers shared by subsystems."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    """Cancel background tasks and wait for them; their errors were theirs to log."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    tasks.clear()
