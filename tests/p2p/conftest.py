"""Fixtures for the mesh tests: a cluster of load-generating daemons around one bootnode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmd.p2p.cluster import Cluster


@pytest.fixture
def cluster(short_tmp: Path) -> Iterator[Any]:
    """Factory: cluster(n, rounds, period, ...) -> a started Cluster; all stopped at teardown."""
    made: list[Cluster] = []

    def make(n: int, rounds: int, period: float, **kw: Any) -> Cluster:
        c = Cluster(short_tmp, n, rounds, period, **kw)
        made.append(c)
        return c.start()

    yield make
    for c in made:
        c.stop()
