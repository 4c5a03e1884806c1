"""Server-Sent Events: the daemon's event bus as a text/event-stream.

Each frame carries one ``Event`` as JSON (proto field names, plus ``type``:
the kind without its prefix, e.g. "round") and its sequence number as the SSE
``id``, so a browser that reconnects sends ``Last-Event-ID`` and gets what it
missed from the bus's history. Framing and replay selection are pure
functions; the handler only moves bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format

from swarmd._pb.swarm.v1 import control_pb2 as pb

if TYPE_CHECKING:
    from swarmd.events import Subscription

log = logging.getLogger(__name__)

_KIND_PREFIX = "EVENT_KIND_"
# By short name ("round") -> enum value; "unspecified" is never emitted.
KINDS = {
    name[len(_KIND_PREFIX):].lower(): value
    for name, value in pb.EventKind.items()
    if value != pb.EVENT_KIND_UNSPECIFIED
}


def kind_name(kind: int) -> str:
    try:
        return pb.EventKind.Name(kind)[len(_KIND_PREFIX):].lower()
    except ValueError:
        return "unknown"


def event_to_json(event: pb.Event) -> dict[str, Any]:
    body = json_format.MessageToDict(event, preserving_proto_field_name=True)
    body["type"] = kind_name(event.kind)
    body["seq"] = event.seq  # uint64 would be a JSON string; sequence numbers stay small
    return body


def frame(event: pb.Event) -> bytes:
    """One SSE frame. JSON has no raw newlines, so ``data`` is one line."""
    data = json.dumps(event_to_json(event), separators=(",", ":"))
    return f"id: {event.seq}\ndata: {data}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"


def parse_kinds(raw: str) -> frozenset[int]:
    """``?kinds=round,peer`` -> enum values; raises ValueError naming an unknown kind."""
    out = set()
    for part in raw.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part not in KINDS:
            raise ValueError(f"unknown event kind '{part}' (known: {', '.join(sorted(KINDS))})")
        out.add(KINDS[part])
    return frozenset(out)


def parse_last_event_id(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    value = int(raw.strip())  # ValueError for the caller to turn into 400
    if value < 0:
        raise ValueError("Last-Event-ID must not be negative")
    return value


def replay(history: Iterable[pb.Event], kinds: frozenset[int], last_id: int | None,
           limit: int) -> list[pb.Event]:
    """What a new stream sends first: everything after ``last_id`` (a reconnect),
    else the newest ``limit`` events; filtered by ``kinds`` (empty: all)."""
    history = list(history)
    if last_id is not None and history and last_id > history[-1].seq:
        # The client saw a higher number than this bus ever issued: the daemon
        # restarted under it, so it is a new client as far as replay goes.
        last_id = None
    chosen = [e for e in history if not kinds or e.kind in kinds]
    if last_id is not None:
        return [e for e in chosen if e.seq > last_id]
    return chosen[-limit:] if limit > 0 else []


async def stream(request: web.Request, sub: Subscription, backlog: list[pb.Event],
                 keepalive_s: float) -> web.StreamResponse:
    """Write ``backlog`` then live events until the client leaves or the bus ends.

    The subscription was taken before ``backlog`` was read from history, so an
    event emitted in between is in both; the sequence number drops the copy.
    """
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # reverse proxies must not buffer the stream
    })
    await resp.prepare(request)
    try:
        sent = 0
        for event in backlog:
            await resp.write(frame(event))
            sent = event.seq
        # A comment tells a client the stream is open even when the backlog is
        # empty (tests wait for it before they trigger events).
        await resp.write(b": ready\n\n")
        while True:
            try:
                event = await asyncio.wait_for(sub.get(), keepalive_s)
            except TimeoutError:
                await resp.write(KEEPALIVE)
                continue
            if event is None:  # the bus closed or the web server is stopping
                break
            if event.seq <= sent:
                continue
            await resp.write(frame(event))
            sent = event.seq
        await resp.write_eof()
    except ConnectionResetError:
        # The browser went away (a closed tab, a reload): nobody to answer.
        log.debug("event stream client %s left", request.remote)
    return resp
