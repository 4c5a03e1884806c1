"""Peers' completions: the off-policy measure and the truncated importance weight."""

from __future__ import annotations

import math

import pytest
import torch

from swarmd.trainer import offpolicy
from swarmd.trainer.protocol import TrainGroup


def test_weights_are_length_normalized_ratios_truncated_at_the_cap() -> None:
    logp = torch.tensor([[-1.0, -3.0, 0.0], [-2.0, -2.0, -2.0], [-0.5, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    # row means: -2, -2, -0.5; sender means: -2.5 (local likes it more), -1 (less), none
    behavior = torch.tensor([-2.5, -1.0, math.nan])
    w, log_ratio, has = offpolicy.weights(logp, mask, behavior, cap=1.2)
    assert has.tolist() == [True, True, False]
    assert log_ratio.tolist() == pytest.approx([0.5, -1.0, 0.0])
    assert w.tolist() == pytest.approx([1.2, math.exp(-1.0), 1.0])  # exp(0.5) = 1.65 capped at 1.2
    # cap 0: measured, not applied
    w0, lr0, _ = offpolicy.weights(logp, mask, behavior, cap=0.0)
    assert w0.tolist() == [1.0, 1.0, 1.0] and lr0.tolist() == pytest.approx([0.5, -1.0, 0.0])
    tally = offpolicy.Tally()
    tally.add(w, log_ratio, has)
    assert tally.summary() == (2, pytest.approx(-0.25), pytest.approx((1.2 + math.exp(-1)) / 2))
    assert offpolicy.Tally().summary() == (0, 0.0, 1.0)


def test_sender_logprobs_match_what_the_same_policy_computes_in_training(model_cache) -> None:
    from swarmd import tasks
    from tests.trainer.test_policy import make_policy

    policy = make_policy(model_cache, grpo={"learning_rate": 1e-3, "external_is_cap": 2.0},
                         lora={"target_modules": ["all-linear"]})
    refs = tasks.draw_refs(tasks.preset("dense"), 7, 2)
    groups, _ = policy.rollouts(refs, 4, 0)
    assert all(len(g.logprobs) == 4 and all(x < 0 for x in g.logprobs) for g in groups)
    # As a peer running the same policy would send them (the completions are this worker's
    # own samples, so they train on the sampled token ids): this node's log-probs agree.
    same = [TrainGroup(g.prompt, g.completions, [0.0, 0.25, 0.5, 1.0], "peer",
                       behavior_logprobs=list(g.logprobs)) for g in groups]
    stats = policy.train(same, 8)
    assert stats.external_rows == 8
    assert stats.external_log_ratio == pytest.approx(0.0, abs=1e-3)
    assert stats.external_weight == pytest.approx(1.0, abs=1e-3)
    # Local groups carry no sender log-prob: nothing measured
    local = policy.train([TrainGroup(g.prompt, g.completions, [0.0, 0.2, 0.4, 1.0])
                          for g in policy.rollouts(refs, 4, 0)[0]], 8)
    assert local.external_rows == 0 and local.external_weight == 1.0


def test_a_peers_sampled_token_ids_are_trained_on_when_they_decode_to_its_text(model_cache) -> None:
    from swarmd import tasks
    from tests.trainer.test_policy import make_policy

    policy = make_policy(model_cache, grpo={"learning_rate": 1e-3}, sampling={"max_new_tokens": 16})
    refs = tasks.draw_refs(tasks.preset("sparse"), 11, 4)
    groups, _ = policy.rollouts(refs, 4, 0)
    policy._sampled.clear()  # now these are a peer's completions: not in this worker's own cache
    texts = [c for g in groups for c in g.completions]
    sent = [t for g in groups for t in g.token_ids]
    # A random tiny model's samples rarely survive decode + encode (invalid UTF-8 becomes U+FFFD)
    reencoded = [policy.completion_ids(t) for t in texts]
    assert sum(r != s for r, s in zip(reencoded, sent, strict=True)) >= len(texts) // 2
    # The sender's ids are used when they decode to the text ...
    assert [policy.completion_ids(t, s) for t, s in zip(texts, sent, strict=True)] == sent
    # ... and ignored when they do not (another completion's ids, an id beyond the vocabulary).
    assert policy.completion_ids(texts[0], sent[1]) == reencoded[0] or sent[1] == sent[0]
    assert policy.completion_ids(texts[0], [len(policy.tokenizer) + 5]) == reencoded[0]
    # Trained on the sampled ids, the sender's log-probs and this node's agree (same policy).
    stats = policy.train([TrainGroup(g.prompt, g.completions, [0.0, 0.5, 1.0, 0.25], "peer",
                                     behavior_logprobs=list(g.logprobs), token_ids=g.token_ids)
                          for g in groups], 8)
    assert stats.external_rows == 16 and stats.external_log_ratio == pytest.approx(0.0, abs=1e-3)
