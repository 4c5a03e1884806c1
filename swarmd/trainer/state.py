"""The worker's training state as checkpoint files: optimizer and RNG states, without pickle.

Tensors go to safetensors; the few scalars (the optimizer's hyper-parameters,
Python's RNG state) go to the checkpoint manifest as JSON. Loading is split
in two — parse everything, then apply — so a checkpoint that fails to parse
leaves the live state untouched.
"""

from __future__ import annotations

import random
from typing import Any

import torch


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors for safetensors, JSON-able rest) of an optimizer's state dict."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in grp.items()} for grp in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_state_dict(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`optimizer_state`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for name, value in meta["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in grp.items()} for grp in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def rng_tensors(device: str) -> dict[str, torch.Tensor]:
    rng = {"torch_cpu": torch.get_rng_state()}
    if device.startswith("cuda"):
        rng["torch_cuda"] = torch.cuda.get_rng_state(device)
    return rng


def python_rng() -> list[Any]:
    return list(random.getstate())


def parse_python_rng(value: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)


def set_rng(tensors: dict[str, torch.Tensor], python_state: tuple[Any, ...], device: str) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and device.startswith("cuda"):
        torch.cuda.set_rng_state(tensors["torch_cuda"], device)
    random.setstate(python_state)
