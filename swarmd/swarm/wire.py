"""Conversions between the game's wire messages and the trainer's task references."""

from __future__ import annotations

import json
from typing import Any

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.trainer.tasks import canonical_json

__all__ = ["canonical_json", "config_from_json", "obj_key", "pb_key", "ref_key", "ref_to_pb"]


def ref_key(dataset: str, config_json: str, seed: int, index: int) -> tuple[str, str, int, int]:
    """A hashable identity of a task reference, with the config in canonical form."""
    return (dataset, config_json, seed, index)


def ref_to_pb(ref: Any) -> gpb.TaskRef:
    return gpb.TaskRef(dataset=ref.dataset, config_json=canonical_json(ref.config), seed=ref.seed, index=ref.index)


def pb_key(ref: gpb.TaskRef) -> tuple[str, str, int, int]:
    return ref_key(ref.dataset, ref.config_json, ref.seed, ref.index)


def obj_key(ref: Any) -> tuple[str, str, int, int]:
    return ref_key(ref.dataset, canonical_json(ref.config), ref.seed, ref.index)


def config_from_json(text: str) -> dict[str, Any]:
    """The config dict of a wire TaskRef; ValueError when it is not a JSON object."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("config_json is not a JSON object")
    return value
