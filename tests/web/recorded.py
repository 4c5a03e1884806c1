"""Recorded data behind the web layer's data-source interfaces, for testing the page alone.

The swarm, trainer and mesh are written elsewhere; these classes are test
doubles, not implementations: they play back fixed rounds, training points
and peers through exactly the calls the web subsystem makes
(``leaderboard``, ``round_history``, ``history``, ``list_peers``,
``fill_status``), so the page's panels, search, charts and live updates can be
tested in a real browser before (and independently of) the real swarm.

``InProcessWeb`` runs the real WebServer of a real (not running) Daemon on an
event loop in a thread; changes to the recorded data and events are made on
that loop, as the real subsystems would.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.config import Config
from swarmd.daemon import Daemon
from swarmd.web.server import WebServer


class RecordedSwarm:
    def __init__(self, self_id: str, names: dict[str, str]) -> None:
        self.self_id = self_id
        self.names = dict(names)
        self.rounds: list[dict[str, Any]] = []
        self.chain: dict[str, tuple[int, int]] = {}

    def add_round(self, rnd: int, own: float, rewards: dict[str, float], winners: list[str]) -> dict:
        entry = {"round": rnd, "stage": 0, "own_reward": own, "rewards": dict(rewards),
                 "winners": list(winners), "local_groups": 4, "external_groups": 4,
                 "finished_at": 1_800_000_000.0 + rnd}
        self.rounds.append(entry)
        return entry

    def round_history(self, limit: int) -> list[dict]:
        return self.rounds[-limit:]

    def leaderboard(self, query: str, limit: int) -> pb.Leaderboard:
        totals: dict[str, list[float]] = {}
        for r in self.rounds:
            scores = dict(r["rewards"], **{self.self_id: r["own_reward"]})
            for peer, reward in scores.items():
                t = totals.setdefault(peer, [0, 0.0, 0])
                t[0] += 1
                t[1] += reward
                t[2] += peer in r["winners"]
        q = query.lower()
        entries = []
        for peer, (rounds, reward, wins) in totals.items():
            name = self.names.get(peer, "")
            if q and q not in peer.lower() and q not in name.lower():
                continue
            chain = self.chain.get(peer)
            entries.append(pb.LeaderboardEntry(
                peer_id=peer, name=name, rounds=int(rounds), verified_reward=reward, wins=int(wins),
                has_chain_totals=chain is not None, chain_reward=chain[0] if chain else 0,
                chain_wins=chain[1] if chain else 0))
        entries.sort(key=lambda e: -e.verified_reward)
        return pb.Leaderboard(entries=entries[:limit])

    def fill_status(self, status: pb.Status) -> None:
        if self.rounds:
            status.round.round = self.rounds[-1]["round"]
            status.round.last_reward = self.rounds[-1]["own_reward"]
            status.round.has_last_reward = True
        status.round.stage = 0
        status.round.stage_count = 1
        status.round.phase = "collecting"
        status.round.source = "coordinator"
        status.round.environment = "sapo"
        status.round.rounds_completed = len(self.rounds)


class RecordedTrainer:
    def __init__(self) -> None:
        self.points: list[dict[str, Any]] = []
        self.ready = True
        self.worker_alive = True

    def history(self, limit: int) -> list[dict]:
        return self.points[-limit:]

    def fill_status(self, status: pb.Status) -> None:
        status.training.state = "ready" if self.worker_alive else "restarting"
        status.training.model = "SmolLM2-135M-Instruct"
        status.training.device = "cpu"
        status.training.step = self.points[-1]["step"] if self.points else 0


class RecordedMesh:
    def __init__(self, self_id: str, peers: list[pb.Peer]) -> None:
        self.self_id = self_id
        self.peers = peers

    async def list_peers(self, include_stale: bool = True) -> pb.ListPeersResponse:
        peers = [p for p in self.peers if include_stale or p.liveness == "live"]
        return pb.ListPeersResponse(peers=peers, self_peer_id=self.self_id)

    def fill_status(self, status: pb.Status) -> None:
        status.mesh.state = "connected"
        status.mesh.connected_peers = sum(p.connected for p in self.peers)
        status.mesh.live_peers = sum(p.liveness == "live" for p in self.peers)


class InProcessWeb:
    """The real web subsystem of a Daemon object whose other parts are recorded."""

    def __init__(self, data_dir: Path) -> None:
        config = Config.model_validate({
            "node": {"data_dir": str(data_dir)}, "web": {"port": 0},
            "p2p": {"enabled": True}, "trainer": {"enabled": True}, "swarm": {"enabled": True},
        })
        self.daemon = Daemon(config, identity.generate())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-test", daemon=True)
        self.web = WebServer(self.daemon)

    def start(self) -> str:
        self.thread.start()
        self.call(self._start)
        return self.web.url

    async def _start(self) -> None:
        self.daemon.web = self.web
        self.daemon.control = object()  # present; the health check only asks whether it exists
        await self.web.start()
        self.daemon.state = "running"

    def call(self, fn, timeout: float = 30.0):
        """Run ``fn()`` (sync or async) on the server's loop and return its result."""
        async def _run():
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(_run(), self.loop).result(timeout)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.call(self.web.stop)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.loop.close()
