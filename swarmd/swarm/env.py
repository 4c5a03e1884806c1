"""The environment interface: what a stage asks the model, what is shared, how it is scored.

An environment is a small object the game drives once per (round, stage):

- ``kind`` and ``message_type``: what it publishes on the mesh (one message per node per
  stage), and ``check(message, sender)``: the structural check run at the mesh boundary.
- ``play(ctx)``: generate with the trainer, publish, collect peers' messages for the stage,
  verify and score them itself, train, and return a ``StageReport``.

Two are built in: SAPO (one stage) and the three-stage debate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from swarmd.swarm.rounds import RoundState
from swarmd.swarm.validate import Rejection

if TYPE_CHECKING:
    from swarmd.swarm.game import SwarmGame


@dataclass
class StageReport:
    round: int
    stage: int
    own_reward: float | None = None  # mean verified reward of this node's own completions
    scores: dict[str, float] = field(default_factory=dict)  # peer → mean verified reward
    winners: list[str] = field(default_factory=list)
    local_groups: int = 0
    external_groups: int = 0
    external_peers: list[str] = field(default_factory=list)
    batch_ids: dict[str, str] = field(default_factory=dict)  # sender → digest of what was held
    rejections: list[Rejection] = field(default_factory=list)
    staleness: list[int] = field(default_factory=list)  # rounds behind, per external group trained on
    train: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageContext:
    game: SwarmGame
    state: RoundState

    def loop_deadline(self) -> float:
        """The stage deadline on the event loop's clock (what mesh.collect expects)."""
        return asyncio.get_running_loop().time() + (self.state.deadline - time.time())

    def phase(self, name: str) -> None:
        self.game.set_phase(name, self.state)


class Environment(Protocol):
    name: str
    kind: str
    message_type: type
    stage_count: int

    def check(self, message: Any, sender: str) -> str | None: ...

    async def play(self, ctx: StageContext) -> StageReport: ...
