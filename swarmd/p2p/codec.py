"""The mesh's message codec: topic names, payload kinds, and the envelope check.

Everything here is pure (no libp2p, no I/O) so the boundary rules are tested
directly. The network thread calls ``check_envelope`` from the gossipsub topic
validator and again on every pulled message; nothing reaches a subscriber
that did not pass it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from swarmd._pb.swarm.v1 import p2p_pb2

# The envelope version this node writes, and the range it accepts (announced in
# Presence): a release that bumps WIRE_VERSION still accepts the previous one, so
# a swarm upgraded one node at a time never splits (docs/api.md).
WIRE_VERSION = 1
WIRE_VERSION_MIN = 1
WIRE_VERSION_MAX = 1
PRESENCE_KIND = "presence"
# Topic "channels": presence belongs to the mesh, the others carry registered kinds.
CHANNELS = ("presence", "rounds", "rollouts")
_KIND_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-.")

Validate = Callable[[Any, str], "str | None"]


@dataclass(frozen=True)
class Protocols:
    """Topic and stream protocol names of one swarm."""

    swarm_id: str

    def topic(self, channel: str) -> str:
        return f"/swarmd/{self.swarm_id}/{channel}/1"

    @property
    def topics(self) -> dict[str, str]:
        return {self.topic(c): c for c in CHANNELS}

    @property
    def pull(self) -> str:
        return f"/swarmd/{self.swarm_id}/pull/1"

    @property
    def adapter(self) -> str:
        return f"/swarmd/{self.swarm_id}/adapter/1"

    @property
    def ping(self) -> str:
        return f"/swarmd/{self.swarm_id}/ping/1"

    @property
    def exchange(self) -> str:
        return f"/swarmd/{self.swarm_id}/exchange/1"


@dataclass(frozen=True)
class KindSpec:
    kind: str
    message_type: type[Message]
    max_bytes: int
    validate: Validate | None
    channel: str


class KindRegistry:
    """Registered payload kinds. Read from the network thread without a lock:
    registration replaces the whole (immutable) mapping in one assignment."""

    def __init__(self) -> None:
        self._kinds: dict[str, KindSpec] = {}
        self._lock = threading.Lock()

    def register(self, spec: KindSpec) -> None:
        if not spec.kind or len(spec.kind) > 32 or not set(spec.kind) <= _KIND_CHARS:
            raise ValueError(f"kind {spec.kind!r}: 1-32 characters of a-z, 0-9, '_', '-', '.'")
        if spec.channel not in CHANNELS:
            raise ValueError(f"kind {spec.kind!r}: topic must be one of {', '.join(CHANNELS)}")
        if spec.max_bytes <= 0:
            raise ValueError(f"kind {spec.kind!r}: max_bytes must be positive")
        with self._lock:
            old = self._kinds.get(spec.kind)
            if old is not None and old.message_type is not spec.message_type:
                raise ValueError(f"kind {spec.kind!r} is already registered with {old.message_type.__name__}")
            kinds = dict(self._kinds)
            kinds[spec.kind] = spec
            self._kinds = kinds

    def get(self, kind: str) -> KindSpec | None:
        return self._kinds.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._kinds)


@dataclass(frozen=True)
class Checked:
    """Outcome of the envelope check: a rejection reason, or the decoded parts."""

    reason: str | None
    envelope: p2p_pb2.Envelope | None = None
    payload: Message | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def reject(reason: str, detail: str = "") -> Checked:
    return Checked(reason, detail=detail)


def check_envelope(
    data: bytes,
    *,
    channel: str,
    origin: bytes,
    origin_b58: str,
    swarm_id: str,
    registry: KindRegistry,
    max_message_bytes: int,
) -> Checked:
    """Check one gossip/pull message's data against every rule of the boundary.

    ``origin`` is the libp2p origin (pubsub ``from``, already signature-checked);
    the envelope must claim the same sender. Reasons are short stable strings
    (they label metrics): oversized, malformed_envelope, bad_version,
    wrong_swarm, sender_mismatch, unknown_kind, wrong_topic, payload_oversized,
    malformed_payload, invalid_payload (plus the kind validator's own reason).
    """
    if len(data) > max_message_bytes:
        return reject("oversized", f"{len(data)} bytes > {max_message_bytes}")
    env = p2p_pb2.Envelope()
    try:
        env.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        return reject("malformed_envelope", str(e)[:200])
    if not WIRE_VERSION_MIN <= env.version <= WIRE_VERSION_MAX:
        return reject("bad_version", f"version {env.version} (accepted {WIRE_VERSION_MIN}..{WIRE_VERSION_MAX})")
    if env.swarm_id != swarm_id:
        return reject("wrong_swarm", env.swarm_id[:80])
    if env.sender != origin:
        return reject("sender_mismatch", "envelope sender is not the signing peer")
    spec = registry.get(env.kind)
    if spec is None:
        return reject("unknown_kind", env.kind[:40])
    if spec.channel != channel:
        return reject("wrong_topic", f"{env.kind} on {channel}")
    if len(env.payload) > spec.max_bytes:
        return reject("payload_oversized", f"{len(env.payload)} bytes > {spec.max_bytes}")
    payload = spec.message_type()
    try:
        payload.ParseFromString(env.payload)
    except (DecodeError, RuntimeError, ValueError) as e:
        return reject("malformed_payload", str(e)[:200])
    if spec.validate is not None:
        try:
            why = spec.validate(payload, origin_b58)
        except Exception as e:  # noqa: BLE001 - a validator bug rejects, never crashes the mesh
            return reject("invalid_payload", f"validator raised {type(e).__name__}")
        if why:
            return reject("invalid_payload", str(why)[:200])
    return Checked(None, env, payload)


def encode_envelope(
    *, swarm_id: str, kind: str, round: int, stage: int, sent_at: float, sender: bytes, payload: bytes
) -> bytes:
    return p2p_pb2.Envelope(
        version=WIRE_VERSION,
        swarm_id=swarm_id,
        kind=kind,
        round=round,
        stage=stage,
        sent_at=sent_at,
        sender=sender,
        payload=payload,
    ).SerializeToString()


def check_presence(p: p2p_pb2.Presence, sender: str) -> str | None:
    """The mesh's own validator for presence payloads (bounded strings and lists)."""
    if len(p.name) > 128 or len(p.version) > 64 or len(p.model) > 256:
        return "presence_field_too_long"
    if len(p.addrs) > 16 or any(len(a) > 256 for a in p.addrs):
        return "presence_addrs"
    if len(p.capabilities) > 32 or len(p.roles) > 8:
        return "presence_lists"
    return None
