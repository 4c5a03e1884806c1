"""The mesh's request/response stream protocols (network thread only): pull, blob, ping, exchange.

Framing is a varint length prefix and a body, with a cap checked before the
body is read. Every server handler runs under a deadline (a slow or silent
peer cannot hold a stream open) and is wrapped by ``hardening.contain``, so a
bad stream costs that stream only.

- pull (/swarmd/<swarm>/pull/1): one ``PullRequest``, one ``PullResponse``.
- adapter (/swarmd/<swarm>/adapter/1): ``BlobRequest``, ``BlobHeader``, then
  raw chunk frames until ``size`` bytes; the asker checks the SHA-256.
- ping (/swarmd/<swarm>/ping/1): a long-lived stream; the asker writes 8
  bytes, the server echoes them.
- exchange (/swarmd/<swarm>/exchange/1): one ``ExchangeRequest``, one
  ``ExchangeResponse``: how the server sees the asker's address, the live
  peers it knows (addresses filtered for the asker's network), and the
  result of dialing back the addresses the asker listed (TCP, expecting a
  libp2p multistream header; only the IP the asker's connection comes from).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from typing import Any

import base58
import trio

from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.errors import SwarmdError
from swarmd.p2p.blobs import CHUNK_BYTES, BlobStore, chunks

log = logging.getLogger("swarmd.p2p.streams")

REQUEST_MAX_BYTES = 64 * 1024
PING_BYTES = 8


class FrameError(SwarmdError):
    """A frame was malformed, too large, or cut short."""


async def read_frame(stream: Any, limit: int) -> bytes:
    length = 0
    for shift in range(0, 70, 7):
        b = await _read_some(stream, 1)
        length |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            break
    else:
        raise FrameError("frame length prefix is not a varint")
    if length > limit:
        raise FrameError(f"frame of {length} bytes exceeds the limit of {limit}")
    buf = bytearray()
    while len(buf) < length:
        buf += await _read_some(stream, length - len(buf))
    return bytes(buf)


async def _read_some(stream: Any, n: int) -> bytes:
    try:
        data = await stream.read(n)
    except Exception as e:  # noqa: BLE001 - EOF/reset from any transport layer
        raise FrameError(f"stream ended: {type(e).__name__}") from None
    if not data:
        raise FrameError("stream ended")
    return data


def frame(body: bytes) -> bytes:
    out = bytearray()
    n = len(body)
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + body


async def close_quietly(stream: Any) -> None:
    try:
        with trio.move_on_after(1):
            await stream.close()
    except Exception:  # noqa: BLE001
        pass


# -- pull ------------------------------------------------------------------------

Lookup = Callable[[str, int, int], dict[str, bytes]]  # (kind, round, stage) -> sender -> signed message


def pull_response(held: dict[str, bytes], have: set[bytes], max_bytes: int) -> p2p_pb2.PullResponse:
    """What to answer a pull (pure): everything held that the asker lacks, within ``max_bytes``."""
    resp = p2p_pb2.PullResponse()
    size = 0
    for sender, raw in sorted(held.items()):
        sender_bytes = base58.b58decode(sender)
        resp.holds.append(sender_bytes)
        if sender_bytes in have:
            continue
        if size + len(raw) > max_bytes:
            resp.truncated = True
            continue
        resp.messages.append(raw)
        size += len(raw)
    return resp


async def serve_pull(stream: Any, lookup: Lookup, max_response_bytes: int, limit_s: float) -> None:
    with trio.fail_after(limit_s):
        req = p2p_pb2.PullRequest()
        req.ParseFromString(await read_frame(stream, REQUEST_MAX_BYTES))
        budget = min(req.max_bytes or max_response_bytes, max_response_bytes)
        resp = pull_response(lookup(req.kind, req.round, req.stage), set(req.have), budget)
        await stream.write(frame(resp.SerializeToString()))
    await close_quietly(stream)


async def request_pull(
    host: Any, peer_id: Any, protocol: str, req: p2p_pb2.PullRequest, max_response_bytes: int
) -> p2p_pb2.PullResponse:
    """Ask one peer (the caller sets the deadline)."""
    stream = await host.new_stream(peer_id, [protocol])
    try:
        await stream.write(frame(req.SerializeToString()))
        resp = p2p_pb2.PullResponse()
        resp.ParseFromString(await read_frame(stream, max_response_bytes + 4096))
        return resp
    finally:
        await close_quietly(stream)


# -- blobs -------------------------------------------------------------------------


async def serve_blob(stream: Any, blobs: BlobStore, limit_s: float) -> None:
    with trio.fail_after(limit_s):
        req = p2p_pb2.BlobRequest()
        req.ParseFromString(await read_frame(stream, REQUEST_MAX_BYTES))
        data = blobs.get(bytes(req.sha256))
        if data is None:
            header = p2p_pb2.BlobHeader(found=False, error="not offered here")
        elif req.max_bytes and len(data) > req.max_bytes:
            header = p2p_pb2.BlobHeader(found=False, size=len(data), error="larger than max_bytes")
        else:
            header = p2p_pb2.BlobHeader(found=True, size=len(data))
        await stream.write(frame(header.SerializeToString()))
        if header.found:
            for chunk in chunks(data):
                await stream.write(frame(chunk))
    await close_quietly(stream)


class BlobError(SwarmdError):
    """The peer did not deliver the blob (not offered, too large, cut short, or corrupt)."""


async def fetch_blob(host: Any, peer_id: Any, protocol: str, digest: bytes, max_bytes: int) -> bytes:
    stream = await host.new_stream(peer_id, [protocol])
    try:
        await stream.write(frame(p2p_pb2.BlobRequest(sha256=digest, max_bytes=max_bytes).SerializeToString()))
        header = p2p_pb2.BlobHeader()
        header.ParseFromString(await read_frame(stream, REQUEST_MAX_BYTES))
        if not header.found:
            raise BlobError(f"peer refused: {header.error or 'not found'}")
        if header.size > max_bytes:
            raise BlobError(f"peer announced {header.size} bytes, more than max_bytes ({max_bytes})")
        hasher = hashlib.sha256()
        buf = bytearray()
        while len(buf) < header.size:
            chunk = await read_frame(stream, CHUNK_BYTES)
            if not chunk or len(buf) + len(chunk) > header.size:
                raise BlobError("peer sent more or less than it announced")
            hasher.update(chunk)
            buf += chunk
        if hasher.digest() != digest:
            raise BlobError("content does not match its hash")
        return bytes(buf)
    except FrameError as e:
        raise BlobError(str(e)) from None
    finally:
        await close_quietly(stream)


# -- ping --------------------------------------------------------------------------


async def serve_ping(stream: Any, idle_timeout: float) -> None:
    """Echo 8-byte pings until the asker closes or stays silent for ``idle_timeout``."""
    while True:
        with trio.move_on_after(idle_timeout) as idle:
            data = await read_exact(stream, PING_BYTES)
        if idle.cancelled_caught or data is None:
            break
        await stream.write(data)
    await close_quietly(stream)


async def read_exact(stream: Any, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        try:
            data = await stream.read(n - len(buf))
        except Exception:  # noqa: BLE001
            return None
        if not data:
            return None
        buf += data
    return bytes(buf)


class Pinger:
    """One long-lived ping stream per peer; ``ping`` returns the RTT in ms or None when lost."""

    def __init__(self, host: Any, protocol: str) -> None:
        self.host = host
        self.protocol = protocol
        self.streams: dict[str, Any] = {}
        self.unsupported: set[str] = set()

    async def ping(self, peer_id: Any, limit_s: float) -> float | None:
        key = peer_id.to_base58()
        stream = self.streams.get(key)
        ok = False
        try:
            with trio.move_on_after(limit_s):
                if stream is None:
                    try:
                        stream = await self.host.new_stream(peer_id, [self.protocol])
                    except Exception as e:  # noqa: BLE001
                        if "protocol" in str(e).lower():
                            self.unsupported.add(key)
                        return None
                    self.streams[key] = stream
                nonce = os.urandom(PING_BYTES)
                t0 = trio.current_time()
                await stream.write(nonce)
                echo = await read_exact(stream, PING_BYTES)
                ok = echo == nonce
                if ok:
                    return (trio.current_time() - t0) * 1000.0
            return None
        except Exception:  # noqa: BLE001
            return None
        finally:
            if not ok:
                await self.forget(key)

    async def forget(self, key: str) -> None:
        stream = self.streams.pop(key, None)
        if stream is not None:
            try:
                with trio.move_on_after(0.5):
                    await stream.reset()
            except Exception:  # noqa: BLE001
                pass


# -- exchange (observed address, peer exchange, dial-back) ---------------------------

MULTISTREAM_HEADER = b"\x13/multistream/1.0.0\n"
DIAL_BACK_MAX = 8


def remote_address(conn_or_stream: Any) -> tuple[str, int] | None:
    """(ip, port) of the other end of a libp2p connection or stream, if the transport tells."""
    muxed = getattr(conn_or_stream, "muxed_conn", conn_or_stream)
    get = getattr(muxed, "get_remote_address", None)
    try:
        result = get() if callable(get) else None
    except Exception:  # noqa: BLE001
        return None
    if isinstance(result, tuple) and len(result) == 2:
        return str(result[0]), int(result[1])
    return None


async def probe(addr: str, limit_s: float) -> str | None:
    """Dial ``addr`` over TCP and check that a libp2p node answers (multistream header); None if so."""
    from swarmd.p2p.addrs import parse

    t = parse(addr)
    if t is None:
        return "not an /ip4|ip6/.../tcp/... address"
    try:
        with trio.fail_after(limit_s):
            sock = trio.socket.socket(trio.socket.AF_INET6 if t.v6 else trio.socket.AF_INET)
            try:
                await sock.connect((t.ip, t.port))
            except BaseException:
                sock.close()
                raise
            conn = trio.SocketStream(sock)
            try:
                got = b""
                while len(got) < len(MULTISTREAM_HEADER):
                    chunk = await conn.receive_some(len(MULTISTREAM_HEADER) - len(got))
                    if not chunk:
                        break
                    got += chunk
            finally:
                with trio.move_on_after(0.5):
                    await conn.aclose()
    except trio.TooSlowError:
        return f"no answer within {limit_s:.0f}s"
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
    if got != MULTISTREAM_HEADER:
        return "something else answers there"
    return None


ExchangeAnswer = Callable[[str, tuple[str, int] | None, p2p_pb2.ExchangeRequest], Any]


async def serve_exchange(stream: Any, answer: ExchangeAnswer, limit_s: float) -> None:
    with trio.fail_after(limit_s):
        req = p2p_pb2.ExchangeRequest()
        req.ParseFromString(await read_frame(stream, REQUEST_MAX_BYTES))
        peer = stream.muxed_conn.peer_id.to_base58()
        resp = await answer(peer, remote_address(stream), req)
        await stream.write(frame(resp.SerializeToString()))
    await close_quietly(stream)


async def request_exchange(host: Any, peer_id: Any, protocol: str,
                           req: p2p_pb2.ExchangeRequest) -> p2p_pb2.ExchangeResponse:
    """Ask one peer (the caller sets the deadline)."""
    stream = await host.new_stream(peer_id, [protocol])
    try:
        await stream.write(frame(req.SerializeToString()))
        resp = p2p_pb2.ExchangeResponse()
        resp.ParseFromString(await read_frame(stream, REQUEST_MAX_BYTES))
        return resp
    finally:
        await close_quietly(stream)
