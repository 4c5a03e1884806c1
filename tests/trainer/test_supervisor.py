"""The supervisor driving a real worker process (asyncio, in this test process).

Kill the worker mid-step, watch it come back from the last checkpoint;
restart on the same data directory; out-of-memory under a memory cap;
a configuration error that must not restart in a loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from swarmd import tasks
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.events import EventBus
from swarmd.trainer import verifier
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.errors import InvalidRequest, TrainerNotReady, WorkerDied
from swarmd.trainer.policy import ADAPTER_FILE
from swarmd.trainer.protocol import ScoreItem, TrainGroup
from swarmd.trainer.supervisor import TrainerSupervisor
from tests.support.poll import until
from tests.trainer.conftest import tiny_config

pytestmark = pytest.mark.process

READY_S = 240  # a cold worker imports torch; on a loaded 2-core machine that can take a while


def supervisor(data_dir: Path, events=None, **overrides) -> TrainerSupervisor:
    return TrainerSupervisor(TrainerConfig.model_validate(tiny_config(**overrides)), data_dir, events)


def alternate(groups) -> list[TrainGroup]:
    return [TrainGroup(g.prompt, g.completions, [float(i % 2) for i in range(len(g.completions))])
            for g in groups]


def long_groups(n_groups: int, n: int, words: int) -> list[TrainGroup]:
    """Text-only groups with long completions: a step that takes a while (and memory)."""
    refs = tasks.draw_refs(tasks.EASY_TASKS, 99, n_groups)
    out = []
    for g, ref in enumerate(refs):
        prompt = tasks.build_prompt(verifier.materialize(ref)[0])
        completions = [" ".join(f"w{(g * 31 + i * 7 + k) % 97}" for k in range(words)) for i in range(n)]
        out.append(TrainGroup(prompt, completions, [float(i % 2) for i in range(n)]))
    return out


def test_kill_mid_step_restarts_from_the_last_checkpoint_and_a_restart_resumes(tmp_path, model_cache) -> None:
    async def scenario() -> None:
        events = EventBus()
        sub = events.subscribe([pb.EVENT_KIND_TRAINING])
        sup = supervisor(tmp_path, events, grpo={"learning_rate": 1e-2, "max_completion_tokens": 2048},
                         restart_backoff_s=0.2)
        await sup.start()
        try:
            await sup.wait_ready(READY_S)
            assert sup.ready and sup.worker_alive and sup.model_name == "tiny" and sup.device == "cpu"
            assert sup.policy_version == 0 and sup.restored_round_state() is None
            first_pid = sup.worker_pid

            # The API over the real pipe.
            refs = tasks.draw_refs(tasks.EASY_TASKS, 5, 2)
            groups = await sup.rollouts(refs, 4)
            assert [g.ref for g in groups] == refs and all(len(g.completions) == 4 for g in groups)
            scored = await sup.score([ScoreItem(g.ref, g.question, g.completions) for g in groups]
                                     + [ScoreItem(refs[0], "not the question", ["x"])])
            assert [s.rewards for s in scored[:2]] == [g.rewards for g in groups]
            assert scored[2].error == "question_mismatch"
            assert [len(c) for c in await sup.generate([g.prompt for g in groups], 3)] == [3, 3]
            with pytest.raises(InvalidRequest, match="unknown dataset"):
                await sup.rollouts([tasks.TaskRef("no_such_dataset", {}, 1, 0)], 2)
            with pytest.raises(InvalidRequest, match="absolute"):
                await sup.export_adapter("relative/path")
            stats = await sup.train(alternate(groups))
            assert stats.stepped and stats.policy_version == 1 == sup.policy_version
            path = Path(await sup.checkpoint({"round": 1, "stage": 0}))
            saved = (path / ADAPTER_FILE).read_bytes()
            assert await sup.adapter_bytes() == saved

            # SIGKILL the worker while it is inside a (long) training step.
            step = asyncio.create_task(sup.train(long_groups(8, 8, 300)))
            await until(lambda: sup.detail == "train running", 60, "the worker working on the step")
            os.kill(first_pid, signal.SIGKILL)
            with pytest.raises(WorkerDied, match="SIGKILL"):
                await step
            assert not sup.ready
            with pytest.raises(TrainerNotReady):
                await sup.adapter_bytes()
            await sup.wait_ready(READY_S)
            assert sup.worker_pid not in (0, first_pid) and sup.restarts == 1
            # Resumed from the checkpoint: the killed step is lost, nothing else.
            assert sup.policy_version == 1 and sup.restored_round_state() == {"round": 1, "stage": 0}
            assert await sup.adapter_bytes() == saved
            stats = await sup.train(alternate(groups))
            assert stats.policy_version == 2
            path2 = Path(await sup.checkpoint({"round": 2, "stage": 0}))

            status = pb.Status()
            sup.fill_status(status)
            t = status.training
            assert (t.state, t.model, t.worker_restarts, t.policy_version) == ("ready", "tiny", 1, 2)
            assert t.worker_pid == sup.worker_pid and t.worker_rss_bytes > 50_000_000
            assert t.last_checkpoint == str(path2) and t.last_metrics["groups_used"] == 2
            assert [h["step"] for h in sup.history()] == [1, 2]
        finally:
            await sup.stop()
        assert not sup.worker_alive
        seen = [e.training.state for e in list(events.history) if e.kind == pb.EVENT_KIND_TRAINING]
        assert seen == ["ready", "stepped", "restarting", "ready", "stepped"]
        sub.close()

        # A new supervisor on the same data directory: the daemon restarted.
        again = supervisor(tmp_path, grpo={"learning_rate": 1e-2})
        await again.start()
        try:
            await again.wait_ready(READY_S)
            assert again.restored_round_state() == {"round": 2, "stage": 0} and again.policy_version == 2
            assert await again.adapter_bytes() == (path2 / ADAPTER_FILE).read_bytes()  # bit-identical
            assert (await again.train(alternate(groups))).policy_version == 3
        finally:
            await again.stop()

    asyncio.run(scenario())


def test_out_of_memory_halves_the_micro_batch_and_retries(tmp_path, model_cache) -> None:
    # A real allocation failure: the worker's heap is capped (RLIMIT_DATA), and 64 sequences of
    # ~1000 tokens per forward pass do not fit in it, while 8 do.
    async def scenario() -> None:
        sup = supervisor(tmp_path, micro_batch=64, memory_limit_mib=1800,
                         grpo={"max_completion_tokens": 1100})
        await sup.start()
        try:
            await sup.wait_ready(READY_S)
            stats = await sup.train(long_groups(8, 8, 500))
            assert stats.stepped and stats.groups_used == 8
            assert sup.limits.micro_batch < 64 and stats.micro_batch == sup.limits.micro_batch
            assert sup.restarts == 0  # handled inside the worker, no crash
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_configuration_error_fails_once_without_a_restart_loop(tmp_path, model_cache) -> None:
    async def scenario() -> None:
        sup = supervisor(tmp_path, lora={"target_modules": ["no_such_module"]})
        await sup.start()
        try:
            with pytest.raises(TrainerNotReady, match="no_such_module"):
                await sup.wait_ready(READY_S)
            assert sup.state == "failed" and sup.restarts == 0 and not sup.worker_alive
            assert "target_modules" in sup.last_error
        finally:
            await sup.stop()

    asyncio.run(scenario())
