"""Dialing (network thread): bootnodes and peers learned from presence, redialed forever.

``Backoff`` is the pure policy: a peer that is down is retried at ``min_s``,
then twice as long each failure up to ``max_s``; a success resets it, so a
connection that drops later is redialed at once. Jitter (±20 %) keeps a swarm
of nodes that lost the same bootnode from redialing it in lockstep.

``Dialer`` keeps the bootnode list (configured, joined at run time, added
from the chain) and, every step, dials whoever is due and not connected, up
to ``max_peers`` connections. Its dials are the only ones the host makes
(``hardening.EXPLICIT_DIAL``).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from typing import Any

import trio

from swarmd.p2p import metrics as m
from swarmd.p2p.config import P2PConfig

log = logging.getLogger("swarmd.p2p")

DIAL_INTERVAL_S = 0.5


class Backoff:
    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self.delay = 0.0
        self.next_at = float("-inf")
        self.failures = 0
        self._rng = rng or random.Random()

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> None:
        self.failures += 1
        self.delay = min(self.max_s, max(self.min_s, self.delay * 2))
        self.next_at = now + self.delay * self._rng.uniform(0.8, 1.2)

    def succeeded(self) -> None:
        self.failures = 0
        self.delay = 0.0
        self.next_at = float("-inf")


class Dialer:
    def __init__(self, config: P2PConfig, self_id: str) -> None:
        self.cfg = config
        self.self_id = self_id
        self.bootnodes: OrderedDict[str, None] = OrderedDict((a, None) for a in config.bootnodes)
        self.host: Any = None  # set once the host runs
        self._backoff: dict[str, Backoff] = {}
        self._dialing: set[str] = set()

    def add_bootnodes(self, addrs: list[str]) -> None:
        for addr in addrs:
            if "/p2p/" in addr:
                self.bootnodes[addr] = None

    def forget(self, peer_id: str) -> None:
        self._backoff.pop(peer_id, None)

    def _backoff_of(self, peer_id: str) -> Backoff:
        return self._backoff.setdefault(peer_id, Backoff(self.cfg.redial_min_s, self.cfg.redial_max_s))

    def step(self, nursery: trio.Nursery, known: list[tuple[str, list[str]]]) -> None:
        """Start a dial to every bootnode and ``known`` peer that is due and not connected."""
        now = trio.current_time()
        connected = {p.to_base58() for p in self.host.get_connected_peers()}
        room = self.cfg.max_peers - len(connected)
        targets = [(a.rsplit("/p2p/", 1)[-1], [a]) for a in self.bootnodes] + known
        for peer_id, addrs in targets:
            if room <= 0:
                break
            if peer_id == self.self_id or peer_id in connected or peer_id in self._dialing:
                continue
            if not self._backoff_of(peer_id).due(now):
                continue
            room -= 1
            self._dialing.add(peer_id)
            nursery.start_soon(self.dial, peer_id, addrs)

    async def join(self, addr: str, peer_id: str) -> str | None:
        """Dial now (an operator's join) and keep the address as a bootnode."""
        self.bootnodes[addr] = None
        self.forget(peer_id)
        self._dialing.add(peer_id)
        return await self.dial(peer_id, [addr])

    async def dial(self, peer_id: str, addrs: list[str]) -> str | None:
        """Dial one peer; returns None on success, else the error."""
        import multiaddr
        from libp2p.peer.id import ID
        from libp2p.peer.peerinfo import PeerInfo as Libp2pPeerInfo

        from swarmd.p2p.hardening import EXPLICIT_DIAL

        backoff = self._backoff_of(peer_id)
        error: str | None = "timed out"
        try:
            pid = ID.from_base58(peer_id)
            maddrs = [multiaddr.Multiaddr(a.rsplit("/p2p/", 1)[0]) for a in addrs]
            self.host.get_network().unblock_peer(pid)  # our backoff decides, not libp2p's 60 s cache
            with trio.move_on_after(self.cfg.dial_timeout_s):
                EXPLICIT_DIAL.set(True)  # this task's dials are the mesh's own
                await self.host.connect(Libp2pPeerInfo(pid, maddrs))
                error = None
        except Exception as e:  # noqa: BLE001 - every dial failure is retried with backoff
            error = f"{type(e).__name__}: {e}"[:300]
        finally:
            self._dialing.discard(peer_id)
        bootnode = any(a.endswith(f"/p2p/{peer_id}") for a in self.bootnodes)
        if error is None:
            if bootnode and backoff.failures:
                log.info("bootnode %s reachable again after %d failed dials", peer_id, backoff.failures)
            backoff.succeeded()
            m.DIALS.labels("ok").inc()
        else:
            backoff.failed(trio.current_time())
            m.DIALS.labels("failed").inc()
            if bootnode and backoff.failures == 1:
                log.warning("bootnode %s unreachable (%s); redialing with backoff", peer_id, error)
            log.debug("dial %s failed: %s (next in %.1fs)", peer_id, error, backoff.delay)
        return error
