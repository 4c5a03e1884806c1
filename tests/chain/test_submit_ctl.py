"""`swarmctl submit` with a real chain client: a round is sent once, a second submit says it
was already submitted (also after a restart), and a round this node has no results for is
refused (exit 4).

The game's history is seeded on disk, as a previous run would have left it; the trainer and
the mesh stay off.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmd.chain import localnet
from swarmd.identity import load_or_create

pytestmark = [pytest.mark.chain, pytest.mark.process]


def test_submit_sends_once_and_refuses_unknown_rounds(daemons, chain_node, short_tmp: Path) -> None:
    dep = localnet.deploy(chain_node.url, stage_count=1)
    dep_file = short_tmp / "deployment.json"
    dep.write(dep_file)
    data = short_tmp / "s"
    localnet.write_test_key(data / "chain.key", 3)
    peer_id = load_or_create(data / "identity.key")[0].peer_id
    (data / "swarm").mkdir(parents=True)
    record = {"round": 1, "stage": 0, "own_reward": 0.25, "rewards": {peer_id: 0.25}, "winners": [peer_id],
              "local_groups": 2, "external_groups": 0, "external_peers": [], "train": {}, "seconds": 1.0,
              "finished_at": 1.0}
    (data / "swarm" / "state.json").write_text(json.dumps({"history": [record], "peers": [], "last_done": None}))
    config = {
        "p2p": {"enabled": False}, "trainer": {"enabled": False}, "web": {"enabled": False},
        "swarm": {"round_source": "clock"},
        "chain": {"enabled": True, "deployments_file": str(dep_file), "poll_interval_s": 0.2,
                  "retry_initial_s": 0.1, "retry_max_s": 0.5, "register_on_start": False},
    }
    d = daemons("s", config)

    first = d.ctl("submit", "1", "--json")
    assert first.returncode == 0, first.stderr
    reply = json.loads(first.stdout)
    assert reply["queued"] == 2 and reply["already_submitted"] == 0 and reply["round"] == "1"

    again = d.ctl("submit", "1")
    assert again.returncode == 0, again.stderr
    assert "round 1 was already submitted (1 stages); nothing sent again" in again.stdout

    missing = d.ctl("submit", "99")
    assert missing.returncode == 4, missing.stderr
    assert "no round 99 with results" in missing.stderr

    d.stop()
    d.start()
    after = d.ctl("submit", "--json")  # the last completed round: still round 1, still sent
    assert json.loads(after.stdout)["queued"] == 0 and json.loads(after.stdout)["already_submitted"] == 1
