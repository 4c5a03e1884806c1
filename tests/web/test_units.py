"""The web layer's decisions as pure functions: health, SSE framing and replay, input parsing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.web import api, health, sse
from swarmd.web.server import host_allowed, url_for


def snap(**over) -> health.Snapshot:
    base = dict(daemon_state="running", control_running=True, loop_lag_s=0.01, max_loop_lag_s=5.0,
                trainer_enabled=True, trainer_present=True, trainer_worker_alive=True,
                trainer_ready=True, trainer_state="ready")
    base.update(over)
    return health.Snapshot(**base)


def test_health_all_good() -> None:
    report = health.evaluate(snap())
    assert report.live and report.ready
    assert report.to_json("ready")["status"] == "ok"
    assert report.to_json("ready")["reasons"] == []


def test_health_trainer_worker_down_is_unready_but_live() -> None:
    report = health.evaluate(snap(trainer_worker_alive=False, trainer_state="restarting",
                                  trainer_error="worker exited with -9"))
    assert report.live and not report.ready
    body = report.to_json("ready")
    assert body["status"] == "unhealthy"
    assert body["reasons"] == ["trainer: the trainer worker is down (worker exited with -9)"]
    # The liveness probe does not restart a daemon whose supervisor is already restarting the worker.
    assert report.to_json("live")["status"] == "ok" and report.to_json("live")["reasons"] == []


@pytest.mark.parametrize("over, reason", [
    (dict(trainer_present=False, trainer_worker_alive=None, trainer_ready=None),
     "the trainer subsystem is not running"),
    (dict(trainer_ready=False, trainer_state="starting"), "the trainer worker is not ready (starting)"),
])
def test_health_trainer_not_ready(over, reason) -> None:
    report = health.evaluate(snap(**over))
    assert report.live and not report.ready
    assert report.to_json("ready")["reasons"] == [f"trainer: {reason}"]


def test_health_trainer_disabled_is_fine() -> None:
    report = health.evaluate(snap(trainer_enabled=False, trainer_present=False,
                                  trainer_worker_alive=None, trainer_ready=None))
    assert report.ready
    assert "disabled" in [c for c in report.checks if c.name == "trainer"][0].detail


def test_health_trainer_without_flags_counts_as_up() -> None:
    # A trainer that does not (yet) expose worker_alive/ready is not declared down.
    assert health.evaluate(snap(trainer_worker_alive=None, trainer_ready=None)).ready


@pytest.mark.parametrize("over", [dict(daemon_state="stopping"), dict(daemon_state="starting"),
                                  dict(control_running=False), dict(loop_lag_s=9.0)])
def test_health_not_live(over) -> None:
    report = health.evaluate(snap(**over))
    assert not report.live and not report.ready
    assert report.to_json("live")["status"] == "unhealthy"
    assert report.to_json("live")["reasons"]


def test_health_mesh_and_chain_are_informational() -> None:
    report = health.evaluate(snap(mesh_state="alone", chain_state="unreachable"))
    assert report.ready
    names = {c.name: c.detail for c in report.checks}
    assert names["mesh"] == "alone" and names["chain"] == "unreachable"


def _event(seq: int, kind=pb.EVENT_KIND_LIFECYCLE, message="m") -> pb.Event:
    return pb.Event(seq=seq, time=1.5, kind=kind, message=message)


def test_sse_frame_is_one_json_line_with_id() -> None:
    e = _event(7, pb.EVENT_KIND_ROUND, "round 3 done\nwith a newline")
    e.round.CopyFrom(pb.RoundEvent(round=3, stage=1, winners=["a", "b"], reward=0.5))
    raw = sse.frame(e).decode()
    assert raw.startswith("id: 7\ndata: ") and raw.endswith("\n\n")
    assert raw.count("\n") == 3  # the message's newline is escaped inside the JSON
    body = json.loads(raw.split("data: ", 1)[1])
    assert body["type"] == "round" and body["seq"] == 7
    assert body["round"]["winners"] == ["a", "b"] and body["round"]["round"] == "3"
    assert body["message"] == "round 3 done\nwith a newline"


def test_sse_kinds() -> None:
    assert sse.parse_kinds("") == frozenset()
    assert sse.parse_kinds("round, Peer") == {pb.EVENT_KIND_ROUND, pb.EVENT_KIND_PEER}
    with pytest.raises(ValueError, match="unknown event kind 'gossip'"):
        sse.parse_kinds("round,gossip")
    assert sse.kind_name(pb.EVENT_KIND_REJECTION) == "rejection"
    assert sse.kind_name(999) == "unknown"


def test_sse_last_event_id() -> None:
    assert sse.parse_last_event_id(None) is None and sse.parse_last_event_id(" ") is None
    assert sse.parse_last_event_id("12") == 12
    for bad in ("x", "-1", "1.5"):
        with pytest.raises(ValueError):
            sse.parse_last_event_id(bad)


def test_sse_replay() -> None:
    history = [_event(i, pb.EVENT_KIND_ROUND if i % 2 else pb.EVENT_KIND_PEER) for i in range(1, 11)]
    assert [e.seq for e in sse.replay(history, frozenset(), None, 3)] == [8, 9, 10]
    assert sse.replay(history, frozenset(), None, 0) == []
    assert [e.seq for e in sse.replay(history, frozenset(), 7, 3)] == [8, 9, 10]
    assert [e.seq for e in sse.replay(history, frozenset(), 4, 3)] == [5, 6, 7, 8, 9, 10]  # all missed
    assert [e.seq for e in sse.replay(history, frozenset({pb.EVENT_KIND_ROUND}), None, 2)] == [7, 9]
    assert sse.replay(history, frozenset(), 10, 3) == []
    # A client that saw seq 50 of a previous daemon run is new to this one.
    assert [e.seq for e in sse.replay(history, frozenset(), 50, 2)] == [9, 10]


def test_jsonable_turns_non_finite_floats_into_null() -> None:
    data = {"loss": math.nan, "kl": math.inf, "r": [1.0, -math.inf], 3: "x", "ok": True, "n": None}
    assert api.jsonable(data) == {"loss": None, "kl": None, "r": [1.0, None], "3": "x", "ok": True, "n": None}
    json.dumps(api.jsonable(data), allow_nan=False)
    assert api.jsonable({"s": {3, 1}, "p": Path("/x")}) == {"s": [1, 3], "p": "/x"}


def test_parse_limit() -> None:
    assert api.parse_limit(None) == api.DEFAULT_LIMIT and api.parse_limit("") == api.DEFAULT_LIMIT
    assert api.parse_limit("5") == 5 and api.parse_limit(5) == 5
    for bad in ("abc", "0", "-3", str(api.MAX_LIMIT + 1), 2.5, True, [1]):
        with pytest.raises(ValueError, match="limit"):
            api.parse_limit(bad)


def test_parse_query() -> None:
    assert api.parse_query(None) == "" and api.parse_query("  amber ") == "amber"
    with pytest.raises(ValueError, match="at most"):
        api.parse_query("q" * (api.MAX_QUERY_CHARS + 1))
    with pytest.raises(ValueError, match="string"):
        api.parse_query(3)


@pytest.mark.parametrize("body, message", [
    (b"{", "malformed JSON body"),
    (b"[1]", "must be an object, got list"),
    (b"\xff", "not UTF-8"),
    (b'"s"', "got str"),
])
def test_parse_json_object_rejects(body, message) -> None:
    with pytest.raises(ValueError, match=message):
        api.parse_json_object(body)


def test_parse_json_object_accepts() -> None:
    assert api.parse_json_object(b"") == {}
    assert api.parse_json_object(b' {"query": "a"} ') == {"query": "a"}


@pytest.mark.parametrize("host, url", [
    ("127.0.0.1", "http://127.0.0.1:8080/"),
    ("0.0.0.0", "http://127.0.0.1:8080/"),
    ("::", "http://[::1]:8080/"),
    ("::1", "http://[::1]:8080/"),
    ("localhost", "http://localhost:8080/"),
])
def test_url_for(host, url) -> None:
    assert url_for(host, 8080) == url


def test_web_config_checks_its_keys() -> None:
    from pydantic import ValidationError

    from swarmd.web.config import WebConfig

    assert WebConfig().host == "127.0.0.1" and WebConfig().port == 8080
    assert WebConfig(host="::1", port=0).port == 0
    for bad in ({"host": "example.com"}, {"port": 70000}, {"max_query_bytes": 10}, {"colour": "red"}):
        with pytest.raises(ValidationError):
            WebConfig(**bad)


@pytest.mark.parametrize("host, ok", [
    (None, True), ("127.0.0.1:8080", True), ("127.0.0.1", True), ("[::1]:8080", True), ("::1", True),
    ("localhost:8080", True), ("LOCALHOST", True), ("dash.localhost", True), ("10.1.2.3:80", True),
    ("evil.example", False), ("evil.example:8080", False), ("127.0.0.1.evil.example", False),
    ("swarm.internal:443", True),  # configured below
])
def test_host_allowed(host, ok) -> None:
    assert host_allowed(host, ["swarm.internal"]) is ok


def test_daemon_gauges_yield_to_a_subsystem_exporting_the_same_name(short_tmp) -> None:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from swarmd import identity
    from swarmd.config import Config
    from swarmd.daemon import Daemon
    from swarmd.web.metrics import DaemonCollector

    registry = CollectorRegistry(auto_describe=True)
    daemon = Daemon(Config.model_validate({"node": {"data_dir": str(short_tmp)}}), identity.generate())
    Gauge("swarmd_round", "the swarm's own", registry=registry).set(7)
    registry.register(DaemonCollector(daemon, registry))
    # Defined after the collector: must not clash either.
    Gauge("swarmd_stage", "the swarm's own", registry=registry).set(2)

    def scrape() -> dict[str, list]:
        text = generate_latest(registry).decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    families = scrape()
    assert [s.value for s in families["swarmd_round"]] == [7]  # one series, the swarm's
    assert [s.value for s in families["swarmd_stage"]] == [2]
    assert families["swarmd_uptime_seconds"][0].value >= 0
    assert families["swarmd_node_info"][0].labels["peer_id"] == daemon.identity.peer_id
