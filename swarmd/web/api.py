"""The JSON endpoints behind the dashboard (documented in docs/dashboard.md).

Every handler reads in-memory state only: the daemon's status, the swarm's
leaderboard and round history, the trainer's curve points, the peer table.
Nothing waits on the trainer worker or the chain. A part that does not exist
(yet, or disabled) answers 503 with the reason, which the page shows as "not
available"; a part that raises answers 503 too and the error is logged.

Protobuf messages are rendered with ``json_format`` and proto field names, as
``swarmctl --json`` does (so 64-bit integers are JSON strings, per the proto3
JSON mapping).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format

from swarmd.errors import ControlError, SwarmdError
from swarmd.web import health, sse
from swarmd.web.metrics import SSE_CLIENTS

if TYPE_CHECKING:
    from swarmd.daemon import Daemon
    from swarmd.web.config import WebConfig

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 200


class Unavailable(SwarmdError):
    """A data source is absent or failed; becomes 503 with this message."""


# -- pure helpers ---------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """JSON-ready data: non-finite floats as null (JSON has no NaN; browsers reject
    it), sets as sorted lists, anything else unknown as its string."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if value is None or isinstance(value, bool | int | str):
        return value
    # Whatever else a subsystem put in a record (an enum, a path) is shown,
    # not allowed to turn the whole answer into an error.
    return str(value)


