"""Fixes, from outside the library, for the ways a stock py-libp2p 0.8.1 node can be taken down.

Imported only on the network thread (it imports libp2p). What it changes, and why:

- ``GuardedPubsub.continuously_read_stream``: a pubsub frame that is not
  protobuf raised ``DecodeError`` out of the stream handler and stopped the
  swarm. Here any failure of a frame ends only that peer's pubsub stream, and
  every message is pre-checked before the library sees it: exactly one of our
  topics, an Ed25519 identity-multihash ``from`` (a ``from`` whose key did not
  decode made the library's signature check raise and cancelled Pubsub), a
  ``key`` that is empty or that same key, a non-empty seqno (the library
  accepted empty ones), a 64-byte signature that verifies, and a size cap.
  A per-forwarder frame budget drops floods before any of that work.
- ``push_msg`` and the router's control handling are contained: an exception
  there is counted, never propagated into the Pubsub service.
- ``notify_subscriptions`` hands each accepted message to the mesh at once
  instead of the library's 32-slot channel that drops silently when full.
- ``release_inbound_slots``: the library held every inbound connection's slot
  until the swarm ended, so ~250 short connections locked out every new peer;
  the slot is now released when that connection closes.
- ``contain_handlers``: an exception escaping any stream handler stopped the
  swarm; every registered handler, and the common handler that negotiates
  protocols, is wrapped.
- ``disable_auto_connect`` and ``dial_only_when_asked``: the library redials
  peers from its peerstore on its own, and opening a stream to a peer that
  just disconnected silently dials it again (a peer that left came straight
  back). Only the mesh's dialer dials now; the inbound handler refuses
  connections while ``admit()`` says no (after leaving).
- Cost, not safety: every pubsub RPC carries the sender's signed peer record.
  The library rebuilt our address list for each outgoing RPC and re-verified
  the peer's record on each incoming one, which made an idle node of a
  10-peer mesh spend ~15 % of a core. ``cache_peer_records`` reuses our
  record for a few seconds, and the read loop verifies a peer's record only
  when it changes.
- ``canary.py`` lists every library name patched or read here; the mesh refuses to start on a
  py-libp2p that lacks one. A failure of the read loop that is not a peer's malformed frame is
  logged at WARNING (once a minute per kind) and counted as ``read_loop_error``.
Subscriptions are bounded by the Pubsub arguments the actor passes
(``allowed_topics`` = our three topics, a small ``max_subscriptions_per_peer``).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from libp2p.abc import IMuxedConn
from libp2p.io.exceptions import IncompleteReadError, IOException, MessageTooLarge
from libp2p.network.connection.exceptions import RawConnError
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.network.stream.exceptions import StreamEOF, StreamError
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.utils import maybe_consume_signed_record
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from swarmd.p2p.ratelimit import RateLimiter

log = logging.getLogger("swarmd.p2p.hardening")

# Identity multihash (0x00, length 36) of a libp2p Ed25519 public key (type 1, 32 bytes).
ED25519_ID_PREFIX = b"\x00\x24\x08\x01\x12\x20"
SIGNING_PREFIX = b"libp2p-pubsub:"
MAX_SEQNO_BYTES = 20


def precheck(msg: rpc_pb2.Message, allowed_topics: frozenset[str], max_data_bytes: int) -> str | None:
    """Everything about a pubsub message that can be checked before the library sees it,
    signature included. Returns a rejection reason or None."""
    if len(msg.topicIDs) != 1 or msg.topicIDs[0] not in allowed_topics:
        return "bad_topic"
    origin = msg.from_id
    if len(origin) != len(ED25519_ID_PREFIX) + 32 or not origin.startswith(ED25519_ID_PREFIX):
        return "bad_from"
    if msg.key and msg.key != origin[2:]:
        return "bad_key"
    if not msg.seqno or len(msg.seqno) > MAX_SEQNO_BYTES:
        return "bad_seqno"
    if len(msg.data) > max_data_bytes:
        return "oversized"
    if len(msg.signature) != 64:
        return "bad_signature"
    signed = rpc_pb2.Message(data=msg.data, topicIDs=msg.topicIDs, from_id=origin, seqno=msg.seqno)
    try:
        Ed25519PublicKey.from_public_bytes(origin[len(ED25519_ID_PREFIX) :]).verify(
            msg.signature, SIGNING_PREFIX + signed.SerializeToString()
        )
    except (InvalidSignature, ValueError):
        return "bad_signature"
    return None


def parse_signed(raw: bytes, allowed_topics: frozenset[str], max_data_bytes: int) -> tuple[str | None, Any]:
    """A pubsub message from a pull response: parse and verify like a gossiped one."""
    msg = rpc_pb2.Message()
    try:
        msg.ParseFromString(raw)
    except Exception:  # noqa: BLE001 - any decoding failure is a malformed message
        return "malformed_message", None
    return precheck(msg, allowed_topics, max_data_bytes), msg


class Guard:
    """What the guarded Pubsub reports to (implemented by the network actor)."""

    allowed_topics: frozenset[str]
    max_data_bytes: int
    forwarder_limit: RateLimiter

    def reject(self, forwarder: str, reason: str) -> None: ...

    def accept(self, msg: rpc_pb2.Message) -> None: ...


class MalformedFrame(ValueError):
    """A pubsub frame that is not a protobuf RPC (counted where it is found)."""


# One warning line a minute per kind of unexpected read-loop failure.
_READ_LOOP_WARNINGS = RateLimiter(1 / 60, 1)

# How a peer's pubsub stream ends normally (it closed, or the connection went).
_STREAM_ENDED = (StreamEOF, StreamError, IOException, RawConnError, IncompleteReadError)


class GuardedPubsub(Pubsub):
    guard: Guard

    async def stream_handler(self, stream: Any) -> None:
        try:
            await self.continuously_read_stream(stream)
        except trio.Cancelled:
            raise
        except MessageTooLarge:
            self.guard.reject(_peer(stream), "oversized_rpc")
            await _reset(stream)
            self._handle_dead_peer(stream.muxed_conn.peer_id)
        except _STREAM_ENDED as e:
            log.debug("pubsub stream from %s ended: %s", _peer(stream), e)
        except MalformedFrame as e:  # already counted as malformed_rpc
            log.debug("pubsub stream from %s ended: %s", _peer(stream), e)
            await _reset(stream)
            self._handle_dead_peer(stream.muxed_conn.peer_id)
        except Exception as e:  # noqa: BLE001 - a peer's bad stream must not stop pubsub
            # Not a peer's malformed frame: a library change or a bug. Loud, counted, bounded.
            peer = _peer(stream)
            self.guard.reject(peer, "read_loop_error")
            if _READ_LOOP_WARNINGS.allow(type(e).__name__, time.monotonic()):
                log.warning("pubsub read loop for %s failed unexpectedly: %s: %s (at most one such line "
                            "a minute per kind; swarmd_p2p_rejected_total{reason=\"read_loop_error\"} "
                            "counts them all)", peer, type(e).__name__, e)
            await _reset(stream)
            self._handle_dead_peer(stream.muxed_conn.peer_id)

    async def continuously_read_stream(self, stream: Any) -> None:
        peer_id = stream.muxed_conn.peer_id
        forwarder = peer_id.to_base58()
        guard = self.guard
        last_record = b""
        while self.manager.is_running:
            # A checkpoint per frame: buffered frames must not starve every other task.
            await trio.lowlevel.checkpoint()
            frame = await read_varint_prefixed_bytes_limited(stream, self.max_inbound_rpc_size)
            rpc = rpc_pb2.RPC()
            try:
                rpc.ParseFromString(frame)
            except Exception:  # noqa: BLE001 - DecodeError and friends
                guard.reject(forwarder, "malformed_rpc")
                raise MalformedFrame("pubsub frame is not a protobuf RPC") from None
            if rpc.HasField("senderRecord") and rpc.senderRecord != last_record:
                try:
                    record_ok = maybe_consume_signed_record(rpc, self.host, peer_id)
                except Exception:  # noqa: BLE001
                    record_ok = False
                if not record_ok:
                    guard.reject(forwarder, "bad_peer_record")
                    continue
                last_record = rpc.senderRecord
            for msg in rpc.publish:
                if not self._is_subscribed_to_msg(msg) or self._is_msg_seen(msg):
                    continue
                if not guard.forwarder_limit.allow(forwarder, trio.current_time()):
                    guard.reject(forwarder, "flood")
                    continue
                reason = precheck(msg, guard.allowed_topics, guard.max_data_bytes)
                if reason is not None:
                    guard.reject(forwarder, reason)
                    continue
                if self.manager.is_running:
                    self.manager.run_task(self.push_msg, peer_id, msg)
            if rpc.subscriptions:
                if len(rpc.subscriptions) > self.max_subscriptions_per_rpc:
                    guard.reject(forwarder, "too_many_subscriptions")
                else:
                    for sub in rpc.subscriptions:
                        self.handle_subscription(peer_id, sub)
            if rpc.HasField("control"):
                try:
                    await self.router.handle_rpc(rpc, peer_id)
                except trio.Cancelled:
                    raise
                except Exception as e:  # noqa: BLE001
                    log.debug("control message from %s failed: %s", forwarder, e)
                    guard.reject(forwarder, "bad_control")

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        try:
            await super().push_msg(msg_forwarder, msg)
        except trio.Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - never let one message cancel the Pubsub service
            log.debug("pubsub message from %s failed: %s", msg_forwarder, e)
            self.guard.reject(msg_forwarder.to_base58(), "internal_error")

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        try:
            self.guard.accept(publish_message)
        except Exception:  # noqa: BLE001
            log.exception("delivering a pubsub message failed")


def _peer(stream: Any) -> str:
    try:
        return stream.muxed_conn.peer_id.to_base58()
    except Exception:  # noqa: BLE001
        return "?"


async def _reset(stream: Any) -> None:
    try:
        with trio.move_on_after(1):
            await stream.reset()
    except Exception:  # noqa: BLE001
        pass


Handler = Callable[[Any], Awaitable[None]]


def contain(handler: Handler, on_error: Callable[[str, str], None], what: str) -> Handler:
    """A stream handler that never lets an exception escape (it resets the stream instead)."""
    if getattr(handler, "_swarmd_contained", False):
        return handler

    async def contained(stream: Any) -> None:
        try:
            await handler(stream)
        except trio.Cancelled:
            raise
        except BaseException as e:  # noqa: BLE001 - includes exception groups from nurseries
            if isinstance(e, KeyboardInterrupt | SystemExit):
                raise
            log.debug("stream handler %s failed for %s: %r", what, _peer(stream), e)
            on_error(_peer(stream), "handler_error")
            await _reset(stream)

    contained._swarmd_contained = True  # type: ignore[attr-defined]
    return contained


def contain_handlers(host: Any, on_error: Callable[[str, str], None]) -> None:
    mux = host.get_mux()
    for protocol, handler in list(mux.handlers.items()):
        if handler is not None:
            mux.handlers[protocol] = contain(handler, on_error, str(protocol))
    network = host.get_network()
    network.common_stream_handler = contain(network.common_stream_handler, on_error, "negotiation")


def release_inbound_slots(swarm: Any, admit: Callable[[], bool]) -> None:
    """Hold an inbound TCP connection's slot only while that connection lives."""
    original = swarm._do_handle_inbound_connection

    async def handle(read_write_closer: Any, maddr: Any, failure_event: Any) -> None:
        if not admit():
            await _close(read_write_closer)
            return
        if isinstance(read_write_closer, IMuxedConn):
            await original(read_write_closer, maddr, failure_event)  # pre-multiplexed transports
            return
        remote = swarm._build_remote_multiaddr(read_write_closer)
        if remote is not None and not await swarm.connection_gate.is_allowed(remote):
            await _close(read_write_closer)
            return
        raw = None
        try:
            raw = RawConnection(read_write_closer, False)
            muxed = await swarm.upgrade_inbound_raw_conn(raw, maddr)
            ended = getattr(muxed, "event_shutting_down", None)
            if ended is not None:
                await ended.wait()
            else:
                # No close event on this muxer: poll it.
                while not getattr(muxed, "is_closed", True):  # noqa: ASYNC110
                    await trio.sleep(1)
        except Exception as e:  # noqa: BLE001
            log.debug("inbound connection on %s failed: %s", maddr, e)
            await _close(raw if raw is not None else read_write_closer)

    swarm._do_handle_inbound_connection = handle


