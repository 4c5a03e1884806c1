"""A hostile swarm peer: the real daemon, with a SAPO stage that cheats.

Run as ``python -m tests.swarm.hostile --config FILE``. By round number it
publishes, in turn:

0. ``inflated``: its own questions, answered with text that scores 0, each
   claimed at reward 1.0;
1. ``unasked``: answers to questions it was not asked (another seed);
2. ``malformed``: references with a config that is not JSON and a bad dataset;
3. ``oversized``: a batch of ``OVERSIZED`` bytes, over the swarm's default cap (the
   hostile raises its own ``swarm.max_batch_bytes`` so that its mesh sends it).

It never trains; it only tries to get credit.
"""

from __future__ import annotations

import sys

from swarmd._pb.swarm.v1 import game_pb2 as gpb
from swarmd.swarm import sapo
from swarmd.swarm.env import StageContext, StageReport
from swarmd.swarm.wire import ref_to_pb

MODES = ("inflated", "unasked", "malformed", "oversized")
OVERSIZED = 600 * 1024


async def cheating_play(self: sapo.Sapo, ctx: StageContext) -> StageReport:
    game, state = ctx.game, ctx.state
    mode = MODES[state.round % len(MODES)]
    refs = self.expected_refs(game.peer_id, state.round)
    batch = gpb.RolloutBatch(round=state.round, stage=state.stage, environment=self.name, policy_version=0, model="tiny")
    g = self.cfg.group_size
    if mode == "inflated":
        for ref in refs:
            batch.items.add(ref=ref_to_pb(ref), question="q", completions=["1234"] * g, claimed_rewards=[1.0] * g)
    elif mode == "unasked":
        for ref in self.expected_refs(game.peer_id, state.round + 1000):
            batch.items.add(ref=ref_to_pb(ref), question="q", completions=["abc"] * g, claimed_rewards=[1.0] * g)
    elif mode == "malformed":
        batch.items.add(ref=gpb.TaskRef(dataset="swarmd_letters", config_json="{not json", seed=1, index=0),
                        question="q", completions=["a"] * g, claimed_rewards=[1.0] * g)
        batch.items.add(ref=gpb.TaskRef(dataset="../etc/passwd", config_json="{}", seed=1, index=0),
                        question="q", completions=["a"] * g, claimed_rewards=[1.0] * g)
    else:
        big = "x" * (self.cfg.max_completion_chars - 1)
        for ref in refs:
            batch.items.add(ref=ref_to_pb(ref), question="q", completions=[big] * g, claimed_rewards=[1.0] * g)
        while batch.ByteSize() <= OVERSIZED:
            batch.items[0].completions.append(big)
    await game.daemon.mesh.publish(self.kind, state.round, state.stage, batch)
    game.published_key = state.key
    report = StageReport(state.round, state.stage)
    report.detail["hostile_mode"] = mode
    return report


def main() -> int:
    sapo.Sapo.play = cheating_play
    from swarmd.cli import main as swarmd_main

    return swarmd_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
