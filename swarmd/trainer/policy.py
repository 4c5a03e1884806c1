"""The policy the worker trains: base model + LoRA adapter, sampler, GRPO step, state.

One object owns the model, the tokenizer, the optimizer and the step count
(the policy version). Its methods are the worker's operations; each takes
plain Python values and returns them, so the worker's dispatch stays thin.

Simplifications, stated once:
- The reference policy for the KL term is the same model with the adapter
  disabled; it is only evaluated when ``kl_beta`` > 0 (the reported KL is 0
  otherwise).
- Completions arrive as text (peers may run other tokenizers) and are
  re-tokenized; a completion shorter than ``max_new_tokens`` tokens is taken
  to have ended with the end-of-sequence token, which is appended.
- The learning-rate schedule is a pure function of the step count, so its
  "state" is that count.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import random
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from swarmd import tasks
from swarmd.errors import SwarmdError
from swarmd.trainer import checkpoint, grpo, models, offpolicy, sampling, state, verifier
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.decisions import activation_bytes_per_token, auto_micro_batch, plan_chunks
from swarmd.trainer.protocol import Group, ScoreItem, ScoreResult, TrainGroup, TrainStats

log = logging.getLogger(__name__)

ADAPTER_FILE = "adapter.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"


class DeviceOutOfMemory(SwarmdError):
    """An allocation failed; ``batch`` is how many sequences were being processed."""

    def __init__(self, batch: int, detail: str) -> None:
        super().__init__(f"out of memory with {batch} sequences in flight: {detail[:200]}")
        self.batch = batch


class BadInput(SwarmdError, ValueError):
    """The request's arguments are unusable (a bad task reference, an empty prompt list)."""


# How many recent completions keep their sampled token ids (two rounds of a big swarm).
SAMPLED_CACHE = 4096


def is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError | torch.OutOfMemoryError):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


@contextlib.contextmanager
def oom_as(batch: int) -> Iterator[None]:
    try:
        yield
    except BaseException as e:
        if is_oom(e):
            raise DeviceOutOfMemory(batch, str(e)) from None
        raise


