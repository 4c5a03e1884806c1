"""Batched sampling with a KV cache, and the log-probs training recomputes — prompt computed once.

GRPO's rows come in groups: G completions of one prompt. Both passes here
exploit that: the prompts (U distinct rows, left-padded to P tokens) are run
once, their KV cache is copied to the B = Σ G rows (``row_prompt`` maps a
row to its prompt), and only the completions (right-padded to T tokens) are
run per row. With a 130-token prompt and 32-token completions in groups of
4 that is about 2.5× less work per training pass and 4× less prefill when
sampling. Gradients flow through the copied cache into the shared prompt
pass, so training is exact.

Sampling and training use the same two-step structure and the same
position ids (counted from each row's first real token), which is why their
log-probs agree (tested). The decode loop is ours rather than
``generate``'s: it returns the sampled tokens' log-probs, drops finished
rows from the cache as they end, and has no per-step processor machinery.
Simplification: temperature and nucleus (top-p) sampling only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from swarmd.trainer.grpo import LOGPROB_CHUNK, chunked_token_logprobs


@dataclass
class Batch:
    prompt_ids: torch.Tensor  # [U, P] left-padded
    prompt_mask: torch.Tensor  # [U, P]
    row_prompt: torch.Tensor  # [B] long: the prompt of each row
    completion_ids: torch.Tensor  # [B, T] right-padded
    completion_mask: torch.Tensor  # [B, T] float, 1 on real completion tokens

    def to(self, device: str) -> Batch:
        return Batch(*(t.to(device) for t in (self.prompt_ids, self.prompt_mask, self.row_prompt,
                                              self.completion_ids, self.completion_mask)))


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that skip left padding; [B, L] → [B, L]."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows → (ids [N, L], mask [N, L]) padded on the left."""
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids, mask


def pack(prompts: list[list[int]], row_prompt: list[int], completions: list[list[int]], pad_id: int) -> Batch:
    """Distinct prompts, each row's prompt index, and each row's completion → the shared layout."""
    p_ids, p_mask = left_pad(prompts, pad_id)  # [U, P]
    width = max((len(c) for c in completions), default=0)
    c_ids = torch.full((len(completions), width), pad_id, dtype=torch.long)  # [B, T]
    c_mask = torch.zeros((len(completions), width), dtype=torch.float32)  # [B, T]
    for i, c in enumerate(completions):
        if c:
            c_ids[i, : len(c)] = torch.tensor(c, dtype=torch.long)
            c_mask[i, : len(c)] = 1.0
    return Batch(p_ids, p_mask, torch.tensor(row_prompt, dtype=torch.long), c_ids, c_mask)


def parts(model) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(decoder, output head) of a causal LM, through a PEFT wrapper if there is one.

    The passes here run the decoder for hidden states and apply the head only
    where logits are needed: never [B, T, V] for a whole batch.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


_CACHE_KW: dict[type, str] = {}


def _run(decoder: torch.nn.Module, cache, **kw):
    """Call the decoder with ``cache`` under the name this transformers version uses."""
    cls = type(decoder)
    if cls not in _CACHE_KW:
        import inspect

        _CACHE_KW[cls] = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    kw[_CACHE_KW[cls]] = cache
    return decoder(**kw)


def _prefill(decoder, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, row_prompt: torch.Tensor, cache):
    """Run the U prompts once and copy their cache to the B rows; → last hidden state [B, H]."""
    out = _run(decoder, cache, input_ids=prompt_ids, attention_mask=prompt_mask,
               position_ids=positions(prompt_mask), use_cache=True)
    cache.batch_select_indices(row_prompt)  # [U, ...] → [B, ...]; differentiable indexing
    return out.last_hidden_state[:, -1, :][row_prompt]  # [B, H]


