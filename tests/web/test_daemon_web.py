"""The web subsystem inside a real swarmd process: endpoints, /metrics, /healthz, bad requests, SSE."""

from __future__ import annotations

import os
import signal
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from swarmd._pb.swarm.v1 import control_pb2 as pb
from tests.support.poll import wait_until
from tests.web.conftest import bare
from tests.web.http import EventStream, raw, request

pytestmark = pytest.mark.process


def test_status_matches_control_plane(web_node) -> None:
    d, url = web_node
    grpc_status = d.status()
    body = request(url, "/api/status").json()
    assert body["peer_id"] == grpc_status.peer_id
    assert body["name"] == grpc_status.name
    assert body["version"] == grpc_status.version
    assert body["state"] == "running"
    assert body["dashboard_url"] == url
    # proto field names, every field present (the page relies on both)
    assert set(body["round"]) >= {"round", "stage", "phase", "stage_count"}
    assert body["mesh"]["state"] == "disabled"


def test_page_and_static_files_are_served_from_the_daemon(web_node) -> None:
    _, url = web_node
    page = request(url, "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    for asset in ("/static/app.js", "/static/chart.js", "/static/style.css"):
        assert asset in html
        r = request(url, asset)
        assert r.status == 200 and len(r.body) > 500, asset
    assert "http" not in html.split("<body>")[0].replace("http-equiv", "")  # no CDN in <head>
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert request(url, "/static/../config.toml").status == 404
    assert request(url, "/static/nope.js").status == 404


def test_absent_parts_answer_503_with_the_reason(web_node) -> None:
    _, url = web_node
    for path, section in (("/api/peers", "p2p"), ("/api/leaderboard?q=x", "swarm"),
                          ("/api/rounds", "swarm"), ("/api/training", "trainer")):
        r = request(url, path)
        assert r.status == 503, path
        assert f"{section}.enabled = false" in r.json()["error"], path


def test_healthz_ready_and_live(web_node) -> None:
    _, url = web_node
    r = request(url, "/healthz")
    assert r.status == 200
    body = r.json()
    assert body["status"] == "ok" and body["live"] and body["ready"]
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["control"]["ok"] and checks["event_loop"]["ok"]
    assert "disabled" in checks["trainer"]["detail"]
    assert request(url, "/healthz?probe=live").json()["probe"] == "live"
    assert request(url, "/healthz?probe=maybe").status == 400


def test_healthz_unhealthy_while_the_trainer_worker_is_down(daemons) -> None:
    # The real trainer on the tiny random model (no download): /healthz is
    # ready once the worker is, turns 503 naming the trainer when the worker
    # is killed, and recovers when the supervisor has restarted it.
    d = daemons("web", config=bare(trainer={"enabled": True, "model": "tiny", "threads": 1}))
    url = d.status().dashboard_url
    wait_until(lambda: request(url, "/healthz").status == 200, timeout=240,
               what="ready once the trainer worker is up")
    pid = d.status().training.worker_pid
    assert pid > 0
    os.kill(pid, signal.SIGKILL)
    down = wait_until(lambda: (r := request(url, "/healthz")).status == 503 and r.json(),
                      timeout=60, what="/healthz unhealthy")
    assert down["live"] and not down["ready"]
    assert any(reason.startswith("trainer:") for reason in down["reasons"]), down
    assert request(url, "/healthz?probe=live").status == 200  # the daemon itself is fine
    wait_until(lambda: request(url, "/healthz").status == 200, timeout=240,
               what="ready again after the worker restarted")
    assert d.status().training.worker_pid not in (0, pid)


def test_metrics_parse_and_carry_daemon_gauges(web_node) -> None:
    d, url = web_node
    assert request(url, "/api/status").status == 200
    stream = EventStream(url)
    try:
        stream.backlog()  # the stream is subscribed now
        r = request(url, "/metrics")
        assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(r.body.decode())}
    finally:
        stream.close()
    for name in ("swarmd_uptime_seconds", "swarmd_round", "swarmd_stage",
                 "swarmd_event_subscribers", "swarmd_events_published", "swarmd_node_info",
                 "swarmd_http_requests", "swarmd_sse_clients", "swarmd_daemon_state"):
        assert name in families, f"{name} missing from /metrics"
    value = lambda name: families[name].samples[0].value  # noqa: E731
    assert value("swarmd_uptime_seconds") > 0
    assert value("swarmd_event_subscribers") >= 1  # our stream
    assert value("swarmd_sse_clients") == 1
    assert value("swarmd_round") == 0
    node = families["swarmd_node_info"].samples[0].labels
    assert node["peer_id"] == d.status().peer_id
    running = [s for s in families["swarmd_daemon_state"].samples if s.labels["state"] == "running"]
    assert running[0].value == 1
    routes = {(s.labels["route"], s.labels["code"]) for s in families["swarmd_http_requests"].samples
              if s.name.endswith("_total")}
    assert {("/api/status", "200"), ("/api/events", "200")} <= routes


