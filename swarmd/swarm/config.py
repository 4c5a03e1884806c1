"""Configuration of the swarm game: rounds, the round source, the environment and SAPO's mix.

Every peer of a swarm must agree on ``environment``, ``tasks``, ``questions_per_round`` and
``group_size``: receivers check each peer's task references against them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from swarmd.configbase import Section


class SwarmConfig(Section):
    enabled: bool = Field(True, description="Take part in rounds (trainer nodes; a bootnode may coordinate).")
    environment: Literal["sapo", "debate"] = Field(
        "sapo",
        description="'sapo': share rollouts and train on local + re-scored external groups; "
        "'debate': the 3-stage answer/critique/vote game.",
    )
    round_source: Literal["auto", "chain", "coordinator", "clock"] = Field(
        "auto",
        description="Where rounds come from. 'auto': the coordinators when any is named (a coordinator "
        "holding the chain's stage-manager role also moves the contract along), else the chain when "
        "configured, else the local clock.",
    )
    coordinators: list[str] = Field(
        default_factory=list,
        description="Peer IDs allowed to announce rounds, in order of precedence; a later one takes "
        "over after `takeover_s` of silence from those before it.",
    )
    auto_advance: bool = Field(
        True,
        description="A coordinator (or chain stage manager) advances when every live trainer peer has "
        "published for the stage, or at the stage deadline. Off: only `swarmctl round advance`.",
    )
    stage_timeout_s: float = Field(
        120.0, gt=0, le=86400, description="Deadline of a stage after it starts (collection ends then)."
    )
    min_stage_s: float = Field(
        0.0, ge=0, le=3600, description="A coordinator never advances a stage sooner than this."
    )
    start_min_peers: int = Field(
        1,
        ge=0,
        le=10000,
        description="A coordinator starts the first round only once this many trainer peers "
        "(itself included when it trains) are live.",
    )
    announce_interval_s: float = Field(
        2.0, gt=0, le=60, description="How often a coordinator re-announces the current round."
    )
    takeover_s: float = Field(
        30.0, gt=0, le=3600, description="Silence after which the next listed coordinator takes over."
    )
    clock_period_s: float = Field(
        60.0, gt=0, le=86400, description="Round length for the 'clock' source (rounds are wall-clock slots)."
    )
    questions_per_round: int = Field(4, ge=1, le=64, description="I: questions a node draws and answers per round.")
    external_groups: int = Field(
        4, ge=0, le=256, description="J: peers' groups sampled into each training step (0: no sharing)."
    )
    group_size: int = Field(4, ge=2, le=64, description="G: completions sampled per question.")
    tasks: str = Field(
        "sapo",
        description="Task preset every peer of the swarm uses: 'sapo' (SAPO's 9-task composite), "
        "'easy' (configs a tiny CPU model can score on).",
    )
    staleness_window: int = Field(
        1, ge=0, le=100, description="Peers' rollouts from up to this many rounds back may still be trained on."
    )
    max_batch_bytes: int = Field(
        512 * 1024, ge=4096, le=16 * 1024 * 1024, description="Largest rollout batch accepted from a peer."
    )
    max_completion_chars: int = Field(
        8192, ge=64, le=1 << 20, description="Longest completion accepted from a peer."
    )
    reward_scale: int = Field(
        1000, ge=1, le=10**9, description="On-chain rewards are integers: mean verified reward × this."
    )
    winners_per_round: int = Field(1, ge=1, le=16, description="How many peers a node votes for each round.")
    history_rounds: int = Field(1000, ge=10, le=100000, description="Rounds of history kept for the dashboard.")
    idle_poll_s: float = Field(1.0, gt=0, le=60, description="How often an idle node checks its round source.")
    eval_every_rounds: int = Field(
        10, ge=0, le=100000,
        description="Held-out evaluation after every this many rounds, and of the base model once at "
        "start (0: never). Runs between stages, never in a stage's deadline window.",
    )
    eval_questions: int = Field(
        32, ge=1, le=4096,
        description="Size of the held-out set: questions drawn from `tasks` with seeds training never "
        "uses, the same on every node of the swarm.",
    )
    eval_batch: int = Field(
        8, ge=1, le=4096,
        description="Held-out questions per greedy pass (a slice: the evaluation may stop between slices).",
    )
    eval_budget_s: float = Field(
        300.0, gt=0, le=86400, description="Longest an evaluation may take; one that would not fit is abandoned."
    )
    eval_max_new_tokens: int = Field(
        0, ge=0, le=32768, description="Greedy completion length cap (0: trainer.sampling.max_new_tokens)."
    )

    @field_validator("tasks")
    @classmethod
    def _preset(cls, v: str) -> str:
        from swarmd.tasks import PRESETS  # pure module: no torch

        if v not in PRESETS:
            raise ValueError(f"unknown task preset (known: {', '.join(sorted(PRESETS))})")
        return v

    @field_validator("coordinators")
    @classmethod
    def _peer_ids(cls, v: list[str]) -> list[str]:
        for peer in v:
            if not re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{40,64}", peer):
                raise ValueError(f"{peer!r} is not a base58 peer ID")
        return v
