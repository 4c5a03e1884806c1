"""The Mesh API that other subsystems call, with real libp2p meshes inside this test process.

Each Mesh runs its own network thread, exactly as in the daemon; the tests
talk to it only through its public methods (plus, for the relay-tampering
case, a function run on the relay's network thread).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from swarmd import identity
from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.config import load
from swarmd.daemon import Daemon
from swarmd.p2p.streams import BlobError
from swarmd.p2p.subsystem import Mesh
from tests.support.poll import until

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(120)]


def make_mesh(tmp: Path, name: str, **p2p) -> Mesh:
    cli = {"node.data_dir": str(tmp / name), **{f"p2p.{k}": v for k, v in p2p.items()}}
    daemon = Daemon(load(environ={}, cli=cli), identity.generate())
    daemon.mesh = Mesh(daemon)
    daemon.mesh.register_kind("loadgen", p2p_pb2.LoadBatch, 65536)
    return daemon.mesh


def sees(a: Mesh, b: Mesh) -> bool:
    return any(p.peer_id == b.peer_id for p in a.live_peers())


def run(coro):
    return asyncio.run(coro)


def test_publish_reaches_subscribers_once_and_is_held(short_tmp):
    async def go():
        a, b = make_mesh(short_tmp, "a"), make_mesh(short_tmp, "b")
        await a.start()
        await b.start()
        try:
            joined = await b.join([a.listen_addrs[0]])
            assert joined.results[0].ok and joined.results[0].peer_id == a.peer_id
            await until(lambda: sees(a, b) and sees(b, a), what="both see each other")
            b_sub, a_sub = b.subscribe("loadgen"), a.subscribe("loadgen")
            batch = p2p_pb2.LoadBatch(round=1, filler=b"x" * 16384)
            await a.publish("loadgen", 1, 0, batch)
            await a.publish("loadgen", 1, 0, batch)  # a duplicate of (kind, round, stage, sender)
            await a.publish("loadgen", 2, 0, p2p_pb2.LoadBatch(round=2))
            first = await asyncio.wait_for(anext(b_sub), 20)
            second = await asyncio.wait_for(anext(b_sub), 20)
            assert (first.sender, first.round, first.via, first.payload) == (a.peer_id, 1, "gossip", batch)
            assert second.round == 2  # the duplicate was not delivered again
            assert first.sent_at <= first.received_at
            assert b.held("loadgen", 1, 0) == {a.peer_id: batch}
            assert a.held("loadgen", 1, 0) == {a.peer_id: batch}  # own data is held ...
            assert a._subs["loadgen"][0].qsize() == 0  # ... but not delivered to own subscribers
            del a_sub
            await until(lambda: b.stats.messages_in >= 2 and a.stats.messages_out >= 3, what="status counters")
            peers = await b.list_peers(include_stale=False)
            assert [p.peer_id for p in peers.peers] == [a.peer_id] and peers.self_peer_id == b.peer_id
        finally:
            await b.stop()
            await a.stop()

    run(go())


def test_collect_pulls_what_gossip_did_not_bring_and_relays_cannot_alter_it(short_tmp):
    """C rejects all gossip from A (a rate limit of one message) and keeps a single
    connection (to relay B): A's batch reaches C only by pulling from B, and a copy
    that B altered is refused by signature."""

    async def go():
        a, b = make_mesh(short_tmp, "a"), make_mesh(short_tmp, "b")
        c = make_mesh(short_tmp, "c", max_peers=1, rate_limit_per_s=0.001, rate_limit_burst=1)
        for m in (a, b, c):
            await m.start()
        try:
            assert (await b.join([a.listen_addrs[0]])).results[0].ok
            assert (await c.join([b.listen_addrs[0]])).results[0].ok
            await until(lambda: sees(b, a) and sees(b, c), what="b sees a and c")
            batch = p2p_pb2.LoadBatch(round=7, filler=b"y" * 2048)
            await a.publish("loadgen", 7, 0, batch)
            await until(lambda: b.held("loadgen", 7, 0), what="b holds a's batch")
            original = await b._bridge.call(_swap_held_copy, b._actor, a.peer_id, _tamper, timeout=5)
            loop = asyncio.get_running_loop()
            held = await c.collect("loadgen", 7, 0, {a.peer_id}, loop.time() + 2.0)
            assert held == {}  # the altered copy was refused
            await until(lambda: c.stats.rejected.get("bad_signature", 0) >= 1, what="bad_signature counted")
            assert c.stats.rejected.get("rate_limited", 0) >= 1
            await b._bridge.call(_swap_held_copy, b._actor, a.peer_id, lambda raw: original, timeout=5)
            held = await c.collect("loadgen", 7, 0, {a.peer_id}, loop.time() + 10.0)
            assert held == {a.peer_id: batch}
            assert c.held_received("loadgen", 7, 0)[a.peer_id].via == "pull"
            b_record = next(p for p in (await c.list_peers(include_stale=True)).peers if p.peer_id == b.peer_id)
            assert b_record.rejected["bad_signature"] >= 1  # blamed on the relay that served it
        finally:
            for m in (c, b, a):
                await m.stop()

    run(go())


async def _swap_held_copy(actor, sender: str, change: Callable[[bytes], bytes]) -> bytes:
    """Runs on B's network thread: replace B's stored copy of ``sender``'s batch."""
    raw = actor.store.get("loadgen", 7, 0)[sender]
    actor.store.add("loadgen", 7, 0, sender, change(raw), replace=True)
    return raw


