"""Daemon lifecycle and the control plane, on real processes and the real unix socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from tests.support.daemons import SWARMCTL, DaemonProcess
from tests.support.poll import wait_until

pytestmark = pytest.mark.process

# Lifecycle tests need no model: the trainer is off unless a test is about the whole stack.
LIGHT = {"trainer": {"enabled": False}}


def test_status_json_and_stable_identity(daemons) -> None:
    d = daemons("a", config=LIGHT)
    out = d.ctl_json("status")
    assert out["peer_id"].startswith("12D3KooW")
    assert len(out["name"].split()) == 3
    assert out["state"] == "running"
    key = d.data_dir / "identity.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert d.stop() == 0
    d.start()
    again = d.ctl_json("status")
    assert again["peer_id"] == out["peer_id"] and again["name"] == out["name"]


def test_second_daemon_on_same_data_dir_refuses(daemons) -> None:
    first = daemons("a", config=LIGHT)
    second = DaemonProcess(first.data_dir, name="second")
    second.config_tree = {}
    proc = subprocess.run(
        [sys.executable, "-m", "swarmd", "--data-dir", str(first.data_dir)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 3
    assert "another swarmd" in proc.stderr and str(first.data_dir) in proc.stderr
    assert str(first.proc.pid) in proc.stderr
    assert first.status().state == "running"  # the first one is untouched


def test_sigterm_exits_zero_and_cleans_up(daemons) -> None:
    # the whole stack: mesh, trainer worker (tiny model), swarm game, dashboard
    d = daemons("a", config={"node": {"shutdown_timeout_s": 10}})
    wait_until(lambda: d.status().training.state == "ready", 120, what="trainer ready")
    worker = d.status().training.worker_pid
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0
    assert time.monotonic() - t0 < 10
    assert not d.socket.exists()
    assert not (d.data_dir / "swarmd.lock").exists()
    assert not Path(f"/proc/{worker}").exists()  # the trainer worker is gone too


def test_stale_socket_of_killed_daemon_does_not_block(daemons) -> None:
    d = daemons("a", config=LIGHT)
    peer = d.status().peer_id
    d.kill()  # SIGKILL: socket and lock file stay behind
    assert d.socket.exists()
    r = d.ctl("status")
    assert r.returncode == 3 and "stale socket" in r.stderr
    d.start()
    assert d.status().peer_id == peer


def test_sigint_also_stops_gracefully(daemons) -> None:
    d = daemons("a", config=LIGHT)
    d.signal(signal.SIGINT)
    assert d.wait_exit(15) == 0


def test_disabled_subsystems_refuse_clearly(daemons) -> None:
    off = {s: {"enabled": False} for s in ("p2p", "chain", "trainer", "swarm", "web")}
    d = daemons("a", config=off)
    for verb, key in (
        (["register"], "chain.enabled"),
        (["peers"], "p2p.enabled"),
        (["join", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWxyz"], "p2p.enabled"),
        (["leave"], "p2p.enabled"),
        (["round", "advance"], "swarm.enabled"),
        (["leaderboard"], "swarm.enabled"),
        (["export", "/tmp/x"], "trainer.enabled"),
    ):
        r = d.ctl(*verb)
        assert r.returncode == 4, (verb, r.stderr)
        assert "disabled" in r.stderr and key in r.stderr and "Traceback" not in r.stderr
    status = d.ctl_json("status")
    assert status["mesh"]["state"] == "disabled" and status["chain"]["state"] == "disabled"


def test_swarmctl_exit_codes_without_daemon(short_tmp: Path) -> None:
    r = subprocess.run([*SWARMCTL, "--socket", str(short_tmp / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "no daemon socket" in r.stderr
    r = subprocess.run([*SWARMCTL, "frobnicate"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2


def _as_other_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def test_socket_permissions_are_access_control(daemons) -> None:
    d = daemons("a", config=LIGHT)
    assert stat.S_IMODE(d.socket.stat().st_mode) == 0o660
    prefix = _as_other_user()
    if not prefix:
        d.socket.chmod(0o000)  # as a normal user, take our own access away instead
    else:
        # the other user must be able to reach the socket path to be refused by its mode
        for parent in [d.socket.parent, *d.socket.parent.parents]:
            parent.chmod(parent.stat().st_mode | 0o001)
    r = d.ctl("status", user_cmd=prefix)
    assert r.returncode == 4, r.stderr
    assert "permission denied" in r.stderr and "Traceback" not in r.stderr


def test_tcp_requires_token(daemons) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = daemons("a", config={**LIGHT, "control": {"tcp_address": f"127.0.0.1:{port}"}})
    token_file = d.data_dir / "control.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    base = [*SWARMCTL, "--address", f"127.0.0.1:{port}"]
    r = subprocess.run([*base, "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 4 and "bearer token" in r.stderr
    bad = d.data_dir / "bad.token"
    bad.write_text("x" * 40)
    r = subprocess.run([*base, "--token-file", str(bad), "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 4
    r = subprocess.run([*base, "--token-file", str(token_file), "--json", "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["peer_id"] == d.status().peer_id
    # streams are guarded too
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    with pytest.raises(grpc.RpcError) as e:
        next(iter(pb_grpc.SwarmControlStub(ch).WatchEvents(pb.WatchEventsRequest(), timeout=5)))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    ch.close()


def test_watch_events_two_clients(daemons) -> None:
    d = daemons("a", config=LIGHT)
    received: dict[int, list[pb.Event]] = {0: [], 1: []}
    subscribed = threading.Barrier(3)

    def follow(i: int) -> None:
        ch = grpc.insecure_channel(f"unix:{d.socket}")
        stream = pb_grpc.SwarmControlStub(ch).WatchEvents(pb.WatchEventsRequest())
        # the stream is registered once the call's initial metadata arrives
        stream.initial_metadata()
        subscribed.wait(10)
        for event in stream:
            received[i].append(event)
        ch.close()

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in (0, 1)]
    for t in threads:
        t.start()
    subscribed.wait(10)
    wait_until(lambda: d.call("GetStatus", pb.GetStatusRequest()), 5, what="status")
    d.ctl("shutdown", check=True)
    for t in threads:
        t.join(20)
    assert d.wait_exit(20) == 0
    for i in (0, 1):
        phases = [e.lifecycle.phase for e in received[i] if e.kind == pb.EVENT_KIND_LIFECYCLE]
        assert "stopping" in phases and phases[-1] == "stopped", phases


def test_sd_notify_ready_and_watchdog(daemons, short_tmp: Path) -> None:
    path = short_tmp / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    d = daemons("a", config=LIGHT, env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
    messages: list[str] = []
    while not any("WATCHDOG=1" in m for m in messages) or not any("READY=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    ready = next(m for m in messages if "READY=1" in m)
    assert f"MAINPID={d.proc.pid}" in ready
    d.stop()
    while not any("STOPPING=1" in m for m in messages):
        messages.append(sock.recv(4096).decode())
    sock.close()


def test_grpc_health_and_reflection(daemons) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    d = daemons("a")
    with d.channel() as ch:
        h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="swarm.v1.SwarmControl"), timeout=5)
        assert h.status == health_pb2.HealthCheckResponse.SERVING
        replies = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        services = [s.name for r in replies for s in r.list_services_response.service]
        assert "swarm.v1.SwarmControl" in services
