"""The game's decisions as pure functions: round arithmetic, coordinator precedence,
batch and item validation, external sampling, winners, leaderboard."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.swarm import leaderboard as lb
from swarmd.swarm.rounds import (
    RoundState,
    clock_state,
    is_after,
    next_key,
    should_advance,
    should_announce,
)
from swarmd.swarm.selection import (
    ScoredGroup,
    peer_scores,
    pick_winners,
    sample_external,
    scaled_reward,
)
from swarmd.swarm.validate import BatchLimits, check_batch, check_items
from swarmd.swarm.wire import pb_key
from swarmd.tasks import canonical_json


def test_next_key_and_order() -> None:
    assert next_key(3, 0, 1) == (4, 0)
    assert next_key(3, 0, 3) == (3, 1)
    assert next_key(3, 2, 3) == (4, 0)
    assert is_after((2, 0), None)
    assert is_after((2, 1), (2, 0)) and not is_after((1, 2), (2, 0))


def test_clock_slots() -> None:
    s = clock_state(1000.5, period_s=10, stage_count=3)
    assert (s.round, s.stage) == (33, 1)  # slot 100
    assert s.started_at == 1000 and s.deadline == 1010
    assert clock_state(1009.99, 10, 3).key == s.key
    assert clock_state(1010.0, 10, 3).key == (33, 2)


def _state(started: float = 0.0, deadline: float = 100.0) -> RoundState:
    return RoundState(1, 0, 1, "coordinator", started, deadline)


def test_should_advance() -> None:
    st = _state()
    assert should_advance(100.0, st, set(), {"a"}, 0)  # deadline
    assert not should_advance(50.0, st, {"a"}, {"a", "b"}, 0)
    assert should_advance(50.0, st, {"a", "b", "c"}, {"a", "b"}, 0)
    assert not should_advance(5.0, st, {"a", "b"}, {"a", "b"}, 10.0)  # too soon
    assert not should_advance(50.0, st, set(), set(), 0)  # nobody playing: wait for the deadline


def test_coordinator_precedence() -> None:
    c = ["lead", "backup1", "backup2"]
    heard = {"lead": 100.0, "backup1": 100.0, "backup2": 100.0}
    assert should_announce("lead", c, heard, 1000.0, 30)  # the leader always speaks
    assert not should_announce("backup1", c, heard, 120.0, 30)
    assert should_announce("backup1", c, heard, 131.0, 30)  # leader silent > 30 s
    assert not should_announce("backup2", c, heard, 131.0, 30)  # needs 60 s of leader silence
    heard["backup1"] = 165.0  # backup1 took over and keeps announcing
    assert not should_announce("backup2", c, heard, 170.0, 30)
    assert should_announce("backup2", c, heard, 196.0, 30)  # both silent long enough
    heard["lead"] = 197.0  # the leader is back: backups yield
    assert not should_announce("backup1", c, heard, 198.0, 30)
    assert not should_announce("stranger", c, heard, 1e9, 30)


def _batch(**kw) -> gpb.RolloutBatch:
    b = gpb.RolloutBatch(round=kw.get("round", 5), stage=0, environment=kw.get("env", "sapo"))
    for i in range(kw.get("items", 2)):
        b.items.add(
            ref=gpb.TaskRef(dataset="basic_arithmetic", config_json=canonical_json({"a": 1}), seed=kw.get("seed", 7), index=i),
            question=f"q{i}",
            completions=kw.get("completions", ["x", "y"]),
            claimed_rewards=[1.0, 1.0],
        )
    return b


LIMITS = BatchLimits("sapo", 1, max_items=4, max_completions=4, max_completion_chars=16)


def test_check_batch_reasons() -> None:
    assert check_batch(_batch(), LIMITS) is None
    assert check_batch(_batch(env="debate"), LIMITS) == "environment_mismatch"
    assert check_batch(_batch(items=5), LIMITS) == "too_many_items"
    assert check_batch(_batch(items=0), LIMITS) == "empty_batch"
    assert check_batch(_batch(completions=["a"] * 5), LIMITS) == "too_many_completions"
    assert check_batch(_batch(completions=["a" * 17]), LIMITS) == "completion_too_long"
    b = _batch()
    b.stage = 1
    assert check_batch(b, LIMITS) == "bad_stage"


def test_check_items_keeps_only_asked_refs() -> None:
    batch = _batch(items=3)
    expected = [pb_key(batch.items[0].ref), pb_key(batch.items[1].ref)]
    batch.items.append(batch.items[0])  # a duplicate
    kept, rejected = check_items("peer", 5, batch, expected)
    assert [i.question for i in kept] == ["q0", "q1"]
    assert sorted(r.reason for r in rejected) == ["duplicate_ref", "unexpected_ref"]
    kept, rejected = check_items("peer", 6, batch, expected)
    assert kept == [] and rejected[0].reason == "round_mismatch"


def _group(sender: str, rewards: list[float]) -> ScoredGroup:
    return ScoredGroup(sender, 1, 0, [], "q", ["a"] * len(rewards), rewards)


def test_sample_external_drops_zero_advantage() -> None:
    groups = [_group("a", [1, 1]), _group("b", [0, 1]), _group("c", [0, 0]), _group("d", [0.5, 0.2])]
    chosen = sample_external(groups, 5, random.Random(0))
    assert sorted(g.sender for g in chosen) == ["b", "d"]
    chosen = sample_external(groups, 1, random.Random(0))
    assert len(chosen) == 1 and chosen[0].sender in {"b", "d"}
    assert sample_external(groups, 0, random.Random(0)) == []


def test_scores_and_winners() -> None:
    scores = peer_scores([_group("a", [1, 0]), _group("a", [1, 1]), _group("b", [0.5, 0.5]), _group("z", [0, 0])])
    assert scores == {"a": 0.75, "b": 0.5, "z": 0.0}
    assert pick_winners(scores, 1) == ["a"]
    assert pick_winners({"b": 0.5, "a": 0.5}, 1) == ["a"]  # ties: smaller peer ID
    assert pick_winners({"z": 0.0}, 1) == []
    assert scaled_reward(0.7504, 1000) == 750


def test_leaderboard_counts_each_round_once(tmp_path: Path) -> None:
    state = lb.GameState()
    state.record_round(1, {"a": 0.5, "b": 0.25}, ["a"], {"a": "able ant"})
    state.record_round(1, {"a": 0.5}, ["a"], {})  # the same round again changes nothing
    state.record_round(2, {"b": 1.0}, ["b"], {})
    rows = state.leaderboard()
    assert [(r.peer_id, r.rounds, r.verified_reward, r.wins) for r in rows] == [("b", 2, 1.25, 1), ("a", 1, 0.5, 1)]
    assert [r.peer_id for r in state.leaderboard("ant")] == ["a"]
    state.last_done = (2, 0)
    state.history.append({"round": 2})
    path = tmp_path / "s" / "state.json"
    lb.save(state, path)
    again = lb.load(path, 100)
    assert again.last_done == (2, 0) and again.peers["a"].name == "able ant" and list(again.history) == [{"round": 2}]
    path.write_text("{not json")
    assert lb.load(path, 100).peers == {}


def test_trained_stage_count_outlives_the_history_window(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = lb.load(path, 3)
    for r in range(10):
        state.history.append({"round": r, "train": {"stepped": True}})
        state.stages_trained += 1
    lb.save(state, path)
    again = lb.load(path, 3)
    assert len(again.history) == 3 and again.stages_trained == 10
    # a state file written before the counter existed counts what its history holds
    data = json.loads(path.read_text())
    del data["stages_trained"]
    path.write_text(json.dumps(data))
    assert lb.load(path, 3).stages_trained == 3


def test_debate_parsing_and_majority() -> None:
    from swarmd.swarm.debate import extract, majority, normalize, pick_letter

    assert extract("so <answer> 42 </answer>") == "42"
    assert extract("<answer>1</answer> then <answer>2</answer>") == "2"
    assert extract("no tags") is None
    assert pick_letter("best is <answer>(B)</answer>", 3) == 1
    assert pick_letter("<answer>d</answer>", 3) is None  # only A-C exist
    assert pick_letter("<answer>the second</answer>", 3) is None
    assert majority(["42", " 42.", "7", "7", ""]) == "42"  # tie 2-2: smallest string wins
    assert majority(["7", "7", "42"]) == "7"
    assert majority([]) is None
    assert normalize("  Hello   World. ") == "hello world"


def test_expected_peers_include_the_coordinators_roster() -> None:
    from types import SimpleNamespace

    from swarmd.swarm.game import SwarmGame
    from swarmd.swarm.rounds import RoundState

    def peer(pid: str, roles=("trainer",)):
        return SimpleNamespace(peer_id=pid, roles=list(roles))

    mesh = SimpleNamespace(peers=[peer("a"), peer("b"), peer("relay", ())], live_peers=lambda: [peer("a"), peer("relay", ())])
    game = SimpleNamespace(daemon=SimpleNamespace(mesh=mesh), peer_id="me",
                           config=SimpleNamespace(p2p=SimpleNamespace(stale_after_s=8.0)))
    now = time.time()

    def stage(started_at: float, participants=()):
        return RoundState(round=1, stage=0, stage_count=1, source="coordinator", started_at=started_at,
                          deadline=started_at + 60, participants=tuple(participants))

    game.expected_peers = lambda: SwarmGame.expected_peers(game)

    # without a roster: the live trainer peers when the collect starts
    assert SwarmGame.stage_peers(game, stage(now))() == {"a"}
    # a roster adds peers not (yet) live here: "b" is known, "c" unknown; never this node itself
    assert SwarmGame.stage_peers(game, stage(now, ["a", "b", "c", "me"]))() == {"a", "b", "c"}
    # an unknown roster peer is waited for only within stale_after_s of the stage's start
    assert SwarmGame.stage_peers(game, stage(now - 9, ["a", "b", "c", "me"]))() == {"a", "b"}
    # a peer that turns live during the collect is not added (it may not be ready to publish)
    wanted = SwarmGame.stage_peers(game, stage(now))
    mesh.live_peers = lambda: [peer("a"), peer("b")]
    assert wanted() == {"a"}


def test_round_announcement_roster_is_checked() -> None:
    from types import SimpleNamespace

    from swarmd.swarm.sources import MAX_PARTICIPANTS, CoordinatorSource

    src = SimpleNamespace(coordinators=["lead"])

    def ann(participants):
        return gpb.RoundAnnouncement(round=1, stage=0, stage_count=1, started_at=1.0, deadline=2.0,
                                     participants=participants)

    assert CoordinatorSource.validate(src, ann(["a", "b"]), "lead") is None
    assert CoordinatorSource.validate(src, ann(["a", "a"]), "lead") == "bad_participants"
    too_many = [f"p{i}" for i in range(MAX_PARTICIPANTS + 1)]
    assert CoordinatorSource.validate(src, ann(too_many), "lead") == "bad_participants"
    assert CoordinatorSource.validate(src, ann(["a"]), "someone") == "not_coordinator"
