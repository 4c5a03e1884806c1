"""Task references, the deterministic draw, answer extraction and verifier scoring."""

from __future__ import annotations

import collections
import hashlib
import json

import pytest

from swarmd import tasks
from swarmd.tasks import TaskRef, TaskSpec
from swarmd.trainer import verifier


def test_round_seed_is_pinned_and_in_range() -> None:
    # Pinned: any change to the derivation changes which questions peers expect.
    assert tasks.round_seed("local", "12D3KooWabc", 7) == 343678665
    expected = int.from_bytes(hashlib.sha256(b"swarmd/round-seed/v1\x00local\x0012D3KooWabc\x007").digest()[:8],
                              "big") % 2**31
    assert tasks.round_seed("local", "12D3KooWabc", 7) == expected
    seeds = {tasks.round_seed("s", "p", r) for r in range(200)}
    assert len(seeds) == 200 and all(0 <= s < 2**31 for s in seeds)
    assert tasks.round_seed("s", "p", 1) != tasks.round_seed("s", "q", 1) != tasks.round_seed("t", "p", 1)


def test_draw_refs_is_deterministic_and_follows_weights() -> None:
    refs = tasks.draw_refs(tasks.SAPO_TASKS, 12345, 6)
    assert [(r.dataset, r.seed, r.index) for r in refs] == [
        ("decimal_arithmetic", 12345, 0), ("decimal_arithmetic", 12345, 1), ("fraction_simplification", 12345, 2),
        ("base_conversion", 12345, 3), ("basic_arithmetic", 12345, 4), ("base_conversion", 12345, 5),
    ]
    assert tasks.draw_refs(tasks.SAPO_TASKS, 12345, 6) == refs
    assert tasks.draw_refs(tasks.SAPO_TASKS, 12346, 6) != refs
    specs = [TaskSpec("a", {}, 3.0), TaskSpec("b", {}, 1.0), TaskSpec("c", {}, 0.0)]
    counts = collections.Counter(r.dataset for r in tasks.draw_refs(specs, 1, 4000))
    assert counts["c"] == 0 and 0.70 < counts["a"] / 4000 < 0.80


@pytest.mark.parametrize("specs, seed, n", [([], 1, 1), ([TaskSpec("a", {}, 0.0)], 1, 1),
                                            ([TaskSpec("a")], -1, 1), ([TaskSpec("a")], 2**31, 1),
                                            ([TaskSpec("a")], 1, -1)])
def test_draw_refs_rejects_bad_arguments(specs, seed, n) -> None:
    with pytest.raises(ValueError):
        tasks.draw_refs(specs, seed, n)


def test_task_ref_json_and_identity() -> None:
    a = TaskRef("basic_arithmetic", {"max_digits": 1, "min_digits": 1}, 5, 3)
    b = TaskRef.from_json(json.loads(json.dumps(a.to_json())))
    assert a == b and hash(a) == hash(b)
    assert TaskRef("basic_arithmetic", {"min_digits": 1, "max_digits": 1}, 5, 3) == a  # key order is irrelevant
    assert a.key[1] == '{"max_digits":1,"min_digits":1}'
    assert len({a, b, TaskRef("basic_arithmetic", {}, 5, 3)}) == 2
    with pytest.raises(ValueError):
        TaskRef.from_json({"dataset": "x", "config": [], "seed": 1, "index": 1})


def test_check_ref() -> None:
    ok = TaskRef("basic_arithmetic", {"min_digits": 1}, 5, 3)
    assert tasks.check_ref(ok) is None
    assert "reserved" in tasks.check_ref(TaskRef("basic_arithmetic", {"size": 10**9}, 5, 3))
    assert "seed" in tasks.check_ref(TaskRef("basic_arithmetic", {}, 2**40, 3))
    assert "index" in tasks.check_ref(TaskRef("basic_arithmetic", {}, 1, -1))
    assert "dataset name" in tasks.check_ref(TaskRef("../etc", {}, 1, 1))
    allowed = list(tasks.EASY_TASKS)
    assert tasks.check_ref(tasks.draw_refs(allowed, 9, 1)[0], allowed) is None
    assert "not in this swarm's task list" in tasks.check_ref(TaskRef("basic_arithmetic", {"max_digits": 9}, 1, 1),
                                                              allowed)


@pytest.mark.parametrize("completion, answer", [
    ("think... <answer>42</answer>", "42"),
    ("<answer>1</answer> then <answer> 2 </answer>", "2"),
    ("<ANSWER>yes</Answer>", "yes"),
    ("first <answer>7</answer> and then <answer>8", "8"),  # cut off before the closing tag
    ("<answer>7</answer> trailing <answer>", "7"),  # an empty unclosed tag does not erase the answer
    ("<answer>multi\nline</answer>", "multi\nline"),
    ("no tags at all", None),
])
def test_extract_answer(completion, answer) -> None:
    assert verifier.extract_answer(completion) == answer


def test_materialize_and_score_with_the_verifier() -> None:
    ref = TaskRef("basic_arithmetic", dict(tasks.EASY_TASKS[0].config), 77, 4)
    question, entry = verifier.materialize(ref)
    again, _ = verifier.materialize(TaskRef.from_json(ref.to_json()))
    assert question == again and "?" not in entry["answer"]
    assert verifier.score(ref, entry, f"so <answer>{entry['answer']}</answer>") == 1.0
    assert verifier.score(ref, entry, "<answer>not a number</answer>") == 0.0
    assert verifier.score(ref, entry, "no answer") == 0.0
    prompt = tasks.build_prompt(question)
    assert prompt[0]["role"] == "system" and "<answer>" in prompt[0]["content"] and prompt[1]["content"] == question


def test_scorer_exceptions_score_zero() -> None:
    # prime_factorization's verifier raises ValueError on junk: caught, scored 0.
    ref = TaskRef("prime_factorization", {}, 3, 0)
    _, entry = verifier.materialize(ref)
    assert verifier.score(ref, entry, "<answer>junk<></answer>") == 0.0


@pytest.mark.parametrize("ref, message", [
    (TaskRef("no_such_dataset", {}, 1, 0), "unknown dataset"),
    (TaskRef("basic_arithmetic", {"no_such_option": 1}, 1, 0), "bad config for basic_arithmetic"),
    (TaskRef("basic_arithmetic", {"min_digits": 5, "max_digits": 1}, 1, 0), "bad config"),
    (TaskRef("basic_arithmetic", {}, 1, 2**31), "out of range"),
])
def test_bad_references_name_the_problem(ref, message) -> None:
    with pytest.raises(verifier.TaskError, match=message):
        verifier.materialize(ref)


def test_every_preset_task_materializes_and_its_answer_scores_one() -> None:
    for spec in tasks.SAPO_TASKS + tasks.EASY_TASKS:
        ref = TaskRef(spec.dataset, spec.config, 11, 2)
        question, entry = verifier.materialize(ref)
        assert question
        if entry["answer"] is not None:  # propositional_logic scores against metadata
            assert verifier.score(ref, entry, f"<answer>{entry['answer']}</answer>") == 1.0, spec.dataset


@pytest.mark.process
def test_daemon_side_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, swarmd.tasks, swarmd.trainer.protocol, swarmd.trainer.supervisor;"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'reasoning_gym') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