def _available_ram() -> int:
    """MemAvailable from /proc/meminfo in bytes (4 GiB where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


def peak_memory_bytes(device: str) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class _Group:
    prompt: list[int]
    completions: list[list[int]]
    advantages: list[float]
    behavior: list[float] | None = None  # the sender's mean log-prob per token (peers' groups)


class Policy:
    def __init__(self, cfg: TrainerConfig, cache_dir: Path, progress: Callable[[str], None] = lambda m: None) -> None:
        from peft import LoraConfig, get_peft_model

        self.cfg = cfg
        threads = cfg.threads or len(os.sched_getaffinity(0))
        torch.set_num_threads(threads)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.loaded = models.load(cfg.model, cache_dir, cfg.device, cfg.dtype, progress)
        self.device = self.loaded.placement.device
        self.tokenizer = self.loaded.tokenizer
        self.checkpointing = self._want_checkpointing()
        if self.checkpointing:
            self.loaded.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        lora = LoraConfig(
            r=cfg.lora.rank,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules if cfg.lora.target_modules != ["all-linear"] else "all-linear",
            bias="none",
            task_type="CAUSAL_LM",
        )
        try:
            self.model = get_peft_model(self.loaded.model, lora)
        except ValueError as e:
            raise models.ModelError(f"trainer.lora.target_modules: {e}") from None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=cfg.grpo.learning_rate, weight_decay=cfg.grpo.weight_decay
        )
        self.step = 0
        self.eos_ids = self._eos_ids()
        # completion text → the token ids it was sampled as (this worker's recent samples)
        self._sampled: collections.OrderedDict[str, list[int]] = collections.OrderedDict()
        self.threads = threads
        self._decode_fallback: str | None = None  # set when the configured decode loop failed once
        self._template_args = models.chat_template_args(self.tokenizer)

    def _want_checkpointing(self) -> bool:
        mode = self.cfg.gradient_checkpointing
        if mode != "auto":
            return mode == "on"
        if not self.device.startswith("cuda"):
            return False
        params = sum(p.numel() for p in self.loaded.model.parameters())
        total_gib = torch.cuda.get_device_properties(self.device).total_memory / 2**30
        return params >= 1e9 or total_gib < 40
    # -- identity ----------------------------------------------------------------

    def _eos_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        gen = self.model.generation_config.eos_token_id
        ids.update(gen if isinstance(gen, list) else [gen])
        return sorted(i for i in ids if i is not None)

    @property
    def identity(self) -> dict[str, Any]:
        return {**self.loaded.identity, "lora": self.cfg.lora.model_dump(mode="json")}

    @property
    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.params)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.cfg.model if self.cfg.model != "auto" else self.loaded.name,
            "source": self.loaded.source,
            "device": self.device,
            "dtype": self.loaded.placement.dtype,
            "threads": self.threads,
            "gradient_checkpointing": self.checkpointing,
            "trainable_params": self.trainable_params,
            "step": self.step,
        }

    # -- tokens --------------------------------------------------------------------

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        if not messages:
            raise BadInput("a prompt needs at least one message")
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                  **self._template_args)
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _remember(self, texts: list[str], tokens: list[list[int]]) -> None:
        for text, ids in zip(texts, tokens, strict=True):
            self._sampled[text] = list(ids)
            self._sampled.move_to_end(text)
        while len(self._sampled) > SAMPLED_CACHE:
            self._sampled.popitem(last=False)

    def completion_ids(self, text: str, sent: list[int] | None = None) -> list[int]:
        """Token ids to train on for a completion.

        This worker's own samples train on the exact ids it sampled: decoding and
        encoding again does not always give them back (a small BPE splits text
        differently), and the policy gradient belongs to the sampled sequence.
        A peer running the same model may send the ids it sampled (``sent``): they are used
        when they are valid ids that decode to the text, so the gradient is on the sampled
        sequence as for local samples. Other peers' completions are encoded.
        """
        g = self.cfg.grpo
        sampled = self._sampled.get(text)
        if sampled is not None:
            return sampled[: g.max_completion_tokens]
        if sent and len(sent) <= g.max_completion_tokens and max(sent) < len(self.tokenizer) \
                and self.decode(sent) == text:
            return list(sent)
        ids = self.tokenizer.encode(text, add_special_tokens=False)[: g.max_completion_tokens]
        if len(ids) < min(self.cfg.sampling.max_new_tokens, g.max_completion_tokens):
            ids.append(self.eos_ids[0] if self.tokenizer.eos_token_id is None else self.tokenizer.eos_token_id)
        return ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # -- sampling ------------------------------------------------------------------

    @contextlib.contextmanager
    def _sampling_weights(self) -> Iterator[None]:
        """Sample with the adapter folded into the weights (one matmul per layer saved per token).

        The adapted layers' weights are swapped for merged copies and swapped
        back afterwards, never updated in place: an in-place merge/unmerge
        would drift the base weights by rounding error step after step.
        """
        self.model.eval()
        if not self.cfg.sampling.merge_lora:
            yield
            return
        from peft.tuners.lora import LoraLayer

        swapped = []
        try:
            with torch.no_grad():
                for module in self.model.modules():
                    if isinstance(module, LoraLayer):
                        base = module.get_base_layer()
                        original = base.weight.data
                        delta = module.get_delta_weight(module.active_adapters[0])
                        base.weight.data = original + delta.to(original.dtype)
                        swapped.append((base, original))
            with self.model.disable_adapter():
                yield
        finally:
            for base, original in swapped:
                base.weight.data = original

    @property
    def decode_mode(self) -> str:
        """The decode loop sampling uses (see ``sampling.sample``)."""
        mode = self.cfg.sampling.decode
        if mode == "auto":
            mode = sampling.default_mode(torch.device(self.device))
        return self._decode_fallback or mode

    def _sample_pass(self, ids: torch.Tensor, mask: torch.Tensor, repeats: list[int], greedy: bool,
                     max_new_tokens: int) -> sampling.Samples:
        s = self.cfg.sampling
        while True:
            mode = self.decode_mode
            try:
                with oom_as(sum(repeats)):
                    return sampling.sample(self.model, ids, mask, repeats, max_new_tokens, self.eos_ids,
                                           s.temperature, s.top_p, greedy=greedy, mode=mode)
            except DeviceOutOfMemory:
                raise
            except Exception as e:  # noqa: BLE001 - a decode loop this model or torch cannot run
                fallback = {"graph": "static", "static": "dynamic"}.get(mode)
                if fallback is None:
                    raise
                log.warning("sampling: the %r decode loop failed (%s: %s); using %r from now on",
                            mode, type(e).__name__, str(e)[:300], fallback)
                self._decode_fallback = fallback

    def sample(self, prompts: list[list[int]], n: int, gen_batch: int, greedy: bool = False,
               max_new_tokens: int | None = None) -> sampling.Samples:
        """``n`` completions of every prompt, prompt by prompt; at most ``gen_batch`` rows per pass (0: all).

        ``greedy``: the most likely token at every step instead of a draw.
        """
        limit = self.cfg.sampling.max_new_tokens if max_new_tokens is None else max_new_tokens
        out = sampling.Samples([], [], [])
        with self._sampling_weights():
            for chunk in plan_chunks([n] * len(prompts), gen_batch):
                ids, mask = sampling.left_pad([prompts[u] for u, _, _ in chunk], self.tokenizer.pad_token_id)
                got = self._sample_pass(ids.to(self.device), mask.to(self.device), [k for _, _, k in chunk],
                                        greedy, limit)
                out.tokens += got.tokens
                out.logprobs += got.logprobs
                out.finished += got.finished
        return out

    def rollouts(self, refs: list[tasks.TaskRef], group_size: int, gen_batch: int) -> tuple[list[Group], dict]:
        if group_size < 1:
            raise BadInput("group_size must be >= 1")
        entries = []
        for ref in refs:
            try:
                question, entry = verifier.materialize(ref)
            except verifier.TaskError as e:
                raise BadInput(f"task reference {ref.dataset}[{ref.index}]: {e}") from None
            entries.append((ref, question, entry, tasks.build_prompt(question)))
        t0 = time.perf_counter()
        samples = self.sample([self.prompt_ids(e[3]) for e in entries], group_size, gen_batch)
        gen_s = time.perf_counter() - t0
        groups = []
        for i, (ref, question, entry, prompt) in enumerate(entries):
            toks = samples.tokens[i * group_size : (i + 1) * group_size]
            texts = [self.decode(t) for t in toks]
            self._remember(texts, toks)
            lps = samples.logprobs[i * group_size : (i + 1) * group_size]
            groups.append(Group(ref, prompt, question, texts, [verifier.score(ref, entry, c) for c in texts],
                                [len(t) for t in toks], [sum(lp) / len(lp) if len(lp) else 0.0 for lp in lps],
                                [list(t) for t in toks]))
        n_tokens = sum(len(t) for t in samples.tokens)
        stats = {"generated_tokens": n_tokens, "generate_s": gen_s,
                 "generate_tokens_per_s": n_tokens / gen_s if gen_s > 0 else 0.0}
        return groups, stats

    def generate(self, prompts: list[list[dict[str, str]]], n: int, gen_batch: int) -> list[list[str]]:
        if n < 1:
            raise BadInput("n must be >= 1")
        samples = self.sample([self.prompt_ids(p) for p in prompts], n, gen_batch)
        texts = [self.decode(t) for t in samples.tokens]
        self._remember(texts, samples.tokens)
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    @staticmethod
    def score(items: list[ScoreItem]) -> list[ScoreResult]:
        results = []
        for item in items:
            try:
                question, entry = verifier.materialize(item.ref)
            except verifier.TaskError as e:
                results.append(ScoreResult(error=str(e)))
                continue
            if question != item.question:
                results.append(ScoreResult(error="question_mismatch"))
                continue
            results.append(ScoreResult([verifier.score(item.ref, entry, c) for c in item.completions]))
        return results

    # -- training ------------------------------------------------------------------

    def logprobs(self, prompts: list[list[int]], row_prompt: list[int], completions: list[list[int]]) -> torch.Tensor:
        """Training-side log-probs of completions (adapter active, no grad); → [B, T]."""
        self.model.eval()
        batch = sampling.pack(prompts, row_prompt, completions, self.tokenizer.pad_token_id).to(self.device)
        with torch.no_grad():
            return sampling.completion_logprobs(self.model, batch, self.cfg.sampling.temperature)

    def _logprobs(self, batch: sampling.Batch) -> torch.Tensor:
        """The training pass's log-probs [B, T]; under gradient checkpointing each row runs whole
        (a checkpointed layer cannot keep a KV cache to share the prompt through)."""
        share = not (self.checkpointing and self.model.training and torch.is_grad_enabled())
        return sampling.completion_logprobs(self.model, batch, self.cfg.sampling.temperature, share_prefix=share)

    def _groups(self, groups: list[TrainGroup]) -> tuple[list[_Group], list[float], int]:
        """Tokenized groups with their advantages; zero-advantage groups counted and left out."""
        tokenized = []
        for group in groups:
            behavior = group.behavior_logprobs if len(group.behavior_logprobs or []) == len(group.completions) else None
            ids = [self.completion_ids(c, sent) for c, sent in
                   zip(group.completions, group.token_ids or [None] * len(group.completions), strict=True)]
            tokenized.append((self.prompt_ids(group.prompt), ids, list(group.rewards), behavior))
        return self.token_groups(tokenized)

    def token_groups(self, groups: list[tuple]) -> tuple[list[_Group], list[float], int]:
        """(prompt ids, completions' ids, rewards[, sender's mean log-probs]) per group → groups with
        advantages, all rewards, and how many were left out for having nothing to learn from
        (unless ``grpo.skip_zero_advantage`` is off)."""
        g = self.cfg.grpo
        kept, rewards, skipped = [], [], 0
        for prompt, completions, group_rewards, *rest in groups:
            behavior = rest[0] if rest else None
            r = torch.tensor(group_rewards, dtype=torch.float32)
            rewards += group_rewards
            if g.skip_zero_advantage and grpo.zero_advantage(r):
                skipped += 1
                continue
            adv = grpo.group_advantages(r, g.adv_epsilon, g.scale_rewards).tolist()
            kept.append(_Group(prompt, completions, adv, behavior))
        return kept, rewards, skipped

    def auto_micro_batch(self, seq_len: int) -> int:
        """Sequences per training pass that fit the free memory at this sequence length."""
        cfg = self.loaded.model.config
        text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        hidden = int(text.hidden_size)
        intermediate = int(getattr(text, "intermediate_size", 4 * hidden) or 4 * hidden)
        dtype_bytes = torch.finfo(getattr(torch, self.loaded.placement.dtype)).bits // 8
        per_token = activation_bytes_per_token(hidden, intermediate, int(text.num_hidden_layers), dtype_bytes,
                                               self.checkpointing)
        # The log-prob chunk's logits: fp32, with their softmax and gradient alive at once.
        fixed = grpo.LOGPROB_CHUNK * int(text.vocab_size) * 4 * 3
        if self.device.startswith("cuda"):
            free, _ = torch.cuda.mem_get_info(self.device)
        else:
            free = _available_ram()
        return auto_micro_batch(free, seq_len, per_token, fixed)

    def _micro_batches(self, groups: list[_Group], micro_batch: int
                       ) -> list[tuple[sampling.Batch, torch.Tensor, torch.Tensor]]:
        """(batch, advantages [B], sender mean log-probs [B], nan for none) per pass: whole groups
        (their prompt computed once), ≤ ``micro_batch`` rows."""
        out = []
        for chunk in plan_chunks([len(grp.completions) for grp in groups], micro_batch):
            prompts, row_prompt, completions, advantages, behavior = [], [], [], [], []
            for u, (gi, start, count) in enumerate(chunk):
                grp = groups[gi]
                prompts.append(grp.prompt)
                row_prompt += [u] * count
                completions += grp.completions[start:start + count]
                advantages += grp.advantages[start:start + count]
                behavior += (grp.behavior or [math.nan] * len(grp.completions))[start:start + count]
            batch = sampling.pack(prompts, row_prompt, completions, self.tokenizer.pad_token_id)
            out.append((batch.to(self.device), torch.tensor(advantages, dtype=torch.float32, device=self.device),
                        torch.tensor(behavior, dtype=torch.float32, device=self.device)))
        return out

    def train(self, groups: list[TrainGroup], micro_batch: int) -> TrainStats:
        """One GRPO step on peers' or own groups (text); ``micro_batch`` 0: sized from free memory."""
        t0 = time.perf_counter()
        kept, rewards, skipped = self._groups(groups)
        return self.train_tokens(kept, rewards, skipped, micro_batch, t0)

    def train_tokens(self, kept: list[_Group], rewards: list[float], skipped: int, micro_batch: int,
                     t0: float | None = None) -> TrainStats:
        """The step on tokenized groups (``token_groups``' output)."""
        t0 = time.perf_counter() if t0 is None else t0
        g = self.cfg.grpo
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(self.device)
        n_groups = len(kept) + skipped
        if kept and micro_batch <= 0:
            seq_len = max(len(grp.prompt) for grp in kept) + max(len(c) for grp in kept for c in grp.completions)
            micro_batch = self.auto_micro_batch(seq_len)
        r = torch.tensor(rewards or [0.0])
        stats = TrainStats(
            policy_version=self.step,
            reward_mean=float(r.mean()),
            reward_std=float(r.std(correction=0)),
            zero_adv_fraction=skipped / n_groups if n_groups else 0.0,
            groups_used=len(kept),
            groups_skipped=skipped,
            micro_batch=max(micro_batch, 0),
        )
        if not kept:
            stats.step_s = time.perf_counter() - t0
            return stats
        batches = self._micro_batches(kept, micro_batch)
        n_rows = sum(len(grp.completions) for grp in kept)
        n_tokens = int(sum(float(b.completion_mask.sum()) for b, _, _ in batches))
        old: list[torch.Tensor | None] = [None] * len(batches)
        if g.iterations > 1:
            self.model.eval()
            for i, (b, _, _) in enumerate(batches):
                with oom_as(len(b.row_prompt)), torch.no_grad():
                    old[i] = self._logprobs(b)
        train_t0 = time.perf_counter()
        for _ in range(g.iterations):
            self.model.train()
            self.optimizer.zero_grad(set_to_none=True)
            loss_total, sums = 0.0, {"policy_loss": 0.0, "kl": 0.0, "clipped": 0.0}
            off = offpolicy.Tally()
            for i, (b, adv, behavior) in enumerate(batches):
                try:
                    with oom_as(len(b.row_prompt)):
                        logp = self._logprobs(b)  # [B, T]
                        ref = None
                        if g.kl_beta > 0:
                            with torch.no_grad(), self.model.disable_adapter():
                                ref = self._logprobs(b)
                        # Peers' completions: how far off-policy, and (external_is_cap) their weight.
                        adv = adv * off.add(*offpolicy.weights(logp, b.completion_mask, behavior,
                                                               g.external_is_cap))
                        old_logp = old[i] if old[i] is not None else logp.detach()
                        loss, part = grpo.grpo_loss(logp, old_logp, adv, b.completion_mask,
                                                    n_tokens, g.clip_low, g.clip_high, g.kl_beta, ref)
                        loss.backward()
                except DeviceOutOfMemory:
                    self.optimizer.zero_grad(set_to_none=True)
                    raise
                loss_total += float(loss.detach())
                for k in sums:
                    sums[k] += part[k]
            if g.max_grad_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(self.params, g.max_grad_norm)
            else:
                norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.params if p.grad is not None]))
            lr = grpo.lr_at(self.step, g.learning_rate, g.lr_schedule, g.warmup_steps, g.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
        train_s = time.perf_counter() - train_t0
        stats.policy_version = self.step
        stats.stepped = True
        stats.loss = loss_total
        stats.kl = sums["kl"] / n_tokens
        stats.clip_fraction = sums["clipped"] / n_tokens
        stats.grad_norm = float(norm)
        stats.learning_rate = lr
        stats.completion_len = n_tokens / n_rows
        stats.tokens = n_tokens
        stats.tokens_per_s = n_tokens * g.iterations / train_s if train_s > 0 else 0.0
        stats.step_s = time.perf_counter() - t0
        stats.peak_memory_bytes = peak_memory_bytes(self.device)
        stats.external_rows, stats.external_log_ratio, stats.external_weight = off.summary()
        return stats

    # -- adapter and checkpoint state ---------------------------------------------------

    def adapter_state(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        return {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(self.model).items()}

    def adapter_bytes(self) -> bytes:
        from safetensors.torch import save

        return save(self.adapter_state())

    def load_adapter_bytes(self, data: bytes) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load

        tensors = load(data)
        expected = set(self.adapter_state())
        if set(tensors) != expected:
            raise BadInput("adapter tensors do not match this model's adapter")
        set_peft_model_state_dict(self.model, {k: v.to(self.device) for k, v in tensors.items()})

    def export(self, directory: str, facts: dict[str, Any] | None = None) -> None:
        """A portable PEFT directory, written atomically: adapter_config.json (the base model's
        public name), adapter_model.safetensors, a model card (README.md) and swarmd.json.

        ``facts`` are what the daemon knows about the training (swarm, rounds, task mix, ...).
        """
        target = Path(directory)
        if not target.is_absolute():
            raise BadInput(f"export directory {directory!r} must be an absolute path")
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise BadInput(f"export directory {directory} exists and is not empty")
        parent = target.parent
        if not parent.is_dir():
            raise BadInput(f"export directory's parent {parent} does not exist")
        tmp = parent / f".{target.name}.tmp-{os.getpid()}"
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        try:
            from swarmd.trainer import card

            self.model.save_pretrained(tmp)
            card.finish(tmp, {
                **(facts or {}),
                "base_model": card.public_name(self.loaded.name),
                "model": self.loaded.name,
                "policy_version": self.step,
                "steps": self.step,
                "lora": self.cfg.lora.model_dump(mode="json"),
                "base_identity": self.identity,
                "exported_at": time.time(),
            })
            if target.exists():
                target.rmdir()
            os.rename(tmp, target)
        except PermissionError as e:
            raise BadInput(f"cannot write {directory}: {e.strerror}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def checkpoint(self, root: Path, round_state: dict[str, Any], keep: int) -> Path:
        from safetensors.torch import save

        opt_tensors, opt_meta = state.optimizer_state(self.optimizer)
        rng = state.rng_tensors(self.device)
        meta = {
            "step": self.step,
            "identity": self.identity,
            "optimizer": opt_meta,
            "python_rng": state.python_rng(),
            "round_state": round_state,
            "created": time.time(),
        }
        files = {ADAPTER_FILE: self.adapter_bytes(), OPTIMIZER_FILE: save(opt_tensors), RNG_FILE: save(rng)}
        return checkpoint.save(root, files, meta, keep)

    def _accept(self, meta: dict[str, Any]) -> str | None:
        if meta.get("identity") != self.identity:
            return "it was made for another model or adapter configuration"
        return None

    def restore(self, root: Path, warn: Callable[[str], None]) -> dict[str, Any] | None:
        """Load the newest valid checkpoint; returns what it held (path, step, round_state) or None.

        Every piece is parsed before anything is applied, so a checkpoint that
        verifies but does not load leaves the model untouched and is skipped.
        """
        from safetensors.torch import load

        unloadable: set[Path] = set()
        while True:
            ckpt = checkpoint.newest_valid(root, self._accept, warn, skip=unloadable)
            if ckpt is None:
                return None
            try:
                adapter = load(ckpt.files[ADAPTER_FILE])
                current = self.adapter_state()
                if {k: tuple(v.shape) for k, v in adapter.items()} != {k: tuple(v.shape) for k, v in current.items()}:
                    raise ValueError("adapter tensors do not match this model's adapter")
                opt = state.optimizer_state_dict(load(ckpt.files[OPTIMIZER_FILE]), ckpt.meta["optimizer"])
                rng = load(ckpt.files[RNG_FILE])
                py_state = state.parse_python_rng(ckpt.meta["python_rng"])
                step = int(ckpt.meta["step"])
            except Exception as e:  # noqa: BLE001 - a checkpoint that verifies but will not load is skipped too
                warn(f"skipping checkpoint {ckpt.path}: it does not load ({type(e).__name__}: {e})")
                unloadable.add(ckpt.path)
                continue
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.model, {k: v.to(self.device) for k, v in adapter.items()})
            self.optimizer.load_state_dict(opt)
            state.set_rng(rng, py_state, self.device)
            self.step = step
            return {"path": str(ckpt.path), "step": self.step, "round_state": ckpt.meta.get("round_state") or {}}
