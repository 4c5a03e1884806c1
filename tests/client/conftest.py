"""Fixtures of the client tests: the trainer daemon is shared by the module that asks for it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmd.client import Client
from tests.client.support import trainer_config
from tests.support.daemons import DaemonProcess


@pytest.fixture(scope="module")
def trainer() -> Iterator[DaemonProcess]:
    """A full-stack daemon (mesh, tiny-model trainer, swarm game as its own coordinator)
    that has played round 0."""
    root = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    d = DaemonProcess(root / "t", trainer_config(root / "t"), name="trainer")
    try:
        d.start(timeout=120)
        with Client(d.socket) as c:
            c.wait_for_round(0, timeout=300)
        yield d
    finally:
        try:
            d.stop(timeout=30)
        except Exception:  # noqa: BLE001 - teardown must clean up
            d.kill()
        shutil.rmtree(root, ignore_errors=True)
