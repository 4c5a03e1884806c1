"""Each page of a real three-daemon swarm on the tiny model, in headless Chromium.

n0 coordinates; n1 and n2 bootstrap from it. Every node trains (the tiny
random model, no download), shares rollouts and scores its peers. The test
opens each node's dashboard and checks that the peers, the round number, the
leaderboard and the reward chart reflect the swarm, that /metrics carries the
swarm's counters, then waits on one page for a new round to appear without a
reload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from tests.support.browser import Browser
from tests.support.daemons import DaemonProcess
from tests.support.poll import wait_until
from tests.web.conftest import REPO
from tests.web.http import request

pytestmark = [pytest.mark.process, pytest.mark.browser, pytest.mark.slow]

MODEL_CACHE = REPO / ".cache" / "test-models"  # tiny models are built once and shared
NAMES = ("n0", "n1", "n2")


def node_config(i: int, coordinator: str, bootnodes: list[str]) -> dict:
    return {
        "node": {"swarm_id": "web-swarm"},
        "web": {"port": 0},
        "p2p": {"listen": ["/ip4/127.0.0.1/tcp/0"], "bootnodes": bootnodes, "stale_after_s": 8.0},
        "trainer": {"model": "tiny", "cache_dir": str(MODEL_CACHE), "threads": 1, "seed": i,
                    "sampling": {"max_new_tokens": 12}, "grpo": {"learning_rate": 1e-3}},
        "swarm": {"round_source": "coordinator", "coordinators": [coordinator], "tasks": "dense",
                  "questions_per_round": 2, "external_groups": 4, "group_size": 4,
                  "stage_timeout_s": 60.0, "announce_interval_s": 0.5, "start_min_peers": 2},
    }


@pytest.fixture
def swarm(short_tmp: Path) -> Iterator[dict[str, DaemonProcess]]:
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    ids = {n: identity.load_or_create(short_tmp / n / "identity.key")[0].peer_id for n in NAMES}
    nodes: dict[str, DaemonProcess] = {}
    try:
        nodes["n0"] = DaemonProcess(short_tmp / "n0", node_config(0, ids["n0"], []), name="n0").start(timeout=120)
        boot = wait_until(lambda: [a for a in nodes["n0"].status().mesh.listen_addrs if "/p2p/" in a],
                          60, what="n0 listening")[:1]
        for i, n in enumerate(NAMES[1:], start=1):
            nodes[n] = DaemonProcess(short_tmp / n, node_config(i, ids["n0"], boot), name=n).start(timeout=120)
        for n, d in nodes.items():
            others = {ids[m] for m in NAMES if m != n}
            wait_until(lambda d=d, others=others: others <= {
                p.peer_id for p in d.call("ListPeers", pb.ListPeersRequest()).peers if p.liveness == "live"},
                120, what=f"{n} sees its two peers live")
        yield nodes
    finally:
        for d in nodes.values():
            try:
                d.stop(timeout=60)
            except Exception:  # noqa: BLE001 - teardown must reach every daemon
                d.kill()


def test_each_page_reflects_the_swarm_and_follows_a_new_round(swarm, browser: Browser, screenshots) -> None:
    statuses = {n: d.status() for n, d in swarm.items()}
    names = {s.peer_id: s.name for s in statuses.values()}
    # Let the swarm finish a round (rewards, winners, leaderboard) before looking.
    wait_until(lambda: all(d.status().round.rounds_completed >= 1 for d in swarm.values()), 600,
               interval=1.0, what="every node completing a round")
    b = browser
    for n, d in swarm.items():
        me = statuses[n]
        b.goto(me.dashboard_url)
        b.wait_for(f"document.getElementById('node-name').textContent === {json.dumps(me.name)}",
                   what=f"{n}: identity")
        # Peers: the other two, by name, live.
        others = [s for m, s in statuses.items() if m != n]
        b.wait_for(" && ".join(
            f"[...document.querySelectorAll('#peers-body tr')].some(tr => tr.dataset.peerId === "
            f"{json.dumps(o.peer_id)} && tr.textContent.includes({json.dumps(o.name)}) && "
            f"tr.textContent.includes('live'))" for o in others), timeout=120, what=f"{n}: both peers live")
        # The round number is the node's own.
        b.wait_for(f"Number(document.getElementById('round').textContent) >= 1 && "
                   f"Number(document.getElementById('round').textContent) >= {d.status().round.round}",
                   timeout=120, what=f"{n}: round number")
        # Leaderboard: this node and at least one peer it scored, by name.
        board = d.call("GetLeaderboard", pb.GetLeaderboardRequest(limit=50))
        assert len(board.entries) >= 2, board
        b.wait_for(f"document.querySelectorAll('#leaderboard-body tr').length >= {len(board.entries)}",
                   timeout=120, what=f"{n}: leaderboard rows")
        assert b.evaluate("document.querySelector('#leaderboard-body tr.self') !== null")
        for e in board.entries:
            assert names.get(e.peer_id, e.name) in b.text("#leaderboard-body")
        # Chart: this node's line and at least one peer's, over the completed rounds.
        b.wait_for("Number(document.querySelector('#reward-chart svg').dataset.rounds) >= 1 && "
                   "Number(document.querySelector('#reward-chart svg').dataset.series) >= 2",
                   timeout=120, what=f"{n}: reward chart")
        b.wait_for("document.querySelector('#chart-reward svg') && "
                   "Number(document.querySelector('#chart-reward svg').dataset.points) >= 1",
                   timeout=120, what=f"{n}: training curve")
        b.screenshot(screenshots / f"dashboard-swarm-{n}.png")

    # /metrics of a swarm node: round, peers, rollouts and rejection counters, parseable.
    text = request(swarm["n0"].status().dashboard_url, "/metrics").body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["swarmd_round"].samples[0].value >= 1
    assert families["swarmd_p2p_connected_peers"].samples[0].value == 2
    received = families["swarmd_rollout_batches_received"].samples
    assert sum(x.value for x in received if x.name.endswith("_total")) > 0
    for name in ("swarmd_p2p_rejected", "swarmd_rollout_groups_rejected", "swarmd_uptime_seconds"):
        assert name in families, f"{name} missing from /metrics"

    # On the last page opened: a new round arrives without a reload.
    last = b.evaluate("Number(document.querySelector('#reward-chart svg').dataset.lastRound)")
    b.evaluate("window.__sameDocument = true")
    b.wait_for(f"Number(document.querySelector('#reward-chart svg').dataset.lastRound) > {last}",
               timeout=600, interval=0.5, what="a new round in the chart")
    b.wait_for(f"Number(document.querySelector('#rounds-body tr').dataset.round) > {last}",
               timeout=120, what="the new round in the table")
    b.wait_for("[...document.querySelectorAll('#feed li')].some(li => li.dataset.type === 'round')",
               timeout=120, what="a round event in the feed")
    assert b.evaluate("window.__sameDocument") is True
    b.screenshot(screenshots / "dashboard-swarm.png")
    assert [e for e in b.errors if not e.startswith("network:")] == []
