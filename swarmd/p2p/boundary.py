"""What gets in: the checks every peer message passes, and what happens to those that pass.

Runs on the network thread. It is the ``hardening.Guard`` of the guarded
pubsub (pre-check rejections and accepted messages are reported here), it
provides the gossipsub topic validators, and it re-checks pulled messages
the same way. Every rejection is counted by reason, in total and against the
peer to blame; accepted data goes into the round store once per (kind,
round, stage, sender) and is delivered to the asyncio side.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import base58
import trio

from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.p2p import metrics as m
from swarmd.p2p.codec import PRESENCE_KIND, Checked, KindRegistry, check_envelope
from swarmd.p2p.config import P2PConfig
from swarmd.p2p.peers import PeerTable
from swarmd.p2p.ratelimit import RateLimiter
from swarmd.p2p.records import Received
from swarmd.p2p.store import RoundStore

# A forwarder relays many origins' messages: its frame budget is this many times an origin's.
FORWARDER_FACTOR = 8
# Rejection events on the event bus, at most (the counters see every one).
EVENTS_PER_S, EVENTS_BURST = 5.0, 20


def b58(raw: bytes) -> str:
    return base58.b58encode(raw).decode()


class Boundary:
    def __init__(
        self,
        *,
        config: P2PConfig,
        self_id: str,
        swarm_id: str,
        topics: dict[str, str],
        registry: KindRegistry,
        store: RoundStore[bytes],
        table: PeerTable,
        deliver: Callable[[Received], None],
        on_presence: Callable[[str, p2p_pb2.Presence], None],
        on_rejection: Callable[[str, str, str], None],
    ) -> None:
        self.cfg = config
        self.self_bytes = base58.b58decode(self_id)
        self.swarm_id = swarm_id
        self.channel_of = topics  # topic -> channel
        self.registry = registry
        self.store = store
        self.table = table
        self._deliver = deliver
        self._on_presence = on_presence
        self._on_rejection = on_rejection
        # hardening.Guard
        self.allowed_topics = frozenset(topics)
        self.max_data_bytes = config.max_message_bytes
        self.forwarder_limit = RateLimiter(
            config.rate_limit_per_s * FORWARDER_FACTOR, config.rate_limit_burst * FORWARDER_FACTOR
        )
        self.origin_limit = RateLimiter(config.rate_limit_per_s, config.rate_limit_burst)
        self.rejected: Counter[str] = Counter()
        self.messages_in = 0
        self.pull_fetches = 0
        self._checked: OrderedDict[bytes, Checked] = OrderedDict()  # validator results awaiting accept()
        self._events = RateLimiter(EVENTS_PER_S, EVENTS_BURST)

    def reject(self, peer: str, reason: str, detail: str = "") -> None:
        """Count a rejection; ``peer`` is whoever is to blame."""
        self.rejected[reason] += 1
        m.REJECTED.labels(reason).inc()
        now = trio.current_time()
        self.table.on_rejected(peer, reason, now)
        if self._events.allow("events", now):
            self._on_rejection(peer, reason, detail)

    def check(self, data: bytes, channel: str, origin: bytes, origin_b58: str) -> Checked:
        return check_envelope(
            data,
            channel=channel,
            origin=origin,
            origin_b58=origin_b58,
            swarm_id=self.swarm_id,
            registry=self.registry,
            max_message_bytes=self.cfg.max_message_bytes,
        )

    def validator(self, channel: str) -> Callable[[Any, Any], bool]:
        """The gossipsub topic validator of ``channel`` (messages it refuses are not forwarded)."""

        def validate(forwarder: Any, msg: Any) -> bool:
            origin = bytes(msg.from_id)
            origin_b58 = b58(origin)
            checked = self.check(msg.data, channel, origin, origin_b58)
            if not checked.ok:
                self.reject(origin_b58, checked.reason or "invalid", checked.detail)
                return False
            env = checked.envelope
            assert env is not None
            if origin != self.self_bytes:
                if abs(time.time() - env.sent_at) > self.cfg.max_clock_skew_s:
                    self.reject(origin_b58, "clock_skew", f"sent_at {env.sent_at:.0f}")
                    return False
                if channel == "rollouts" and self.store.has(env.kind, env.round, env.stage, origin_b58):
                    m.DUPLICATES.inc()  # data already held: harmless, not forwarded again
                    return False
                if not self.origin_limit.allow(origin_b58, trio.current_time()):
                    self.reject(origin_b58, "rate_limited")
                    return False
            self._checked[origin + bytes(msg.seqno)] = checked
            while len(self._checked) > 1024:
                self._checked.popitem(last=False)
            return True

        return validate

    def accept(self, msg: Any) -> None:
        """A gossiped message passed every check (called by the guarded pubsub)."""
        origin = bytes(msg.from_id)
        if origin == self.self_bytes:
            return  # our own: stored when published
        origin_b58 = b58(origin)
        channel = self.channel_of.get(msg.topicIDs[0]) if msg.topicIDs else None
        if channel is None:
            return
        checked = self._checked.pop(origin + bytes(msg.seqno), None) or self.check(
            msg.data, channel, origin, origin_b58
        )
        if not checked.ok:
            return
        if channel == "presence":
            self.messages_in += 1
            m.MESSAGES_IN.labels(PRESENCE_KIND, "gossip").inc()
            self._on_presence(origin_b58, checked.payload)
        else:
            self.keep(msg.SerializeToString(), origin_b58, checked, channel, "gossip")

    def keep(self, raw: bytes, origin: str, checked: Checked, channel: str, via: str) -> bool:
        """Store and deliver, once per (kind, round, stage, sender); announcements replace."""
        env = checked.envelope
        assert env is not None
        if not self.store.add(env.kind, env.round, env.stage, origin, raw, replace=channel == "rounds"):
            m.DUPLICATES.inc()
            return False
        now = time.time()
        self.messages_in += 1
        m.MESSAGES_IN.labels(env.kind, via).inc()
        m.LATENCY.labels(via).observe(max(0.0, now - env.sent_at))
        self.table.on_message(origin, trio.current_time())
        self._deliver(Received(origin, env.kind, env.round, env.stage, checked.payload, env.sent_at, via, now))
        return True

    def take_pulled(self, responder: str, resp: p2p_pb2.PullResponse, kind: str, round: int, stage: int) -> int:
        """Verify a pull answer's messages like gossip (signature, origin, envelope); keep the good ones."""
        from swarmd.p2p.hardening import parse_signed

        gained = 0
        for raw in resp.messages[:1024]:
            reason, msg = parse_signed(raw, self.allowed_topics, self.cfg.max_message_bytes)
            if reason is not None:
                self.reject(responder, reason, "in a pull response")
                continue
            origin = bytes(msg.from_id)
            if origin == self.self_bytes:
                continue
            channel = self.channel_of[msg.topicIDs[0]]
            checked = self.check(msg.data, channel, origin, b58(origin))
            if not checked.ok:
                self.reject(responder, checked.reason or "invalid", "in a pull response")
                continue
            env = checked.envelope
            assert env is not None
            if (env.kind, env.round, env.stage) != (kind, round, stage) or channel == "presence":
                self.reject(responder, "pull_mismatch", "answered with other data than asked")
                continue
            if self.keep(raw, b58(origin), checked, channel, "pull"):
                gained += 1
                self.pull_fetches += 1
                m.PULL_FETCHED.inc()
        return gained
