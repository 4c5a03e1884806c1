"""A hostile peer attacks one daemon of a running mesh: every bad message is rejected and
counted by reason (in status, and against the hostile peer in ListPeers), the known
remote take-downs of py-libp2p 0.8.1 do not take it down, connection churn does not
lock out new peers, and the honest nodes' rounds keep completing throughout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.p2p.support import mesh_config
from tests.support.poll import wait_until

pytestmark = [pytest.mark.process, pytest.mark.serial]

REPO = Path(__file__).resolve().parents[2]
ENVELOPE_REASONS = ["malformed_envelope", "oversized", "wrong_swarm", "bad_version", "sender_mismatch",
                    "unknown_kind", "malformed_payload"]
WIRE_REASONS = ["bad_from", "bad_key", "bad_seqno", "bad_signature", "bad_topic"]
ATTACKS = ["envelopes", "wire", "flood", "garbage_rpc", "topics", "streams", "churn"]
ROUNDS, PERIOD = 12, 3.0


def test_hostile_peer_is_rejected_counted_and_survived(cluster, daemons, short_tmp):
    # A small envelope cap (so "oversized" fits in a frame) and few connection slots (so a
    # leak of inbound slots would show within the churn).
    p2p = {"max_message_bytes": 65536, "max_peers": 16}
    c = cluster(3, rounds=ROUNDS, period=PERIOD, p2p=p2p)
    target, bystander = c.nodes[0], c.nodes[1]
    target_addr = target.status().mesh.listen_addrs[0]
    wait_until(lambda: time.time() > c.begins(2), PERIOD * 2 + 5, what="round 2")

    report_path = short_tmp / "hostile.json"
    attack_started = time.monotonic()
    attack = subprocess.run(
        [sys.executable, "-m", "tests.p2p.hostile", "--target", target_addr, "--report", str(report_path),
         "--flood", "1500", "--churn", "40", *ATTACKS],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )
    assert attack.returncode == 0, attack.stderr[-3000:]
    attack_s = time.monotonic() - attack_started
    report = json.loads(report_path.read_text())
    hostile_id = report["peer_id"]
    assert report["sent"]["churn"] == 40  # every churned connection was accepted: slots come back

    status = target.status()
    assert status.state == "running" and target.alive
    rejected = dict(status.mesh.rejected)
    for reason in ENVELOPE_REASONS + WIRE_REASONS + ["malformed_rpc", "handler_error"]:
        assert rejected.get(reason, 0) >= 1, f"no {reason!r} counted: {rejected}"
    # The flood: what the node read of it (the rest died with the attacker's connection) beyond
    # the burst was refused; what got through is bounded by the per-peer rate limit.
    assert rejected.get("rate_limited", 0) + rejected.get("flood", 0) >= 200, rejected
    for reason in ENVELOPE_REASONS + WIRE_REASONS:
        sent = report["sent"][reason]
        assert rejected[reason] == sent, f"{reason}: {sent} sent, {rejected[reason]} counted"

    peers = {p["peer_id"]: p for p in target.ctl_json("peers", "--all")["peers"]}
    blamed = {k: int(v) for k, v in peers[hostile_id]["rejected"].items()}
    assert int(peers[hostile_id]["messages_in"]) <= 60 + 20 * attack_s + 20  # burst + rate x time
    for reason in ENVELOPE_REASONS + WIRE_REASONS + ["malformed_rpc"]:
        assert blamed.get(reason, 0) >= 1, f"{reason} not counted against the hostile peer: {blamed}"
    assert all(not p["rejected"] for pid, p in peers.items() if pid != hostile_id)  # honest peers: clean

    # nothing invalid travelled further: the bystander never saw it
    assert not set(ENVELOPE_REASONS + WIRE_REASONS) & set(bystander.status().mesh.rejected)

    # after the churn a new peer still gets in
    late = daemons("late", mesh_config(p2p))
    joined = late.ctl_json("join", target_addr)
    assert joined["results"][0]["ok"], joined

    wait_until(lambda: all(d.results().get("done") for d in c.nodes), ROUNDS * PERIOD + 30, interval=1,
               what="the honest rounds")
    everyone = set(c.ids.values())
    for d in c.nodes:
        rounds = c.rounds(d)
        assert sorted(rounds) == list(range(1, ROUNDS + 1)), f"{d.name}: {sorted(rounds)}"
        for r, rec in rounds.items():
            assert set(rec["senders"]) == everyone, f"{d.name} round {r} lacks {everyone - set(rec['senders'])}"
            last_in = max(s["received_at"] for s in rec["senders"].values())
            assert last_in <= rec["deadline"], f"{d.name} round {r} complete {last_in - rec['deadline']:.2f}s late"
    assert target.alive and target.status().state == "running"
