"""Shared fixtures: real daemons in temporary data directories, stopped after each test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemons import Daemon


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: unix socket paths must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def daemons(short_tmp: Path) -> Iterator[callable]:
    """Factory: daemons(name, config) -> started Daemon; all are stopped at teardown."""
    started: list[Daemon] = []

    def make(name: str = "node", config: dict | None = None, start: bool = True, **kw) -> Daemon:
        d = Daemon(short_tmp / name, config=config, name=name, env=kw.pop("env", None))
        started.append(d)
        if start:
            d.start(**kw)
        return d

    yield make
    for d in started:
        try:
            d.stop(timeout=30)
        except Exception:  # noqa: BLE001 - teardown must reach every daemon
            d.kill()


def pytest_report_header(config):
    return f"cpus: {os.cpu_count()}"
