"""A small swarm of real daemons on the tiny model, coordinated by one of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmd import identity
from tests.support.daemons import DaemonProcess
from tests.support.poll import wait_until

REPO = Path(__file__).resolve().parents[2]
# Tiny models are built once and shared by every test daemon.
MODEL_CACHE = REPO / ".cache" / "test-models"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_config(i: int, coordinators: list[str], bootnodes: list[str], **swarm) -> dict:
    # A fixed port per node: a restarted node is found again at the address its peers dial.
    return {
        "node": {"swarm_id": "test-swarm"},
        "web": {"enabled": False},
        "p2p": {"listen": [f"/ip4/127.0.0.1/tcp/{free_port()}"], "bootnodes": bootnodes, "stale_after_s": 8.0},
        "trainer": {
            "model": "tiny",
            "cache_dir": str(MODEL_CACHE),
            "threads": 1,
            "seed": i,
            "sampling": {"max_new_tokens": 12},
            "grpo": {"learning_rate": 1e-3},
        },
        "swarm": {
            "round_source": "coordinator",
            "coordinators": coordinators,
            "tasks": "dense",
            "questions_per_round": 2,
            "external_groups": 4,
            "group_size": 4,
            "stage_timeout_s": 90.0,
            "announce_interval_s": 0.5,
            "eval_every_rounds": 0,
            **swarm,
        },
    }


class Swarm:
    """Daemons named n0, n1, ...; n0 is the coordinator unless told otherwise."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, DaemonProcess] = {}
        self.peer_ids: dict[str, str] = {}

    def identity(self, name: str) -> str:
        if name not in self.peer_ids:
            self.peer_ids[name] = identity.load_or_create(self.root / name / "identity.key")[0].peer_id
        return self.peer_ids[name]

    def add(self, name: str, i: int, coordinators: list[str], bootnodes: list[str] | None = None,
            start: bool = True, sections: dict | None = None, **swarm) -> DaemonProcess:
        """Start node ``name``; ``sections`` overrides whole config sections (e.g. web)."""
        self.identity(name)
        if bootnodes is None:
            bootnodes = self.addrs_of("n0") if name != "n0" and "n0" in self.nodes else []
        config = node_config(i, coordinators, bootnodes, **swarm)
        config.update(sections or {})
        d = DaemonProcess(self.root / name, config, name=name)
        self.nodes[name] = d
        if start:
            d.start(timeout=120)
        return d

    def addrs_of(self, name: str) -> list[str]:
        d = self.nodes[name]
        addrs = wait_until(lambda: [a for a in d.status().mesh.listen_addrs if "/p2p/" in a], 60,
                           what=f"{name} listening")
        return addrs[:1]

    def wait_connected(self, names: list[str], timeout: float = 90) -> None:
        for name in names:
            others = {self.peer_ids[n] for n in names if n != name}
            d = self.nodes[name]
            wait_until(
                lambda d=d, others=others: others <= {
                    p.peer_id for p in d.call("ListPeers", _pb().ListPeersRequest()).peers if p.liveness == "live"
                },
                timeout,
                what=f"{name} sees {len(others)} live peers",
            )

    def stop_all(self) -> None:
        for d in self.nodes.values():
            try:
                d.stop(timeout=60)
            except Exception:  # noqa: BLE001 - teardown must reach every daemon
                d.kill()


def _pb():
    from swarmd._pb.swarm.v1 import control_pb2

    return control_pb2


@pytest.fixture
def swarm(short_tmp: Path) -> Iterator[Swarm]:
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    s = Swarm(short_tmp)
    yield s
    s.stop_all()
