"""The ``process`` marker, enforced: a test without it that starts a process fails at once.

``make test-fast`` runs the tests not marked ``process`` (nor ``slow``); this keeps that
tier honest. While an unmarked test runs (its fixtures included), every way Python
starts a process (``subprocess``/``asyncio`` subprocesses, ``multiprocessing``,
``os.fork``, ``os.posix_spawn``) raises :class:`UnmarkedProcess` naming the test.
One exception: ``ctypes.util.find_library`` runs ``ldconfig``/``gcc`` to find a shared
library while a package (pycryptodome, under libp2p) is first imported; that is a
lookup, not a process the test starts.
"""

from __future__ import annotations

import _posixsubprocess
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

MARKER = "process"


class UnmarkedProcess(RuntimeError):
    """An unmarked test tried to start a process."""


def _in_library_lookup() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == "ctypes.util":
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def no_processes(test: str) -> Iterator[None]:
    def refusing(original: Callable) -> Callable:
        def refuse(*args, **kwargs):
            if _in_library_lookup():
                return original(*args, **kwargs)
            raise UnmarkedProcess(
                f"{test} starts a process but is not marked: add @pytest.mark.{MARKER} "
                f"(or pytestmark = pytest.mark.{MARKER}) so that make test-fast leaves it out"
            )

        return refuse

    targets = [
        (subprocess.Popen, "_execute_child"),
        (_posixsubprocess, "fork_exec"),
        (os, "fork"),
        (os, "posix_spawn"),
        (os, "posix_spawnp"),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name in targets if hasattr(obj, name)]
    for obj, name, original in saved:
        setattr(obj, name, refusing(original))
    try:
        yield
    finally:
        for obj, name, original in saved:
            setattr(obj, name, original)
