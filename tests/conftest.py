"""Shared fixtures: real daemons in temporary data directories, stopped after each test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemons import DaemonProcess
from tests.support.guard import MARKER, no_processes

REPO = Path(__file__).resolve().parents[1]
# Test daemons train the tiny model (built once, shared) unless a test says otherwise:
# the default "auto" would convert the 135M demo model in every data directory.
TEST_DEFAULTS = {"trainer": {"model": "tiny", "cache_dir": str(REPO / ".cache" / "test-models")}}


def with_defaults(config: dict | None) -> dict:
    merged = {section: dict(values) for section, values in TEST_DEFAULTS.items()}
    for section, values in (config or {}).items():
        merged.setdefault(section, {}).update(values)
    return merged


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: unix socket paths must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def daemons(short_tmp: Path) -> Iterator[callable]:
    """Factory: daemons(name, config) -> started Daemon; all are stopped at teardown."""
    started: list[DaemonProcess] = []

    def make(name: str = "node", config: dict | None = None, start: bool = True, **kw) -> DaemonProcess:
        d = DaemonProcess(short_tmp / name, config=with_defaults(config), name=name, env=kw.pop("env", None))
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Tests not marked ``process`` may not start one (see tests/support/guard.py)."""
    if item.get_closest_marker(MARKER) is not None:
        return (yield)
    with no_processes(item.nodeid):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` the slow multi-process scenarios run one at a time, on one worker.

    Each starts a handful of daemons with their trainer workers; two at once on a small
    machine would trade their readiness deadlines for nothing. Everything else spreads.
    """
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("slow"))
