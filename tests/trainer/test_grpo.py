"""GRPO's pure functions against tensors computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from swarmd.trainer import grpo


def close(a, b, tol=1e-6) -> bool:
    return torch.allclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32), atol=tol)


def test_group_advantages_mean_and_sample_std() -> None:
    # mean 0.5; sample std sqrt(4 * 0.25 / 3) = 0.577350
    adv = grpo.group_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), eps=0.0)
    assert close(adv, [0.866025, -0.866025, -0.866025, 0.866025])
    adv = grpo.group_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), eps=1e-4)
    assert close(adv, [0.5 / 0.577450, -0.5 / 0.577450, -0.5 / 0.577450, 0.5 / 0.577450])
    # rewards 0, 0.5, 1: mean 0.5, sample std 0.5
    assert close(grpo.group_advantages(torch.tensor([0.0, 0.5, 1.0]), eps=0.0), [-1.0, 0.0, 1.0])


def test_group_advantages_unscaled_only_centres() -> None:
    assert close(grpo.group_advantages(torch.tensor([0.0, 0.5, 1.0]), scale=False), [-0.5, 0.0, 0.5])


def test_equal_rewards_give_zero_advantage_and_are_skipped() -> None:
    same = torch.tensor([0.3, 0.3, 0.3])
    assert grpo.zero_advantage(same)
    assert close(grpo.group_advantages(same), [0.0, 0.0, 0.0])
    assert grpo.zero_advantage(torch.tensor([1.0]))  # a group of one teaches nothing either
    assert not grpo.zero_advantage(torch.tensor([0.3, 0.31]))


def test_token_logprobs_with_temperature() -> None:
    logits = torch.tensor([[[0.0, math.log(3.0)]]])  # [1, 1, 2]: softmax 0.25 / 0.75
    tokens = torch.tensor([[1]])
    assert close(grpo.token_logprobs(logits, tokens), [[math.log(0.75)]])
    s3 = math.sqrt(3.0)  # temperature 2 halves the logits: softmax 1/(1+√3), √3/(1+√3)
    assert close(grpo.token_logprobs(logits, tokens, temperature=2.0), [[math.log(s3 / (1 + s3))]])
    assert close(grpo.token_logprobs(logits, torch.tensor([[0]]), temperature=2.0), [[math.log(1 / (1 + s3))]])


def test_clipped_objective_asymmetric_clip() -> None:
    ratio = torch.tensor([[1.5, 0.5, 1.0], [1.5, 0.5, 1.0]])
    old = torch.full_like(ratio, -2.0)
    logp = torch.log(ratio) + old
    adv = torch.tensor([1.0, -1.0])
    loss, clipped = grpo.clipped_objective(logp, old, adv, clip_low=0.2, clip_high=0.28)
    # A > 0: min(1.5, 1.28) = 1.28 (clipped); min(0.5, 0.8) = 0.5; ratio 1 → 1
    # A < 0: min(-1.5, -1.28) = -1.5; min(-0.5, -0.8) = -0.8 (clipped); → -1
    assert close(loss, [[-1.28, -0.5, -1.0], [1.5, 0.8, 1.0]])
    assert clipped.tolist() == [[True, False, False], [False, True, False]]


def test_kl_k3() -> None:
    logp = torch.log(torch.tensor([[0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5]]))
    # d = log(0.25 / 0.5): exp(d) - d - 1 = 0.5 + ln 2 - 1
    assert close(grpo.kl_k3(logp, ref), [[0.5 + math.log(2.0) - 1.0, 0.0]])
    assert (grpo.kl_k3(torch.randn(4, 5), torch.randn(4, 5)) >= 0).all()


def test_loss_is_token_mean_and_ignores_padding() -> None:
    old = torch.zeros(2, 3)
    logp = torch.log(torch.tensor([[1.0, 1.0, 100.0], [1.0, 100.0, 100.0]])).requires_grad_()
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([2.0, -1.0])
    loss, sums = grpo.grpo_loss(logp, old, adv, mask, total_tokens=3)
    # ratio 1 on every real token: per-token loss -A → (-2 - 2 + 1) / 3
    assert close(loss, -1.0)
    assert sums["clipped"] == 0.0
    loss.backward()
    assert logp.grad[0, 2] == 0 and logp.grad[1, 1] == 0 and logp.grad[1, 2] == 0
    # d(-ratio·A / N)/dlogp = -A / N at ratio 1
    assert close(logp.grad[0, :2], [-2 / 3, -2 / 3]) and close(logp.grad[1, 0], 1 / 3)


def test_micro_batches_sum_to_the_whole_batch() -> None:
    torch.manual_seed(0)
    logp, old, ref = torch.randn(4, 5) - 2, torch.randn(4, 5) - 2, torch.randn(4, 5) - 2
    mask = (torch.rand(4, 5) > 0.3).float()
    adv = torch.tensor([1.0, -0.5, 0.3, -1.2])
    n = int(mask.sum())
    whole, whole_sums = grpo.grpo_loss(logp, old, adv, mask, n, beta=0.1, ref_logp=ref)
    parts = [grpo.grpo_loss(logp[i:i + 2], old[i:i + 2], adv[i:i + 2], mask[i:i + 2], n, beta=0.1,
                            ref_logp=ref[i:i + 2]) for i in (0, 2)]
    assert close(whole, parts[0][0] + parts[1][0], 1e-5)
    assert whole_sums["clipped"] == parts[0][1]["clipped"] + parts[1][1]["clipped"]


def test_kl_term_weighted_by_beta() -> None:
    logp = torch.log(torch.tensor([[0.5]]))
    ref = torch.log(torch.tensor([[0.25]]))
    mask = torch.ones(1, 1)
    adv = torch.tensor([0.0])  # no policy term: the loss is β·KL
    loss, sums = grpo.grpo_loss(logp, logp, adv, mask, 1, beta=0.5, ref_logp=ref)
    kl = 0.5 + math.log(2.0) - 1.0
    assert close(loss, 0.5 * kl) and sums["kl"] == pytest.approx(kl, abs=1e-6)
    loss0, sums0 = grpo.grpo_loss(logp, logp, adv, mask, 1, beta=0.0, ref_logp=ref)
    assert close(loss0, 0.0) and sums0["kl"] == pytest.approx(kl, abs=1e-6)  # reported, not trained on


def test_learning_rate_schedules() -> None:
    assert [grpo.lr_at(s, 1.0, "constant", warmup=4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert grpo.lr_at(6, 1.0, "linear", warmup=4, total=8) == pytest.approx(0.5)
    assert grpo.lr_at(6, 1.0, "cosine", warmup=4, total=8) == pytest.approx(0.5)
    assert grpo.lr_at(5, 1.0, "cosine", warmup=4, total=8) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert grpo.lr_at(100, 1.0, "linear", warmup=4, total=8) == 0.0
    with pytest.raises(ValueError):
        grpo.lr_at(0, 1.0, "exponential")
