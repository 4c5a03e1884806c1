"""Helpers for the mesh tests (the cluster harness itself is swarmd.p2p.cluster)."""

from __future__ import annotations

import signal
import threading

import grpc

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.p2p.cluster import (  # noqa: F401 - re-exported for the tests
    Cluster,
    LoadgenDaemon,
    make_identity,
    mesh_config,
    meshed,
    start_all,
)
from tests.support.daemons import DaemonProcess


def stop_all(nodes: list[DaemonProcess]) -> None:
    """SIGTERM every node at once and wait: each stop announces leaving and waits a moment."""
    for d in nodes:
        if d.alive:
            d.signal(signal.SIGTERM)
    for d in nodes:
        if d.proc is not None:
            d.wait_exit(60)


class PeerEventWatch:
    """Follows one daemon's peer events (from the moment it returns) for one peer and change."""

    def __init__(self, d: DaemonProcess, peer_id: str, change: str, timeout: float = 120.0) -> None:
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