def completion_hidden(model, batch: Batch, share_prefix: bool = True) -> torch.Tensor:
    """The final hidden state that predicts each completion token; → [B, T, H].

    ``share_prefix``: each prompt runs once and its KV cache is copied to its
    rows. Without it (needed under gradient checkpointing, which cannot keep a
    cache) every row runs prompt and completion as one sequence.
    """
    from transformers import DynamicCache

    decoder, _ = parts(model)
    t = batch.completion_ids.shape[1]
    if not share_prefix:
        ids = torch.cat([batch.prompt_ids[batch.row_prompt], batch.completion_ids], dim=1)  # [B, P+T]
        mask = torch.cat([batch.prompt_mask[batch.row_prompt], batch.completion_mask.long()], dim=1)  # [B, P+T]
        out = _run(decoder, None, input_ids=ids, attention_mask=mask, position_ids=positions(mask), use_cache=False)
        p = batch.prompt_ids.shape[1]
        # Completion token 0 is predicted by the prompt's last position, token j by completion position j-1.
        return out.last_hidden_state[:, p - 1 : p - 1 + t, :]  # [B, T, H]
    cache = DynamicCache()
    first = _prefill(decoder, batch.prompt_ids, batch.prompt_mask, batch.row_prompt, cache)  # [B, H]
    if t == 0:
        return first.new_zeros((first.shape[0], 0, first.shape[1]))
    mask = torch.cat([batch.prompt_mask[batch.row_prompt], batch.completion_mask.long()], dim=1)  # [B, P+T]
    pos = positions(mask)[:, -t:]  # [B, T]
    out = _run(decoder, cache, input_ids=batch.completion_ids, attention_mask=mask, position_ids=pos, use_cache=True)
    return torch.cat([first.unsqueeze(1), out.last_hidden_state[:, :-1, :]], dim=1)  # [B, T, H]


def completion_logprobs(
    model, batch: Batch, temperature: float = 1.0, share_prefix: bool = True, chunk: int = LOGPROB_CHUNK,
) -> torch.Tensor:
    """log π(completion token) at every completion position; → [B, T] (padding positions arbitrary).

    The head is applied ``chunk`` positions at a time (``grpo.chunked_token_logprobs``):
    the full-vocabulary logits of the whole batch never exist.
    """
    _, head = parts(model)
    hidden = completion_hidden(model, batch, share_prefix)  # [B, T, H]
    return chunked_token_logprobs(head, hidden, batch.completion_ids, temperature, chunk)  # [B, T]


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


