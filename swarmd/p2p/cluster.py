"""A local mesh of load-generating daemons, for the mesh's tests and benchmarks.

Each node is a real swarmd process running ``python -m swarmd.p2p.loadgen``
(the daemon plus a traffic task); one bootnode relays and serves pulls. The
harness waits on conditions (every node lists every other as live), never on
sleeps, then writes the shared start time that begins round 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from swarmd import identity
from swarmd.tools.procs import DaemonProcess, wait_until

OTHERS_OFF: dict[str, dict[str, Any]] = {
    "trainer": {"enabled": False},
    "swarm": {"enabled": False},
    "chain": {"enabled": False},
    "web": {"enabled": False},
}


def mesh_config(p2p: dict[str, Any] | None = None, node: dict[str, Any] | None = None,
                level: str = "info") -> dict[str, dict[str, Any]]:
    """A daemon config with only the mesh (and the control plane) running."""
    tree = {k: dict(v) for k, v in OTHERS_OFF.items()}
    tree["p2p"] = dict(p2p or {})
    tree["log"] = {"level": level}
    if node:
        tree["node"] = dict(node)
    return tree


def make_identity(data_dir: Path) -> str:
    """Create the node's key file up front, so the harness knows every peer ID before start."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ident, _ = identity.load_or_create(data_dir / "identity.key")
    return ident.peer_id


class LoadgenDaemon(DaemonProcess):
    """A swarmd process running ``python -m swarmd.p2p.loadgen`` (the daemon plus a traffic task)."""

    def __init__(self, data_dir: Path, config: dict[str, dict[str, Any]], loadgen_args: list[str],
                 name: str = "node") -> None:
        super().__init__(data_dir, config=config, name=name, command=[sys.executable, "-m", "swarmd.p2p.loadgen"])
        self.loadgen_args = loadgen_args

    def start(self, wait: bool = True, timeout: float = 60.0, extra_args: list[str] | None = None) -> LoadgenDaemon:
        super().start(wait=wait, timeout=timeout, extra_args=[*self.loadgen_args, *(extra_args or [])])
        return self

    def results(self) -> dict[str, Any]:
        path = self.data_dir / "loadgen.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return {}


def live_peer_ids(d: DaemonProcess) -> set[str]:
    reply = d.ctl_json("peers")
    return {p["peer_id"] for p in reply["peers"] if p["liveness"] == "live" and p.get("name")}


def meshed(nodes: list[DaemonProcess], ids: dict[str, str]) -> bool:
    """Every running node sees every other running node as a live peer."""
    for d in nodes:
        want = {ids[o.name] for o in nodes if o is not d}
        if not want <= live_peer_ids(d):
            return False
    return True


def start_all(nodes: list[DaemonProcess], timeout: float = 90.0) -> None:
    """Start processes in parallel (start-up is mostly imports), then wait for each."""
    for d in nodes:
        d.start(wait=False)
    for d in nodes:
        d.wait_ready(timeout)


def write_start(path: Path, delay_s: float = 1.0) -> float:
    start = time.time() + delay_s
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(start))
    os.replace(tmp, path)
    return start


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

    def start(self, go: bool = True) -> Cluster:
        """Start every daemon, wait until they see each other, then (``go``) start the clock."""
        self.boot.start()
        addr = self.boot.status().mesh.listen_addrs[0]
        for i, name in enumerate(self.ids):
            p2p = {**self.p2p, **self.special.get(i, {}), "bootnodes": [addr]}
            self.nodes.append(LoadgenDaemon(self.tmp / name, mesh_config(p2p), self.args, name=name))
        start_all(self.nodes)
        wait_until(lambda: meshed(self.nodes, self.ids), 90, interval=0.5, what="every node sees every other")
        if go:
            self.go()
        return self

    def go(self, delay_s: float = 1.0) -> None:
        self.started_at = write_start(self.start_file, delay_s)

    def begins(self, r: int) -> float:
        return self.started_at + (r - 1) * self.period

    def wait_done(self, timeout: float) -> None:
        wait_until(lambda: all(d.results().get("done") for d in self.nodes if d.alive), timeout, interval=1,
                   what="every node's rounds")

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
