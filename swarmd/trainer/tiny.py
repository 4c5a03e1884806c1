"""The "tiny" model: a small random Qwen2 with a BPE tokenizer trained on task text.

Built deterministically from a seed (same seed → byte-identical files), in
about a second on a CPU, so tests and local demos need no download. It is a
real transformers checkpoint directory, loaded by the same code path as any
other model.

Two details keep it usable (learned the hard way):
- The tokenizer uses Qwen2's NFC normalizer and pre-tokenizer (the split
  regex, then byte-level without regex). A ``qwen2`` config makes
  AutoTokenizer reload it as ``Qwen2Tokenizer``, which re-splits text with
  that regex; training the BPE the same way makes both load paths agree.
- ``initializer_range`` is 0.2, not 0.02: with the default a random tiny
  model's logits stay within about ±0.2 and policy-gradient updates barely
  move its output distribution.

Runs in the worker (imports torch, transformers, tokenizers, reasoning-gym).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

TINY_VERSION = 1  # bump when the recipe changes: the cache key includes it
VOCAB_SIZE = 768
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The same regex Qwen2Tokenizer applies (digits split one by one).
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _corpus(seed: int) -> list[str]:
    """Text the tokenizer learns from: prompts and answer-formatted replies of the task presets."""
    from swarmd import tasks
    from swarmd.trainer import verifier

    specs = list(tasks.SAPO_TASKS) + list(tasks.EASY_TASKS)
    texts = [tasks.SYSTEM_PROMPT]
    for ref in tasks.draw_refs(specs, seed, 400):
        question, entry = verifier.materialize(ref)
        answer = entry.get("answer") or ""
        texts.append(question)
        texts.append(f"Let me think step by step. <answer>{answer}</answer>")
    return texts


def build_tokenizer(seed: int):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
    )


def build_model(vocab_size: int, eos_id: int, pad_id: int, seed: int):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        "qwen2",
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.2,
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    return model


def ensure(cache_dir: Path, seed: int = 0, progress=lambda message: None) -> Path:
    """The tiny model's directory under ``cache_dir``, built (atomically) if missing."""
    target = Path(cache_dir) / f"tiny-v{TINY_VERSION}-seed{seed}"
    if (target / "config.json").exists():
        return target
    progress("building the tiny model")
    tokenizer = build_tokenizer(seed)
    model = build_model(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed)
    return publish_model_dir(target, model, tokenizer, {"kind": "tiny", "version": TINY_VERSION, "seed": seed})


def publish_model_dir(target: Path, model, tokenizer, meta: dict) -> Path:
    """Save ``model`` and ``tokenizer`` as the model directory ``target``, atomically.

    The files are written to a temporary sibling that is renamed into place, so a
    reader sees a whole directory or none. Workers sharing a cache may race: the
    loser finds the winner's directory (built from the same inputs) and keeps it.
    ``meta`` is written as ``swarmd-model.json``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        (tmp / "swarmd-model.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
