"""The GPU-shaped paths, checked on a CPU: chunked log-probs, decoding without host reads, sizing.

- The chunked log-prob path (hidden states → head applied a chunk of
  positions at a time, each chunk checkpointed) gives the loss and gradients
  of the straightforward path (full logits of every row) to within 1e-5
  absolute (fp32), with or without the shared prompt pass.
- Its largest full-vocabulary tensor is chunk × V, whatever the batch; the
  straightforward path's is B × T × V.
- The static decode loop (the one CUDA runs, there captured as a CUDA
  graph) reads nothing back from the device per token: every host read
  (``item``, ``bool``, ``int``, ``tolist``, ``nonzero``…) is counted through
  a torch function mode while it runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from swarmd.trainer import grpo, models, sampling
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.decisions import (
    Limits,
    activation_bytes_per_token,
    auto_micro_batch,
    shrink_after_oom,
)
from swarmd.trainer.policy import Policy
from tests.trainer.conftest import tiny_config
from tests.trainer.test_policy import perturb_adapter, prompts

TOL = 1e-5


@pytest.fixture(scope="module")
def policy(model_cache: Path) -> Policy:
    p = Policy(TrainerConfig.model_validate(tiny_config()), model_cache)
    perturb_adapter(p)
    return p


def _batch(policy: Policy, rows: int = 6, length: int = 9) -> sampling.Batch:
    ids = [policy.prompt_ids(m) for m in prompts(3)]
    g = torch.Generator().manual_seed(0)
    comps = [torch.randint(5, 700, (length - (i % 4),), generator=g).tolist() for i in range(rows)]
    return sampling.pack(ids, [i * 3 // rows for i in range(rows)], comps, policy.tokenizer.pad_token_id)


def _straightforward(model, b: sampling.Batch, temperature: float) -> torch.Tensor:
    """Every row's whole sequence through the model, full logits, then log-softmax: [B, T]."""
    ids = torch.cat([b.prompt_ids[b.row_prompt], b.completion_ids], dim=1)
    mask = torch.cat([b.prompt_mask[b.row_prompt], b.completion_mask.long()], dim=1)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=sampling.positions(mask)).logits
    p, t = b.prompt_ids.shape[1], b.completion_ids.shape[1]
    return grpo.token_logprobs(logits[:, p - 1:p - 1 + t], b.completion_ids, temperature)


def _loss_and_grads(policy: Policy, logp_fn) -> tuple[float, list[torch.Tensor]]:
    policy.model.train()
    policy.optimizer.zero_grad(set_to_none=True)
    b = _batch(policy)
    logp = logp_fn(b)
    adv = torch.linspace(-1, 1, logp.shape[0])
    old = logp.detach() - 0.05  # ratio ≠ 1 so the clip and the ratio both matter
    loss, _ = grpo.grpo_loss(logp, old, adv, b.completion_mask, int(b.completion_mask.sum()))
    loss.backward()
    grads = [p.grad.clone() for p in policy.params]
    policy.optimizer.zero_grad(set_to_none=True)
    return float(loss), grads


@pytest.mark.parametrize("share_prefix", [True, False])
def test_chunked_logprobs_give_the_same_loss_and_gradients(policy, share_prefix) -> None:
    want_loss, want = _loss_and_grads(policy, lambda b: _straightforward(policy.model, b, 0.8))
    got_loss, got = _loss_and_grads(
        policy, lambda b: sampling.completion_logprobs(policy.model, b, 0.8, share_prefix=share_prefix, chunk=7))
    assert abs(got_loss - want_loss) <= TOL
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=TOL, rtol=1e-4), float((g - w).abs().max())
    assert any(float(w.abs().max()) > 1e-3 for w in want)  # the comparison is not between zeros


class LargestVocabTensor(TorchDispatchMode):
    """Records the largest tensor with a vocabulary-sized last dimension created by any op."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab, self.largest = vocab, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else [out]:
            if isinstance(t, torch.Tensor) and t.dim() and t.shape[-1] == self.vocab:
                self.largest = max(self.largest, t.numel())
        return out


def _largest(policy: Policy, rows: int, fn) -> int:
    vocab = policy.model.get_output_embeddings().weight.shape[0]
    b = _batch(policy, rows=rows, length=12)
    probe = LargestVocabTensor(vocab)
    policy.model.train()
    with probe:
        fn(b).sum().backward()
    policy.optimizer.zero_grad(set_to_none=True)
    return probe.largest // vocab  # in rows of the vocabulary


def test_peak_logits_grow_with_the_chunk_not_with_the_batch(policy) -> None:
    chunked = {(rows, chunk): _largest(policy, rows, lambda b, c=chunk: sampling.completion_logprobs(
        policy.model, b, 1.0, chunk=c)) for rows in (3, 12) for chunk in (4, 16)}
    # The head's weight itself is V-sized ([V, H]); logits rows are what matters beyond it.
    hidden = policy.model.get_output_embeddings().weight.shape[1]
    for (rows, chunk), largest in chunked.items():
        assert largest <= max(chunk, hidden), (rows, chunk, largest)
    assert chunked[(12, 16)] == chunked[(3, 16)] or chunked[(12, 16)] <= max(16, hidden)
    full = _largest(policy, 12, lambda b: _straightforward(policy.model, b, 1.0))
    assert full >= 12 * 12 > max(16, hidden)  # B × T rows of logits at once


SYNCS = {"__bool__", "__int__", "__float__", "__index__", "item", "tolist", "nonzero", "numpy", "cpu",
         "multinomial", "unique", "masked_select", "argwhere"}


class HostReads(TorchFunctionMode):
    """Counts calls that read device values back to the host (each one a sync on CUDA)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in SYNCS:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def _decode(policy: Policy, mode: str, max_new: int, check_every: int) -> tuple[sampling.Samples, list[str]]:
    ids, mask = sampling.left_pad([policy.prompt_ids(m) for m in prompts(3)], policy.tokenizer.pad_token_id)
    policy.model.eval()
    reads = HostReads()
    with reads:
        out = sampling.sample(policy.model, ids, mask, [2, 2, 2], max_new, [-1], 1.0, mode=mode,
                              check_every=check_every)
    return out, reads.calls


