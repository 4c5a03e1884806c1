"""The mesh subsystem (daemon slot ``mesh``): the asyncio face of the network actor.

What other parts call is here: publish, subscribe, held, collect, live peers,
presence, blobs, join/leave, bootnodes. The network actor (``actor.py``) runs
py-libp2p in its own trio thread; this side keeps what asyncio code reads
synchronously (the decoded payloads held per round, the latest peer and
counter snapshots) and turns actor callbacks into events.

Delivery rule: each (kind, round, stage, sender) reaches subscribers at most
once, whether by gossip or by pull, except kinds on the rounds topic
(announcements), where every new signed message is delivered and the latest
is kept. A node's own messages are held (``held``/``collect``) but not
delivered to its own subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from swarmd import __version__
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.errors import BadRequest, NotAvailable
from swarmd.p2p import metrics as m
from swarmd.p2p.blobs import BlobStore, parse_hash
from swarmd.p2p.codec import (
    PRESENCE_KIND,
    WIRE_VERSION_MAX,
    WIRE_VERSION_MIN,
    KindRegistry,
    KindSpec,
    Validate,
    check_presence,
)
from swarmd.p2p.peers import PeerInfo
from swarmd.p2p.records import Received, Stats
from swarmd.p2p.store import RoundStore

if TYPE_CHECKING:
    from swarmd.daemon import Daemon
    from swarmd.p2p.bridge import Bridge

log = logging.getLogger("swarmd.p2p")

START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 5.0
STOP_JOIN_S = 5.0

__all__ = ["Mesh", "PeerInfo", "Received"]


class Mesh:
    name = "mesh"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.cfg = daemon.config.p2p
        self.peer_id: str = daemon.identity.peer_id
        self.swarm_id = daemon.config.node.swarm_id
        self.registry = KindRegistry()
        self.registry.register(KindSpec(PRESENCE_KIND, p2p_pb2.Presence, 8192, check_presence, "presence"))
        self.blobs = BlobStore(self.cfg.blob_store_bytes, self.cfg.blob_max_bytes)
        self.store: RoundStore[Received] = RoundStore(
            self.cfg.pull_window_rounds, self.cfg.store_max_bytes, lambda r: r.payload.ByteSize()
        )
        self.stats = Stats(state="starting", bootnodes=tuple(self.cfg.bootnodes))
        self.peers: tuple[PeerInfo, ...] = ()
        self._not_live: frozenset[str] = frozenset()
        self._subs: dict[str, list[asyncio.Queue[Received | None]]] = {}
        self._arrival = asyncio.Event()
        self._presence = p2p_pb2.Presence(name=daemon.identity.name, version=__version__, roles=daemon.roles(),
                                          wire_version_min=WIRE_VERSION_MIN, wire_version_max=WIRE_VERSION_MAX)
        self._bridge: Bridge | None = None
        self._actor: Any = None
        self._ready: asyncio.Future[list[str]] | None = None
        self._extra_bootnodes: list[str] = []

    # -- lifecycle ------------------------------------------------------------------

    @property
    def listen_addrs(self) -> list[str]:
        return list(self.stats.listen_addrs)

    async def start(self) -> None:
        # Imported here, not at module load: the daemon builds every subsystem
        # before the control plane serves, and trio alone takes ~0.2 s to import.
        from swarmd.p2p.actor import NetworkActor
        from swarmd.p2p.bridge import Bridge

        loop = asyncio.get_running_loop()
        self._bridge = Bridge(loop)
        self._ready = loop.create_future()
        self._actor = NetworkActor(
            config=self.cfg,
            private_key_bytes=self.daemon.identity.private_key_bytes,
            peer_id=self.peer_id,
            swarm_id=self.swarm_id,
            presence=self._presence,
            registry=self.registry,
            blobs=self.blobs,
            bridge=self._bridge,
            sink=self,
            libp2p_log_level=self.daemon.config.log.libp2p_level,
        )
        self._actor.add_bootnodes(self._extra_bootnodes)
        # libp2p is imported and the host built on the actor's thread: the
        # event loop (and the control plane) keep answering meanwhile.
        self._actor.start_thread()
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT_S)
        except TimeoutError:
            raise RuntimeError(f"the p2p mesh did not start within {START_TIMEOUT_S:.0f}s") from None

    async def stop(self) -> None:
        actor, bridge = self._actor, self._bridge
        if actor is None or bridge is None:
            return
        if bridge.attached:
            with contextlib.suppress(Exception):
                await bridge.call(actor.shutdown, timeout=3.0)
        actor.request_stop()
        if actor.thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, actor.thread.join, STOP_JOIN_S)
            if actor.thread.is_alive():
                log.warning("the network thread did not finish within %.0fs", STOP_JOIN_S)
        for queues in self._subs.values():
            for q in queues:
                while not _offer(q, None):
                    q.get_nowait()  # make room for the end marker
        self.stats = Stats(state="stopped", listen_addrs=self.stats.listen_addrs)

    def fill_status(self, status: pb.Status) -> None:
        s = self.stats
        mesh = status.mesh
        mesh.state = s.state
        mesh.listen_addrs[:] = list(s.listen_addrs)
        mesh.connected_peers = s.connected
        mesh.live_peers = s.live
        mesh.stale_peers = s.stale
        mesh.mesh_peers.update(s.mesh_peers)
        mesh.messages_in = s.messages_in
        mesh.messages_out = s.messages_out
        mesh.rejected.update(s.rejected)
        mesh.pull_fetches = s.pull_fetches
        mesh.bootnodes[:] = list(s.bootnodes)
        mesh.announced_addrs[:] = list(s.announced_addrs)
        mesh.observed_addrs[:] = list(s.observed_addrs)
        mesh.reachability = s.reachability
        mesh.reachability_detail = s.reachability_detail

    # -- sink: called on the event loop by the bridge -------------------------------

    def on_ready(self, listen_addrs: list[str]) -> None:
        self.stats = Stats(state="alone", listen_addrs=tuple(listen_addrs), bootnodes=self.stats.bootnodes)
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(listen_addrs)

    def on_failed(self, message: str) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeError(f"the p2p mesh failed to start: {message}"))
            return
        log.error("the p2p mesh failed: %s", message)
        self.stats = Stats(state="failed", listen_addrs=self.stats.listen_addrs)

    def on_received(self, item: Received) -> None:
        replace = self._channel(item.kind) == "rounds"
        if not self.store.add(item.kind, item.round, item.stage, item.sender, item, replace=replace):
            return
        for q in self._subs.get(item.kind, ()):
            if not _offer(q, item):
                m.DROPPED.labels(item.kind).inc()
        self._arrival.set()
        self._arrival = asyncio.Event()

    def on_peer_change(self, change: str, peer_id: str, name: str) -> None:
        self.daemon.events.emit(
            pb.EVENT_KIND_PEER,
            f"peer {name or peer_id} {change}",
            peer=pb.PeerEvent(change=change, peer_id=peer_id, name=name),
        )

    def on_rejection(self, peer_id: str, reason: str, detail: str) -> None:
        self.daemon.events.emit(
            pb.EVENT_KIND_REJECTION,
            f"rejected a message from {peer_id}: {reason}",
            rejection=pb.RejectionEvent(peer_id=peer_id, reason=reason, detail=detail),
        )

    def on_snapshot(self, stats: Stats, peers: tuple[PeerInfo, ...], not_live: frozenset[str]) -> None:
        if self.stats.state not in ("stopped", "failed"):
            self.stats = stats
        self.peers = peers
        self._not_live = not_live

    # -- the API other subsystems call ----------------------------------------------------

    def _require(self) -> tuple[Bridge, Any]:
        if self._bridge is None or self._actor is None or not self._bridge.attached:
            raise NotAvailable(f"the p2p mesh is not running (state {self.stats.state})")
        return self._bridge, self._actor

    async def list_peers(self, include_stale: bool) -> pb.ListPeersResponse:
        bridge, actor = self._require()
        return await bridge.call(actor.list_peers, include_stale, timeout=CALL_TIMEOUT_S)

    async def join(self, multiaddrs: list[str]) -> pb.JoinResponse:
        if not multiaddrs:
            raise BadRequest("join needs at least one multiaddr (/ip4/.../tcp/.../p2p/<peer id>)")
        bridge, actor = self._require()
        timeout = self.cfg.dial_timeout_s * len(multiaddrs) + CALL_TIMEOUT_S
        results = await bridge.call(actor.join, list(multiaddrs), timeout=timeout)
        return pb.JoinResponse(results=results)

    async def leave(self) -> pb.LeaveResponse:
        bridge, actor = self._require()
        n = await bridge.call(actor.leave, timeout=CALL_TIMEOUT_S + 3)
        return pb.LeaveResponse(disconnected=n)

    def register_kind(
        self,
        kind: str,
        message_type: type[Message],
        max_bytes: int,
        validate: Validate | None = None,
        *,
        topic: str | None = None,
    ) -> None:
        """Accept payloads of ``kind`` (decoded as ``message_type``, at most ``max_bytes``).

        ``validate(message, sender) -> reason | None`` runs on the network
        thread for every such message, gossiped or pulled: keep it pure and
        quick. ``topic`` is "rollouts" (data: delivered once per (round,
        stage, sender)) or "rounds" (announcements: every new one delivered);
        by default kinds whose name starts with "round" go to "rounds".
        """
        if kind == PRESENCE_KIND:
            raise ValueError("kind 'presence' belongs to the mesh")
        if max_bytes > self.cfg.max_message_bytes:
            raise ValueError(
                f"kind {kind!r}: max_bytes {max_bytes} exceeds p2p.max_message_bytes "
                f"({self.cfg.max_message_bytes}); send larger data as a blob"
            )
        channel = topic or ("rounds" if kind.startswith("round") else "rollouts")
        self.registry.register(KindSpec(kind, message_type, max_bytes, validate, channel))

    def _channel(self, kind: str) -> str:
        spec = self.registry.get(kind)
        return spec.channel if spec is not None else "rollouts"

    async def publish(self, kind: str, round: int, stage: int, payload: Message) -> None:
        """Gossip ``payload`` and keep it for pulls; returns once libp2p has it."""
        spec = self.registry.get(kind)
        if spec is None or kind == PRESENCE_KIND:
            raise ValueError(f"kind {kind!r} is not registered (Mesh.register_kind)")
        if not isinstance(payload, spec.message_type):
            raise TypeError(f"kind {kind!r} carries {spec.message_type.__name__}, not {type(payload).__name__}")
        data = payload.SerializeToString()
        if len(data) > spec.max_bytes:
            raise ValueError(f"{kind} payload of {len(data)} bytes exceeds its max_bytes ({spec.max_bytes})")
        bridge, actor = self._require()
        sent_at = time.time()
        await bridge.call(actor.publish, spec.channel, kind, round, stage, data, sent_at, timeout=CALL_TIMEOUT_S)
        own = Received(self.peer_id, kind, round, stage, payload, sent_at, "local", sent_at)
        self.store.add(kind, round, stage, self.peer_id, own, replace=True)
        self._arrival.set()
        self._arrival = asyncio.Event()

    def subscribe(self, kind: str) -> AsyncIterator[Received]:
        """Peers' messages of ``kind`` from now on (the subscription exists when this returns)."""
        q: asyncio.Queue[Received | None] = asyncio.Queue(self.cfg.queue_size)
        self._subs.setdefault(kind, []).append(q)
        return self._iterate(kind, q)

    async def _iterate(self, kind: str, q: asyncio.Queue[Received | None]) -> AsyncIterator[Received]:
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            with contextlib.suppress(ValueError):
                self._subs.get(kind, []).remove(q)

    def held(self, kind: str, round: int, stage: int) -> dict[str, Message]:
        return {s: r.payload for s, r in self.store.get(kind, round, stage).items()}

    def held_received(self, kind: str, round: int, stage: int) -> dict[str, Received]:
        """Like ``held``, with how and when each arrived."""
        return self.store.get(kind, round, stage)

    def expected(self, expect: set[str] | Callable[[], set[str]] | None) -> set[str]:
        """Whom a collect waits for: ``expect`` (default: live trainer peers; a callable is
        asked again each time) minus peers known not to be live."""
        if callable(expect):
            expect = expect()
        if expect is None:
            expect = {p.peer_id for p in self.live_peers() if "trainer" in p.roles}
        return {p for p in expect if p not in self._not_live}

    async def collect(
        self, kind: str, round: int, stage: int, expect: set[str] | Callable[[], set[str]] | None, deadline: float
    ) -> dict[str, Message]:
        """Everything held for (kind, round, stage); pulls what is missing from connected
        peers until every expected peer's message is held or ``deadline`` (loop.time()) passes.
        Stale peers stop being expected as soon as they are marked stale; a callable
        ``expect`` is asked again on every arrival and pull."""
        loop = asyncio.get_running_loop()
        next_pull = loop.time() + self.cfg.pull_interval_s
        while True:
            missing = self.expected(expect) - set(self.store.senders(kind, round, stage))
            now = loop.time()
            if not missing or now >= deadline:
                return self.held(kind, round, stage)
            if now >= next_pull and self._bridge is not None and self._bridge.attached:
                next_pull = now + self.cfg.pull_interval_s
                timeout = max(0.05, min(self.cfg.pull_timeout_s, deadline - now))
                try:
                    await self._bridge.call(self._actor.pull, kind, round, stage, sorted(missing), timeout=timeout)
                except TimeoutError:
                    pass
                except Exception as e:  # noqa: BLE001 - a pull is best effort; the next one retries
                    log.warning("pull for %s round %d stage %d failed: %s", kind, round, stage, e)
                continue
            arrival = self._arrival
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrival.wait(), max(0.0, min(next_pull, deadline) - now))

    def live_peers(self) -> list[PeerInfo]:
        return [p for p in self.peers if p.liveness == "live" and p.announced]

    def set_presence(self, round: int, stage: int, model: str, capabilities: list[str]) -> None:
        p = p2p_pb2.Presence(
            name=self.daemon.identity.name,
            version=__version__,
            round=round,
            stage=stage,
            model=model,
            capabilities=list(capabilities),
            roles=self.daemon.roles(),
            wire_version_min=WIRE_VERSION_MIN,
            wire_version_max=WIRE_VERSION_MAX,
        )
        self._presence = p
        if self._actor is not None:
            self._actor.presence = p  # one reference swap; the actor copies it when announcing

    async def offer_blob(self, data: bytes) -> str:
        try:
            return self.blobs.offer(data)
        except ValueError as e:
            raise BadRequest(str(e)) from None

    async def fetch_blob(self, peer_id: str, hash: str, max_bytes: int) -> bytes:
        digest = parse_hash(hash)
        if max_bytes <= 0 or max_bytes > self.cfg.blob_max_bytes:
            raise ValueError(f"max_bytes must be between 1 and p2p.blob_max_bytes ({self.cfg.blob_max_bytes})")
        bridge, actor = self._require()
        return await bridge.call(actor.fetch_blob, peer_id, digest, max_bytes, timeout=self.cfg.blob_timeout_s)

    def add_bootnodes(self, multiaddrs: list[str]) -> None:
        """More bootnodes (e.g. the contract's list); dialed with backoff like configured ones."""
        addrs = [a for a in multiaddrs if a.startswith("/") and "/p2p/" in a]
        if self._actor is None:
            self._extra_bootnodes += addrs
            return
        if self._bridge is not None:
            self._bridge.run_sync(self._actor.add_bootnodes, addrs)


def _offer(q: asyncio.Queue[Any], item: Any) -> bool:
    try:
        q.put_nowait(item)
        return True
    except asyncio.QueueFull:
        return False