def _tamper(raw: bytes) -> bytes:
    from libp2p.pubsub.pb import rpc_pb2

    msg = rpc_pb2.Message()
    msg.ParseFromString(raw)
    env = p2p_pb2.Envelope()
    env.ParseFromString(msg.data)
    env.payload = p2p_pb2.LoadBatch(round=7, filler=b"forged").SerializeToString()
    msg.data = env.SerializeToString()
    return msg.SerializeToString()


def test_blobs_are_fetched_whole_and_checked(short_tmp):
    async def go():
        a, b = make_mesh(short_tmp, "a"), make_mesh(short_tmp, "b")
        await a.start()
        await b.start()
        try:
            assert (await b.join([a.listen_addrs[0]])).results[0].ok
            data = bytes(range(256)) * 1200  # 300 KiB: several chunks
            digest = await a.offer_blob(data)
            assert await b.fetch_blob(a.peer_id, digest, len(data)) == data
            with pytest.raises(BlobError, match="larger than max_bytes"):
                await b.fetch_blob(a.peer_id, digest, len(data) - 1)
            with pytest.raises(BlobError, match="not offered"):
                await b.fetch_blob(a.peer_id, "0" * 64, 1000)
            with pytest.raises(ValueError, match="64 hex"):
                await b.fetch_blob(a.peer_id, "abc", 1000)
        finally:
            await b.stop()
            await a.stop()

    run(go())


def test_api_misuse_is_a_clear_error(short_tmp):
    async def go():
        a = make_mesh(short_tmp, "a")
        with pytest.raises(ValueError, match="belongs to the mesh"):
            a.register_kind("presence", p2p_pb2.Presence, 100)
        with pytest.raises(ValueError, match="max_message_bytes"):
            a.register_kind("huge", p2p_pb2.LoadBatch, 10_000_000)
        await a.start()
        try:
            with pytest.raises(ValueError, match="not registered"):
                await a.publish("nope", 1, 0, p2p_pb2.LoadBatch())
            with pytest.raises(TypeError, match="LoadBatch"):
                await a.publish("loadgen", 1, 0, p2p_pb2.Presence())
            with pytest.raises(ValueError, match="exceeds its max_bytes"):
                await a.publish("loadgen", 1, 0, p2p_pb2.LoadBatch(filler=b"z" * 70000))
            joined = await a.join(["/ip4/127.0.0.1/tcp/1", a.listen_addrs[0]])
            assert [r.ok for r in joined.results] == [False, False]
            assert "no /p2p/" in joined.results[0].error and "this node" in joined.results[1].error
        finally:
            await a.stop()

    run(go())


def test_a_taken_listen_address_fails_start_with_a_clear_error(short_tmp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]

        async def go():
            m = make_mesh(short_tmp, "a", listen=[f"/ip4/127.0.0.1/tcp/{port}"])
            with pytest.raises(RuntimeError, match="could not listen"):
                await m.start()
            await m.stop()

        run(go())
