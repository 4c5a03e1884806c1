"""Helpers for the mesh tests: daemon configs, the load-generator daemon, cluster waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from tests.support.daemons import Daemon, write_config

OTHERS_OFF = {
    "trainer": {"enabled": False},
    "swarm": {"enabled": False},
    "chain": {"enabled": False},
    "web": {"enabled": False},
}
# The defaults (docs/mesh.md) are what the tests run with, except where a test says otherwise.
FAST: dict[str, Any] = {}


def mesh_config(p2p: dict[str, Any] | None = None, node: dict[str, Any] | None = None,
                level: str = "info") -> dict[str, dict[str, Any]]:
    tree = {k: dict(v) for k, v in OTHERS_OFF.items()}
    tree["p2p"] = {**FAST, **(p2p or {})}
    tree["log"] = {"level": level}
    if node:
        tree["node"] = dict(node)
    return tree


def make_identity(data_dir: Path) -> str:
    """Create the node's key file up front, so a test knows every peer ID before start."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ident, _ = identity.load_or_create(data_dir / "identity.key")
    return ident.peer_id


class LoadgenDaemon(Daemon):
    """A swarmd process running ``python -m swarmd.p2p.loadgen`` (the daemon plus a traffic task)."""

    def __init__(self, data_dir: Path, config: dict[str, dict[str, Any]], loadgen_args: list[str],
                 name: str = "node") -> None:
        super().__init__(data_dir, config=config, name=name)
        self.loadgen_args = loadgen_args

    def start(self, wait: bool = True, timeout: float = 60.0, extra_args: list[str] | None = None) -> LoadgenDaemon:
        tree: dict[str, dict[str, Any]] = {"node": {"data_dir": str(self.data_dir)}}
        for section, values in self.config_tree.items():
            tree.setdefault(section, {}).update(values)
        write_config(self.config_path, tree)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_") and k != "NOTIFY_SOCKET"}
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed by wait_exit/kill
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "swarmd.p2p.loadgen", "--config", str(self.config_path),
             *self.loadgen_args, *(extra_args or [])],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.data_dir,
            start_new_session=True,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def results(self) -> dict[str, Any]:
        path = self.data_dir / "loadgen.json"
        return json.loads(path.read_text()) if path.exists() else {}


def live_peer_ids(d: Daemon) -> set[str]:
    reply = d.ctl_json("peers")
    return {p["peer_id"] for p in reply["peers"] if p["liveness"] == "live" and p.get("name")}


def meshed(nodes: list[Daemon], ids: dict[str, str]) -> bool:
    """Every running node sees every other running node as a live peer."""
    for d in nodes:
        want = {ids[o.name] for o in nodes if o is not d}
        if not want <= live_peer_ids(d):
            return False
    return True


def start_all(nodes: list[Daemon], timeout: float = 90.0) -> None:
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


class PeerEventWatch:
    """Follows one daemon's peer events (from the moment it returns) for one peer and change."""

    def __init__(self, d: Daemon, peer_id: str, change: str, timeout: float = 120.0) -> None:
        self.found: pb.Event | None = None
        self._done = threading.Event()
        self._ch = grpc.insecure_channel(f"unix:{d.socket}")
        self._stream = pb_grpc.SwarmControlStub(self._ch).WatchEvents(
            pb.WatchEventsRequest(kinds=[pb.EVENT_KIND_PEER]), timeout=timeout
        )
        self._stream.initial_metadata()  # subscribed: nothing from now on is missed
        self._thread = threading.Thread(target=self._follow, args=(peer_id, change), daemon=True)
        self._thread.start()

    def _follow(self, peer_id: str, change: str) -> None:
        try:
            for event in self._stream:
                if event.peer.peer_id == peer_id and event.peer.change == change:
                    self.found = event
                    break
        except Exception:  # noqa: BLE001 - cancelled or timed out: found stays None
            pass
        finally:
            self._done.set()

    def wait(self, timeout: float) -> pb.Event | None:
        self._done.wait(timeout)
        self.close()
        return self.found

    def close(self) -> None:
        self._stream.cancel()
        self._ch.close()
