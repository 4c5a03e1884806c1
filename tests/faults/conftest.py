"""Fault-injection scenarios: real multi-process swarms on the tiny model (``-m faults``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.swarm.conftest import MODEL_CACHE, Swarm


@pytest.fixture
def swarm(short_tmp: Path) -> Iterator[Swarm]:
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    s = Swarm(short_tmp)
    yield s
    s.stop_all()
