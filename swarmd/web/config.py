"""Configuration of the web subsystem: the dashboard, its JSON endpoints, /healthz and /metrics."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from swarmd.configbase import Section


class WebConfig(Section):
    enabled: bool = Field(
        True, description="Serve the dashboard, the JSON endpoints, /healthz and /metrics."
    )
    host: str = Field(
        "127.0.0.1",
        description="Address to listen on. The page is read-only, but it shows the peer table and "
        "the data directory: keep it on loopback unless a reverse proxy guards it.",
    )
    port: int = Field(
        8080, ge=0, le=65535, description="TCP port; 0 picks any free port (the bound URL is in "
        "`swarmctl status` and the log)."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to besides IP addresses and 'localhost' (e.g. "
        "the name a reverse proxy forwards). A request for any other Host gets 421: a web page "
        "cannot read the dashboard through DNS rebinding.",
    )
    max_query_bytes: int = Field(
        2048, ge=64, le=65536,
        description="Longest query string accepted; longer ones get 414.",
    )
    max_line_bytes: int = Field(
        8190, ge=1024, le=65536,
        description="Longest HTTP request line (method, path and query) the parser accepts.",
    )
    max_header_bytes: int = Field(
        8190, ge=1024, le=65536, description="Longest single HTTP header the parser accepts."
    )
    max_body_bytes: int = Field(
        65536, ge=1024, le=16 * 1024 * 1024,
        description="Largest request body accepted (the JSON endpoints); larger ones get 413.",
    )
    sse_keepalive_s: float = Field(
        15.0, gt=0, le=300,
        description="Interval of keepalive comments on /api/events, so proxies and browsers keep "
        "an idle stream open.",
    )
    sse_replay: int = Field(
        100, ge=0, le=500,
        description="How many recent events a new /api/events client receives first (the "
        "feed is not empty on page load); a reconnecting client gets what it missed instead.",
    )
    max_sse_clients: int = Field(
        32, ge=1, le=1024,
        description="Concurrent /api/events streams; more get 503 (each holds a queue).",
    )
    data_source_timeout_s: float = Field(
        2.0, gt=0, le=60,
        description="Deadline for an in-memory data source that answers asynchronously (the "
        "peer table); an endpoint answers 503 rather than wait longer.",
    )
    max_loop_lag_s: float = Field(
        5.0, gt=0, le=600,
        description="/healthz reports the event loop unhealthy when a timer fires this much "
        "later than scheduled (something is blocking the loop).",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if v in ("localhost", ""):
            return v or "127.0.0.1"
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError("must be an IP address (e.g. '127.0.0.1', '::1', '0.0.0.0') or 'localhost'") from None
        return v
