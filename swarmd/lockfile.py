"""One daemon per data directory: an exclusive flock on DATA_DIR/swarmd.lock.

The kernel releases the lock when the process dies, however it dies, so a
killed daemon never blocks the next start; the file itself only records the
holder's PID for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from swarmd.errors import SwarmdError


class LockError(SwarmdError):
    """Another daemon holds the data directory."""


class DataDirLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise LockError(
                    f"another swarmd (pid {holder}) is running on data directory "
                    f"{self.path.parent} (lock {self.path}); stop it or use another --data-dir"
                ) from None
            # The previous holder unlinks the file on exit; a lock on an unlinked
            # inode protects nothing, so retry on the file now at the path.
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock so a starter that opened the old
        # inode cannot believe it owns the directory while we still run.
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
