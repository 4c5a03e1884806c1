"""The mesh's decisions, tested without a network: envelope checks, round store, rate limits,
peer liveness, redial backoff, pull answers, framing, blobs, pubsub pre-checks, config."""

from __future__ import annotations

import random

import base58
import pytest
import trio

from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.config import ConfigError, load
from swarmd.p2p import streams
from swarmd.p2p.blobs import BlobStore, blob_hash, parse_hash
from swarmd.p2p.codec import KindRegistry, KindSpec, check_envelope, encode_envelope
from swarmd.p2p.dialer import Backoff
from swarmd.p2p.peers import PeerTable
from swarmd.p2p.ratelimit import RateLimiter
from swarmd.p2p.store import RoundStore

ALICE = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) + bytes(range(32))
ALICE_B58 = base58.b58encode(ALICE).decode()


def registry(validate=None) -> KindRegistry:
    r = KindRegistry()
    r.register(KindSpec("loadgen", p2p_pb2.LoadBatch, 1000, validate, "rollouts"))
    return r


def check(data: bytes, channel: str = "rollouts", reg: KindRegistry | None = None, cap: int = 4096):
    return check_envelope(
        data, channel=channel, origin=ALICE, origin_b58=ALICE_B58, swarm_id="s1",
        registry=reg or registry(), max_message_bytes=cap,
    )


def env(**kw) -> bytes:
    args = dict(swarm_id="s1", kind="loadgen", round=3, stage=1, sent_at=1.0, sender=ALICE,
                payload=p2p_pb2.LoadBatch(round=3, filler=b"abc").SerializeToString())
    args.update(kw)
    return encode_envelope(**args)


# -- envelope check ---------------------------------------------------------------------


def test_valid_envelope_is_decoded():
    c = check(env())
    assert c.ok and c.envelope.round == 3 and c.payload.filler == b"abc"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xff\xff\xff", "malformed_envelope"),
        (env(swarm_id="other"), "wrong_swarm"),
        (env(sender=b"\x00\x24" + bytes(36)), "sender_mismatch"),
        (env(kind="nope"), "unknown_kind"),
        (env(payload=b"\xff\xff\xff"), "malformed_payload"),
        (env(payload=p2p_pb2.LoadBatch(filler=b"x" * 2000).SerializeToString()), "payload_oversized"),
        (b"x" * 5000, "oversized"),
    ],
)
def test_each_rule_rejects_with_its_reason(data, reason):
    assert check(data).reason == reason


def test_unknown_version_and_wrong_topic():
    e = p2p_pb2.Envelope()
    e.ParseFromString(env())
    e.version = 9
    assert check(e.SerializeToString()).reason == "bad_version"
    assert check(env(), channel="rounds").reason == "wrong_topic"


def test_kind_validator_reason_and_crash_are_rejections():
    assert check(env(), reg=registry(lambda m, s: "too_few_items")).reason == "invalid_payload"
    assert check(env(), reg=registry(lambda m, s: 1 / 0)).reason == "invalid_payload"
    seen = []
    assert check(env(), reg=registry(lambda m, s: seen.append(s))).ok
    assert seen == [ALICE_B58]


def test_registry_rules():
    r = registry()
    with pytest.raises(ValueError, match="already registered"):
        r.register(KindSpec("loadgen", p2p_pb2.Presence, 10, None, "rollouts"))
    with pytest.raises(ValueError, match="topic"):
        r.register(KindSpec("x", p2p_pb2.Presence, 10, None, "elsewhere"))
    with pytest.raises(ValueError, match="kind"):
        r.register(KindSpec("Bad Kind!", p2p_pb2.Presence, 10, None, "rollouts"))
    r.register(KindSpec("loadgen", p2p_pb2.LoadBatch, 2000, None, "rollouts"))  # same type: re-registration
    assert r.get("loadgen").max_bytes == 2000


# -- round store ------------------------------------------------------------------------


def test_store_keeps_one_per_sender_and_key():
    s: RoundStore[bytes] = RoundStore(window=3, max_bytes=10_000, size_of=len)
    assert s.add("k", 1, 0, "a", b"x")
    assert not s.add("k", 1, 0, "a", b"y")  # duplicate
    assert s.add("k", 1, 0, "a", b"z", replace=True)
    assert s.get("k", 1, 0) == {"a": b"z"}
    assert s.add("k", 1, 0, "b", b"w") and s.senders("k", 1, 0) == {"a", "b"}


