"""swarmd.client against real daemons: every RPC through Client and AsyncClient, the errors,
the event stream's resume, and the README's automation example."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from swarmd import client as sc
from swarmd.client import AsyncClient, Client, pb
from tests.client.support import LIGHT, free_port
from tests.conftest import REPO
from tests.support.daemons import wait_until

pytestmark = pytest.mark.process


def test_import_loads_neither_torch_nor_libp2p_nor_web3() -> None:
    code = (
        "import sys, swarmd.client\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'libp2p', 'web3', 'transformers', 'peft'})\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]"


def test_every_rpc_through_client(trainer, short_tmp: Path) -> None:
    with Client(trainer.socket) as c:
        status = c.status()
        assert status.api_version == sc.API_VERSION and status.state == "running"
        assert status.daemon_state == pb.DAEMON_STATE_RUNNING
        assert status.training.training_state in (pb.TRAINING_STATE_READY, pb.TRAINING_STATE_BUSY)
        assert status.wire_version_min <= 1 <= status.wire_version_max

        peers = c.peers(include_stale=True)
        assert peers.self_peer_id == status.peer_id
        bogus = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWEq7LiNxVHLd8hYza3p5RAs3wmA3UJTyanTHnXV9FbgPH"
        joined = c.join([bogus])
        assert len(joined.results) == 1 and not joined.results[0].ok and joined.results[0].error

        board = c.leaderboard()
        assert status.peer_id in [e.peer_id for e in board.entries]

        page = c.rounds(page_size=1)
        assert len(page.rounds) == 1 and page.total >= 1
        assert page.rounds[0].has_own_reward and json.loads(page.rounds[0].record_json)["round"] == page.rounds[0].round
        everything = list(c.iter_rounds(page_size=1))
        assert len(everything) >= page.total
        assert [r.round for r in everything] == sorted((r.round for r in everything), reverse=True)

        history = c.training_history()
        assert history.points and all(a.step <= b.step for a, b in zip(history.points, history.points[1:], strict=False))

        config = c.get_config()
        assert config.get("node.swarm_id") == "client-test"
        assert config.redacted == ("chain.rpc_url",)
        assert "hunter2" not in json.dumps(config.values) and "0123456789abcdef" not in json.dumps(config.values)
        assert config.get("chain.rpc_url").startswith("https://<redacted>@rpc.example.org/")

        paused = c.pause_training()
        assert paused.paused and not paused.unchanged and c.status().training_paused
        assert c.pause_training().unchanged
        resumed = c.resume_training()
        assert not resumed.paused and not resumed.unchanged and not c.status().training_paused

        ckpt = c.checkpoint()
        assert Path(ckpt.path).is_dir()

        on_daemon = c.export_adapter(short_tmp / "exported")
        downloaded = c.download_adapter(short_tmp / "downloaded")
        exported_files = sorted(str(p.relative_to(on_daemon.directory)) for p in Path(on_daemon.directory).rglob("*")
                                if p.is_file())
        assert sorted(downloaded.files) == exported_files and "adapter_model.safetensors" in downloaded.files
        assert downloaded.bytes == sum((short_tmp / "downloaded" / f).stat().st_size for f in downloaded.files)
        config_json = json.loads((short_tmp / "downloaded" / "adapter_config.json").read_text())
        assert config_json == json.loads((Path(on_daemon.directory) / "adapter_config.json").read_text())

        with pytest.raises(sc.NotAvailable, match="chain.enabled = false"):
            c.register()
        with pytest.raises(sc.NotAvailable, match="chain.enabled = false"):
            c.submit_results()

        stream = c.events(["training"], replay=5).ready()
        first = next(iter(stream))
        stream.close()
        assert first.kind == pb.EVENT_KIND_TRAINING

        moved = c.advance_round()
        assert moved.source == "coordinator"


def test_every_rpc_through_async_client(trainer, short_tmp: Path) -> None:
    async def main() -> None:
        async with AsyncClient(trainer.socket) as c:
            status = await c.status()
            assert status.api_version == sc.API_VERSION
            assert (await c.peers()).self_peer_id == status.peer_id
            assert not (await c.join(["/ip4/127.0.0.1/tcp/1"])).results[0].ok
            assert (await c.leaderboard(status.peer_id[-6:])).entries[0].peer_id == status.peer_id
            records = [r async for r in c.iter_rounds(page_size=2)]
            assert records and records[0].round == (await c.rounds(1)).rounds[0].round
            assert (await c.training_history(limit=1)).points
            assert (await c.get_config()).get("swarm.tasks") == "dense"
            assert (await c.pause_training()).paused
            assert not (await c.resume_training()).paused
            assert "/checkpoints/" in (await c.checkpoint()).path
            assert (await c.export_adapter(short_tmp / "a1")).policy_version >= 1
            progress: list[tuple[int, int]] = []
            done = await c.download_adapter(short_tmp / "a2", progress=lambda got, total: progress.append((got, total)))
            assert progress[-1] == (done.bytes, done.bytes) and "adapter_model.safetensors" in done.files
            record = await c.wait_for_round(0, timeout=60)
            assert record.round >= 0
            with pytest.raises(sc.NotAvailable):
                await c.register()
            with pytest.raises(sc.NotAvailable):
                await c.submit_results(99)
            stream = c.events(replay=3)
            await stream.ready()
            seen = []
            async for event in stream:
                seen.append(event.seq)
                if len(seen) == 3:
                    break
            stream.close()
            assert seen == sorted(seen) and len(seen) == 3
            assert (await c.start_round(0)).source == "coordinator"

    asyncio.run(main())
    assert (short_tmp / "a2" / "adapter_model.safetensors").is_file()


def test_errors_are_the_hierarchy_s_classes(trainer, short_tmp: Path) -> None:
    # unreachable: no socket, a stale socket, a refused TCP port (at once, not after the deadline)
    with pytest.raises(sc.Unreachable, match="no daemon socket"):
        Client(short_tmp / "none.sock").status()
    with pytest.raises(sc.Unreachable, match="Connection refused|connection refused"):
        Client(address=f"127.0.0.1:{free_port()}", timeout=120).status()
    with pytest.raises(sc.Unreachable):
        asyncio.run(AsyncClient(short_tmp / "none.sock").status())
    with Client(trainer.socket) as c:
        # deadline: a download cannot finish in a millisecond
        with pytest.raises(sc.DeadlineExceeded, match="longer timeout"):
            c.download_adapter(short_tmp / "never", timeout=0.001)
        assert not (short_tmp / "never").exists()
        # refused: this node is not the chain's stage manager... the round source is the coordinator,
        # so a chain-only request is not available, and a bad page token is a bad request
        with pytest.raises(sc.BadRequest, match="page_token"):
            c.rounds(page_token="nonsense")
        with pytest.raises(sc.BadRequest, match="not an empty directory"):
            c.download_adapter(REPO)
        with pytest.raises(sc.ControlError) as err:
            c.export_adapter("relative/dir")
        assert isinstance(err.value, sc.BadRequest) and err.value.code == "INVALID_ARGUMENT"
    assert issubclass(sc.Unreachable, sc.ControlError) and issubclass(sc.Refused, sc.ControlError)


def test_refused_over_tcp_without_the_token(daemons) -> None:
    port = free_port()
    d = daemons("tcp", config={**LIGHT, "control": {"tcp_address": f"127.0.0.1:{port}"}})
    with pytest.raises(sc.Refused, match="bearer token"):
        Client(address=f"127.0.0.1:{port}").status()
    with pytest.raises(sc.Refused, match="bearer token"):
        Client(address=f"127.0.0.1:{port}", token="x" * 40).status()
    good = Client(address=f"127.0.0.1:{port}", token_file=d.data_dir / "control.token")
    assert good.status().peer_id == d.status().peer_id
    with pytest.raises(sc.Refused):
        list(Client(address=f"127.0.0.1:{port}").events())
    # a role this node lacks: rounds come from the clock here
    with pytest.raises(sc.NotAvailable):
        good.start_round()
    assert good.shutdown() == pb.ShutdownResponse()
    assert d.wait_exit(30) == 0
    good.close()


def _drain_until(stream_iter, predicate, sink: list[pb.Event]) -> pb.Event:
    for event in stream_iter:
        sink.append(event)
        if predicate(event):
            return event
    raise AssertionError("stream ended")


def test_event_stream_resumes_with_since_and_gets_exactly_the_missed_events(trainer) -> None:
    c = Client(trainer.socket)
    # A witness follows without a break; the other client disconnects and comes back.
    witness = c.events().ready()
    witnessed: list[pb.Event] = []
    stop = threading.Event()

    def follow() -> None:
        for event in witness:
            witnessed.append(event)
            if stop.is_set() and event.kind == pb.EVENT_KIND_TRAINING and event.training.state == "resumed":
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    first = c.events(replay=1).ready()
    last = next(iter(first)).seq
    first.close()  # disconnected

    stop.set()
    c.pause_training()  # events while the client is away
    c.resume_training()
    thread.join(60)
    assert not thread.is_alive()
    resume_seq = witnessed[-1].seq

    again = c.events(since=last).ready()
    replayed: list[pb.Event] = []
    _drain_until(iter(again), lambda e: e.seq >= resume_seq, replayed)
    again.close()
    witness.close()
    missed = [e for e in witnessed if last < e.seq <= resume_seq]
    assert [e.seq for e in replayed] == list(range(last + 1, resume_seq + 1))
    assert [(e.seq, e.message) for e in replayed] == [(e.seq, e.message) for e in missed]
    assert any(e.message == "training resumed" for e in replayed)
    c.close()


def test_readme_automation_example_runs(trainer, short_tmp: Path) -> None:
    readme = (REPO / "README.md").read_text()
    m = re.search(r"<!-- automation-example -->\s*```python\n(.*?)```", readme, re.S)
    assert m, "README has no automation example"
    script = short_tmp / "example.py"
    script.write_text(m.group(1))
    out_dir = short_tmp / "adapter-r0"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(script), str(trainer.data_dir), "0", str(out_dir)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"round \d+ done: reward -?\d\.\d{3}", result.stdout), result.stdout
    assert (out_dir / "adapter_model.safetensors").is_file()


def test_swarmctl_on_the_trainer(trainer, short_tmp: Path) -> None:
    # global options after the verb; events replay first and resume with --since
    r = trainer.ctl("events", "--count", "2", "--replay", "2", "--json")
    assert r.returncode == 0, r.stderr
    seqs = [json.loads(line)["seq"] for line in r.stdout.splitlines()]
    assert len(seqs) == 2
    r = trainer.ctl("events", "--since", str(int(seqs[0]) - 1), "--count", "1", "--json")
    assert json.loads(r.stdout)["seq"] == seqs[0]
    # a deadline names --timeout and is not "unreachable"
    r = trainer.ctl("export", str(short_tmp / "x"), "--timeout", "0.001")
    assert r.returncode == 1 and "--timeout" in r.stderr and "unreachable" not in r.stderr
    r = trainer.ctl("export", str(short_tmp / "ok"))
    assert r.returncode == 0, r.stderr
    assert (short_tmp / "ok" / "adapter_model.safetensors").is_file()
    r = trainer.ctl("submit", "99")
    assert r.returncode == 4, r.stderr
    assert trainer.ctl("pause").returncode == 0 and "already paused" in trainer.ctl("pause").stdout
    assert trainer.ctl("resume", "--json").returncode == 0
    rounds = trainer.ctl("rounds", "--json", "--limit", "1")
    assert json.loads(rounds.stdout)["rounds"][0]["has_own_reward"] is True
    wait_until(lambda: trainer.status().training.state in ("ready", "busy"), 30, what="trainer up")