def _pick(logits: torch.Tensor, temperature: float, top_p: float, greedy: bool, gumbel: bool
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token of each row and its log-probability under softmax(logits / T); [L, V] → ([L], [L]).

    ``gumbel``: draw by argmax(p / Exp(1)) (the exponential race, same
    distribution as ``multinomial``) — no host synchronization, which
    ``torch.multinomial`` does on CUDA to check its input.
    """
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)  # [L, V]
    if greedy:
        nxt = logits.argmax(-1)  # [L]
    else:
        probs = logp.exp()
        draw = _nucleus(probs, top_p) if top_p < 1.0 else probs  # [L, V]
        if gumbel:
            nxt = (draw / torch.empty_like(draw).exponential_()).argmax(-1)  # [L]
        else:
            nxt = torch.multinomial(draw, 1).squeeze(-1)  # [L]
    return nxt, logp.gather(-1, nxt.unsqueeze(-1)).squeeze(-1)


class StaticKV:
    """A KV cache of fixed size that the model writes through ``update``; CUDA-graph friendly.

    Every layer's keys and values are [rows, heads, max_len, head_dim],
    allocated at the first write; the positions written are the device tensor
    ``index`` (not a Python int), so a captured decode step advances it on
    the device and replays with no host involvement. Only ``update`` is
    called by the model: positions and the attention mask are the caller's.
    """

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.index: torch.Tensor | None = None  # [q] long: cache positions of the tokens being run

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        if layer_idx == len(self.keys):
            b, h, _, d = key.shape
            self.keys.append(key.new_zeros((b, h, self.max_len, d)))
            self.values.append(value.new_zeros((b, h, self.max_len, d)))
        self.keys[layer_idx].index_copy_(2, self.index, key)
        self.values[layer_idx].index_copy_(2, self.index, value)
        return self.keys[layer_idx], self.values[layer_idx]

    def select(self, rows: torch.Tensor) -> None:
        """Keep/repeat rows: [U, ...] → [len(rows), ...]."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.max_len


def default_mode(device: torch.device) -> str:
    """'graph' (static cache, CUDA-graph decode step) on CUDA; 'dynamic' (shrinking cache) elsewhere."""
    return "graph" if device.type == "cuda" else "dynamic"


@torch.no_grad()
def sample(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    repeats: list[int],
    max_new_tokens: int,
    eos_ids: list[int],
    temperature: float = 1.0,
    top_p: float = 1.0,
    prune_fraction: float = 0.25,
    greedy: bool = False,
    *,
    mode: str = "auto",
    check_every: int = 0,
) -> Samples:
    """``repeats[u]`` completions of prompt u; prompt_ids, prompt_mask [U, P] (left-padded).

    Rows come out prompt by prompt. ``greedy`` takes the most likely token
    (log-probs still under softmax(logits / temperature)). ``mode``:

    - ``dynamic`` (CPU): a growing KV cache; rows that emit an end-of-sequence
      token are dropped from the batch and the cache once ``prune_fraction``
      of the live rows have finished (checked every ``check_every`` tokens,
      default 1: a host read costs nothing on a CPU).
    - ``static``: a fixed-size cache and mask, fixed batch (finished rows run
      on; their tokens do not count), sampling without host reads; the host
      looks at the device every ``check_every`` tokens (default 16) to stop
      once all rows have ended. One decode step is the same kernels every time.
    - ``graph`` (CUDA): ``static`` with the decode step captured once as a CUDA
      graph and replayed per token: one launch instead of hundreds.
    - ``auto``: ``graph`` on CUDA, ``dynamic`` elsewhere.
    """
    device = prompt_ids.device
    if mode == "auto":
        mode = default_mode(device)
    if mode not in ("dynamic", "static", "graph"):
        raise ValueError(f"unknown sampling mode {mode!r}")
    row_prompt = torch.repeat_interleave(torch.arange(len(repeats), device=device),
                                         torch.tensor(repeats, device=device))  # [B]
    b = len(row_prompt)
    if b == 0 or max_new_tokens <= 0:
        return Samples([[] for _ in range(b)], [[] for _ in range(b)], [False] * b)
    eos = torch.tensor(eos_ids, dtype=torch.long, device=device)
    if mode == "dynamic":
        steps = _decode_dynamic(model, prompt_ids, prompt_mask, row_prompt, max_new_tokens, eos, temperature,
                                top_p, greedy, prune_fraction, check_every or 1)
    else:
        steps = _decode_static(model, prompt_ids, prompt_mask, row_prompt, max_new_tokens, eos, temperature,
                               top_p, greedy, check_every or 16, mode == "graph")
    tokens: list[list[int]] = [[] for _ in range(b)]
    logps: list[list[float]] = [[] for _ in range(b)]
    for rows, toks, lps, valid in steps:
        for row, tok, lp_, ok in zip(rows, toks, lps, valid, strict=True):
            if ok:
                tokens[row].append(tok)
                logps[row].append(lp_)
    eos_set = set(eos_ids)
    finished = [bool(t) and t[-1] in eos_set for t in tokens]
    return Samples(tokens, logps, finished)


Steps = list[tuple[list[int], list[int], list[float], list[bool]]]


def _decode_dynamic(model, prompt_ids, prompt_mask, row_prompt, max_new_tokens, eos, temperature, top_p,
                    greedy, prune_fraction, check_every) -> Steps:
    from transformers import DynamicCache

    decoder, head = parts(model)
    device = prompt_ids.device
    b = len(row_prompt)
    cache = DynamicCache()
    logits = head(_prefill(decoder, prompt_ids, prompt_mask, row_prompt, cache))  # [B, V]
    live = torch.arange(b, device=device)  # [L]: original row of each live row
    mask = prompt_mask[row_prompt]  # [L, P+t]
    pos = positions(mask)[:, -1:]  # [L, 1]
    # Per step: (original rows, tokens, log-probs, which of them count); read back
    # at the end so the loop does no per-row Python work.
    steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    done = torch.zeros(b, dtype=torch.bool, device=device)  # [L]: ended, not yet pruned
    for step in range(max_new_tokens):
        nxt, lp = _pick(logits, temperature, top_p, greedy, gumbel=False)  # [L], [L]
        steps.append((live, nxt, lp, ~done))
        done = done | torch.isin(nxt, eos)  # [L]
        if step == max_new_tokens - 1:
            break
        if (step + 1) % check_every == 0:
            n_done = int(done.sum())
            if n_done == len(live):
                break
            if n_done and n_done >= prune_fraction * len(live):
                keep = (~done).nonzero().squeeze(-1)  # [L']
                cache.batch_select_indices(keep)
                live, mask, pos, nxt, done = live[keep], mask[keep], pos[keep], nxt[keep], done[keep]
        # Rows that ended but are not pruned yet keep decoding; those tokens do not count.
        mask = torch.cat([mask, mask.new_ones(len(live), 1)], dim=1)
        pos = pos + 1
        out = _run(decoder, cache, input_ids=nxt.unsqueeze(-1), attention_mask=mask, position_ids=pos, use_cache=True)
        logits = head(out.last_hidden_state[:, -1, :])
    return [(r.tolist(), t.tolist(), p.tolist(), v.tolist()) for r, t, p, v in steps]


DECODE_ATTENTION = "swarmd_decode"


def _decode_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention for one new token per row against the whole static cache, heads grouped.

    query [B, H, 1, D], key/value [B, Hkv, N, D], mask [B, 1, 1, N] (additive):
    the H query heads are viewed as Hkv groups, so keys and values are read
    once, not copied per query head (what ``sdpa`` with a mask does). Longer
    queries (the prefill) go to ``sdpa``. → ([B, 1, H, D], None).
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    b, h, q, d = query.shape
    if q != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    hkv = key.shape[1]
    scale = d ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query.reshape(b, hkv, h // hkv, d), key.transpose(-1, -2)).float() * scale  # [B, Hkv, G, N]
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]]  # [B, 1, 1, N] broadcast over heads
    out = torch.matmul(torch.softmax(scores, dim=-1).to(value.dtype), value)  # [B, Hkv, G, D]
    return out.reshape(b, 1, h, d), None


