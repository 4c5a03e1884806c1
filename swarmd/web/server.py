"""The web subsystem: an aiohttp server inside the daemon's event loop.

It serves the dashboard page and its static files (read into memory at start,
so no request touches the disk), the JSON endpoints of ``api.py``, the event
stream, /healthz and /metrics. Handlers only read in-memory state, so the
server cannot slow training (another process) or gossip (another thread).

Hostile or broken requests get a 4xx with a JSON body naming the problem:
aiohttp's parser bounds the request line and headers, the app bounds query
strings and bodies, the router answers 404/405. A handler bug answers 500 and
is logged; a missing or failing data source answers 503.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import exposition, generate_latest

from swarmd.metrics import REGISTRY
from swarmd.web.api import STREAMS, Api, Unavailable
from swarmd.web.metrics import (
    HTTP_MALFORMED,
    HTTP_REQUESTS,
    LOOP_LAG,
    DaemonCollector,
)

if TYPE_CHECKING:
    from swarmd._pb.swarm.v1 import control_pb2 as pb
    from swarmd.daemon import Daemon

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads nothing from elsewhere: no CDN, no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
LAG_INTERVAL_S = 0.5


class _MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request its parser rejects (an oversized line, garbage
    bytes) at ERROR with a traceback. That is the client's fault and anyone can
    send it, so it becomes one DEBUG line and a counter, not log noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            HTTP_MALFORMED.labels(type(exc).__name__).inc()
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            first_line = (exc.message or type(exc).__name__).strip().splitlines()[0][:160]
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args = "rejected a malformed HTTP request from %s: %s", (remote, first_line)
            record.exc_info, record.exc_text = None, None
        return True


# The server's own logger (aiohttp's is shared by any aiohttp server in the process).
http_log = logging.getLogger("swarmd.web.http")
http_log.addFilter(_MalformedRequestFilter())


def load_static() -> dict[str, tuple[bytes, str]]:
    """Every file of swarmd/web/static, by name, with its content type."""
    out: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("swarmd.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in STATIC_TYPES:
            out[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    if "index.html" not in out:
        raise RuntimeError("swarmd/web/static/index.html is missing from the installation")
    return out


def url_for(host: str, port: int) -> str:
    """The URL a person on this machine opens; a wildcard bind is reached via loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}/"


def host_allowed(host_header: str | None, allowed: list[str]) -> bool:
    """Whether a request's Host names this server: an IP address, localhost, or a configured name.

    A page on evil.example that re-points its DNS at 127.0.0.1 still sends
    ``Host: evil.example``; refusing unknown names stops it reading the JSON.
    """
    if not host_header:
        return True  # HTTP/1.0 clients; a browser always sends Host
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1:host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or host in (h.lower() for h in allowed):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"error": message}),
        content_type="application/json", headers=headers,
    )


def _route_label(request: web.Request) -> str:
    # The route pattern, not the path, keeps the metric's label set bounded.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


class WebServer:
    """Subsystem ``web``: the dashboard, JSON endpoints, /healthz and /metrics."""

    name = "web"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.config = daemon.config.web
        self.url = ""
        self.port: int | None = None
        self.loop_lag_s = 0.0
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self._lag_task: asyncio.Task | None = None
        self._collector: DaemonCollector | None = None
        self._static: dict[str, tuple[bytes, str]] = {}

    # -- the application ----------------------------------------------------------

    def build_app(self) -> web.Application:
        self._static = load_static()
        api = Api(self.daemon, self.config, lambda: self.loop_lag_s)
        app = web.Application(
            middlewares=[self._middleware], client_max_size=self.config.max_body_bytes
        )
        app[STREAMS] = set()
        app.add_routes([
            web.get("/", self._index),
            web.get("/static/{name}", self._static_file),
            web.get("/metrics", self._metrics),
            *api.routes(),
        ])
        app.on_response_prepare.append(self._on_prepare)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), self.config.allowed_hosts):
            return _error(421, f"this server does not answer for host {request.headers['Host'][:100]!r} "
                               f"(web.allowed_hosts)")
        if len(request.query_string) > self.config.max_query_bytes:
            return _error(414, f"query string longer than {self.config.max_query_bytes} bytes "
                               f"(web.max_query_bytes)")
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.status < 400:
                raise
            if e.content_type == "application/json":
                return web.Response(status=e.status, text=e.text, content_type="application/json",
                                    headers={k: v for k, v in e.headers.items() if k == "Allow"})
            message = {
                404: f"no such endpoint: {request.path[:200]}",
                405: f"method {request.method} not allowed on {request.path[:200]}",
                413: f"request body larger than {self.config.max_body_bytes} bytes "
                     f"(web.max_body_bytes)",
            }.get(e.status, e.reason)
            headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
            return _error(e.status, message, headers)
        except Unavailable as e:
            return _error(503, str(e))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("web request %s %s failed", request.method, request.path[:200])
            return _error(500, "internal error; see the daemon log")

    async def _on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        # Counted when the answer starts, so an open event stream counts too.
        HTTP_REQUESTS.labels(_route_label(request), str(response.status)).inc()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cache-Control", "no-store")

    async def _index(self, request: web.Request) -> web.Response:
        body, ctype = self._static["index.html"]
        return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache"})

    async def _static_file(self, request: web.Request) -> web.Response:
        found = self._static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, ctype = found
        return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache"})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": METRICS_CONTENT_TYPE})

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._app = self.build_app()
        self._runner = web.AppRunner(
            self._app,
            handle_signals=False,  # the daemon owns SIGTERM/SIGINT
            access_log=None,
            shutdown_timeout=2.0,
            handler_cancellation=True,  # a closed tab ends its event stream at once
            max_line_size=self.config.max_line_bytes,
            max_field_size=self.config.max_header_bytes,
            logger=http_log,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            # Monitoring is not worth stopping training for: the node runs on
            # without a dashboard, and says so loudly (status shows no URL).
            await self._runner.cleanup()
            self._runner = None
            log.error(
                "dashboard not served: cannot listen on %s:%s (%s); set web.port "
                "(0 = any free port) or web.enabled = false",
                self.config.host, self.config.port, e.strerror or e,
            )
            return
        self.port = int(self._runner.addresses[0][1])
        self.url = url_for(self.config.host, self.port)
        self._collector = DaemonCollector(self.daemon, REGISTRY)
        REGISTRY.register(self._collector)
        self._lag_task = asyncio.create_task(self._measure_lag(), name="web-loop-lag")
        log.info("dashboard at %s", self.url, extra={"url": self.url})

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.loop_lag_s = max(0.0, loop.time() - t0 - LAG_INTERVAL_S)
            LOOP_LAG.set(self.loop_lag_s)

    async def stop(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
        if self._app is not None:
            # End open event streams first (after what is queued), or cleanup
            # would wait out its timeout on them.
            for sub in list(self._app[STREAMS]):
                sub.offer(None)
        if self._runner is not None:
            t0 = time.monotonic()
            await self._runner.cleanup()
            log.debug("web server closed in %.2fs", time.monotonic() - t0)
        if self._collector is not None:
            REGISTRY.unregister(self._collector)
            self._collector = None
        self.url = ""

    def fill_status(self, status: pb.Status) -> None:
        status.dashboard_url = self.url
