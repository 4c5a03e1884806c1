"""sd_notify never blocks: a notify socket nobody reads drops datagrams, and the daemon answers on."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from swarmd.sdnotify import Notifier


def _stalled_receiver(path: Path) -> socket.socket:
    # Bound but never read: the kernel queue fills after a handful of datagrams.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(str(path))
    return sock


def test_full_notify_socket_drops_and_counts(short_tmp: Path) -> None:
    receiver = _stalled_receiver(short_tmp / "notify.sock")
    notifier = Notifier({"NOTIFY_SOCKET": str(short_tmp / "notify.sock")})
    results: list[bool] = []
    sender = threading.Thread(target=lambda: results.extend(notifier.watchdog() for _ in range(2000)), daemon=True)
    sender.start()
    sender.join(30)
    try:
        assert not sender.is_alive(), "a send blocked on a full notify socket"
        assert results[0] is True  # the first ones fit
        assert notifier.dropped > 0 and results.count(False) == notifier.dropped
        assert receiver.recv(64) == b"WATCHDOG=1"
    finally:
        notifier.close()
        receiver.close()


@pytest.mark.process
def test_daemon_with_stalled_notify_socket_keeps_answering(daemons, short_tmp: Path) -> None:
    receiver = _stalled_receiver(short_tmp / "notify.sock")
    try:
        # A watchdog ping every 5 ms fills the queue within a fraction of a second.
        d = daemons("a", config={"trainer": {"enabled": False}},
                    env={"NOTIFY_SOCKET": str(short_tmp / "notify.sock"), "WATCHDOG_USEC": "10000"})
        for _ in range(20):
            assert d.status(timeout=5).state == "running"
        metrics = d.ctl("status")
        assert metrics.returncode == 0, metrics.stderr
        assert d.stop() == 0
        assert "sd_notify to" in d.log() and "dropped" in d.log()
    finally:
        receiver.close()
