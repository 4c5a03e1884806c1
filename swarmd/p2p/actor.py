"""The network actor: py-libp2p's host, pubsub and stream handlers, owned by one trio thread.

Nothing outside this thread touches a libp2p object. The asyncio side sends
commands through ``Bridge.call`` (publish, pull, join, leave, list peers,
blobs) and receives plain records through the ``Sink`` callbacks, which the
bridge runs on the event loop.

Inside the thread:
- ``boundary.py`` decides what gets in (``hardening.precheck``, then the topic
  validator) and delivers accepted data once per (kind, round, stage,
  sender), keeping the original signed bytes in the round store for pulls;
- ``dialer.py`` dials bootnodes and peers learned from presence and peer
  exchange, every known address with its own backoff;
- ``addrs.py`` decides which addresses are offered and which of a peer's are
  kept (never an unspecified one; loopback and private ones only where they
  can work);
- loops: presence (announce), ping (RTT, liveness), sweep (stale/removed,
  connection state, dead connections closed, exchange with new connections,
  stats), dial (bootnodes and known peers with backoff), reachability (a
  peer dials our announced addresses back).

Simplifications: every node dials every swarmd peer it learns of, up to
``p2p.max_peers`` (a full mesh for swarms of that size); there is no DHT.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import base58
import trio

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.p2p import addrs as addrmod
from swarmd.p2p import metrics as m
from swarmd.p2p.blobs import BlobStore
from swarmd.p2p.boundary import Boundary
from swarmd.p2p.bridge import Bridge
from swarmd.p2p.codec import PRESENCE_KIND, KindRegistry, Protocols, encode_envelope
from swarmd.p2p.config import P2PConfig
from swarmd.p2p.dialer import DIAL_INTERVAL_S, Dialer
from swarmd.p2p.peers import PeerInfo, PeerTable
from swarmd.p2p.ratelimit import RateLimiter
from swarmd.p2p.records import Received, Stats
from swarmd.p2p.store import RoundStore

log = logging.getLogger("swarmd.p2p")

SWEEP_INTERVAL_S = 1.0
INTERFACES_TTL_S = 30.0
EXCHANGE_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 3.0
REACH_RETRY_S = 10.0


class Sink(Protocol):
    """Callbacks on the asyncio side (always run on the event loop via the bridge)."""

    def on_ready(self, listen_addrs: list[str]) -> None: ...
    def on_failed(self, message: str) -> None: ...
    def on_received(self, item: Received) -> None: ...
    def on_peer_change(self, change: str, peer_id: str, name: str) -> None: ...
    def on_rejection(self, peer_id: str, reason: str, detail: str) -> None: ...
    def on_snapshot(self, stats: Stats, peers: tuple[PeerInfo, ...], not_live: frozenset[str]) -> None: ...


def _root_cause(e: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(e, BaseExceptionGroup):
        inner = [x for x in e.exceptions if not isinstance(x, trio.Cancelled)]
        e = (inner or list(e.exceptions))[0]
    return e


class NetworkActor:
    def __init__(
        self,
        *,
        config: P2PConfig,
        private_key_bytes: bytes,
        peer_id: str,
        swarm_id: str,
        presence: p2p_pb2.Presence,
        registry: KindRegistry,
        blobs: BlobStore,
        bridge: Bridge,
        sink: Sink,
        libp2p_log_level: str = "warning",
    ) -> None:
        self.cfg = config
        self._key = private_key_bytes
        self.peer_id = peer_id
        self.self_bytes = base58.b58decode(peer_id)
        self.swarm_id = swarm_id
        self.protocols = Protocols(swarm_id)
        self.channel_of = self.protocols.topics  # topic -> channel
        self.registry = registry
        self.blobs = blobs
        self.bridge = bridge
        self.sink = sink
        self.libp2p_log_level = libp2p_log_level
        self.presence = presence  # replaced whole by set_presence (read here without a lock)
        self.store: RoundStore[bytes] = RoundStore(config.pull_window_rounds, config.store_max_bytes, len)
        self.table = PeerTable(peer_id, config.stale_after_s, config.remove_after_s, max(64, 4 * config.max_peers))
        self.dialer = Dialer(config, peer_id)
        self.boundary = Boundary(
            config=config,
            self_id=peer_id,
            swarm_id=swarm_id,
            topics=self.channel_of,
            registry=registry,
            store=self.store,
            table=self.table,
            deliver=lambda item: bridge.post(sink.on_received, item),
            on_presence=self._on_presence,
            on_rejection=lambda peer, reason, detail: bridge.post(sink.on_rejection, peer, reason, detail),
        )
        self.state = "starting"
        self.messages_out = 0
        self._stop: trio.Event | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self.thread: threading.Thread | None = None
        self.built: Any = None
        self.pinger: Any = None
        self._nursery: trio.Nursery | None = None
        self._ifaces: list[str] = []
        self._ifaces_at = float("-inf")
        self.observed: dict[str, str] = {}  # peer -> the IP it sees our connection come from
        self.conn_scopes: dict[str, str] = {}  # peer -> scope of its connection's remote IP
        self.exchanged: set[str] = set()  # peers exchanged with on their current connection
        self.conn_since: dict[str, float] = {}  # peer -> when its current connection was first seen
        self.learned: dict[str, tuple[float, list[str]]] = {}  # peer exchange: peer -> (when, addrs)
        self.reachability = ("unknown", "")
        self._reach_next = 0.0
        self._reach_for: tuple[str, ...] = ()
        self._dial_backs = RateLimiter(0.2, 3)
        self.dialer.on_dial = self._on_dial

    # -- thread lifecycle ------------------------------------------------------------

    def start_thread(self) -> None:
        self.thread = threading.Thread(target=self._thread_main, name="swarmd-p2p", daemon=True)
        self.thread.start()

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as e:  # noqa: BLE001 - reported to the daemon, which decides
            root = _root_cause(e)
            log.error("the network thread failed: %s: %s", type(root).__name__, root, exc_info=e)
            self.bridge.post(self.sink.on_failed, f"{type(root).__name__}: {root}")
        finally:
            self.bridge.detach()
            self.state = "stopped"

    def request_stop(self) -> None:
        """From any thread: end the actor (after ``shutdown`` announced leaving)."""
        token, stop = self._token, self._stop
        if token is not None and stop is not None:
            try:
                token.run_sync_soon(stop.set)
            except trio.RunFinishedError:
                pass

    async def _main(self) -> None:
        from libp2p.tools.anyio_service import background_trio_service

        from swarmd.p2p import host as hostmod
        from swarmd.p2p import streams

        hostmod.attach_logging(self.libp2p_log_level)
        self._stop = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        built = self.built = hostmod.build(self.cfg, self._key, self.protocols, self.boundary)
        self.dialer.host = built.host
        host = built.host
        cfg = self.cfg
        host.set_stream_handler(
            self.protocols.pull,
            lambda s: streams.serve_pull(s, self._lookup, cfg.pull_max_response_bytes, cfg.pull_timeout_s),
        )
        host.set_stream_handler(self.protocols.adapter, lambda s: streams.serve_blob(s, self.blobs, cfg.blob_timeout_s))
        host.set_stream_handler(
            self.protocols.ping, lambda s: streams.serve_ping(s, 4 * cfg.ping_interval_s + cfg.ping_timeout_s)
        )
        host.set_stream_handler(
            self.protocols.exchange,
            lambda s: streams.serve_exchange(s, self._answer_exchange, EXCHANGE_TIMEOUT_S),
        )
        hostmod.offer_addrs(built, self.announced_addrs)
        hostmod.harden(built, self.boundary.reject, lambda: self.state not in ("left", "stopping"))
        self.pinger = streams.Pinger(host, self.protocols.ping)
        async with (
            host.run(listen_addrs=built.listen),
            background_trio_service(built.pubsub),
            background_trio_service(built.gossipsub),
            trio.open_nursery() as nursery,
        ):
            if not host.get_transport_addrs():
                raise OSError(f"could not listen on any of p2p.listen = {cfg.listen} (address in use?)")
            await built.pubsub.wait_until_ready()
            for topic, channel in self.channel_of.items():
                built.pubsub.set_topic_validator(topic, self.boundary.validator(channel), False)
                await built.pubsub.subscribe(topic)
            self.bridge.attach(nursery)
            self._nursery = nursery
            self.state = "alone"
            self.bridge.post(self.sink.on_ready, self.listen_addrs())
            log.info("p2p listening on %s; announcing %s", " ".join(self.listen_addrs()),
                     " ".join(self.announced_addrs()) or "nothing")
            cfg = self.cfg
            nursery.start_soon(self._repeat, "presence", self._presence_step,
                               lambda: cfg.presence_interval_s * random.uniform(0.9, 1.1))
            nursery.start_soon(self._repeat, "ping", self._ping_step, lambda: cfg.ping_interval_s)
            nursery.start_soon(self._repeat, "sweep", self._sweep_step, lambda: SWEEP_INTERVAL_S)
            nursery.start_soon(self._repeat, "dial", lambda: self._dial_step(nursery), lambda: DIAL_INTERVAL_S)
            nursery.start_soon(self._repeat, "reachability", self._reach_step, lambda: SWEEP_INTERVAL_S)
            await self._stop.wait()
            self.bridge.detach()
            nursery.cancel_scope.cancel()

    def listen_addrs(self) -> list[str]:
        return [f"{a}/p2p/{self.peer_id}" for a in self.built.host.get_transport_addrs()]

    def _interfaces(self) -> list[str]:
        now = time.monotonic()
        if now - self._ifaces_at > INTERFACES_TTL_S:
            try:
                self._ifaces = addrmod.interface_ips()
            except Exception as e:  # noqa: BLE001 - keep the last known list
                log.debug("listing interface addresses failed: %s", e)
            self._ifaces_at = now
        return self._ifaces

    def _transport_addrs(self) -> list[str]:
        return [str(a) for a in self.built.host.get_transport_addrs()]

    def observed_addrs(self) -> list[str]:
        """Our addresses as peers see them: their observed IP with the port of a wildcard listen."""
        ports: dict[bool, int] = {}
        for a in self._transport_addrs():
            t = addrmod.parse(a)
            if t is not None and addrmod.scope_of_ip(t.ip) == addrmod.UNSPECIFIED:
                ports.setdefault(t.v6, t.port)
        out = [addrmod.observed_candidate(ip, ports) for ip in self.observed.values()]
        return list(dict.fromkeys(a for a in out if a))

    def offered_addrs(self) -> list[str]:
        """What peers are told to dial (without /p2p): never an unspecified address."""
        if self.cfg.announce:
            return [addrmod.strip_peer(a) for a in self.cfg.announce]
        return addrmod.offered(self._transport_addrs(), self._interfaces(), self.observed_addrs())

    def announced_addrs(self) -> list[str]:
        return [f"{a}/p2p/{self.peer_id}" for a in self.offered_addrs()]

    def local_scopes(self) -> set[str]:
        """Scopes of the networks this node's connections run over (what peers' addresses it can use)."""
        from swarmd.p2p import streams

        out = set()
        for conns in list(self.built.host.get_network().connections.values()):
            for conn in conns if isinstance(conns, list) else [conns]:
                remote = streams.remote_address(conn)
                if remote is not None:
                    out.add(addrmod.scope_of_ip(remote[0]))
        return out

    def _conn_scope(self, peer: Any) -> str:
        from swarmd.p2p import streams

        conns = self.built.host.get_network().get_connections(peer)
        remote = streams.remote_address(conns[0]) if conns else None
        return addrmod.scope_of_ip(remote[0]) if remote else addrmod.PUBLIC

    def _keep_addrs(self, peer_id: str, addrs: list[str], scopes: set[str]) -> list[str]:
        own = [a for a in addrs if addrmod.peer_of(a) in ("", peer_id)]
        kept = addrmod.keep_from_peer(own, scopes, self.cfg.share_local_addrs)
        return [a if "/p2p/" in a else f"{a}/p2p/{peer_id}" for a in kept][:16]

    def _on_dial(self, peer_id: str, addr: str, error: str | None) -> None:
        log.debug("dialed %s at %s: %s", peer_id, addr, error or "ok")

    def _lookup(self, kind: str, round: int, stage: int) -> dict[str, bytes]:
        m.PULL_SERVED.inc()
        return self.store.get(kind, round, stage)

    # -- presence and peers ------------------------------------------------------------

    def _on_presence(self, peer_id: str, presence: p2p_pb2.Presence) -> None:
        kept = self._keep_addrs(peer_id, list(presence.addrs), self.local_scopes())
        if kept != list(presence.addrs):
            p = p2p_pb2.Presence()
            p.CopyFrom(presence)
            del p.addrs[:]
            p.addrs.extend(kept)
            presence = p
        self._emit(self.table.on_presence(peer_id, presence, trio.current_time()))
        if presence.leaving:
            self.dialer.forget(peer_id)

    def _emit(self, changes: list[tuple[str, Any]]) -> None:
        for change, rec in changes:
            name = rec.name or ""
            log.info("peer %s %s (%s)", change, rec.peer_id, name or "-")
            self.bridge.post(self.sink.on_peer_change, change, rec.peer_id, name)

    async def _publish_presence(self, leaving: bool = False) -> None:
        p = p2p_pb2.Presence()
        p.CopyFrom(self.presence)
        del p.addrs[:]
        p.addrs.extend(self.announced_addrs()[:16])
        p.leaving = leaving
        await self.publish("presence", PRESENCE_KIND, p.round, p.stage, p.SerializeToString(), time.time())

    async def _repeat(self, name: str, step: Callable[[], Any], interval: Callable[[], float]) -> None:
        """Run ``step`` forever; a failing iteration is logged, never the end of the actor."""
        while True:
            try:
                await step()
            except Exception:  # noqa: BLE001 - the next iteration retries
                log.exception("the mesh's %s loop failed; it continues", name)
            await trio.sleep(interval())

    async def _presence_step(self) -> None:
        if self.state not in ("left", "stopping"):
            await self._publish_presence()

    async def _ping_step(self) -> None:
        skip = self.pinger.unsupported | set(self.table.gone)
        peers = [p for p in self.built.host.get_connected_peers() if p.to_base58() not in skip]
        async with trio.open_nursery() as nursery:
            for peer in peers:
                nursery.start_soon(self._ping_one, peer)

    async def _ping_one(self, peer: Any) -> None:
        rtt = await self.pinger.ping(peer, self.cfg.ping_timeout_s)
        if rtt is not None:
            self._emit(self.table.on_pong(peer.to_base58(), rtt, trio.current_time()))

    async def _sweep_step(self) -> None:
        now = trio.current_time()
        connected = {p.to_base58(): p for p in self.built.host.get_connected_peers()}
        self.table.set_connected(set(connected), now)
        changes = self.table.sweep(now)
        self._emit(changes)
        for change, rec in changes:
            if change == "removed":
                self.dialer.forget(rec.peer_id)
        drop = [connected[rec.peer_id] for change, rec in changes if change == "removed" and rec.peer_id in connected]
        # A connection to a swarmd peer silent for twice the stale bound is dead (a partition,
        # a frozen process): close it so that the dialer redials as soon as the peer is back.
        # (Twice: a peer late under load is marked stale, but not cut off and redialed.)
        back = [pid for pid in connected if pid not in self.conn_since
                and pid in self.table.records and self.table.records[pid].liveness == "stale"]
        if back:
            # A stale peer reconnected: the network is likely back (a healed partition), so
            # every other stale peer is redialed now instead of at its backed-off time.
            for rec in self.table.records.values():
                if rec.liveness == "stale" and rec.peer_id not in connected:
                    self.dialer.book(rec.peer_id).reset()
            for a in self.dialer.bootnodes:
                if addrmod.peer_of(a) not in connected:
                    self.dialer.book(addrmod.peer_of(a)).reset()
        for pid in connected:
            self.conn_since.setdefault(pid, now)
        for pid in [p for p in self.conn_since if p not in connected]:
            del self.conn_since[pid]
        # (A new connection gets stale_after_s to answer a ping before it counts as dead.)
        dead_after = 2 * self.cfg.stale_after_s
        dead = [connected[r.peer_id] for r in self.table.records.values()
                if r.announced and r.liveness == "stale" and r.peer_id in connected
                and connected[r.peer_id] not in drop
                and now - r.last_seen > dead_after and now - self.conn_since[r.peer_id] > dead_after]
        for peer in dead:
            log.info("closing the connection to %s: silent for %.0fs", peer.to_base58(),
                     now - self.table.records[peer.to_base58()].last_seen)
        drop += dead
        self.conn_scopes = {pid: self._conn_scope(p) for pid, p in connected.items()}
        self.exchanged &= set(connected)
        if self.state not in ("left", "stopping") and self._nursery is not None:
            for pid in set(connected) - self.exchanged - {p.to_base58() for p in dead}:
                self.exchanged.add(pid)
                self._nursery.start_soon(self._exchange_with, pid, [])
        for pid in [p for p in self.observed if p not in connected]:
            del self.observed[pid]
        cutoff = now - self.cfg.remove_after_s
        for pid in [p for p, (at, _) in self.learned.items() if at < cutoff or p in self.table.gone]:
            del self.learned[pid]
        if self.state == "left":
            drop = list(connected.values())
        elif self.state != "stopping":
            self.state = "connected" if connected else "alone"
        await self._disconnect_all(drop)
        self._publish_snapshot(now, len(connected))
        if len(self.pinger.unsupported) > 4 * self.cfg.max_peers:
            self.pinger.unsupported.clear()  # bounded: peers that do not speak our ping

    def _publish_snapshot(self, now: float, connected: int) -> None:
        peers = self.table.snapshot(now)
        live = sum(1 for p in peers if p.liveness == "live" and p.announced)
        stale = sum(1 for p in peers if p.liveness != "live" and p.announced)
        mesh_sizes = {
            channel: len(self.built.gossipsub.mesh.get(topic, ())) for topic, channel in self.channel_of.items()
        }
        m.CONNECTED.set(connected)
        m.KNOWN.labels("live").set(live)
        m.KNOWN.labels("stale").set(stale)
        for channel, n in mesh_sizes.items():
            m.MESH.labels(channel).set(n)
        stats = Stats(
            state=self.state,
            listen_addrs=tuple(self.listen_addrs()),
            announced_addrs=tuple(self.announced_addrs()),
            observed_addrs=tuple(self.observed_addrs()),
            reachability=self.reachability[0],
            reachability_detail=self.reachability[1],
            connected=connected,
            live=live,
            stale=stale,
            mesh_peers=mesh_sizes,
            messages_in=self.boundary.messages_in,
            messages_out=self.messages_out,
            rejected=dict(self.boundary.rejected),
            pull_fetches=self.boundary.pull_fetches,
            bootnodes=tuple(self.dialer.bootnodes),
        )
        self.bridge.post(self.sink.on_snapshot, stats, peers, self.table.not_live())

    async def _dial_step(self, nursery: trio.Nursery) -> None:
        if self.state not in ("left", "stopping"):
            # Stale peers too: a partitioned peer is redialed (with backoff) until it is forgotten.
            known = [(r.peer_id, list(r.addrs)) for r in self.table.records.values() if r.announced and r.addrs]
            known += [(p, addrs) for p, (_, addrs) in self.learned.items()
                      if p not in self.table.records and p not in self.table.gone]
            self.dialer.step(nursery, known)

    # -- exchange and reachability --------------------------------------------------------

    async def _exchange_with(self, peer_id: str, dial_back: list[str]) -> p2p_pb2.ExchangeResponse | None:
        """Ask a connected peer how it sees us and whom it knows (and to dial us back)."""
        from libp2p.peer.id import ID

        from swarmd.p2p import streams
        from swarmd.p2p.hardening import ED25519_ID_PREFIX

        resp = None
        try:
            with trio.move_on_after(EXCHANGE_TIMEOUT_S + (PROBE_TIMEOUT_S if dial_back else 0)):
                resp = await streams.request_exchange(
                    self.built.host, ID.from_base58(peer_id), self.protocols.exchange,
                    p2p_pb2.ExchangeRequest(dial_back=dial_back[: streams.DIAL_BACK_MAX]),
                )
        except Exception as e:  # noqa: BLE001 - peers without the protocol, closed connections
            log.debug("exchange with %s failed: %s", peer_id, e)
            return None
        if resp is None:
            return None
        t = addrmod.parse(resp.observed)
        if t is not None and addrmod.scope_of_ip(t.ip) not in (addrmod.UNSPECIFIED, addrmod.LOOPBACK):
            self.observed[peer_id] = t.ip
        now = trio.current_time()
        scopes = self.local_scopes()
        for pa in resp.peers[: self.cfg.max_peers]:
            raw = bytes(pa.peer_id)
            if len(raw) != len(ED25519_ID_PREFIX) + 32 or not raw.startswith(ED25519_ID_PREFIX):
                self.boundary.reject(peer_id, "bad_peer_record", "peer exchange: not an Ed25519 peer ID")
                continue
            pid = base58.b58encode(raw).decode()
            if pid == self.peer_id:
                continue
            addrs = self._keep_addrs(pid, list(pa.addrs)[:16], scopes)
            if addrs and (pid in self.learned or len(self.learned) < 4 * self.cfg.max_peers):
                self.learned[pid] = (now, addrs)
        return resp

    async def _answer_exchange(self, peer_id: str, remote: tuple[str, int] | None,
                               req: p2p_pb2.ExchangeRequest) -> p2p_pb2.ExchangeResponse:
        from swarmd.p2p import streams

        resp = p2p_pb2.ExchangeResponse()
        remote_scope = addrmod.scope_of_ip(remote[0]) if remote else addrmod.PUBLIC
        if remote is not None:
            resp.observed = addrmod.TcpAddr(remote[0], remote[1], ":" in remote[0]).multiaddr()
        for rec in list(self.table.records.values())[:64]:
            if rec.peer_id == peer_id or not rec.announced or rec.liveness != "live":
                continue
            addrs = addrmod.share_with(rec.addrs, remote_scope, self.cfg.share_local_addrs)[:8]
            if addrs:
                resp.peers.append(p2p_pb2.PeerAddrs(peer_id=base58.b58decode(rec.peer_id), addrs=addrs))
        if not req.dial_back:
            return resp
        if not self._dial_backs.allow(peer_id, trio.current_time()):
            resp.dial_back.extend(p2p_pb2.DialBackResult(addr=a[:200], error="too many dial-back requests")
                                  for a in req.dial_back[: streams.DIAL_BACK_MAX])
            return resp
        results: dict[int, p2p_pb2.DialBackResult] = {}

        async def one(i: int, addr: str) -> None:
            t = addrmod.parse(addr)
            error = None
            if t is None:
                error = "not an /ip4|ip6/<ip>/tcp/<port> address"
            elif addrmod.scope_of_ip(t.ip) == addrmod.LOOPBACK and remote_scope != addrmod.LOOPBACK:
                error = "a loopback address: no other host can dial it"
            elif remote is None or t.ip != remote[0]:
                error = f"not the address this connection comes from ({remote[0] if remote else 'unknown'})"
            else:
                error = await streams.probe(addr, PROBE_TIMEOUT_S)
            results[i] = p2p_pb2.DialBackResult(addr=addr[:200], ok=error is None, error=error or "")

        async with trio.open_nursery() as nursery:
            for i, addr in enumerate(req.dial_back[: streams.DIAL_BACK_MAX]):
                nursery.start_soon(one, i, addr)
        resp.dial_back.extend(results[i] for i in sorted(results))
        return resp

    async def _reach_step(self) -> None:
        """Now and then, ask a connected peer to dial our announced addresses back."""
        if self.cfg.reachability_check_s <= 0 or self.state in ("left", "stopping"):
            return
        now = trio.current_time()
        offered = tuple(self.offered_addrs())
        if now < self._reach_next and offered == self._reach_for:
            return
        connected = [p.to_base58() for p in self.built.host.get_connected_peers()]
        connected = [p for p in connected if p in self.table.records and self.table.records[p].announced]
        if not connected:
            return
        # Prefer a peer on another host: a loopback peer proves nothing about the network.
        outside = [p for p in connected if self.conn_scopes.get(p) not in (addrmod.LOOPBACK, None)]
        peer = random.choice(outside or connected)
        remote_scope = self.conn_scopes.get(peer, addrmod.PUBLIC)
        fix = ("set p2p.listen to an address peers can reach (e.g. /ip4/0.0.0.0/tcp/4001) and, behind NAT "
               "or a port forward, p2p.announce to the address they should dial")
        if offered and all(addrmod.scope(a) == addrmod.LOOPBACK for a in offered) and remote_scope != addrmod.LOOPBACK:
            result = ("not_reachable", f"peers on other hosts cannot dial this node: it announces only "
                      f"loopback addresses ({' '.join(offered)}); {fix}")
        elif not offered:
            result = ("not_reachable", f"this node announces no address; {fix}")
        else:
            resp = await self._exchange_with(peer, list(offered))
            name = self.table.records[peer].name if peer in self.table.records else ""
            if resp is None or not resp.dial_back:
                self._reach_next = now + REACH_RETRY_S
                return
            good = [r.addr for r in resp.dial_back if r.ok]
            if good:
                result = ("reachable", "")
            else:
                why = "; ".join(f"{r.addr}: {r.error}" for r in resp.dial_back[:4])
                result = ("not_reachable", f"{name or peer} could not dial this node back ({why}); {fix}")
        self._reach_for = offered
        self._reach_next = now + self.cfg.reachability_check_s
        if result != self.reachability:
            if result[0] == "not_reachable":
                log.warning("this node is not reachable: %s", result[1])
            else:
                log.info("this node is reachable at %s (dialed back by a peer)", " ".join(offered))
            m.REACHABLE.set(1 if result[0] == "reachable" else 0)
        self.reachability = result

    async def _disconnect_all(self, peers: list[Any]) -> None:
        async with trio.open_nursery() as nursery:
            for peer in peers:
                nursery.start_soon(self._disconnect, peer)

    async def _disconnect(self, peer: Any) -> None:
        try:
            with trio.move_on_after(2):
                await self.built.host.disconnect(peer)
        except Exception as e:  # noqa: BLE001
            log.debug("disconnecting %s failed: %s", peer, e)
        await self.pinger.forget(peer.to_base58())

    # -- dialing --------------------------------------------------------------------------

    # -- commands from the asyncio side (run via Bridge.call) -------------------------------

    async def publish(self, channel: str, kind: str, round: int, stage: int, payload: bytes, sent_at: float) -> None:
        from libp2p.pubsub.pb import rpc_pb2

        from swarmd.p2p.hardening import SIGNING_PREFIX

        pubsub = self.built.pubsub
        data = encode_envelope(
            swarm_id=self.swarm_id,
            kind=kind,
            round=round,
            stage=stage,
            sent_at=sent_at,
            sender=self.self_bytes,
            payload=payload,
        )
        if len(data) > self.cfg.max_message_bytes:
            raise ValueError(
                f"{kind} message of {len(data)} bytes exceeds p2p.max_message_bytes "
                f"({self.cfg.max_message_bytes}); send it as a blob"
            )
        topic = self.protocols.topic(channel)
        msg = rpc_pb2.Message(data=data, topicIDs=[topic], from_id=self.self_bytes, seqno=pubsub._next_seqno())
        msg.signature = self.built.host.get_private_key().sign(SIGNING_PREFIX + msg.SerializeToString())
        msg.key = self.built.host.get_public_key().serialize()
        if channel != "presence":
            self.store.add(kind, round, stage, self.peer_id, msg.SerializeToString(), replace=True)
        await pubsub.push_msg(self.built.host.get_id(), msg)
        self.messages_out += 1
        m.MESSAGES_OUT.labels(kind).inc()

    async def pull(self, kind: str, round: int, stage: int, missing: list[str]) -> int:
        """Ask the missing senders (if connected) and a few other live peers; returns messages gained."""
        from libp2p.peer.id import ID

        from swarmd.p2p import streams

        connected = {p.to_base58() for p in self.built.host.get_connected_peers()}
        usable = {p for p in connected if self.table.liveness(p) == "live"}
        first = [p for p in missing if p in usable]
        others = sorted(usable - set(first))
        targets = first + random.sample(others, min(self.cfg.pull_fanout, len(others)))
        log.debug("pull %s/%d/%d missing %d: asking %s", kind, round, stage, len(missing), targets)
        if not targets:
            return 0
        have = [base58.b58decode(s) for s in self.store.senders(kind, round, stage)]
        req = p2p_pb2.PullRequest(kind=kind, round=round, stage=stage, have=have,
                                  max_bytes=self.cfg.pull_max_response_bytes)
        gained = 0

        async def one(peer: str) -> None:
            nonlocal gained
            resp = None
            with trio.move_on_after(self.cfg.pull_timeout_s):
                try:
                    resp = await streams.request_pull(
                        self.built.host, ID.from_base58(peer), self.protocols.pull, req, self.cfg.pull_max_response_bytes
                    )
                except Exception as e:  # noqa: BLE001 - another peer may answer
                    m.PULL_REQUESTS.labels("error").inc()
                    log.debug("pull from %s failed: %s", peer, e)
                    return
            if resp is None:
                m.PULL_REQUESTS.labels("timeout").inc()
                return
            m.PULL_REQUESTS.labels("ok").inc()
            gained += self.boundary.take_pulled(peer, resp, kind, round, stage)

        async with trio.open_nursery() as nursery:
            for peer in targets:
                nursery.start_soon(one, peer)
        return gained

    async def join(self, addrs: list[str]) -> list[pb.JoinResult]:
        if self.state == "left":
            self.state = "alone"
        results = []
        for addr in addrs:
            peer_id = addr.rsplit("/p2p/", 1)[-1] if "/p2p/" in addr else ""
            if not peer_id:
                results.append(pb.JoinResult(multiaddr=addr, ok=False, error="multiaddr has no /p2p/<peer id>"))
            elif peer_id == self.peer_id:
                results.append(pb.JoinResult(multiaddr=addr, ok=False, peer_id=peer_id, error="that is this node"))
            else:
                error = await self.dialer.join(addr, peer_id)
                results.append(pb.JoinResult(multiaddr=addr, ok=error is None, peer_id=peer_id, error=error or ""))
        self._refresh()
        return results

    def add_bootnodes(self, addrs: list[str]) -> None:
        self.dialer.add_bootnodes(addrs)

    async def leave(self, stopping: bool = False) -> int:
        """Announce leaving, let it go out, then close every connection."""
        self.state = "stopping" if stopping else "left"
        try:
            await self._publish_presence(leaving=True)
        except Exception as e:  # noqa: BLE001
            log.debug("leaving announcement failed: %s", e)
        await self._flush(1.0)
        peers = list(self.built.host.get_connected_peers())
        await self._disconnect_all(peers)
        self._refresh()
        return len(peers)

    def _refresh(self) -> None:
        """Publish the state at once (an operator's join/leave shows in the next status)."""
        connected = len(self.built.host.get_connected_peers())
        if self.state not in ("left", "stopping"):
            self.state = "connected" if connected else "alone"
        self._publish_snapshot(trio.current_time(), connected)

    async def _flush(self, within_s: float) -> None:
        """Wait (bounded) until pubsub's per-peer outbound queues are empty."""
        with trio.move_on_after(within_s):
            # The library offers no drain event: poll its queues.
            while any(len(q) for q in self.built.pubsub.peer_queues.values()):  # noqa: ASYNC110
                await trio.sleep(0.02)
            await trio.sleep(0.05)  # the writer task has dequeued; give the write a moment

    async def shutdown(self) -> None:
        await self.leave(stopping=True)
        assert self._stop is not None
        self._stop.set()

    async def list_peers(self, include_stale: bool) -> pb.ListPeersResponse:
        now = trio.current_time()
        peers = [p.to_pb() for p in self.table.snapshot(now) if include_stale or p.liveness == "live"]
        return pb.ListPeersResponse(peers=peers, self_peer_id=self.peer_id)

    async def fetch_blob(self, peer_id: str, digest: bytes, max_bytes: int) -> bytes:
        from libp2p.peer.id import ID

        from swarmd.p2p import streams

        with trio.fail_after(self.cfg.blob_timeout_s):
            return await streams.fetch_blob(self.built.host, ID.from_base58(peer_id), self.protocols.adapter, digest,
                                            max_bytes)
