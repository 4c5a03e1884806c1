"""Batched sampling with a KV cache, and the log-probs training recomputes.

One layout serves both: prompts left-padded to P tokens, completions
right-padded to T tokens, position ids counted from each row's first real
token. Sampling and training therefore see every token at the same
position, which is what makes their log-probs agree (tested).

The decode loop is ours rather than ``generate``'s: it returns the sampled
tokens' log-probs for free, drops finished rows from the cache as they end
(a group's short completions stop costing compute), and has no per-step
processor machinery. Simplification: temperature and nucleus (top-p) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from swarmd.trainer.grpo import token_logprobs


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, P+T]
    attention_mask: torch.Tensor  # [B, P+T]
    position_ids: torch.Tensor  # [B, P+T]
    completion_ids: torch.Tensor  # [B, T]
    completion_mask: torch.Tensor  # [B, T] float, 1 on real completion tokens
    prompt_len: int  # P


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that skip left padding; [B, L] → [B, L]."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows → (ids [B, L], mask [B, L]) padded on the left."""
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def pack(prompts: list[list[int]], completions: list[list[int]], pad_id: int) -> Batch:
    """Prompt rows and completion rows → the shared layout."""
    p_ids, p_mask = left_pad(prompts, pad_id)  # [B, P]
    width = max((len(c) for c in completions), default=0)
    c_ids = torch.full((len(completions), width), pad_id, dtype=torch.long)  # [B, T]
    c_mask = torch.zeros((len(completions), width), dtype=torch.long)  # [B, T]
    for i, c in enumerate(completions):
        if c:
            c_ids[i, : len(c)] = torch.tensor(c, dtype=torch.long)
            c_mask[i, : len(c)] = 1
    ids = torch.cat([p_ids, c_ids], dim=1)  # [B, P+T]
    mask = torch.cat([p_mask, c_mask], dim=1)  # [B, P+T]
    return Batch(ids, mask, positions(mask), c_ids, c_mask.float(), p_ids.shape[1])


def completion_logprobs(model, batch: Batch, temperature: float = 1.0) -> torch.Tensor:
    """log π(completion token) at every completion position; → [B, T] (padding positions arbitrary).

    Only the last T+1 positions' logits are computed (``logits_to_keep``): the
    logits tensor is B × positions × V and dominates memory otherwise.
    """
    t = batch.completion_ids.shape[1]
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        logits_to_keep=t + 1,
    )
    logits = out.logits[:, :-1, :]  # [B, T, V]: position P-1+j predicts completion token j
    return token_logprobs(logits, batch.completion_ids, temperature)  # [B, T]


@dataclass
class Samples:
    tokens: list[list[int]]  # per row, the sampled completion, its end-of-sequence token included
    logprobs: list[list[float]]  # per row, log π(token) under softmax(logits / temperature)
    finished: list[bool]  # ended with end-of-sequence (False: cut at max_new_tokens)


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose mass reaches top_p; [N, V] → [N, V] renormalized."""
    sorted_p, order = probs.sort(dim=-1, descending=True)  # [N, V]
    drop = sorted_p.cumsum(-1) - sorted_p > top_p  # [N, V]: mass before this token already enough
    sorted_p = sorted_p.masked_fill(drop, 0.0)
    kept = torch.zeros_like(probs).scatter_(-1, order, sorted_p)  # [N, V]
    return kept / kept.sum(-1, keepdim=True)


@torch.no_grad()
def sample(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    max_new_tokens: int,
    eos_ids: list[int],
    temperature: float = 1.0,
    top_p: float = 1.0,
    prune_fraction: float = 0.25,
) -> Samples:
    """Sample one completion per row; prompt_ids, prompt_mask [B, P] (left-padded).

    Rows that emit an end-of-sequence token are dropped from the batch (and
    the KV cache) once ``prune_fraction`` of the live rows have finished.
    """
    from transformers import DynamicCache

    device = prompt_ids.device
    b = prompt_ids.shape[0]
    if b == 0 or max_new_tokens <= 0:
        return Samples([[] for _ in range(b)], [[] for _ in range(b)], [False] * b)
    eos = torch.tensor(eos_ids, device=device)
    live = torch.arange(b, device=device)  # [L]: original row of each live row
    mask = prompt_mask.to(device)  # [L, P+t]
    pos = positions(mask)[:, -1:]  # [L, 1]
    cache = DynamicCache()
    out = model(
        input_ids=prompt_ids.to(device), attention_mask=mask, position_ids=positions(mask),
        cache=cache, use_cache=True, logits_to_keep=1,
    )
    # Per step: (original rows, tokens, log-probs, which of them count); assembled
    # at the end so the loop does no per-row Python work.
    steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    done = torch.zeros(b, dtype=torch.bool, device=device)  # [L]: ended, not yet pruned
    for step in range(max_new_tokens):
        logits = out.logits[:, -1, :].float() / temperature  # [L, V]
        probs = torch.softmax(logits, dim=-1)  # [L, V]
        draw = _nucleus(probs, top_p) if top_p < 1.0 else probs
        nxt = torch.multinomial(draw, 1)  # [L, 1]
        lp = torch.log(probs.gather(-1, nxt).clamp_min(1e-30)).squeeze(-1)  # [L]
        steps.append((live, nxt.squeeze(-1), lp, ~done))
        done = done | torch.isin(nxt.squeeze(-1), eos)  # [L]
        if step == max_new_tokens - 1 or bool(done.all()):
            break
        n_done = int(done.sum())
        if n_done and n_done >= prune_fraction * len(live):
            keep = (~done).nonzero().squeeze(-1)  # [L']
            cache.batch_select_indices(keep)
            live, mask, pos, nxt, done = live[keep], mask[keep], pos[keep], nxt[keep], done[keep]
        # Rows that ended but are not pruned yet keep decoding; those tokens do not count.
        mask = torch.cat([mask, mask.new_ones(len(live), 1)], dim=1)
        pos = pos + 1
        out = model(input_ids=nxt, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True)
    tokens: list[list[int]] = [[] for _ in range(b)]
    logps: list[list[float]] = [[] for _ in range(b)]
    for rows, toks, lps, valid in steps:
        for row, tok, lp_, ok in zip(rows.tolist(), toks.tolist(), lps.tolist(), valid.tolist(), strict=True):
            if ok:
                tokens[row].append(tok)
                logps[row].append(lp_)
    eos_set = set(eos_ids)
    finished = [bool(t) and t[-1] in eos_set for t in tokens]
    return Samples(tokens, logps, finished)
