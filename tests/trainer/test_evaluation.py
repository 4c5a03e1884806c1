"""Held-out evaluation: the set, the greedy pass, the summary and when it may run."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import pytest

from swarmd import tasks
from swarmd.swarm.leaderboard import GameState
from swarmd.swarm.rounds import RoundState
from swarmd.trainer import evaluation, verifier

# -- the held-out set ------------------------------------------------------------------


def test_heldout_set_is_the_same_on_every_node_and_differs_between_swarms() -> None:
    specs = tasks.preset("sapo")
    a = evaluation.heldout_refs(specs, "swarm-a", 64)
    # A function of the swarm alone: another node (another process, another day) gets it too.
    assert a == evaluation.heldout_refs(list(specs), "swarm-a", 64)
    assert len(set(a)) == 64 and {r.dataset for r in a} == {s.dataset for s in specs}
    assert evaluation.heldout_refs(specs, "swarm-b", 64) != a
    # Pinned: a change would make nodes of different versions evaluate on different questions.
    assert evaluation.heldout_seed("swarm-a") == evaluation.heldout_seed("swarm-a")
    assert tasks.TRAIN_SEED_LIMIT <= evaluation.heldout_seed("swarm-a") < tasks.SEED_LIMIT - evaluation.MAX_QUESTIONS
    with pytest.raises(ValueError, match="1..4096"):
        evaluation.heldout_refs(specs, "swarm-a", 0)


def test_heldout_entries_are_disjoint_from_every_training_entry() -> None:
    # Entry i of a dataset derives from seed + i: training keys stay below the band.
    held = evaluation.heldout_refs(tasks.preset("easy"), "s", evaluation.MAX_QUESTIONS)
    low = min(r.seed + r.index for r in held)
    assert low >= tasks.TRAIN_SEED_LIMIT
    highest = 0
    redrawn = 0
    for peer in ("p1", "p2", "12D3KooWabc"):
        for round_ in range(3000):
            seed = tasks.round_seed("s", peer, round_)
            first = tasks._u64("swarmd/round-seed/v1", "s", peer, round_) % tasks.SEED_LIMIT
            redrawn += seed != first
            highest = max(highest, seed + tasks.MAX_ROUND_QUESTIONS - 1)
    assert highest < low
    # About 0.8% of hashes land in the band and are drawn again below it.
    assert 20 < redrawn < 160


def test_heldout_questions_never_appear_among_training_questions() -> None:
    specs = tasks.preset("sparse")
    held = {verifier.materialize(r)[0] for r in evaluation.heldout_refs(specs, "s", 16)}
    assert len(held) == 16
    # The synthetic task's question is a function of seed + index: compare actual texts too.
    for round_ in range(50):
        for ref in tasks.draw_refs(specs, tasks.round_seed("s", "peer", round_), 4):
            assert ref.seed + ref.index < tasks.TRAIN_SEED_LIMIT


# -- the summary -----------------------------------------------------------------------


def test_summary_counts_full_marks_as_solved_and_averages_scores() -> None:
    r = evaluation.summarize(["a", "a", "b", "b", "b"], [1.0, 0.5, 0.0, 1.0, 1.0], round_=7, policy_version=6)
    assert (r.round, r.policy_version, r.examples) == (7, 6, 5)
    assert r.accuracy == pytest.approx(3 / 5) and r.mean_reward == pytest.approx(3.5 / 5)
    assert r.per_task["a"].to_json() == {"accuracy": 0.5, "mean_reward": 0.75, "examples": 2}
    assert r.per_task["b"].accuracy == pytest.approx(2 / 3) and r.per_task["b"].mean_reward == pytest.approx(2 / 3)
    assert evaluation.Result.from_json(r.to_json()) == r
    with pytest.raises(ValueError):
        evaluation.summarize(["a"], [], 0, 0)


# -- when ------------------------------------------------------------------------------


def test_schedule_base_model_once_then_every_n_rounds() -> None:
    s = evaluation.Schedule(every=10, budget_s=60)
    assert s.due(rounds_played=0, last=None, policy_version=0) == 0
    assert s.due(rounds_played=3, last=None, policy_version=0) == 0  # late joiner, still the base model
    assert s.due(rounds_played=5, last=0, policy_version=5) is None
    assert s.due(rounds_played=10, last=0, policy_version=10) == 10
    assert s.due(rounds_played=10, last=10, policy_version=10) is None
    # An evaluation that could not run is made at the next chance
    assert s.due(rounds_played=12, last=0, policy_version=12) == 12
    assert s.due(rounds_played=15, last=None, policy_version=15) == 15  # restarted without a record
    assert evaluation.Schedule(every=0, budget_s=60).due(0, None, 0) is None


def test_a_slice_never_starts_inside_a_stage_deadline_window() -> None:
    s = evaluation.Schedule(every=1, budget_s=100)
    now = 1000.0
    # No stage waiting for this node: only the budget counts.
    assert s.may_start_slice(now, None, stage_s=30, slice_s=5, spent_s=0) is None
    assert s.may_start_slice(now, None, stage_s=30, slice_s=5, spent_s=96) == "budget"
    # An open stage due at now + 60 that takes 30 s to play: its window starts at now + 30.
    assert s.may_start_slice(now, now + 60, stage_s=30, slice_s=29, spent_s=0) is None
    assert s.may_start_slice(now, now + 60, stage_s=30, slice_s=31, spent_s=0) == "stage_window"
    assert s.may_start_slice(now + 40, now + 60, stage_s=30, slice_s=0, spent_s=0) == "stage_window"


class FakeTrainer:
    ready = True
    policy_version = 0

    def __init__(self, seconds_per_slice: float) -> None:
        self.calls: list[int] = []
        self.seconds = seconds_per_slice

    async def evaluate(self, refs, max_new_tokens, batch):
        self.calls.append(len(refs))
        return {"datasets": [r.dataset for r in refs], "rewards": [1.0] * len(refs),
                "completions": [""] * len(refs), "seconds": self.seconds}


def fake_game(tmp: Path, trainer: FakeTrainer, current: RoundState | None, last_done=None, stage_seconds=None):
    from swarmd.swarm.evaluator import Evaluator

    state = GameState(history=deque(maxlen=100))
    state.last_done = last_done
    for s in stage_seconds or []:
        state.history.append({"round": 0, "stage": 0, "seconds": s})
    events = []
    game = SimpleNamespace(
        config=SimpleNamespace(
            swarm=SimpleNamespace(eval_every_rounds=1, eval_budget_s=100.0, eval_questions=8, eval_batch=2,
                                  eval_max_new_tokens=8),
            trainer=SimpleNamespace(sampling=SimpleNamespace(max_new_tokens=8)),
        ),
        task_specs=tasks.preset("sparse"), swarm_id="s", state=state, trains=True,
        env=SimpleNamespace(stage_count=1), source=SimpleNamespace(current=lambda: current),
        daemon=SimpleNamespace(trainer=trainer, events=SimpleNamespace(emit=lambda *a, **k: events.append((a, k)))),
        set_phase=lambda *a: None, _save=lambda: None,
    )
    game.evaluator = Evaluator(game)
    return game, events


def stage(round_: int, deadline_in: float) -> RoundState:
    now = time.time()
    return RoundState(round=round_, stage=0, stage_count=1, started_at=now - 1, deadline=now + deadline_in,
                      source="coordinator")


def test_evaluator_runs_between_stages_and_stops_before_an_open_stage_window(tmp_path) -> None:
    # The base model, no stage open: all 4 slices run, the result is published.
    trainer = FakeTrainer(seconds_per_slice=0.01)
    game, events = fake_game(tmp_path, trainer, current=None)
    result = asyncio.run(game.evaluator.between_stages())
    assert result is not None and result.round == 0 and result.accuracy == 1.0 and result.examples == 8
    assert trainer.calls == [2, 2, 2, 2] and len(events) == 1
    assert game.state.evaluations[-1]["round"] == 0

    # Round 0 played, round 1 open and due in 5 s; this node's stages take 4 s and a slice takes
    # 2 s: the first slice would end inside the window, so none starts.
    trainer = FakeTrainer(seconds_per_slice=2.0)
    game, events = fake_game(tmp_path, trainer, current=stage(1, 5.0), last_done=(0, 0), stage_seconds=[4.0])
    game.state.evaluations.append(evaluation.summarize(["x"], [0.0], 0, 0).to_json())
    trainer.policy_version = 1
    game.evaluator._per_question_s = 1.0
    assert asyncio.run(game.evaluator.between_stages()) is None
    assert trainer.calls == [] and events == []

    # The same with the open stage's deadline far away: it runs.
    game, events = fake_game(tmp_path, trainer, current=stage(1, 600.0), last_done=(0, 0), stage_seconds=[4.0])
    game.state.evaluations.append(evaluation.summarize(["x"], [0.0], 0, 0).to_json())
    game.evaluator._per_question_s = 1.0
    result = asyncio.run(game.evaluator.between_stages())
    assert result is not None and result.round == 1 and trainer.calls == [2, 2, 2, 2]

    # A stage opening while slices run (its window reached after the first two): the rest is abandoned.
    trainer = FakeTrainer(seconds_per_slice=0.0)
    opened: list[RoundState] = []
    game, events = fake_game(tmp_path, trainer, current=None, last_done=(0, 0), stage_seconds=[4.0])
    game.source = SimpleNamespace(current=lambda: opened[0] if opened else None)
    game.evaluator = type(game.evaluator)(game)
    game.state.evaluations.append(evaluation.summarize(["x"], [0.0], 0, 0).to_json())
    real = trainer.evaluate

    async def opening(refs, max_new_tokens, batch):
        out = await real(refs, max_new_tokens, batch)
        if len(trainer.calls) == 2:
            opened.append(stage(1, 3.0))
        return out

    trainer.evaluate = opening
    assert asyncio.run(game.evaluator.between_stages()) is None
    assert trainer.calls == [2, 2] and events == []


# -- the greedy pass (a real tiny model) ---------------------------------------------------


def test_greedy_evaluation_is_deterministic_for_a_fixed_adapter(model_cache) -> None:
    import torch

    from swarmd.trainer import greedy
    from tests.trainer.test_policy import make_policy, perturb_adapter

    policy = make_policy(model_cache, lora={"target_modules": ["all-linear"]})
    perturb_adapter(policy)  # a trained-looking adapter, not the identity
    refs = evaluation.heldout_refs(tasks.preset("dense"), "s", 6)
    rng = torch.get_rng_state()
    first = greedy.evaluate(policy, refs, max_new_tokens=10, batch=4)
    # Greedy: neither reads nor advances the sampler's random state.
    assert torch.equal(rng, torch.get_rng_state())
    policy.rollouts(refs[:2], 4, 0)  # sampling moves the random state on
    again = greedy.evaluate(policy, refs, max_new_tokens=10, batch=4)
    assert again["completions"] == first["completions"] and again["rewards"] == first["rewards"]
    assert first["datasets"] == ["swarmd_letters"] * 6 and len(first["rewards"]) == 6

    # Greedy: the first answer token is the arg-max of the adapted model's next-token logits.
    prompt = policy.prompt_ids(tasks.build_prompt(verifier.materialize(refs[0])[0]))
    with torch.no_grad():
        logits = policy.model(input_ids=torch.tensor([prompt])).logits[0, -1]
    ids = policy.tokenizer.encode(first["completions"][0], add_special_tokens=False)
    expected = int(logits.argmax())
    if expected in policy.eos_ids:
        assert first["completions"][0] == ""
    else:
        assert ids[0] == expected

    # Another adapter answers differently (the pass uses the adapter, not the base model).
    perturb_adapter(policy, seed=5)
    other = greedy.evaluate(policy, refs, max_new_tokens=10, batch=4)
    assert other["completions"] != first["completions"]