def test_bad_requests_get_4xx_never_500(web_node) -> None:
    d, url = web_node
    cases = [
        ("unknown route", request(url, "/no/such/thing"), 404),
        ("unknown api", request(url, "/api/nope"), 404),
        ("wrong method", request(url, "/api/status", method="DELETE"), 405),
        ("POST to a GET endpoint", request(url, "/api/status", method="POST", body=b"{}"), 405),
        ("long query string", request(url, "/api/leaderboard?q=" + "x" * 4000), 414),
        ("bad limit", request(url, "/api/leaderboard?limit=abc"), 400),
        ("limit out of range", request(url, "/api/rounds?limit=99999999"), 400),
        ("long search", request(url, "/api/leaderboard?q=" + "y" * 300), 400),
        ("malformed JSON", request(url, "/api/leaderboard", method="POST", body=b"{\"query\": ",
                                   headers={"Content-Type": "application/json"}), 400),
        ("JSON not an object", request(url, "/api/leaderboard", method="POST", body=b"[1, 2]"), 400),
        ("unknown JSON field", request(url, "/api/leaderboard", method="POST", body=b'{"drop": 1}'), 400),
        ("non-UTF-8 body", request(url, "/api/leaderboard", method="POST", body=b"\xff\xfe{"), 400),
        ("huge body", request(url, "/api/leaderboard", method="POST", body=b"{" + b" " * 200_000 + b"}"), 413),
        ("unknown event kind", request(url, "/api/events?kinds=gossip"), 400),
        ("bad Last-Event-ID", request(url, "/api/events", headers={"Last-Event-ID": "x"}), 400),
        ("a rebound host name", request(url, "/api/status", headers={"Host": "evil.example"}), 421),
    ]
    for what, reply, expected in cases:
        assert reply.status == expected, f"{what}: {reply.status} {reply.body[:200]!r}"
        assert reply.json()["error"], what  # a JSON body that says what was wrong
    # Beyond what the parser accepts at all: a 100 kB request line, a 64 kB
    # header, 500 headers, garbage instead of HTTP.
    huge_line = b"GET /api/leaderboard?q=" + b"z" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    huge_header = b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 65_536 + b"\r\n\r\n"
    many_headers = b"GET /api/status HTTP/1.1\r\n" + b"".join(
        b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n"
    for what, data in (("request line", huge_line), ("header", huge_header),
                       ("header count", many_headers), ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n")):
        status = raw(url, data)
        assert 400 <= status < 500, f"{what}: {status}"
    # Still healthy, and nothing logged a traceback.
    assert request(url, "/healthz").status == 200
    assert d.status().state == "running"
    assert "Traceback" not in d.log()
    metrics = request(url, "/metrics").body.decode()
    malformed = [f for f in text_string_to_metric_families(metrics)
                 if f.name == "swarmd_http_malformed_requests"][0]
    assert sum(s.value for s in malformed.samples if s.name.endswith("_total")) >= 4


def test_sse_replays_then_delivers_lifecycle_events_live(web_node) -> None:
    d, url = web_node
    stream = EventStream(url)
    assert stream.status == 200 and stream.headers["content-type"].startswith("text/event-stream")
    backlog = stream.backlog()
    phases = [f["lifecycle"]["phase"] for f in backlog if f["type"] == "lifecycle"]
    assert phases[0] == "starting" and "ready" in phases
    started = {f["lifecycle"]["subsystem"] for f in backlog if f["lifecycle"]["phase"] == "subsystem_started"}
    assert started == {"control", "web"}
    assert [int(f["_id"]) for f in backlog] == [f["seq"] for f in backlog]
    # Live: ask the daemon to stop; the stream carries "stopping", then ends.
    d.call("Shutdown", pb.ShutdownRequest())
    stopping = stream.until(lambda f: f["type"] == "lifecycle" and f["lifecycle"]["phase"] == "stopping",
                            what="the stopping event")
    assert stopping["seq"] > backlog[-1]["seq"]
    assert stream.next_frame() is None  # the server closed the stream
    stream.close()
    assert d.wait_exit(30) == 0


def test_sse_resumes_after_last_event_id_and_filters_kinds(web_node) -> None:
    _, url = web_node
    first = EventStream(url)
    backlog = first.backlog()
    first.close()
    assert len(backlog) >= 4
    resumed = EventStream(url, headers={"Last-Event-ID": str(backlog[1]["seq"])})
    again = resumed.backlog()
    resumed.close()
    assert [f["seq"] for f in again] == [f["seq"] for f in backlog[2:]]
    # A Last-Event-ID from before a restart (higher than any seq) replays as new.
    stale = EventStream(url, headers={"Last-Event-ID": "999999"})
    assert [f["seq"] for f in stale.backlog()] == [f["seq"] for f in backlog]
    stale.close()
    rounds_only = EventStream(url, path="/api/events?kinds=round,chain")
    assert rounds_only.backlog() == []
    rounds_only.close()


def test_event_streams_are_capped(daemons) -> None:
    d = daemons("web", config=bare(web={"port": 0, "max_sse_clients": 2}))
    url = d.status().dashboard_url
    streams = [EventStream(url) for _ in range(2)]
    for s in streams:
        s.backlog()
    third = request(url, "/api/events")
    assert third.status == 503 and "max_sse_clients" in third.json()["error"]
    streams[0].close()
    # The server notices the closed stream and frees its slot.
    def slot_free() -> bool:
        probe = EventStream(url, path="/api/events?kinds=chain", timeout=5)
        probe.close()
        return probe.status == 200

    wait_until(slot_free, timeout=30, what="a free event-stream slot")
    streams[1].close()


def test_web_disabled_serves_nothing(daemons) -> None:
    d = daemons("web", config=bare(web={"enabled": False}))
    assert d.status().dashboard_url == ""
    assert "dashboard at" not in d.log()


def test_port_in_use_leaves_the_node_running_without_a_dashboard(daemons) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        d = daemons("web", config=bare(web={"port": port}))
        status = d.status()
        assert status.state == "running" and status.dashboard_url == ""
        assert f"cannot listen on 127.0.0.1:{port}" in d.log()
