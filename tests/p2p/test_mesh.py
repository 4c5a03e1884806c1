"""Real swarmd daemons on loopback forming a mesh: bootstrap, peers and RTTs, a node alone
until its bootnode appears, join/leave at run time, and leaving announced on stop."""

from __future__ import annotations

import socket
import time

import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from tests.p2p.support import make_identity, mesh_config, start_all, stop_all
from tests.support.daemons import DaemonProcess
from tests.support.poll import wait_until

pytestmark = pytest.mark.process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peers_json(d: DaemonProcess, *args: str) -> dict[str, dict]:
    return {p["peer_id"]: p for p in d.ctl_json("peers", *args)["peers"]}


def test_five_daemons_form_a_mesh_from_one_bootnode(daemons, short_tmp):
    boot = daemons("boot", mesh_config(node={"mode": "bootnode"}))
    addr = boot.status().mesh.listen_addrs[0]
    nodes = [daemons(f"n{i}", mesh_config({"bootnodes": [addr]}), start=False) for i in range(4)]
    start_all(nodes)
    everyone = [boot, *nodes]
    ids = {d.name: d.status().peer_id for d in everyone}
    names = {d.name: d.status().name for d in everyone}

    def complete() -> bool:
        for d in everyone:
            peers = peers_json(d)
            others = {ids[o.name] for o in everyone if o is not d}
            if set(peers) != others:
                return False
            if any(p["liveness"] != "live" or p["rtt_ms"] <= 0 or not p["connected"] for p in peers.values()):
                return False
        return True

    wait_until(complete, 60, interval=0.5, what="every daemon lists the 4 others, live, with an RTT")
    for d in everyone:
        peers = peers_json(d)
        for o in everyone:
            if o is not d:
                assert peers[ids[o.name]]["name"] == names[o.name]
        roles = {p["peer_id"]: p["roles"] for p in peers.values()}
        if d is not boot:
            assert roles[ids["boot"]] == ["bootnode"]
        status = d.status()
        assert status.mesh.state == "connected" and status.mesh.connected_peers == 4
        assert status.mesh.listen_addrs[0].endswith(f"/p2p/{ids[d.name]}")
    human = nodes[0].ctl("peers")
    assert human.returncode == 0 and names["boot"] in human.stdout and "ms" in human.stdout
    stop_all(everyone)


def test_alone_at_start_then_joins_when_the_bootnode_comes_up(daemons, short_tmp):
    boot_dir = short_tmp / "boot"
    boot_id = make_identity(boot_dir)
    port = free_port()
    boot_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{boot_id}"
    node = daemons("node", mesh_config({"bootnodes": [boot_addr], "redial_max_s": 4.0}))
    assert node.status().mesh.state == "alone"
    # The bootnode stays down for 30 s; meanwhile the node keeps running, alone.
    down_until = time.monotonic() + 30
    while time.monotonic() < down_until:
        status = node.status()
        assert status.state == "running" and status.mesh.state == "alone"
        time.sleep(1)
    boot = daemons("boot", mesh_config({"listen": [f"/ip4/127.0.0.1/tcp/{port}"]}, node={"mode": "bootnode"}))
    assert boot.status().peer_id == boot_id
    wait_until(lambda: node.status().mesh.state == "connected", 20, what="the node joins the bootnode")
    wait_until(lambda: boot_id in peers_json(node), 20, what="the bootnode in the node's peer table")
    assert node.proc.poll() is None  # no restart: the same process


def test_join_and_leave_at_run_time(daemons, short_tmp):
    a = daemons("a", mesh_config())
    b = daemons("b", mesh_config())
    a_id, b_id = a.status().peer_id, b.status().peer_id
    a_addr = a.status().mesh.listen_addrs[0]

    bad = b.ctl("join", "/ip4/127.0.0.1/tcp/9")
    assert bad.returncode == 1 and "no /p2p/" in bad.stdout
    joined = b.ctl_json("join", a_addr)
    assert joined["results"][0]["ok"] and joined["results"][0]["peer_id"] == a_id
    wait_until(lambda: b_id in peers_json(a) and a_id in peers_json(b), 20, what="a and b see each other")

    left = b.ctl_json("leave")
    assert left["disconnected"] >= 1
    assert b.status().mesh.state == "left"
    # a heard the announcement: b is gone from its table at once, not merely stale
    wait_until(lambda: b_id not in peers_json(a, "--all"), 10, what="a forgets b after its leave")
    wait_until(lambda: a.status().mesh.connected_peers == 0 == b.status().mesh.connected_peers, 10,
               what="no connection left between a and b")

    assert b.ctl_json("join", a_addr)["results"][0]["ok"]
    wait_until(lambda: a_id in peers_json(b) and b_id in peers_json(a), 20, what="b back in the mesh")
    assert b.status().mesh.state == "connected"


def test_stopping_announces_leave_before_closing(daemons, short_tmp):
    a = daemons("a", mesh_config())
    b = daemons("b", mesh_config({"bootnodes": [a.status().mesh.listen_addrs[0]]}))
    b_id = b.status().peer_id
    wait_until(lambda: b_id in peers_json(a), 20, what="a sees b")
    with a.channel() as ch:
        events = pb_grpc.SwarmControlStub(ch).WatchEvents(
            pb.WatchEventsRequest(kinds=[pb.EVENT_KIND_PEER]), timeout=30
        )
        events.initial_metadata()  # the subscription is in place
        assert b.stop() == 0
        change = next(e.peer.change for e in events if e.peer.peer_id == b_id)
    assert change == "left"  # not "stale" or "removed": the leave was heard before the close
    assert b_id not in peers_json(a, "--all")
