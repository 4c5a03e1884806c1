"""The peer table: who is out there, how they announce themselves, and whether they are alive.

Pure: the network thread feeds it events with a monotonic ``now``. A peer is
heard from through its presence messages and answered pings; one not heard
from for ``stale_after`` is stale (even a frozen process whose TCP connection
stays open: its pings stop answering), and after ``remove_after`` it is
forgotten. The table is bounded; rejections from peers it cannot hold are
only counted in the totals.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.names import human_name

RTT_EWMA = 0.3  # weight of a new RTT sample: smooth, but follows a change within a few pings


@dataclass(frozen=True)
class PeerInfo:
    """A snapshot of one peer, safe to hand across threads."""

    peer_id: str
    name: str
    version: str
    addrs: tuple[str, ...]
    connected: bool
    liveness: str  # "live" | "stale"
    last_seen_s_ago: float
    rtt_ms: float
    round: int
    stage: int
    model: str
    capabilities: tuple[str, ...]
    roles: tuple[str, ...]
    rejected: tuple[tuple[str, int], ...]
    messages_in: int
    announced: bool  # sent a valid presence (a swarmd node, not just a connection)

    def to_pb(self) -> pb.Peer:
        return pb.Peer(
            peer_id=self.peer_id,
            name=self.name,
            version=self.version,
            addrs=list(self.addrs),
            connected=self.connected,
            liveness=self.liveness,
            last_seen_s_ago=self.last_seen_s_ago,
            rtt_ms=self.rtt_ms,
            round=self.round,
            stage=self.stage,
            model=self.model,
            capabilities=list(self.capabilities),
            roles=list(self.roles),
            rejected=dict(self.rejected),
            messages_in=self.messages_in,
        )


@dataclass
class PeerRecord:
    peer_id: str
    first_seen: float
    last_seen: float
    name: str = ""
    version: str = ""
    addrs: tuple[str, ...] = ()
    round: int = 0
    stage: int = 0
    model: str = ""
    capabilities: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    rtt_ms: float = 0.0
    connected: bool = False
    liveness: str = "live"
    announced: bool = False
    rejected: Counter[str] = field(default_factory=Counter)
    messages_in: int = 0

    def snapshot(self, now: float) -> PeerInfo:
        return PeerInfo(
            peer_id=self.peer_id,
            name=self.name or human_name(self.peer_id),
            version=self.version,
            addrs=self.addrs,
            connected=self.connected,
            liveness=self.liveness,
            last_seen_s_ago=max(0.0, now - self.last_seen),
            rtt_ms=self.rtt_ms,
            round=self.round,
            stage=self.stage,
            model=self.model,
            capabilities=self.capabilities,
            roles=self.roles,
            rejected=tuple(sorted(self.rejected.items())),
            messages_in=self.messages_in,
            announced=self.announced,
        )


Change = tuple[str, PeerRecord]  # ("joined" | "live" | "stale" | "removed" | "left", record)


class PeerTable:
    def __init__(self, self_id: str, stale_after: float, remove_after: float, max_records: int = 1024) -> None:
        self.self_id = self_id
        self.stale_after = stale_after
        self.remove_after = remove_after
        self.max_records = max_records
        self.records: dict[str, PeerRecord] = {}
        # Peers removed or gone: still "stale" (not waited for) until heard again.
        self.gone: OrderedDict[str, None] = OrderedDict()

    def _get(self, peer_id: str, now: float, create: bool = True, revive: bool = False) -> PeerRecord | None:
        """The peer's record; created when allowed. A peer that left or was removed comes
        back only through its own presence (``revive``), not through a lingering connection."""
        rec = self.records.get(peer_id)
        if rec is None and peer_id in self.gone and not revive:
            return None
        if rec is None and create and peer_id != self.self_id and len(self.records) < self.max_records:
            rec = self.records[peer_id] = PeerRecord(peer_id, first_seen=now, last_seen=now)
            self.gone.pop(peer_id, None)
        return rec

    def _forget(self, rec: PeerRecord) -> None:
        self.records.pop(rec.peer_id, None)
        self.gone[rec.peer_id] = None
        while len(self.gone) > self.max_records * 4:
            self.gone.popitem(last=False)

    def _heard(self, rec: PeerRecord, now: float) -> list[Change]:
        rec.last_seen = max(rec.last_seen, now)
        if rec.liveness == "stale":
            rec.liveness = "live"
            return [("live", rec)]
        return []

    def on_presence(self, peer_id: str, p: p2p_pb2.Presence, now: float) -> list[Change]:
        if p.leaving:
            return self.on_leaving(peer_id)
        rec = self._get(peer_id, now, revive=True)
        if rec is None:
            return []
        changes = self._heard(rec, now)
        rec.name, rec.version, rec.model = p.name, p.version, p.model
        rec.round, rec.stage = p.round, p.stage
        rec.addrs, rec.capabilities, rec.roles = tuple(p.addrs), tuple(p.capabilities), tuple(p.roles)
        rec.messages_in += 1
        if not rec.announced:
            rec.announced = True
            changes.insert(0, ("joined", rec))
        return changes

    def on_leaving(self, peer_id: str) -> list[Change]:
        rec = self.records.get(peer_id)
        if rec is None:
            self.gone[peer_id] = None
            return []
        self._forget(rec)
        return [("left", rec)] if rec.announced else []

    def on_pong(self, peer_id: str, rtt_ms: float, now: float) -> list[Change]:
        rec = self._get(peer_id, now)
        if rec is None:
            return []
        rec.rtt_ms = rtt_ms if rec.rtt_ms == 0 else (1 - RTT_EWMA) * rec.rtt_ms + RTT_EWMA * rtt_ms
        return self._heard(rec, now)

    def on_message(self, peer_id: str, now: float) -> None:
        """A valid message originated by this peer (counts; liveness comes from presence and pings)."""
        rec = self._get(peer_id, now, create=False)
        if rec is not None:
            rec.messages_in += 1

    def on_rejected(self, peer_id: str, reason: str, now: float) -> None:
        rec = self._get(peer_id, now)
        if rec is not None:
            rec.rejected[reason] += 1

    def set_connected(self, connected: set[str], now: float) -> None:
        for peer_id in connected:
            rec = self._get(peer_id, now)
            if rec is not None and not rec.connected:
                rec.connected = True
        for rec in self.records.values():
            if rec.peer_id not in connected:
                rec.connected = False

    def sweep(self, now: float) -> list[Change]:
        changes: list[Change] = []
        for rec in list(self.records.values()):
            silent = now - rec.last_seen
            if silent > self.remove_after:
                self._forget(rec)
                changes.append(("removed", rec))
            elif silent > self.stale_after and rec.liveness == "live":
                rec.liveness = "stale"
                changes.append(("stale", rec))
        return changes

    def liveness(self, peer_id: str) -> str:
        """"live", "stale" (also for peers removed or gone), or "unknown" (never heard of)."""
        rec = self.records.get(peer_id)
        if rec is not None:
            return rec.liveness
        return "stale" if peer_id in self.gone else "unknown"

    def not_live(self) -> frozenset[str]:
        """Every peer known not to be live: stale records and forgotten peers."""
        return frozenset([r.peer_id for r in self.records.values() if r.liveness != "live"] + list(self.gone))

    def snapshot(self, now: float) -> tuple[PeerInfo, ...]:
        return tuple(rec.snapshot(now) for rec in sorted(self.records.values(), key=lambda r: r.peer_id))
