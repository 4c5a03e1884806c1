"""The compiled SwarmCoordinator artifact (ABI and bytecode), committed with the package.

``make contracts`` writes it from contracts/SwarmCoordinator.sol with the pinned
solc-js; reading it needs no Node.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_PATH = Path(__file__).with_name("artifacts") / "SwarmCoordinator.json"


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str


@functools.cache
def load() -> Artifact:
    data = json.loads(ARTIFACT_PATH.read_text())
    return Artifact(
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
    )
