"""The trainer on a GPU against TRL's GRPOTrainer, with random-weight models of real shapes.

    make bench-gpu                      # = python -m bench.gpu: Qwen2.5-0.5B and 1.5B shapes, 8×8×512
    python -m bench.gpu --tiny          # a tiny model on the CPU: checks the script end to end

Needs no network and no weights: the models are Qwen2.5-0.5B- and
1.5B-shaped (their published configurations, written out below) with random
weights, the tokenizer a small BPE trained here on generated text (the
models keep Qwen's 151,936-entry vocabulary, so the output head and the
logits are full size). Random models ramble forever, so both sides
generate exactly ``--max-tokens`` tokens (ours ignores end-of-sequence, TRL
gets ``min_new_tokens``): the same token counts on both sides.

One GRPO step is: sample G completions for each of P prompts, score them
with a synthetic dense reward (the share of token ids divisible by 3,
computed from the ids on both sides), one optimizer step on a LoRA adapter
(same rank, targets and learning rate on both sides), gradient checkpointing
on both sides (TRL's default). Ours is ``Policy`` in-process (what the
worker runs: decode loop, chunked log-probs, automatic micro-batch); TRL is
``GRPOTrainer`` in-process after it, on the same model directory.

Figures per side: median s/step over ``--steps`` steps after one warm-up,
the sampling part of our step, decode tokens/s at batch 1 and batch P×G
(``--decode-tokens`` new tokens, prompt included in the time), and the peak
GPU memory allocated during the steps. Written as a markdown table to
``--out`` (default out/bench-gpu.md) after every model, so a run cut short
still leaves what it measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

# Published configurations (config.json of the Instruct models), the fields that shape compute.
QWEN25_05B = {
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
}
QWEN25_15B = {
    "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
    "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
}
TINY = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 4096, "max_position_embeddings": 2048,
    "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
}
SHAPES = {"0.5b": ("Qwen2.5-0.5B-shaped", QWEN25_05B), "1.5b": ("Qwen2.5-1.5B-shaped", QWEN25_15B),
          "tiny": ("tiny", TINY)}
SYSTEM = "Answer with a number. Show your reasoning first."
LORA = {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
LEARNING_RATE = 1e-5


def reward_of(ids: list[int]) -> float:
    """The synthetic reward: share of token ids divisible by 3 (dense: groups always differ)."""
    return sum(1 for t in ids if t % 3 == 0) / max(len(ids), 1)


def questions(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b, c = rng.randint(10, 999), rng.randint(10, 999), rng.randint(2, 9)
        q = f"A shop sells {a} apples on Monday and {b} on Tuesday, in bags of {c}. How many bags is that?"
        out.append([{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}])
    return out


def build_tokenizer(vocab: int = 512):
    """A byte-level BPE with ChatML specials, trained on generated questions (about a second)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from swarmd.trainer.tiny import CHAT_TEMPLATE, QWEN_PATTERN, SPECIALS

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    corpus = [m["content"] for msgs in questions(300, seed=1) for m in msgs]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def build_model_dir(shape: dict, target: Path, device: str) -> Path:
    """A random-weight Qwen2 of ``shape`` saved with the tokenizer; bf16 on a GPU, fp32 on a CPU."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = build_tokenizer()
    config = Qwen2Config(**shape, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, use_sliding_window=False)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    del model
    return target


@dataclass
class Result:
    label: str
    side: str
    step_s: list[float] = field(default_factory=list)
    sample_s: list[float] = field(default_factory=list)
    tokens: int = 0
    decode_b1: float = 0.0
    decode_bn: float = 0.0
    peak_gib: float = 0.0
    note: str = ""

    def cells(self, batch: int) -> list[str]:
        med = statistics.median(self.step_s) if self.step_s else None
        samp = statistics.median(self.sample_s) if self.sample_s else None
        return [self.label, self.side,
                f"{med:.2f}" if med is not None else "–",
                f"{samp:.2f}" if samp is not None else "–",
                f"{self.decode_b1:,.0f}" if self.decode_b1 else "–",
                f"{self.decode_bn:,.0f}" if self.decode_bn else "–",
                f"{self.peak_gib:.1f}" if self.peak_gib else "–",
                self.note]


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _free(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_ours(label: str, model_dir: Path, args, device: str) -> Result:
    import torch

    from swarmd.trainer.config import TrainerConfig
    from swarmd.trainer.policy import Policy

    res = Result(label, "swarmd")
    cfg = TrainerConfig.model_validate({
        "model": str(model_dir), "device": device, "seed": 0, "micro_batch": "auto",
        "gradient_checkpointing": "on",
        "lora": LORA, "sampling": {"max_new_tokens": args.max_tokens, "temperature": 1.0, "decode": args.decode},
        "grpo": {"learning_rate": LEARNING_RATE, "kl_beta": 0.0, "max_completion_tokens": args.max_tokens,
                 "skip_zero_advantage": False},
    })
    with tempfile.TemporaryDirectory(prefix="sd-bench-gpu-") as tmp:
        policy = Policy(cfg, Path(tmp))
        policy.eos_ids = []  # fixed lengths: random weights never stop on their own anyway
        prompts = [policy.prompt_ids(m) for m in questions(args.prompts)]
        _free(device)
        micro = 0
        for i in range(args.steps + 1):
            _sync(device)
            t0 = time.perf_counter()
            samples = policy.sample(prompts, args.group, 0)
            t_sample = time.perf_counter() - t0
            g = args.group
            groups = [(prompts[u], samples.tokens[u * g:(u + 1) * g], [reward_of(c) for c in samples.tokens[u * g:(u + 1) * g]])
                      for u in range(len(prompts))]
            kept, rewards, skipped = policy.token_groups(groups)
            stats = policy.train_tokens(kept, rewards, skipped, 0)
            _sync(device)
            dt = time.perf_counter() - t0
            micro = stats.micro_batch
            tokens = sum(len(t) for t in samples.tokens)
            print(f"    swarmd step {i}{' (warm-up)' if i == 0 else ''}: {dt:.2f}s (sampling {t_sample:.2f}s), "
                  f"{tokens} tokens, micro_batch {micro}", file=sys.stderr, flush=True)
            if i > 0:
                res.step_s.append(dt)
                res.sample_s.append(t_sample)
                res.tokens = tokens
        if device == "cuda":
            res.peak_gib = torch.cuda.max_memory_allocated() / 2**30
        res.decode_b1 = _decode_ours(policy, prompts[:1], 1, args.decode_tokens, device)
        res.decode_bn = _decode_ours(policy, prompts, args.group, args.decode_tokens, device)
        res.note = (f"decode loop {policy.decode_mode}, micro_batch {micro}, checkpointing {policy.checkpointing}"
                    + _check_decode(policy, prompts[:2]))
        del policy
    _free(device)
    return res


def _check_decode(policy, prompts) -> str:
    """Greedy tokens of our decode loop against the eager static loop, and the sampler's log-probs
    against what training recomputes; → a note for the table."""
    import torch

    from swarmd.trainer import sampling

    ids, mask = sampling.left_pad(prompts, policy.tokenizer.pad_token_id)
    ids, mask = ids.to(policy.device), mask.to(policy.device)
    with policy._sampling_weights():
        a = sampling.sample(policy.model, ids, mask, [2] * len(prompts), 16, [], greedy=True,
                            mode=policy.decode_mode)
        b = sampling.sample(policy.model, ids, mask, [2] * len(prompts), 16, [], greedy=True, mode="static")
    rows = [u for u in range(len(prompts)) for _ in range(2)]
    recomputed = policy.logprobs(prompts, rows, a.tokens)
    diff = max(float((recomputed[i, :len(lp)].float().cpu() - torch.tensor(lp)).abs().max())
               for i, lp in enumerate(a.logprobs))
    return f"; greedy tokens {policy.decode_mode} = static: {a.tokens == b.tokens}; sampler vs training log-prob max |Δ| {diff:.3f}"


def _decode_ours(policy, prompts, n: int, tokens: int, device: str) -> float:
    policy.sample(prompts, n, 0, max_new_tokens=8)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    out = policy.sample(prompts, n, 0, max_new_tokens=tokens)
    _sync(device)
    return sum(len(t) for t in out.tokens) / (time.perf_counter() - t0)


def run_trl(label: str, model_dir: Path, args, device: str) -> Result:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    res = Result(label, "TRL GRPOTrainer")
    gpu = device == "cuda"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    prompts = questions(args.prompts)
    dataset = Dataset.from_list([{"prompt": p} for p in prompts])
    counted = [0]

    def reward(completions, completion_ids, **_):
        counted[0] += sum(len(ids) for ids in completion_ids)
        return [reward_of(list(ids)) for ids in completion_ids]

    class Timer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            _sync(device)
            counted[0] = 0
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            _sync(device)
            dt = time.perf_counter() - self.t0
            i = state.global_step - 1
            print(f"    TRL step {i}{' (warm-up)' if i == 0 else ''}: {dt:.2f}s, {counted[0]} tokens",
                  file=sys.stderr, flush=True)
            if i > 0:
                res.step_s.append(dt)
                res.tokens = counted[0]

    n = args.prompts * args.group
    with tempfile.TemporaryDirectory(prefix="sd-bench-gpu-trl-") as tmp:
        config = GRPOConfig(
            output_dir=tmp, report_to="none", save_strategy="no", logging_steps=10_000, disable_tqdm=True,
            max_steps=args.steps + 1, per_device_train_batch_size=n, gradient_accumulation_steps=1,
            num_generations=args.group, max_completion_length=args.max_tokens, temperature=1.0, top_p=1.0,
            top_k=0, learning_rate=LEARNING_RATE, beta=0.0, epsilon=0.2, epsilon_high=0.28,
            gradient_checkpointing=True, use_cpu=not gpu, bf16=gpu, seed=0, shuffle_dataset=False,
            dataloader_num_workers=0, generation_kwargs={"min_new_tokens": args.max_tokens},
        )
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if gpu else torch.float32)
        lora = LoraConfig(r=LORA["rank"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                          target_modules=LORA["target_modules"], task_type="CAUSAL_LM")
        _free(device)
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=lora, callbacks=[Timer()])
        trainer.train()
        if gpu:
            res.peak_gib = torch.cuda.max_memory_allocated() / 2**30
        m = trainer.model
        m.eval()
        gen = GenerationConfig(max_new_tokens=args.decode_tokens, min_new_tokens=args.decode_tokens,
                               do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                               pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)

        rows = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                for p in prompts for _ in range(args.group)]
        res.decode_b1 = _decode_hf(m, tokenizer, rows[:1], gen, device)
        res.decode_bn = _decode_hf(m, tokenizer, rows, gen, device)
        res.note = "HF generate, gradient checkpointing"
        del trainer, model, m
    _free(device)
    return res


def _decode_hf(model, tokenizer, texts: list[str], gen, device: str) -> float:
    """New tokens per second of ``model.generate`` (what TRL samples with) on these prompts."""
    import torch
    from transformers import GenerationConfig

    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    warm = GenerationConfig(**{**gen.to_dict(), "max_new_tokens": 8, "min_new_tokens": 8})
    with torch.no_grad():
        model.generate(**enc, generation_config=warm)
        _sync(device)
        t0 = time.perf_counter()
        out = model.generate(**enc, generation_config=gen)
        _sync(device)
    return (out.shape[1] - enc["input_ids"].shape[1]) * len(texts) / (time.perf_counter() - t0)


HEADER = ["model", "trainer", "s/step", "sampling s", "decode tok/s, batch 1", "decode tok/s, batch {n}",
          "peak GPU GiB", "notes"]


def render(results: list[Result], args, device: str, extra: list[str]) -> str:
    n = args.prompts * args.group
    head = [h.format(n=n) for h in HEADER]
    lines = [
        f"# Trainer on {device}: {args.prompts} prompts × {args.group} completions × {args.max_tokens} tokens",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    lines += ["| " + " | ".join(r.cells(n)) + " |" for r in results]
    by = {(r.label, r.side): r for r in results}
    for r in results:
        if r.side != "swarmd":
            continue
        t = by.get((r.label, "TRL GRPOTrainer"))
        if t and t.step_s and r.step_s:
            lines.append("")
            lines.append(f"{r.label}: TRL s/step ÷ ours {statistics.median(t.step_s) / statistics.median(r.step_s):.2f}×"
                         + (f", decode batch {n} {r.decode_bn / t.decode_bn:.1f}×" if t.decode_bn else "")
                         + (f", peak memory {t.peak_gib / r.peak_gib:.1f}× less" if r.peak_gib and t.peak_gib else ""))
    lines += ["", f"decode figures: {args.decode_tokens} new tokens per row, prompt and set-up included"]
    lines += extra
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny model, 2×2×8, one step: an end-to-end check")
    p.add_argument("--models", default="0.5b,1.5b", help="comma-separated: 0.5b, 1.5b, tiny")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--decode-tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="timed steps after one warm-up step")
    p.add_argument("--no-trl", action="store_true")
    p.add_argument("--decode", default="auto", choices=["auto", "graph", "static", "dynamic"],
                   help="our decode loop (trainer.sampling.decode)")
    p.add_argument("--budget-s", type=float, default=420.0, help="skip what would start after this many seconds")
    p.add_argument("--out", type=Path, default=Path("out/bench-gpu.md"))
    args = p.parse_args(argv)
    if args.tiny:
        args.models, args.prompts, args.group, args.max_tokens, args.decode_tokens, args.steps = "tiny", 2, 2, 8, 8, 1
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    t_start = time.monotonic()
    extra = [f"torch {torch.__version__}"]
    if device == "cuda":
        extra[0] += f", {torch.cuda.get_device_name()}"
    try:
        import transformers
        import trl

        extra[0] += f", transformers {transformers.__version__}, TRL {trl.__version__}"
        have_trl = not args.no_trl
    except ImportError as e:
        have_trl = False
        extra.append(f"TRL not run: {e}")
    results: list[Result] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sd-bench-gpu-models-") as tmp:
        for key in [k.strip() for k in args.models.split(",") if k.strip()]:
            label, shape = SHAPES[key]
            print(f"==> {label}", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            model_dir = build_model_dir(shape, Path(tmp) / key, device)
            print(f"    model built and saved in {time.monotonic() - t0:.0f}s", file=sys.stderr, flush=True)
            sides = [("swarmd", run_ours)] + ([("TRL GRPOTrainer", run_trl)] if have_trl else [])
            for side, fn in sides:
                if time.monotonic() - t_start > args.budget_s:
                    results.append(Result(label, side, note="not run: time budget spent"))
                    continue
                try:
                    results.append(fn(label, model_dir, args, device))
                except Exception as e:  # noqa: BLE001 - one failing side must not hide the other
                    traceback.print_exc()
                    results.append(Result(label, side, note=f"FAILED: {type(e).__name__}: {str(e)[:160]}"))
                    _free(device)
                args.out.write_text(render(results, args, device, extra))
            import shutil

            shutil.rmtree(model_dir, ignore_errors=True)
    extra.append(f"whole run {time.monotonic() - t_start:.0f} s")
    text = render(results, args, device, extra)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps([r.__dict__ for r in results], indent=1))
    print(text)
    return 0 if all(not r.note.startswith("FAILED") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