def parse_limit(raw: Any, default: int = DEFAULT_LIMIT) -> int:
    """``limit`` from a query string or JSON body; ValueError names what is wrong."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("limit must be an integer")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"limit must be an integer, got {str(raw)[:32]!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def parse_query(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValueError("query must be a string")
    if len(raw) > MAX_QUERY_CHARS:
        raise ValueError(f"query must be at most {MAX_QUERY_CHARS} characters")
    return raw.strip()


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object; ValueError says why not."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise ValueError("request body is not UTF-8") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON body: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(value, dict):
        raise ValueError(f"JSON body must be an object, got {type(value).__name__}")
    return value


def message_json(message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        jsonable(data), status=status, dumps=lambda v: json.dumps(v, separators=(",", ":"))
    )


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": message}), content_type="application/json"
    )


# -- handlers --------------------------------------------------------------------


class Api:
    def __init__(self, daemon: Daemon, config: WebConfig, loop_lag: Callable[[], float]) -> None:
        self.daemon = daemon
        self.config = config
        self.loop_lag = loop_lag
        self.sse_clients = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api", self.index, allow_head=False),
            web.get("/api/status", self.status),
            web.get("/api/peers", self.peers),
            web.get("/api/leaderboard", self.leaderboard),
            web.post("/api/leaderboard", self.leaderboard_post),
            web.get("/api/rounds", self.rounds),
            web.get("/api/training", self.training),
            web.get("/api/evaluations", self.evaluations),
            web.get("/api/events", self.events, allow_head=False),
            web.get("/healthz", self.healthz),
        ]

    def _part(self, attr: str, what: str, section: str) -> Any:
        part = getattr(self.daemon, attr)
        if part is not None:
            return part
        if not getattr(self.daemon.config, section).enabled:
            raise Unavailable(f"{what} is disabled on this node ({section}.enabled = false)")
        if attr == "trainer" and self.daemon.config.node.mode == "bootnode":
            raise Unavailable("this node is a bootnode: it relays and coordinates but trains nothing; "
                              "a trainer's dashboard shows training and every peer's rewards")
        raise Unavailable(f"{what} is not available on this node")

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Unavailable:
            raise
        except ControlError as e:  # the subsystem's own, operator-readable refusal
            raise Unavailable(str(e)) from None
        except Exception as e:
            log.exception("%s failed", what)
            raise Unavailable(f"{what} failed ({type(e).__name__}); see the daemon log") from None

    async def index(self, request: web.Request) -> web.Response:
        return json_response({"endpoints": [
            "/api/status", "/api/peers", "/api/leaderboard?q=&limit=", "/api/rounds?limit=",
            "/api/training?limit=", "/api/evaluations?limit=", "/api/events?kinds=", "/healthz?probe=live|ready", "/metrics",
        ]})

    async def status(self, request: web.Request) -> web.Response:
        status = self._call("status", self.daemon.status)
        body = message_json(status)
        body["node_mode"] = self.daemon.config.node.mode  # the page explains a bootnode's empty panels
        return json_response(body)

    async def peers(self, request: web.Request) -> web.Response:
        mesh = self._part("mesh", "the p2p mesh", "p2p")
        include_stale = request.query.get("include_stale", "true").lower() not in ("0", "false", "no")
        try:
            reply = await asyncio.wait_for(
                mesh.list_peers(include_stale=include_stale), self.config.data_source_timeout_s
            )
        except TimeoutError:
            raise Unavailable(
                f"the peer table did not answer within {self.config.data_source_timeout_s:g}s"
            ) from None
        except ControlError as e:  # e.g. the mesh is still starting
            raise Unavailable(str(e)) from None
        except Exception as e:
            log.exception("list_peers failed")
            raise Unavailable(f"the peer table failed ({type(e).__name__}); see the daemon log") from None
        return json_response(message_json(reply))

    def _leaderboard(self, query: Any, limit: Any) -> web.Response:
        try:
            q = parse_query(query)
            n = parse_limit(limit)
        except ValueError as e:
            raise bad_request(str(e)) from None
        swarm = self._part("swarm", "the swarm game", "swarm")
        board = self._call("the leaderboard", lambda: swarm.leaderboard(q, n))
        body = message_json(board)
        body["query"] = q
        return json_response(body)

    async def leaderboard(self, request: web.Request) -> web.Response:
        return self._leaderboard(request.query.get("q", request.query.get("query")),
                                 request.query.get("limit"))

    async def leaderboard_post(self, request: web.Request) -> web.Response:
        # Larger than client_max_size raises 413 here, before anything is parsed.
        body = await request.read()
        try:
            obj = parse_json_object(body)
        except ValueError as e:
            raise bad_request(str(e)) from None
        unknown = sorted(set(obj) - {"query", "q", "limit"})
        if unknown:
            raise bad_request(f"unknown field(s) in JSON body: {', '.join(unknown)}")
        return self._leaderboard(obj.get("query", obj.get("q")), obj.get("limit"))

    async def rounds(self, request: web.Request) -> web.Response:
        try:
            n = parse_limit(request.query.get("limit"))
        except ValueError as e:
            raise bad_request(str(e)) from None
        swarm = self._part("swarm", "the swarm game", "swarm")
        history = self._call("the round history", lambda: swarm.round_history(n))
        return json_response({
            "self_peer_id": self.daemon.identity.peer_id,
            "names": self._names(),
            "rounds": list(history),
        })

    def _names(self) -> dict[str, str]:
        """Peer ID -> name for the chart legend, from the leaderboard (best effort)."""
        names = {self.daemon.identity.peer_id: self.daemon.identity.name}
        try:
            for entry in self.daemon.swarm.leaderboard("", MAX_LIMIT).entries:
                if entry.name:
                    names.setdefault(entry.peer_id, entry.name)
        except Exception:  # noqa: BLE001 - names are decoration; the chart falls back to IDs
            log.debug("leaderboard names unavailable", exc_info=True)
        return names

    async def training(self, request: web.Request) -> web.Response:
        try:
            n = parse_limit(request.query.get("limit"), default=500)
        except ValueError as e:
            raise bad_request(str(e)) from None
        trainer = self._part("trainer", "the trainer", "trainer")
        points = self._call("the training history", lambda: trainer.history(n))
        return json_response({"points": list(points)})

    async def evaluations(self, request: web.Request) -> web.Response:
        try:
            n = parse_limit(request.query.get("limit"), default=500)
        except ValueError as e:
            raise bad_request(str(e)) from None
        swarm = self._part("swarm", "the swarm game", "swarm")
        return json_response({"evaluations": self._call("the evaluations", lambda: swarm.evaluations(n))})

    def health_snapshot(self) -> health.Snapshot:
        d = self.daemon
        trainer = d.trainer
        status = d.status()
        return health.Snapshot(
            daemon_state=d.state,
            control_running=d.control is not None,
            loop_lag_s=self.loop_lag(),
            max_loop_lag_s=self.config.max_loop_lag_s,
            # A bootnode never runs a trainer, whatever trainer.enabled says.
            trainer_enabled=d.config.trainer.enabled and d.config.node.mode == "trainer",
            trainer_present=trainer is not None,
            trainer_worker_alive=getattr(trainer, "worker_alive", None) if trainer is not None else None,
            trainer_ready=getattr(trainer, "ready", None) if trainer is not None else None,
            trainer_state=status.training.state,
            trainer_error=status.training.last_error,
            mesh_state=status.mesh.state,
            chain_state=status.chain.state,
        )

    async def healthz(self, request: web.Request) -> web.Response:
        probe = request.query.get("probe", "ready")
        if probe not in ("live", "ready"):
            raise bad_request("probe must be 'live' or 'ready'")
        report = health.evaluate(self.health_snapshot())
        body = report.to_json(probe)  # type: ignore[arg-type]
        return json_response(body, status=200 if report.healthy(probe) else 503)  # type: ignore[arg-type]

    async def events(self, request: web.Request) -> web.StreamResponse:
        try:
            kinds = sse.parse_kinds(request.query.get("kinds", ""))
            last_id = sse.parse_last_event_id(
                request.headers.get("Last-Event-ID", request.query.get("last_event_id"))
            )
        except ValueError as e:
            raise bad_request(str(e)) from None
        if self.sse_clients >= self.config.max_sse_clients:
            raise Unavailable(f"too many event streams (web.max_sse_clients = {self.config.max_sse_clients})")
        bus = self.daemon.events
        if bus.closed:
            raise Unavailable("the daemon is stopping")
        sub = bus.subscribe(kinds)
        self.sse_clients += 1
        SSE_CLIENTS.inc()
        streams: set = request.app[STREAMS]
        streams.add(sub)
        try:
            backlog = sse.replay(bus.history, kinds, last_id, self.config.sse_replay)
            return await sse.stream(request, sub, backlog, self.config.sse_keepalive_s)
        finally:
            streams.discard(sub)
            sub.close()
            self.sse_clients -= 1
            SSE_CLIENTS.dec()


# Open event-stream subscriptions, so stopping the server can end them first.
STREAMS: web.AppKey[set] = web.AppKey("swarmd_streams", set)