@contextlib.contextmanager
def _grouped_decode_attention(decoder) -> Iterator[None]:
    """Route the model's attention through ``_decode_attention`` while decoding."""
    from transformers import AttentionInterface

    AttentionInterface.register(DECODE_ATTENTION, _decode_attention)
    config = decoder.config
    saved = config._attn_implementation
    config._attn_implementation = DECODE_ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = saved


def _decode_static(model, prompt_ids, prompt_mask, row_prompt, max_new_tokens, eos, temperature, top_p,
                   greedy, check_every, graph) -> Steps:
    """The fixed-shape decode loop. One token step (sample from the current logits, record, run the
    model on the drawn token) touches only preallocated tensors and keeps its counters on the
    device; ``graph`` captures that step once and replays it per token."""
    decoder, head = parts(model)
    device = prompt_ids.device
    dtype = head.weight.dtype
    neg = torch.finfo(dtype).min
    u, p = prompt_ids.shape
    b = len(row_prompt)
    # The step after the last token still runs the model once: room for one more position.
    n = p + max_new_tokens + 1
    kv = StaticKV(n)
    # Prefill the U prompts: causal, left padding masked, nothing beyond P visible.
    causal = torch.ones((p, p), dtype=torch.bool, device=device).tril()  # [P, P]
    allowed = causal.unsqueeze(0) & prompt_mask.bool().unsqueeze(1)  # [U, P, P]
    mask4 = torch.full((u, 1, p, n), neg, dtype=dtype, device=device)  # [U, 1, P, N]
    mask4[:, 0, :, :p].masked_fill_(allowed, 0.0)
    kv.index = torch.arange(p, device=device)
    out = _run(decoder, kv, input_ids=prompt_ids, attention_mask=mask4, position_ids=positions(prompt_mask),
               use_cache=True)
    first = head(out.last_hidden_state[:, -1, :])[row_prompt].float()  # [B, V]
    kv.select(row_prompt)
    del out, mask4
    # Decode state: every tensor a step reads or writes is allocated once.
    logits = first.clone()  # [B, V]
    dmask = torch.full((b, 1, 1, n), neg, dtype=dtype, device=device)  # [B, 1, 1, N]
    dmask[:, 0, 0, :p].masked_fill_(prompt_mask[row_prompt].bool(), 0.0)
    ids = torch.zeros((b, 1), dtype=torch.long, device=device)  # [B, 1]
    pos0 = positions(prompt_mask)[row_prompt][:, -1:].clone()  # [B, 1]
    pos = pos0.clone()
    kv.index = torch.full((1,), p - 1, dtype=torch.long, device=device)
    t_idx = torch.zeros((1,), dtype=torch.long, device=device)  # the token being drawn
    tok_buf = torch.zeros((b, max_new_tokens + 1), dtype=torch.long, device=device)
    lp_buf = torch.zeros((b, max_new_tokens + 1), dtype=torch.float32, device=device)
    valid_buf = torch.zeros((b, max_new_tokens + 1), dtype=torch.bool, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)

    def token_step() -> None:
        nxt, lp = _pick(logits, temperature, top_p, greedy, gumbel=True)  # [B], [B]
        tok_buf.index_copy_(1, t_idx, nxt.unsqueeze(-1))
        lp_buf.index_copy_(1, t_idx, lp.unsqueeze(-1))
        valid_buf.index_copy_(1, t_idx, (~done).unsqueeze(-1))
        done.logical_or_(torch.isin(nxt, eos))
        t_idx.add_(1)
        ids.copy_(nxt.unsqueeze(-1))
        kv.index.add_(1)
        pos.add_(1)
        dmask.index_fill_(3, kv.index, 0.0)  # the new token's column becomes visible
        o = _run(decoder, kv, input_ids=ids, attention_mask=dmask, position_ids=pos, use_cache=True)
        logits.copy_(head(o.last_hidden_state[:, -1, :]))

    run = token_step
    cuda_graph = None
    with _grouped_decode_attention(decoder):
        if graph and max_new_tokens > 1:
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up: lazy initializations happen outside the capture
                    token_step()
            torch.cuda.current_stream(device).wait_stream(side)
            kv.index.fill_(p - 1)
            pos.copy_(pos0)
            dmask[..., p:].fill_(neg)
            t_idx.zero_()
            done.zero_()
            logits.copy_(first)
            cuda_graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(cuda_graph):
                token_step()
            run = cuda_graph.replay
        k = 0
        while k < max_new_tokens:
            run()
            k += 1
            if k < max_new_tokens and k % check_every == 0 and bool(done.all()):
                break
    rows = list(range(b))
    toks, lps, valid = tok_buf[:, :k].T.tolist(), lp_buf[:, :k].T.tolist(), valid_buf[:, :k].T.tolist()
    del run, cuda_graph  # the graph's memory pool goes with it
    return [(rows, toks[i], lps[i], valid[i]) for i in range(k)]
