"""Conversions between the game's wire messages and task references (:mod:`swarmd.tasks`)."""

from __future__ import annotations

import json
from typing import Any

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.tasks import RefKey, TaskRef, canonical_json, ref_key

__all__ = ["config_from_json", "pb_key", "ref_to_pb"]


def ref_to_pb(ref: TaskRef) -> gpb.TaskRef:
    return gpb.TaskRef(dataset=ref.dataset, config_json=canonical_json(ref.config), seed=ref.seed, index=ref.index)


def pb_key(ref: gpb.TaskRef) -> RefKey:
    """The key of a reference as a peer sent it (its config text as is): :func:`swarmd.tasks.ref_key`."""
    return ref_key(ref.dataset, ref.config_json, ref.seed, ref.index)


def config_from_json(text: str) -> dict[str, Any]:
    """The config dict of a wire TaskRef; ValueError when it is not a JSON object."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("config_json is not a JSON object")
    return value
