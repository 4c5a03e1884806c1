"""What people read: swarmctl's tables and status lines, the demo's pure helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from swarmctl import verbs
from swarmd import tables
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.tools import demo


def _board() -> pb.Leaderboard:
    board = pb.Leaderboard(chain_reward_scale=1000)
    board.entries.add(peer_id="12D3KooWa", name="calm grassy pelican", rounds=3, verified_reward=0.125, wins=3,
                      has_chain_totals=True, chain_reward=125, chain_wins=9)
    board.entries.add(peer_id="12D3KooWb", name="flying mellow lynx", rounds=3, verified_reward=0.05, wins=0)
    return board


def test_chain_reward_in_local_units_and_columns_explained() -> None:
    text = verbs._human_board(_board())
    header, first, second, *notes = text.splitlines()
    note = " ".join(notes)
    assert "CHAIN REWARD" in header and "CHAIN WINS" in header
    assert first.split()[-2:] == ["0.125", "9"]  # 125 on chain / reward_scale 1000: the same units as REWARD
    assert "125" not in first.split()
    assert second.split()[-2:] == ["-", "-"]
    assert "wins: rounds this node voted the peer a winner" in note and "winner votes from every node" in note


def test_demo_table_has_chain_wins_without_peer_ids() -> None:
    text = tables.leaderboard(_board(), peer_ids=False)
    assert "CHAIN WINS" in text.splitlines()[0] and "PEER ID" not in text
    assert "12D3KooWa" not in text


def test_status_without_device_does_not_print_a_bare_slash() -> None:
    s = pb.Status(name="n", peer_id="p", state="running")
    s.training.state, s.training.model = "starting", "smollm2-135m"
    line = next(ln for ln in verbs._human_status(s).splitlines() if ln.strip().startswith("training"))
    assert " on " not in line and "/" not in line, line
    s.training.device, s.training.dtype = "cpu", "float32"
    assert "smollm2-135m on cpu/float32" in verbs._human_status(s)


def test_peer_round_is_not_shown_as_a_decimal() -> None:
    reply = pb.ListPeersResponse()
    reply.peers.add(name="a", peer_id="p1", liveness="live", round=4, stage=0)
    reply.peers.add(name="b", peer_id="p2", liveness="live", round=5, stage=1)
    text = verbs._human_peers(reply)
    assert "4.0" not in text and "5.1" not in text
    assert "5 stage 1" in text


def test_demo_prints_a_swarmctl_that_exists(tmp_path: Path) -> None:
    cmd = demo.swarmctl_command()
    first = cmd.split()[0]
    assert first != "swarmctl"
    assert os.path.exists(first) or first == sys.executable


def test_previous_runs_are_moved_aside_and_pruned(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    moved = []
    for i in range(4):
        work.mkdir()
        (work / "marker").write_text(str(i))
        os.utime(work, (1_700_000_000 + i * 60, 1_700_000_000 + i * 60))
        moved.append(demo.keep_previous(work, keep=2))
        assert not work.exists()
    archive = tmp_path / "demo.previous"
    kept = sorted(archive.iterdir())
    assert [p.name for p in kept] == [moved[2].name, moved[3].name]
    assert (kept[-1] / "marker").read_text() == "3"
    assert demo.keep_previous(tmp_path / "absent", keep=2) is None


def test_eta_from_a_progress_count() -> None:
    text, first = demo.eta("converting SmolLM2 GGUF: 20/272 tensors", None, now=100.0)
    assert text == "" and first == (100.0, 20)
    text, first = demo.eta("converting SmolLM2 GGUF: 70/272 tensors", first, now=110.0)
    assert text == "~40s left"  # 50 tensors in 10 s, 202 to go
    assert demo.eta("loading", None, 1.0) == ("", None)
