"""The dense synthetic task: regenerable by reference, partial credit, scored like any task."""

from __future__ import annotations

from swarmd import tasks
from swarmd.trainer import verifier
from swarmd.trainer.synthetic import letters_reward


def test_letters_reward_is_dense_and_ordered() -> None:
    assert letters_reward("abc", "abc") == 1.0
    assert letters_reward("abc", "xxaxxcxb") == 2 / 3  # a, then b (at the end); no c after it
    assert letters_reward("abc", "") == 0.0
    assert letters_reward("aab", "ab") == 2 / 3  # each letter matched once: the second a is missing


def test_dense_preset_through_the_task_path() -> None:
    refs = tasks.draw_refs(tasks.preset("dense"), 11, 4)
    assert all(r.dataset == "swarmd_letters" for r in refs)
    question, entry = verifier.materialize(refs[0])
    assert question == verifier.materialize(refs[0])[0]  # regenerable
    target = entry["answer"]
    assert verifier.score(refs[0], entry, f"<answer>{target}</answer>") == 1.0
    # no tags: the whole completion is read, so even untrained output scores a little
    assert verifier.score(refs[0], entry, f"noise {target[0]}") == 1 / 3
    # tags present: only the answer counts
    assert verifier.score(refs[0], entry, f"{target} <answer>zz</answer>") < 1.0


def test_digits_task_rewards_the_share_of_digits() -> None:
    from swarmd.trainer.synthetic import digits_reward

    assert digits_reward("123") == 1.0 and digits_reward("a1 b2") == 0.5 and digits_reward("") == 0.0
    refs = tasks.draw_refs(tasks.preset("digits"), 3, 2)
    question, entry = verifier.materialize(refs[0])
    assert question.startswith("Reply with digits only")
    assert verifier.score(refs[0], entry, "<answer>42</answer>") == 1.0
    assert verifier.score(refs[0], entry, "four 2") == 1 / 5
