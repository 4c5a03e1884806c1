"""Fixtures for the mesh tests: a cluster of load-generating daemons around one bootnode."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.p2p.support import (
    LoadgenDaemon,
    make_identity,
    mesh_config,
    meshed,
    start_all,
    write_start,
)
from tests.support.daemons import wait_until


class Cluster:
    """A bootnode (relay only) and ``n`` loadgen daemons that all expect each other."""

    def __init__(self, tmp: Path, n: int, rounds: int, period: float, size: int = 16384,
                 p2p: dict[str, Any] | None = None, special: dict[int, dict[str, Any]] | None = None) -> None:
        self.tmp = tmp
        self.start_file = tmp / "start"
        self.period = period
        self.started_at = 0.0
        self.p2p = p2p or {}
        self.boot = LoadgenDaemon(tmp / "boot", mesh_config(self.p2p, node={"mode": "bootnode"}),
                                  ["--relay", "--start-file", str(self.start_file)], name="boot")
        self.ids = {f"n{i}": make_identity(tmp / f"n{i}") for i in range(n)}
        self.args = ["--rounds", str(rounds), "--period", str(period), "--size", str(size),
                     "--start-file", str(self.start_file), "--expect", ",".join(self.ids.values())]
        self.special = special or {}
        self.nodes: list[LoadgenDaemon] = []

    @property
    def all(self) -> list[LoadgenDaemon]:
        return [self.boot, *self.nodes]

    def start(self) -> Cluster:
        self.boot.start()
        addr = self.boot.status().mesh.listen_addrs[0]
        for i, name in enumerate(self.ids):
            p2p = {**self.p2p, **self.special.get(i, {}), "bootnodes": [addr]}
            self.nodes.append(LoadgenDaemon(self.tmp / name, mesh_config(p2p), self.args, name=name))
        start_all(self.nodes)
        wait_until(lambda: meshed(self.nodes, self.ids), 90, interval=0.5, what="every node sees every other")
        self.started_at = write_start(self.start_file)
        return self

    def begins(self, r: int) -> float:
        return self.started_at + (r - 1) * self.period

    def rounds(self, node: LoadgenDaemon) -> dict[int, dict[str, Any]]:
        return {x["round"]: x for x in node.results().get("rounds", [])}

    def stop(self) -> None:
        running = [d for d in self.all if d.alive]
        for d in running:  # all at once: each stop announces leaving and waits a moment
            try:
                d.signal(signal.SIGCONT)
                d.signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        for d in running:
            try:
                d.wait_exit(30)
            except Exception:  # noqa: BLE001 - teardown must reach every daemon
                d.kill()


@pytest.fixture
def cluster(short_tmp: Path) -> Iterator[Any]:
    made: list[Cluster] = []

    def make(n: int, rounds: int, period: float, **kw: Any) -> Cluster:
        c = Cluster(short_tmp, n, rounds, period, **kw)
        made.append(c)
        return c.start()

    yield make
    for c in made:
        c.stop()
