"""Pure parts: the event bus's replay, resume and slow-subscriber handling, and the API
compatibility check on deliberately changed protos."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.events import EventBus
from swarmd.tools import apicheck

ROUND_KIND = pb.EVENT_KIND_ROUND


def _emit(bus: EventBus, n: int, kind: int = ROUND_KIND) -> None:
    for _ in range(n):
        bus.emit(kind, f"e{bus.last_seq + 1}")


async def _take(sub, n: int) -> list[pb.Event]:
    return [await asyncio.wait_for(sub.get(), 5) for _ in range(n)]


def test_resume_since_replays_exactly_what_followed() -> None:
    async def main() -> None:
        bus = EventBus(history=100)
        _emit(bus, 10)
        sub = bus.subscribe(since=7)
        _emit(bus, 2)
        assert [e.seq for e in await _take(sub, 5)] == [8, 9, 10, 11, 12]
        fresh = bus.subscribe(replay=3, kinds=[ROUND_KIND])
        assert [e.seq for e in await _take(fresh, 3)] == [10, 11, 12]
        # a `since` from a previous run of the daemon (above anything issued): treated as new
        restarted = bus.subscribe(since=5000, replay=1)
        assert [e.seq for e in await _take(restarted, 1)] == [12]

    asyncio.run(main())


def test_resume_from_before_the_buffer_gets_a_gap_marker() -> None:
    async def main() -> None:
        bus = EventBus(history=5)
        _emit(bus, 12)  # 8..12 buffered
        sub = bus.subscribe(since=3)
        got = await _take(sub, 6)
        assert got[0].kind == pb.EVENT_KIND_GAP
        assert (got[0].gap.first_missed, got[0].gap.last_missed, got[0].gap.reason) == (4, 7, "not_buffered")
        assert [e.seq for e in got[1:]] == [8, 9, 10, 11, 12]

    asyncio.run(main())


def test_a_slow_subscriber_catches_up_from_history_without_loss() -> None:
    async def main() -> None:
        bus = EventBus(history=100)
        sub = bus.subscribe(maxsize=3)
        _emit(bus, 20)  # the queue holds 3; the rest stays in history
        got = await _take(sub, 20)
        assert [e.seq for e in got] == list(range(1, 21)) and sub.overflows == 1 and sub.missed == 0

    asyncio.run(main())


def test_a_subscriber_slower_than_the_history_is_told_what_it_missed() -> None:
    async def main() -> None:
        bus = EventBus(history=4)
        sub = bus.subscribe(maxsize=2, kinds=[ROUND_KIND])
        _emit(bus, 12)
        got = await _take(sub, 7)
        assert [e.seq for e in got[:2]] == [1, 2]
        gap = got[2]
        assert gap.kind == pb.EVENT_KIND_GAP and gap.gap.reason == "slow_client"
        assert (gap.gap.first_missed, gap.gap.last_missed) == (3, 8)
        assert [e.seq for e in got[3:]] == [9, 10, 11, 12]
        assert sub.missed == 6
        # and it follows live events again afterwards
        _emit(bus, 1)
        assert (await _take(sub, 1))[0].seq == 13

    asyncio.run(main())


def test_closing_the_bus_ends_every_stream() -> None:
    async def main() -> None:
        bus = EventBus()
        sub = bus.subscribe()
        _emit(bus, 1)
        bus.close()
        assert (await sub.get()).seq == 1 and await sub.get() is None

    asyncio.run(main())


def _proto_copy(tmp: Path) -> Path:
    shutil.copytree(apicheck.PROTO / "swarm", tmp / "swarm")
    return tmp / "swarm" / "v1" / "control.proto"


def _check(tmp: Path, version: tuple[int, int]) -> tuple[int, str]:
    out = io.StringIO()
    base = apicheck.parse_version(apicheck.BASELINE_VERSION.read_text())
    code = apicheck.check(tmp, apicheck.BASELINE, base, version, out=out)
    return code, out.getvalue()


def test_api_check_passes_on_the_tree() -> None:
    version = apicheck.current_version()
    code, out = _check(apicheck.PROTO, version)
    assert code == 0, out


def test_api_check_fails_on_a_removed_field_and_passes_on_an_added_one(tmp_path: Path) -> None:
    base = apicheck.parse_version(apicheck.BASELINE_VERSION.read_text())
    control = _proto_copy(tmp_path)
    original = control.read_text()

    control.write_text(original.replace("  uint32 live_peers = 4;\n", ""))
    code, out = _check(tmp_path, base)
    assert code == 1 and "field swarm.v1.MeshStatus.live_peers (= 4) removed" in out
    # the same removal under a new major version is accepted
    assert _check(tmp_path, (base[0] + 1, 0))[0] == 0

    control.write_text(original.replace("  uint32 live_peers = 4;\n", "  uint32 live_peers = 4;\n  uint32 dialing = 99;\n"))
    code, out = _check(tmp_path, base)
    assert code == 0 and "added: field swarm.v1.MeshStatus.dialing = 99" in out

    control.write_text(original.replace("uint32 live_peers = 4;", "uint64 live_peers = 4;"))
    code, out = _check(tmp_path, base)
    assert code == 1 and "changed from uint32 to uint64" in out

    control.write_text(original.replace("  rpc Leave(LeaveRequest) returns (LeaveResponse);\n", ""))
    code, out = _check(tmp_path, base)
    assert code == 1 and "rpc swarm.v1.SwarmControl.Leave removed" in out

    control.write_text(original.replace("EVENT_KIND_CHAIN = 7;", "EVENT_KIND_CHAIN = 9;"))
    code, out = _check(tmp_path, base)
    assert code == 1 and "EVENT_KIND_CHAIN renumbered 7 -> 9" in out