async def _close(conn: Any) -> None:
    try:
        with trio.move_on_after(1):
            await conn.close()
    except Exception:  # noqa: BLE001
        pass


EXPLICIT_DIAL: contextvars.ContextVar[bool] = contextvars.ContextVar("swarmd_explicit_dial", default=False)


def dial_only_when_asked(swarm: Any) -> None:
    """Refuse every dial not made under ``EXPLICIT_DIAL`` (the mesh's dialer sets it)."""
    from libp2p.network.exceptions import SwarmException

    original = swarm.dial_peer

    async def dial_peer(peer_id: Any) -> Any:
        if not EXPLICIT_DIAL.get():
            raise SwarmException(f"not connected to {peer_id}; only the mesh's dialer dials")
        return await original(peer_id)

    swarm.dial_peer = dial_peer


def disable_auto_connect(swarm: Any) -> None:
    async def nothing() -> None:
        return None

    swarm.auto_connector.maybe_connect = nothing


def cache_peer_records(ttl_s: float = 10.0) -> None:
    """Reuse this host's signed peer record for ``ttl_s`` instead of rebuilding it per RPC."""
    from libp2p.pubsub import gossipsub as gossipsub_module
    from libp2p.pubsub import pubsub as pubsub_module

    original = pubsub_module.env_to_send_in_RPC
    if getattr(original, "_swarmd_cached", False):
        return
    cache: dict[int, tuple[float, tuple[bytes, bool]]] = {}

    def cached(host: Any) -> tuple[bytes, bool]:
        now = time.monotonic()
        hit = cache.get(id(host))
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
        value = original(host)
        cache[id(host)] = (now, value)
        return value

    cached._swarmd_cached = True  # type: ignore[attr-defined]
    pubsub_module.env_to_send_in_RPC = cached
    gossipsub_module.env_to_send_in_RPC = cached

