"""Shared set-up for the trainer tests: the tiny model (built once, cached) and its config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Shared with the swarm tests: the tiny model is built once per checkout.
MODEL_CACHE = REPO / ".cache" / "test-models"


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """A trainer config on the tiny model, sized for a loaded 2-core CPU."""
    cfg: dict[str, Any] = {
        "model": "tiny",
        "cache_dir": str(MODEL_CACHE),
        "device": "cpu",
        "threads": 1,
        "sampling": {"max_new_tokens": 12},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="session")
def model_cache() -> Path:
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    return MODEL_CACHE
