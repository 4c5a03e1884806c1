"""The pipe's framing and records, and the supervisor's pure decisions."""

from __future__ import annotations

import asyncio
import io
import struct

import pytest

from swarmd.tasks import TaskRef
from swarmd.trainer import models, protocol
from swarmd.trainer.decisions import Limits, restart_delay, shrink_after_oom
from swarmd.trainer.protocol import Group, ScoreItem, ScoreResult, TrainGroup, TrainStats

REF = TaskRef("basic_arithmetic", {"max_digits": 1}, 5, 2)
PROMPT = [{"role": "system", "content": "s"}, {"role": "user", "content": "1+1?"}]


def read_all(data: bytes) -> list[tuple[dict, bytes]]:
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out = []
        while True:
            try:
                out.append(await protocol.read_frame(reader))
            except EOFError:
                return out

    return asyncio.run(go())


def test_frames_round_trip_async_and_sync() -> None:
    data = protocol.encode({"id": 1, "op": "x"}) + protocol.encode({"id": 2}, b"\x00\x01blob")
    assert read_all(data) == [({"id": 1, "op": "x"}, b""), ({"id": 2}, b"\x00\x01blob")]
    stream = io.BytesIO(data)
    assert protocol.read_frame_sync(stream) == ({"id": 1, "op": "x"}, b"")
    assert protocol.read_frame_sync(stream) == ({"id": 2}, b"\x00\x01blob")
    with pytest.raises(EOFError):
        protocol.read_frame_sync(stream)


@pytest.mark.parametrize("data, message", [
    (struct.pack(">II", 5, 0) + b"nope!", "not JSON"),
    (struct.pack(">II", 2, 0) + b"[]", "not a JSON object"),
    (struct.pack(">II", protocol.MAX_HEADER + 1, 0), "too large"),
    (struct.pack(">II", 10, 0) + b"{}", "ended inside"),
    (b"\x00\x00", "ended inside"),
])
def test_malformed_frames_are_refused(data, message) -> None:
    with pytest.raises(protocol.ProtocolError, match=message):
        read_all(data)
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.read_frame_sync(io.BytesIO(data))


def test_records_round_trip() -> None:
    g = Group(REF, PROMPT, "1+1?", ["<answer>2</answer>", "3"], [1.0, 0.0], [5, 1])
    assert Group.from_json(g.to_json()) == g
    item = ScoreItem(REF, "1+1?", ["a"])
    assert ScoreItem.from_json(item.to_json()) == item
    assert ScoreResult.from_json(ScoreResult([0.5], "").to_json()) == ScoreResult([0.5], "")
    tg = TrainGroup(PROMPT, ["a", "b"], [1, 0], "peer")
    assert TrainGroup.from_json(tg.to_json()) == TrainGroup(PROMPT, ["a", "b"], [1.0, 0.0], "peer")
    stats = TrainStats(policy_version=3, stepped=True, loss=0.1)
    assert TrainStats.from_json({**stats.to_json(), "unknown_future_field": 1}) == stats


@pytest.mark.parametrize("raw, message", [
    ({"prompt": "hi", "completions": ["a"], "rewards": [1]}, "prompt"),
    ({"prompt": PROMPT, "completions": ["a", 2], "rewards": [1, 1]}, "completions"),
    ({"prompt": PROMPT, "completions": ["a"], "rewards": ["x"]}, "rewards"),
    ({"prompt": PROMPT, "completions": ["a", "b"], "rewards": [1]}, "one reward per completion"),
])
def test_bad_train_groups_are_refused(raw, message) -> None:
    with pytest.raises(protocol.ProtocolError, match=message):
        TrainGroup.from_json(raw)


def test_shrink_after_oom() -> None:
    limits = Limits(micro_batch=8)
    assert shrink_after_oom("train", limits, 8) == Limits(4, 0)
    assert shrink_after_oom("train", limits, 3) == Limits(1, 0)  # the last, smaller chunk failed
    assert shrink_after_oom("train", Limits(1), 1) is None
    assert shrink_after_oom("rollouts", limits, 64) == Limits(8, 32)  # gen_batch 0 meant "all 64"
    assert shrink_after_oom("generate", Limits(8, 32), 32) == Limits(8, 16)
    assert shrink_after_oom("generate", Limits(8, 1), 1) is None
    assert shrink_after_oom("checkpoint", limits, 1) is None


def test_restart_delay_backs_off_to_a_cap() -> None:
    assert [restart_delay(n, 1.0, 60.0) for n in range(9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert restart_delay(10_000, 0.5, 30.0) == 30.0


def test_pick_model_by_accelerator_memory() -> None:
    assert models.pick_model(None) == models.SMOLLM2
    assert models.pick_model(4.0) == models.SMOLLM2
    assert models.pick_model(24.0) == "Qwen/Qwen2.5-0.5B-Instruct"
    assert models.pick_model(24.0, {"Qwen/Qwen3-0.6B"}) == "Qwen/Qwen3-0.6B"  # cached wins
    assert models.pick_model(80.0) == "Qwen/Qwen2.5-1.5B-Instruct"
    assert models.pick_model(80.0, {"Qwen/Qwen3-1.7B", "Qwen/Qwen3-0.6B"}) == "Qwen/Qwen3-1.7B"


def test_choose_placement() -> None:
    assert models.choose_placement("auto", "auto", False, False) == models.Placement("cpu", "float32")
    assert models.choose_placement("auto", "auto", True, True) == models.Placement("cuda:0", "bfloat16")
    assert models.choose_placement("cuda", "auto", True, False) == models.Placement("cuda:0", "float16")
    assert models.choose_placement("cpu", "bfloat16", True, True) == models.Placement("cpu", "bfloat16")
    with pytest.raises(ValueError, match="no CUDA"):
        models.choose_placement("cuda:1", "auto", False, False)


@pytest.mark.parametrize("name, message", [("no-such-model", "neither"), ("/nonexistent/dir", "no config.json")])
def test_resolve_names_what_is_wrong(name, message, tmp_path) -> None:
    with pytest.raises(models.ModelError, match=message):
        models.resolve(name, tmp_path)