def test_store_window_is_per_sender():
    s: RoundStore[bytes] = RoundStore(window=3, max_bytes=10_000, size_of=len)
    for r in range(1, 6):
        s.add("k", r, 0, "honest", b"h")
    s.add("k", 4, 0, "liar", b"l")
    s.add("k", 10**9, 0, "liar", b"l")  # a round far ahead evicts only the liar's own data
    assert s.has("k", 4, 0, "honest") and s.has("k", 5, 0, "honest")
    assert not s.has("k", 4, 0, "liar")
    assert not s.has("k", 2, 0, "honest")  # 5 - 3: outside the honest sender's window
    assert not s.add("k", 1, 0, "honest", b"old")


def test_store_caps_entries_per_sender_and_bytes():
    s: RoundStore[bytes] = RoundStore(window=2, max_bytes=10_000, size_of=len, per_sender=4)
    for stage in range(10):
        s.add("k", 1, stage, "spammer", b"s")
    assert len(s) == 4 and s.has("k", 1, 9, "spammer") and not s.has("k", 1, 0, "spammer")
    small: RoundStore[bytes] = RoundStore(window=10, max_bytes=100, size_of=len)
    for i in range(5):
        small.add("k", 1, 0, f"p{i}", b"x" * 40)
    assert small.bytes <= 100 and small.senders("k", 1, 0) == {"p3", "p4"}
    small.forget_sender("p4")
    assert small.senders("k", 1, 0) == {"p3"}


# -- rate limit, backoff --------------------------------------------------------------------


