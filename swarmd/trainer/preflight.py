"""Pre-flight checks of the trainer's configuration, run by ``swarmd --check`` and at start-up.

Standard library only: the worker's packages are looked up, never imported.
"""

from __future__ import annotations

import importlib.util
import os

from swarmd.config import Config, ConfigError
from swarmd.trainer.models import check_model_name

WORKER_PACKAGES = ("torch", "transformers", "peft", "reasoning_gym", "safetensors")


def check(config: Config) -> None:
    t = config.trainer
    if not t.enabled or config.node.mode != "trainer":
        return
    missing = [p for p in WORKER_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(
            f"trainer.enabled = true but the trainer's packages are missing ({', '.join(missing)}): "
            "install swarmd[trainer], or set trainer.enabled = false"
        )
    problem = check_model_name(t.model)
    if problem:
        raise ConfigError(problem)
    for key, path in (("trainer.cache_dir", t.cache_dir), ("trainer.checkpoint_dir", t.checkpoint_dir)):
        if path is None:
            continue
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"{key} = {str(path)!r} is not writable (checked {existing})")
