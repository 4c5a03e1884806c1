"""GRPO, as pure functions over tensors.

Shapes: B sequences (completions) in a batch, T completion positions
(right-padded), V vocabulary entries, G completions in one question's group.
``mask`` is 1.0 on a completion's real tokens (its end-of-sequence token
included) and 0.0 on padding.

The objective for one step (DAPO-style token-level mean, asymmetric clip):

    ratio_bt = exp(logp_bt - old_logp_bt)
    loss     = (1 / N) Σ_bt mask_bt · ( -min(ratio_bt·A_b, clip(ratio_bt, 1-ε_low, 1+ε_high)·A_b)
                                      + β · KL_bt )

with N the number of completion tokens in the whole batch (not per micro-
batch, so gradient accumulation over micro-batches is exact), A_b the group-
normalized advantage of the completion, and KL_bt the k3 estimator against
the reference policy (the base model, adapter disabled).

Simplifications: one advantage per completion (outcome reward, no per-token
credit); the old policy is the policy at the start of the step, so with one
iteration per batch the ratio is 1 and the clip only matters from the second
iteration on (``grpo.iterations``).
"""

from __future__ import annotations

import math

import torch


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4, scale: bool = True) -> torch.Tensor:
    """(r - mean) / (std + eps) within one group; ``rewards`` [G] → advantages [G].

    std is the sample standard deviation (Bessel-corrected, as TRL does); a
    group of one has std 0. ``scale=False`` only centres (Dr. GRPO).
    """
    rewards = rewards.to(torch.float32)  # [G]
    centred = rewards - rewards.mean()  # [G]
    if not scale:
        return centred
    std = rewards.std(correction=1) if rewards.numel() > 1 else rewards.new_zeros(())  # []
    return centred / (std + eps)  # [G]


def zero_advantage(rewards: torch.Tensor, tol: float = 1e-6) -> bool:
    """True when every completion of the group scored the same: nothing to learn from it."""
    return rewards.numel() < 2 or float(rewards.max() - rewards.min()) <= tol


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log π(token) under softmax(logits / temperature); logits [B, T, V], tokens [B, T] → [B, T].

    Computed as gathered logit minus logsumexp so no [B, T, V] log-softmax is
    kept alive beyond what autograd needs.
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature  # [B, T, V]
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # [B, T]
    return picked - torch.logsumexp(logits, dim=-1)  # [B, T]


# Completion positions per log-prob chunk: the [chunk, V] logits of one chunk are the only
# full-vocabulary tensor alive at a time (about 300 MB in fp32 at a 151,936-entry vocabulary).
LOGPROB_CHUNK = 512


def chunked_token_logprobs(
    head: torch.nn.Module, hidden: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0,
    chunk: int = LOGPROB_CHUNK,
) -> torch.Tensor:
    """log π(token) from the final hidden states, ``chunk`` positions at a time; → [B, T].

    hidden [B, T, H] (the state that predicts each token), tokens [B, T]. The
    same values as ``token_logprobs(head(hidden), tokens)`` without ever
    holding [B, T, V]: each chunk's logits are computed, reduced to one value
    per position and dropped. With gradients on, each chunk is checkpointed,
    so backward recomputes its logits instead of keeping them: peak memory
    grows with ``chunk`` × V, not with B × T × V (a batch of one chunk or less
    is not checkpointed: nothing to gain, a recomputation to lose).
    """
    b, t, h = hidden.shape
    flat_h = hidden.reshape(b * t, h)  # [N, H]
    flat_tok = tokens.reshape(b * t)  # [N]

    def part(hc: torch.Tensor, tc: torch.Tensor) -> torch.Tensor:
        return token_logprobs(head(hc).unsqueeze(0), tc.unsqueeze(0), temperature).squeeze(0)  # [n]

    # One chunk holds nothing back that checkpointing could free later: run it plainly.
    grad = torch.is_grad_enabled() and hidden.requires_grad and b * t > chunk
    out = []
    for start in range(0, b * t, max(1, chunk)):
        hc, tc = flat_h[start:start + chunk], flat_tok[start:start + chunk]
        if grad:
            from torch.utils.checkpoint import checkpoint

            out.append(checkpoint(part, hc, tc, use_reentrant=False))
        else:
            out.append(part(hc, tc))
    if not out:
        return hidden.new_zeros((b, t), dtype=torch.float32)
    return torch.cat(out).reshape(b, t)  # [B, T]


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL(π || π_ref) estimate exp(d) - d - 1 with d = ref_logp - logp; [B, T] → [B, T].

    Unbiased for samples drawn from π and always >= 0 (Schulman's k3).
    """
    d = ref_logp - logp  # [B, T]
    return torch.exp(d) - d - 1.0  # [B, T]


def clipped_objective(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO loss and where the clip was active.

    logp, old_logp [B, T]; advantages [B] → (loss [B, T], clipped [B, T] bool).
    The loss is the negative of min(ratio·A, clip(ratio)·A): minimizing it
    raises the probability of tokens with positive advantage, up to the clip.
    """
    ratio = torch.exp(logp - old_logp)  # [B, T]
    adv = advantages.unsqueeze(-1)  # [B, 1]
    unclipped = ratio * adv  # [B, T]
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv  # [B, T]
    loss = -torch.minimum(unclipped, clipped)  # [B, T]
    was_clipped = clipped < unclipped  # [B, T]: the clipped term is the one taken
    return loss, was_clipped


def masked_sum(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ values·mask; [B, T], [B, T] → []."""
    return (values * mask).sum()


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    total_tokens: int,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The micro-batch's share of the step loss, and sums for the step's metrics.

    logp, old_logp, mask, ref_logp [B, T]; advantages [B]. ``total_tokens`` is
    N, the completion tokens of the whole step, so summing the returned
    losses over micro-batches gives the token-level mean of the whole batch.
    The metric values are sums over this micro-batch's tokens (divide by N).
    """
    n = max(int(total_tokens), 1)
    policy_loss, clipped = clipped_objective(logp, old_logp, advantages, clip_low, clip_high)  # [B, T]
    per_token = policy_loss  # [B, T]
    kl_sum = 0.0
    if ref_logp is not None:
        kl = kl_k3(logp, ref_logp)  # [B, T]
        kl_sum = float(masked_sum(kl.detach(), mask))
        if beta:
            per_token = per_token + beta * kl
    loss = masked_sum(per_token, mask) / n  # []
    sums = {
        "policy_loss": float(masked_sum(policy_loss.detach(), mask)),
        "kl": kl_sum,
        "clipped": float(masked_sum(clipped.to(mask.dtype), mask)),
    }
    return loss, sums


def lr_at(step: int, base_lr: float, schedule: str = "constant", warmup: int = 0, total: int = 0) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warm-up, then the decay.

    'linear' and 'cosine' reach 0 at ``total`` and stay there.
    """
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    if schedule == "constant":
        return base_lr
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    if schedule == "linear":
        return base_lr * (1.0 - progress)
    if schedule == "cosine":
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")