def test_static_decoding_reads_the_device_only_every_k_tokens(policy) -> None:
    out, calls = _decode(policy, "static", 40, 8)
    assert all(len(t) == 40 for t in out.tokens)  # no end-of-sequence token: every row runs to the end
    # Set-up (the repeat counts) and the three read-backs at the end, plus one check per 8 tokens.
    assert len(calls) <= math.ceil(40 / 8) + 4, calls
    # The dynamic loop (CPU) reads every token; the same counter sees it.
    _, dyn_calls = _decode(policy, "dynamic", 40, 1)
    assert len(dyn_calls) >= 40


def test_static_and_dynamic_decoding_agree(policy) -> None:
    ids, mask = sampling.left_pad([policy.prompt_ids(m) for m in prompts(3)], policy.tokenizer.pad_token_id)
    policy.model.eval()
    eos = policy.eos_ids
    a = sampling.sample(policy.model, ids, mask, [2, 1, 2], 14, eos, 0.7, greedy=True, mode="dynamic")
    b = sampling.sample(policy.model, ids, mask, [2, 1, 2], 14, eos, 0.7, greedy=True, mode="static",
                        check_every=4)
    assert a.tokens == b.tokens and a.finished == b.finished
    for x, y in zip(a.logprobs, b.logprobs, strict=True):
        assert torch.allclose(torch.tensor(x), torch.tensor(y), atol=1e-4)


def test_auto_micro_batch_follows_memory_and_length() -> None:
    # Qwen2.5-0.5B-shaped, bf16.
    plain = activation_bytes_per_token(896, 4864, 24, 2, checkpointing=False)
    ckpt = activation_bytes_per_token(896, 4864, 24, 2, checkpointing=True)
    assert ckpt * 5 < plain
    gib = 2**30
    assert auto_micro_batch(80 * gib, 600, ckpt) > auto_micro_batch(80 * gib, 600, plain)
    assert auto_micro_batch(80 * gib, 600, ckpt) > auto_micro_batch(8 * gib, 600, ckpt)
    assert auto_micro_batch(8 * gib, 600, ckpt) > auto_micro_batch(8 * gib, 2400, ckpt)
    assert auto_micro_batch(1 * gib, 100_000, plain) == 1  # never 0
    # micro_batch 0 (auto) still halves after running out of memory, from the batch in flight.
    assert shrink_after_oom("train", Limits(0), 48) == Limits(24)


def test_auto_micro_batch_on_the_cpu_trains(model_cache) -> None:
    p = Policy(TrainerConfig.model_validate(tiny_config(micro_batch="auto", grpo={"skip_zero_advantage": False})),
               model_cache)
    msgs = prompts(2)
    samples = p.sample([p.prompt_ids(m) for m in msgs], 2, 0)
    groups = [(p.prompt_ids(m), samples.tokens[2 * i:2 * i + 2], [0.0, 0.0]) for i, m in enumerate(msgs)]
    kept, rewards, skipped = p.token_groups(groups)
    assert skipped == 0 and len(kept) == 2  # equal rewards kept when skipping is off
    stats = p.train_tokens(kept, rewards, skipped, 0)
    assert stats.stepped and stats.micro_batch >= 4


def test_thinking_is_switched_off_for_thinking_templates(policy) -> None:
    class Tok:
        chat_template = "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}"

    assert models.chat_template_args(Tok()) == {"enable_thinking": False}
    assert models.chat_template_args(policy.tokenizer) == {}


def test_auto_falls_back_when_the_picked_model_is_not_available(model_cache, monkeypatch) -> None:
    monkeypatch.setattr(models, "gpu_memory_gib", lambda: 80.0)
    monkeypatch.setattr(models, "hub_cached", lambda names: set())
    monkeypatch.setattr(models, "choose_placement", lambda *a: models.Placement("cpu", "float32"))
    monkeypatch.setattr(models, "OFFLINE_FALLBACK", models.TINY)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    real = models.resolve

    def offline(name, cache_dir, progress=lambda m: None):
        if name in models.LARGE_POOL:
            raise models.ModelError(f"{name} is not in the cache and the hub is offline")
        return real(name, cache_dir, progress)

    monkeypatch.setattr(models, "resolve", offline)
    said: list[str] = []
    loaded = models.load("auto", model_cache, "auto", "auto", said.append)
    assert loaded.name == models.TINY
    message = next(m for m in said if "auto" in m)
    assert "Qwen/Qwen2.5-1.5B-Instruct" in message and "Qwen/Qwen3-1.7B" in message and "tiny" in message
