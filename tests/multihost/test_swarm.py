"""A swarm across hosts (network namespaces on a bridge): addresses, a bootnode restart, a
partition healed, a slow link, the bootnode gone for good, and a loopback-only node told it is
unreachable.

One swarm serves the whole module, in this order: a bootnode on 0.0.0.0 without announce and
three trainers, each in its own namespace. Run: see docs/mesh.md ("Testing across hosts").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.p2p.cluster import mesh_config
from swarmd.tools.procs import wait_until
from tests.multihost import scenarios
from tests.multihost.harness import Net

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.multihost]

FIGURES = Path("out/multihost.json")


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[scenarios.Swarm]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sdmh-", dir="/tmp") as tmp:
        net = Net.create(hosts=5)
        try:
            s = scenarios.Swarm(net, Path(tmp), trainers=3, period=2.0)
            s.start()
            yield s
        finally:
            net.destroy()


def test_no_unspecified_or_loopback_address_is_recorded_or_dialed(swarm):
    s = swarm
    boot = s.boot.status().mesh
    assert list(boot.listen_addrs) == [f"/ip4/0.0.0.0/tcp/{scenarios.PORT}/p2p/{s.boot_id}"]
    assert list(boot.announced_addrs) == [s.boot_addr], "0.0.0.0 is expanded to the host's interface address"
    for d in s.trainers:
        addr = s.peers(d)[s.boot_id].addrs
        assert list(addr) == [s.boot_addr], f"{d.name} recorded {addr}"
    s.first_complete_from(s.round_at(time.time()), 30)
    assert s.bad_addrs() == {}
    # Every trainer listens on 0.0.0.0 too and is dialed back at its interface address.
    wait_until(lambda: all(d.status().mesh.reachability == "reachable" for d in s.all), 30, interval=0.5,
               what="every node is reachable by dial-back")


def test_loopback_only_node_is_told_it_is_not_reachable(swarm):
    s = swarm
    lone = s.net.daemon(4, s.tmp / "lone", mesh_config({"bootnodes": [s.boot_addr]}),
                        ["--relay", "--start-file", str(s.start_file)], name="lone")
    lone.start(wait=True, timeout=120)
    try:
        status = wait_until(lambda: (m := lone.status().mesh).reachability == "not_reachable" and m, 30,
                            interval=0.5, what="the loopback-only node learns it is not reachable")
        assert "p2p.listen" in status.reachability_detail and "p2p.announce" in status.reachability_detail
        assert "not reachable" in lone.log() and "p2p.listen" in lone.log()
        human = lone.ctl("status").stdout
        assert "not reachable" in human and "p2p.listen" in human
        lone_id = lone.status().peer_id
        wait_until(lambda: lone_id in s.live(s.boot), 30, interval=0.5, what="the bootnode sees the lone node")
        assert list(s.peers(s.boot)[lone_id].addrs) == [], "its 127.0.0.1 address is not kept by other hosts"
        assert s.bad_addrs() == {}
    finally:
        lone.stop(30)


def test_bootnode_restart_brings_every_trainer_back(swarm):
    figures = scenarios.bootnode_restart(swarm)
    scenarios.write_figures(FIGURES, {"bootnode_restart": figures})
    print(f"bootnode restart: {figures}")
    assert figures["boot_live_s"] <= 20 and figures["round_s"] <= 20, figures
    assert swarm.bad_addrs() == {}
    # An operator's join with the bootnode's real address works whatever else is stored.
    reply = swarm.trainers[0].call("Join", pb.JoinRequest(multiaddrs=[swarm.boot_addr]), timeout=30)
    assert reply.results[0].ok, reply.results[0].error


def test_cut_trainer_is_back_soon_after_the_heal(swarm):
    figures = scenarios.cut_and_heal(swarm, index=2, cut_s=30)
    scenarios.write_figures(FIGURES, {"cut_heal": {k: v for k, v in figures.items() if k != "during"}})
    print(f"cut 30 s, healed: live after {figures['live_s']:.1f}s, its batch in round {figures['round']} "
          f"after {figures['round_s']:.1f}s")
    assert figures["live_s"] <= 20 and figures["round_s"] <= 20, figures
    assert figures["during"], "rounds were played while it was cut off"
    for rec in figures["during"]:
        assert not rec["expected_victim"], rec
        assert rec["waited_s"] < rec["deadline_s"] - 0.3, f"a round waited for the cut-off trainer: {rec}"
    assert swarm.bad_addrs() == {}


def test_a_slow_link_still_delivers_every_batch(swarm):
    s = swarm
    s.net.shape(1, "5mbit")  # tbf on the first trainer's egress
    try:
        first = s.first_complete_from(s.round_at(time.time()), 30)
        wait_until(lambda: all(first + 4 in s.rounds(d) for d in s.trainers), 30, interval=0.5,
                   what="five rounds over the slow link")
        assert all(s.complete(r) for r in range(first, first + 5))
    finally:
        s.net.shape(1, None)


def test_trainers_stay_meshed_when_the_bootnode_is_gone(swarm):
    s = swarm
    s.boot.kill()
    t_gone = time.time()
    wait_until(lambda: all(s.boot_id not in s.live(d) for d in s.trainers), 30, interval=0.5,
               what="every trainer notices the bootnode is gone")
    first = s.first_complete_from(s.round_at(max(time.time(), t_gone + 8)), 30)
    wait_until(lambda: all(first + 4 in s.rounds(d) for d in s.trainers), 30, interval=0.5,
               what="five more rounds")
    for r in range(first, first + 5):
        assert s.complete(r), f"round {r} lacks a batch without the bootnode"
    assert s.meshed(s.trainers)