def test_rate_limiter_burst_then_rate():
    rl = RateLimiter(rate_per_s=2, burst=3, max_peers=2)
    assert [rl.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow("a", 0.5) and not rl.allow("a", 0.5)  # one token back after 0.5 s
    rl.allow("b", 0.0)
    rl.allow("c", 0.0)
    assert len(rl) == 2  # least recently used forgotten


def test_backoff_doubles_to_max_and_resets():
    b = Backoff(1.0, 8.0, rng=random.Random(1))
    assert b.due(0.0)
    delays = []
    for _ in range(6):
        b.failed(0.0)
        delays.append(b.delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert not b.due(6.0) and b.due(9.7)  # 8 s ± 20 %
    b.succeeded()
    assert b.due(0.0) and b.delay == 0.0


# -- peer table -------------------------------------------------------------------------------


def presence(**kw) -> p2p_pb2.Presence:
    return p2p_pb2.Presence(name="calm brave fox", version="0.1.0", roles=["trainer"], **kw)


def test_peer_lifecycle_joined_stale_live_removed():
    t = PeerTable("me", stale_after=6, remove_after=60)
    assert [c for c, _ in t.on_presence("p", presence(round=4), now=0)] == ["joined"]
    assert t.liveness("p") == "live" and t.snapshot(1)[0].round == 4
    assert t.sweep(5.9) == []
    assert [c for c, _ in t.sweep(6.1)] == ["stale"]
    assert t.liveness("p") == "stale" and "p" in t.not_live()
    assert [c for c, _ in t.on_pong("p", 3.0, now=7)] == ["live"]
    assert t.snapshot(7)[0].rtt_ms == 3.0
    t.on_pong("p", 13.0, now=8)
    assert t.snapshot(8)[0].rtt_ms == pytest.approx(6.0)  # smoothed
    assert [c for c, _ in t.sweep(68.1)] == ["removed"]
    assert t.liveness("p") == "stale" and "p" in t.not_live()  # forgotten, still not waited for
    assert t.liveness("never") == "unknown"


def test_leaving_forgets_at_once_and_rejections_are_counted():
    t = PeerTable("me", stale_after=6, remove_after=60, max_records=2)
    t.on_presence("p", presence(), now=0)
    t.on_rejected("p", "rate_limited", now=1)
    t.on_rejected("p", "rate_limited", now=1)
    assert dict(t.snapshot(1)[0].rejected) == {"rate_limited": 2}
    assert [c for c, _ in t.on_presence("p", presence(leaving=True), now=2)] == ["left"]
    assert t.liveness("p") == "stale" and t.snapshot(2) == ()
    t.set_connected({"p"}, now=2)  # its connection closes a moment after the announcement
    t.on_pong("p", 1.0, now=2)
    assert t.snapshot(2) == ()
    assert [c for c, _ in t.on_presence("p", presence(), now=3)] == ["joined"]  # back by its own word
    t.on_presence("p", presence(leaving=True), now=3)
    t.on_rejected("x", "bad_signature", now=3)
    t.on_rejected("y", "bad_signature", now=3)
    t.on_rejected("z", "bad_signature", now=3)  # table full: counted only in totals
    assert {p.peer_id for p in t.snapshot(3)} == {"x", "y"}
    t.on_presence("me", presence(), now=3)
    assert "me" not in {p.peer_id for p in t.snapshot(3)}


# -- pull answers and framing -------------------------------------------------------------------


def test_pull_response_skips_what_the_asker_has_and_respects_the_budget():
    a, b, c = (base58.b58encode(bytes([0, 36]) + bytes([i]) * 36).decode() for i in (1, 2, 3))
    held = {a: b"A" * 10, b: b"B" * 10, c: b"C" * 10}
    resp = streams.pull_response(held, {base58.b58decode(a)}, max_bytes=100)
    assert sorted(resp.messages) == [b"B" * 10, b"C" * 10] and len(resp.holds) == 3 and not resp.truncated
    resp = streams.pull_response(held, set(), max_bytes=15)
    assert len(resp.messages) == 1 and resp.truncated


class FakeStream:
    def __init__(self, data: bytes, chunk: int = 3) -> None:
        self.data, self.chunk = data, chunk

    async def read(self, n: int) -> bytes:
        out, self.data = self.data[: min(n, self.chunk)], self.data[min(n, self.chunk):]
        return out


def test_frames_round_trip_in_small_reads_and_enforce_limits():
    body = bytes(range(256)) * 5

    async def go():
        assert await streams.read_frame(FakeStream(streams.frame(body)), limit=2000) == body
        with pytest.raises(streams.FrameError, match="exceeds"):
            await streams.read_frame(FakeStream(streams.frame(body)), limit=100)
        with pytest.raises(streams.FrameError, match="ended"):
            await streams.read_frame(FakeStream(streams.frame(body)[:50]), limit=2000)
        with pytest.raises(streams.FrameError, match="varint"):
            await streams.read_frame(FakeStream(b"\xff" * 12), limit=2000)

    trio.run(go)


# -- blobs ------------------------------------------------------------------------------------------


def test_blob_store_offers_by_hash_within_caps():
    store = BlobStore(max_bytes=100, max_blob_bytes=60)
    h = store.offer(b"a" * 50)
    assert h == blob_hash(b"a" * 50) and store.get(parse_hash(h)) == b"a" * 50
    store.offer(b"b" * 60)  # pushes the first offer out
    assert store.get(parse_hash(h)) is None and store.bytes == 60
    with pytest.raises(ValueError, match="blob_max_bytes"):
        store.offer(b"c" * 61)
    with pytest.raises(ValueError, match="64 hex"):
        parse_hash("abc")
    with pytest.raises(ValueError, match="hexadecimal"):
        parse_hash("z" * 64)


# -- pubsub pre-check (the library's own message type) -------------------------------------------


def test_precheck_accepts_signed_and_names_every_fault():
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.peer.id import ID
    from libp2p.pubsub.pb import rpc_pb2

    from swarmd.p2p.hardening import SIGNING_PREFIX, parse_signed, precheck

    kp = create_new_key_pair()
    me = ID.from_pubkey(kp.public_key).to_bytes()
    topics = frozenset({"/swarmd/s1/rollouts/1"})

    def signed(**kw) -> rpc_pb2.Message:
        fields = dict(data=b"hello", topicIDs=["/swarmd/s1/rollouts/1"], from_id=me, seqno=b"\x00" * 7 + b"\x01")
        fields.update(kw)
        m = rpc_pb2.Message(**fields)
        m.signature = kp.private_key.sign(SIGNING_PREFIX + m.SerializeToString())
        m.key = kp.public_key.serialize()
        return m

    good = signed()
    assert precheck(good, topics, 100) is None
    assert parse_signed(good.SerializeToString(), topics, 100)[0] is None
    assert parse_signed(b"\xff\xff", topics, 100)[0] == "malformed_message"
    assert precheck(signed(topicIDs=["/elsewhere"]), topics, 100) == "bad_topic"
    assert precheck(signed(from_id=b"\x12\x20" + bytes(32)), topics, 100) == "bad_from"
    assert precheck(signed(seqno=b""), topics, 100) == "bad_seqno"
    assert precheck(signed(data=b"x" * 101), topics, 100) == "oversized"
    wrong_key = signed()
    wrong_key.key = create_new_key_pair().public_key.serialize()
    assert precheck(wrong_key, topics, 100) == "bad_key"
    tampered = signed()
    tampered.data = b"HELLO"  # a relay changed the content
    assert precheck(tampered, topics, 100) == "bad_signature"


# -- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("p2p.bootnodes", ["/ip4/127.0.0.1/tcp/4001"], "/p2p/"),
        ("p2p.listen", ["127.0.0.1:4001"], "not a multiaddr"),
        ("p2p.degree_low", 9, "degree_low <= degree"),
        ("p2p.remove_after_s", 1.0, "remove_after_s"),
        ("p2p.max_message_bytes", 5_000_000, "p2p.max_message_bytes"),
    ],
)
def test_bad_mesh_config_names_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("/", "/")):
        load(environ={}, cli={key: value})
