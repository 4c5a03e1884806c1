"""Small synchronous HTTP helpers for the web tests (stdlib only, so a request is exactly what we send)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


def _hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def request(base: str, path: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 15.0) -> Reply:
    host, port = _hostport(base)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def raw(base: str, data: bytes, timeout: float = 15.0) -> int:
    """Send bytes as they are (requests http.client would refuse to build); the status code."""
    host, port = _hostport(base)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    status_line = reply.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1."), f"no HTTP status line in {reply[:200]!r}"
    return int(status_line.split()[1])


class EventStream:
    """A client of /api/events: frames as dicts, comments skipped, EOF as None."""

    def __init__(self, base: str, path: str = "/api/events", headers: dict[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        host, port = _hostport(base)
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.comments: list[str] = []

    def _next(self) -> tuple[str, Any] | None:
        """("frame", dict) or ("comment", text); None at the end of the stream."""
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line == "":
                if fields:
                    frame = json.loads(fields["data"])
                    frame["_id"] = fields.get("id")
                    return "frame", frame
                continue
            if line.startswith(":") and not fields:
                self.comments.append(line[1:].strip())
                return "comment", line[1:].strip()
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")

    def backlog(self) -> list[dict[str, Any]]:
        """The replayed frames, up to the server's "ready" comment (the stream is live after it)."""
        frames = []
        while True:
            item = self._next()
            if item is None:
                raise EOFError("stream ended before it was ready")
            if item == ("comment", "ready"):
                return frames
            if item[0] == "frame":
                frames.append(item[1])

    def next_frame(self) -> dict[str, Any] | None:
        """The next event frame; None when the server ended the stream."""
        while True:
            item = self._next()
            if item is None:
                return None
            if item[0] == "frame":
                return item[1]

    def until(self, predicate, timeout: float = 30.0, what: str = "event") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            frame = self.next_frame()
            if frame is None:
                raise EOFError(f"stream ended before {what}; saw {[f.get('message') for f in seen]}")
            seen.append(frame)
            if predicate(frame):
                return frame
        raise TimeoutError(f"{what} not seen within {timeout}s; saw {[f.get('message') for f in seen]}")

    def close(self) -> None:
        self.conn.close()
