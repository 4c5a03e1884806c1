"""Dialing (network thread): bootnodes and known peers, every address, redialed forever.

``Backoff`` is the pure policy: an address that is down is retried at
``min_s``, then twice as long each failure up to ``max_s``; a success resets
it. Jitter (±20 %) keeps a swarm of nodes that lost the same bootnode from
redialing it in lockstep.

``AddrBook`` (pure) keeps every address known for a peer with its own
backoff and the time it last worked. A dial of a peer tries its due
addresses one at a time, the one that worked last first, then those never
tried, then the rest by fewest failures, and stops at the first that
connects. libp2p's own choice (at most one address per transport, from its
peerstore) is bypassed: each attempt dials exactly one address.

``Dialer`` keeps the bootnode list (configured, joined at run time, added
from the chain) and, every step, dials whoever is due and not connected, up
to ``max_peers`` connections: bootnodes forever, peers (learned from
presence and peer exchange) until the peer table forgets them. Its dials are
the only ones the host makes (``hardening.EXPLICIT_DIAL``).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import trio

from swarmd.p2p import addrs as addrmod
from swarmd.p2p import metrics as m
from swarmd.p2p.config import P2PConfig

log = logging.getLogger("swarmd.p2p")

DIAL_INTERVAL_S = 0.5
MAX_ADDRS_PER_PEER = 16


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


@dataclass
class AddrState:
    backoff: Backoff
    last_ok: float = float("-inf")
    last_error: str = ""
    tries: int = 0


@dataclass
class AddrBook:
    """Every address known for one peer, with per-address backoff and memory of what worked."""

    min_s: float
    max_s: float
    addrs: OrderedDict[str, AddrState] = field(default_factory=OrderedDict)
    down: bool = False  # a bootnode reported unreachable (logged once per outage)

    def merge(self, addrs: list[str]) -> None:
        for a in addrs:
            a = addrmod.strip_peer(a)
            if a not in self.addrs:
                self.addrs[a] = AddrState(Backoff(self.min_s, self.max_s))
        while len(self.addrs) > MAX_ADDRS_PER_PEER:
            # Forget the worst: never worked, most failures.
            worst = min(self.addrs, key=lambda a: (self.addrs[a].last_ok, -self.addrs[a].backoff.failures))
            del self.addrs[worst]

    def due(self, now: float) -> list[str]:
        """Addresses to try now, best first."""
        ready = [a for a, s in self.addrs.items() if s.backoff.due(now)]
        return sorted(ready, key=lambda a: (-self.addrs[a].last_ok, self.addrs[a].backoff.failures))

    def any_due(self, now: float) -> bool:
        return any(s.backoff.due(now) for s in self.addrs.values())

    def worked(self, addr: str, now: float) -> None:
        s = self.addrs.get(addr)
        if s is not None:
            s.backoff.succeeded()
            s.last_ok = now
            s.last_error = ""

    def failed(self, addr: str, now: float, error: str) -> None:
        s = self.addrs.get(addr)
        if s is not None:
            s.backoff.failed(now)
            s.last_error = error

    def reset(self) -> None:
        for s in self.addrs.values():
            s.backoff.succeeded()


class Dialer:
    def __init__(self, config: P2PConfig, self_id: str) -> None:
        self.cfg = config
        self.self_id = self_id
        self.bootnodes: OrderedDict[str, None] = OrderedDict((a, None) for a in config.bootnodes)
        self.host: Any = None  # set once the host runs
        self.books: dict[str, AddrBook] = {}
        self._dialing: set[str] = set()
        self.on_dial: Any = None  # optional callback(peer_id, addr, error|None), for logs and tests

    def add_bootnodes(self, addrs: list[str]) -> None:
        for addr in addrs:
            if "/p2p/" in addr:
                self.bootnodes[addr] = None

    def forget(self, peer_id: str) -> None:
        """A peer that left or was removed: no more dials (bootnodes keep their addresses)."""
        if not any(addrmod.peer_of(a) == peer_id for a in self.bootnodes):
            self.books.pop(peer_id, None)

    def book(self, peer_id: str) -> AddrBook:
        b = self.books.get(peer_id)
        if b is None:
            b = self.books[peer_id] = AddrBook(self.cfg.redial_min_s, self.cfg.redial_max_s)
        return b

    def is_bootnode(self, peer_id: str) -> bool:
        return any(addrmod.peer_of(a) == peer_id for a in self.bootnodes)

    def step(self, nursery: trio.Nursery, known: list[tuple[str, list[str]]]) -> None:
        """Start a dial to every bootnode and ``known`` peer that is due and not connected."""
        now = trio.current_time()
        connected = {p.to_base58() for p in self.host.get_connected_peers()}
        room = self.cfg.max_peers - len(connected)
        for a in self.bootnodes:
            self.book(addrmod.peer_of(a)).merge([a])
        wanted = {addrmod.peer_of(a) for a in self.bootnodes}
        for peer_id, addrs in known:
            if addrs:
                self.book(peer_id).merge(addrs)
                wanted.add(peer_id)
        for peer_id in list(wanted):
            if room <= 0:
                break
            if peer_id == self.self_id or peer_id in connected or peer_id in self._dialing:
                continue
            if not self.book(peer_id).any_due(now):
                continue
            room -= 1
            self._dialing.add(peer_id)
            nursery.start_soon(self.dial, peer_id, None)

    async def join(self, addr: str, peer_id: str) -> str | None:
        """Dial now (an operator's join) and keep the address as a bootnode."""
        self.bootnodes[addr] = None
        book = self.book(peer_id)
        book.merge([addr])
        book.reset()
        while peer_id in self._dialing:  # a dial in flight finishes first
            await trio.sleep(0.05)
        self._dialing.add(peer_id)
        return await self.dial(peer_id, [addrmod.strip_peer(addr)])

    async def dial(self, peer_id: str, only: list[str] | None) -> str | None:
        """Dial one peer at its due addresses (or ``only`` these), one at a time; None on success."""
        import multiaddr
        from libp2p.peer.id import ID

        book = self.book(peer_id)
        error: str | None = "no address to dial"
        tried = 0
        try:
            pid = ID.from_base58(peer_id)
            network = self.host.get_network()
            network.unblock_peer(pid)  # our backoff decides, not libp2p's 60 s cache
            for addr in only if only is not None else book.due(trio.current_time()):
                if pid in network.connections:
                    error = None
                    break
                tried += 1
                state = book.addrs.get(addr)
                if state is not None:
                    if not state.tries:
                        log.info("dialing %s at %s (a new address)", peer_id, addr)
                    state.tries += 1
                error = "timed out"
                try:
                    with trio.move_on_after(self.cfg.dial_timeout_s):
                        await network.dial_addr(multiaddr.Multiaddr(addr), pid)
                        error = None
                except Exception as e:  # noqa: BLE001 - every dial failure is retried with backoff
                    error = f"{type(e).__name__}: {e}"[:300]
                now = trio.current_time()
                if self.on_dial is not None:
                    self.on_dial(peer_id, addr, error)
                if error is None:
                    book.worked(addr, now)
                    m.DIALS.labels("ok").inc()
                    break
                book.failed(addr, now, error)
                m.DIALS.labels("failed").inc()
                log.debug("dial %s at %s failed: %s", peer_id, addr, error)
        except Exception as e:  # noqa: BLE001
            error = f"{type(e).__name__}: {e}"[:300]
        finally:
            self._dialing.discard(peer_id)
        if self.is_bootnode(peer_id):
            if error is None and book.down:
                log.info("bootnode %s reachable again", peer_id)
                book.down = False
            elif error is not None and tried and not book.down:
                log.warning("bootnode %s unreachable (%s); redialing with backoff", peer_id, error)
                book.down = True
        return error
