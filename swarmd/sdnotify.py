"""systemd's notify protocol (READY, STATUS, WATCHDOG, STOPPING) without libsystemd.

The socket is non-blocking: the daemon sends from its event loop, and a notify
socket whose reader is slow or stalled must never stall the daemon. A datagram
that does not fit is dropped and counted (``swarmd_sd_notify_dropped_total``);
the next watchdog ping carries the same news.
"""

from __future__ import annotations

import logging
import os
import socket

from prometheus_client import Counter

from swarmd.metrics import REGISTRY

log = logging.getLogger(__name__)

DROPPED = Counter(
    "swarmd_sd_notify_dropped",
    "sd_notify datagrams dropped because the notify socket was full or failing.",
    registry=REGISTRY,
)


class Notifier:
    """Sends datagrams to $NOTIFY_SOCKET; a no-op when not started by systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if path.startswith("@"):
            self._address = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self._address = path
        self._sock: socket.socket | None = None
        self.dropped = 0
        self._warned = False
        self.watchdog_interval_s: float | None = None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if usec and usec.isdigit() and (not pid or pid == str(os.getpid())):
            # Ping at half the interval, as sd_watchdog_enabled(3) recommends.
            self.watchdog_interval_s = int(usec) / 2e6

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """One datagram; False (and counted) when it could not be handed over at once."""
        if self._address is None:
            return False
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            self._sock.sendto("\n".join(fields).encode(), self._address)
            return True
        except BlockingIOError:
            self._drop("the notify socket is full")
            return False
        except OSError as e:
            self._drop(e.strerror or str(e))
            return False

    def _drop(self, why: str) -> None:
        self.dropped += 1
        DROPPED.inc()
        # Once at warning, then quietly: a stalled receiver would otherwise flood the log.
        if not self._warned:
            self._warned = True
            log.warning("sd_notify to %s dropped (%s); further drops are only counted "
                        "(swarmd_sd_notify_dropped_total)", self._address, why)
        else:
            log.debug("sd_notify dropped (%s); %d so far", why, self.dropped)

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", f"MAINPID={os.getpid()}", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
