"""Peers' completions are off-policy: how far, and an optional truncated importance weight.

A node trains on completions its peers sampled from *their* policies. With one
optimizer step per batch the PPO ratio is computed against the local policy's
own log-probs, so it is 1 for every token: peers' samples are trained on as if
this node had drawn them. When the sender runs the same model it publishes the
mean log-probability per token of each completion under the distribution it
sampled from; this node compares it with its own, per completion:

    log_ratio = mean_t log π_local(y_t) − mean_t log π_sender(y_t)

(length-normalized, as in GSPO's sequence-level ratio: a 32-token completion's
raw ratio would span many orders of magnitude). Always measured and reported.
With ``grpo.external_is_cap`` > 0 the completion's advantage is multiplied by
``min(exp(log_ratio), cap)`` (truncated importance sampling, as IMPALA's ρ̄):
completions this node has become unlikely to produce count less, ones it
would produce more often count up to ``cap`` times. Rows without a sender
log-prob (local samples, another model) keep weight 1.
"""

from __future__ import annotations

import math

import torch


def mean_logprobs(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row, the mean log-prob over its real tokens; [B, T], [B, T] → [B]."""
    return (logp * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


def weights(logp: torch.Tensor, mask: torch.Tensor, behavior: torch.Tensor, cap: float
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weight [B], log_ratio [B], has_behavior [B] bool); weight 1 where there is no behavior
    log-prob or ``cap`` is 0. Nothing here carries a gradient."""
    with torch.no_grad():
        has = ~torch.isnan(behavior)
        log_ratio = torch.where(has, mean_logprobs(logp.detach(), mask) - torch.nan_to_num(behavior), 0.0)
        if cap > 0:
            w = torch.where(has, torch.exp(log_ratio.clamp(max=math.log(cap))), 1.0)
        else:
            w = torch.ones_like(log_ratio)
    return w, log_ratio, has


class Tally:
    """Sums over a step's rows that had a sender log-prob (the last iteration's counts are kept)."""

    def __init__(self) -> None:
        self.rows, self.log_ratio, self.weight = 0, 0.0, 0.0

    def add(self, w: torch.Tensor, log_ratio: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
        self.rows += int(has.sum())
        self.log_ratio += float(log_ratio[has].sum())
        self.weight += float(w[has].sum())
        return w

    def summary(self) -> tuple[int, float, float]:
        """(rows, mean log-ratio, mean weight); means are 0 and 1 without rows."""
        if not self.rows:
            return 0, 0.0, 1.0
        return self.rows, self.log_ratio / self.rows, self.weight / self.rows
