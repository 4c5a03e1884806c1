"""A cheating peer gains nothing: its groups are rejected or re-scored to their true value."""

from __future__ import annotations

import json
import sys

import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from tests.support.daemons import DaemonProcess
from tests.support.poll import wait_until
from tests.swarm.conftest import REPO, node_config

pytestmark = [pytest.mark.process, pytest.mark.slow]


def test_hostile_peer_gains_nothing(swarm) -> None:
    lead = swarm.identity("n0")
    fast = {"stage_timeout_s": 20.0}
    web = {"web": {"enabled": True, "port": 0}}
    swarm.add("n0", 0, [lead], start_min_peers=3, sections=web, **fast)
    swarm.add("n1", 1, [lead], sections=web, **fast)
    bad_id = swarm.identity("bad")
    bad = DaemonProcess(
        swarm.root / "bad",
        node_config(7, [lead], swarm.addrs_of("n0"), max_batch_bytes=1_000_000, **fast),
        name="bad",
        command=[sys.executable, "-m", "tests.swarm.hostile"],
        env={"PYTHONPATH": str(REPO)},
    )
    swarm.nodes["bad"] = bad
    bad.start(timeout=120)
    swarm.wait_connected(["n0", "n1", "bad"])
    honest = [swarm.nodes["n0"], swarm.nodes["n1"]]

    def reports(d: DaemonProcess) -> list[dict]:
        path = d.data_dir / "swarm" / "state.json"
        return [h for h in json.loads(path.read_text())["history"] if h.get("train")] if path.exists() else []

    # every cheating mode has been tried at least once (rounds 0..3 cycle through them)
    wait_until(lambda: all(len(reports(d)) >= 5 for d in honest), 600, interval=1.0, what="5 rounds")

    for d in honest:
        other = swarm.peer_ids["n1" if d is honest[0] else "n0"]
        for h in reports(d):
            assert bad_id not in h["external_peers"], h  # nothing of the cheater is trained on
            assert h["rewards"].get(bad_id, 0.0) == 0.0  # re-scored to its true value: zero
            assert bad_id not in h["winners"]
        assert any(other in h["external_peers"] for h in reports(d))  # honest traffic still flows

        board = {e.peer_id: e for e in d.call("GetLeaderboard", pb.GetLeaderboardRequest()).entries}
        if bad_id in board:
            assert board[bad_id].verified_reward == 0.0 and board[bad_id].wins == 0

        text = d.call("GetStatus", pb.GetStatusRequest())
        assert text.mesh.rejected, "oversized batches are rejected at the mesh boundary"
        metrics = _rejections(d)
        assert metrics.get("unexpected_ref", 0) >= 1, metrics
        assert "Traceback" not in d.log()
    # the oversized batch never reached the game: counted by the mesh, per peer
    peers = {p.peer_id: p for p in honest[0].call("ListPeers", pb.ListPeersRequest(include_stale=True)).peers}
    assert sum(peers[bad_id].rejected.values()) >= 1, peers[bad_id]


def _rejections(d: DaemonProcess) -> dict[str, float]:
    """The game's rejection counters, from the node's /metrics."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    url = d.status().dashboard_url
    if not url:
        return {}
    text = urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "swarmd_rollout_groups_rejected":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["reason"]] = sample.value
    return out
