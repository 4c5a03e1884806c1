"""A hostile py-libp2p peer: connects to a swarmd node and attacks it.

    python -m tests.p2p.hostile --target MULTIADDR --swarm SWARM_ID --report FILE ATTACK...

It speaks raw libp2p (Noise, yamux) and writes pubsub frames by hand, so it
can send what an honest library never would. Attacks (each runs in order):

- envelopes:    signed messages whose envelope is wrong, one per reason:
                malformed protobuf, oversized, wrong swarm ID, unknown version,
                sender mismatch, unknown kind, malformed payload
- wire:         messages the pubsub layer must refuse: a `from` that is no
                peer ID (also with a key that does not decode), a key that
                does not match, an empty seqno, a bad signature, two topics
- flood:        --flood valid signed presence messages as fast as possible
- garbage_rpc:  a pubsub frame that is not protobuf (then reconnects)
- topics:       subscriptions to 1000 topics and one 64 KiB topic name
- streams:      garbage, resets and silence on the pull, adapter, ping and
                identify-push streams
- churn:        --churn connections opened and closed again
- fuzz:         the message bodies in --fuzz-file (length-prefixed; e.g. generated
                by hypothesis), each properly signed, cycled for --fuzz-seconds

The report (JSON) names the hostile peer ID and what was sent, for the test
to compare with the node's counters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import multiaddr
import trio
from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519
from libp2p.network.config import ConnectionConfig
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.pb import rpc_pb2
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as Noise

from swarmd._pb.swarm.v1 import p2p_pb2
from swarmd.p2p.codec import WIRE_VERSION
from swarmd.p2p.streams import frame

MESHSUB = "/meshsub/1.1.0"
# Fuzzed envelopes naming this sender are sent with the attacker's own peer ID.
FUZZ_SENDER = b"\x00\x24" + bytes(36)
SIGNING_PREFIX = b"libp2p-pubsub:"


class Attacker:
    def __init__(self, target: str, swarm: str, kind: str) -> None:
        self.target = info_from_p2p_addr(multiaddr.Multiaddr(target))
        self.swarm = swarm
        self.kind = kind
        self.seq = int(time.time() * 1000)
        self.sent: dict[str, int] = {}
        self.host = None
        self.key_pair = create_new_key_pair()

    def new_host(self):
        kp = self.key_pair
        return new_host(
            key_pair=kp,
            sec_opt={NOISE_ID: Noise(kp, noise_privkey=new_x25519().private_key)},
            muxer_opt=create_yamux_muxer_option(),
            connection_config=ConnectionConfig(max_connections_per_peer=1),
        )

    @property
    def me(self) -> bytes:
        return self.host.get_id().to_bytes()

    def topic(self, channel: str) -> str:
        return f"/swarmd/{self.swarm}/{channel}/1"

    def count(self, what: str, n: int = 1) -> None:
        self.sent[what] = self.sent.get(what, 0) + n

    def signed(self, data: bytes, topics: list[str], origin: bytes | None = None, seqno: bytes | None = None,
               key: bytes | None = None, bad_signature: bool = False) -> rpc_pb2.Message:
        self.seq += 1
        msg = rpc_pb2.Message(data=data, topicIDs=topics, from_id=origin if origin is not None else self.me,
                              seqno=self.seq.to_bytes(8, "big") if seqno is None else seqno)
        sig = self.key_pair.private_key.sign(SIGNING_PREFIX + msg.SerializeToString())
        msg.signature = bytes(64) if bad_signature else sig
        msg.key = key if key is not None else self.key_pair.public_key.serialize()
        return msg

    def envelope(self, *, kind: str | None = None, payload: bytes = b"", version: int = WIRE_VERSION,
                 swarm: str | None = None, sender: bytes | None = None) -> bytes:
        return p2p_pb2.Envelope(
            version=version, swarm_id=self.swarm if swarm is None else swarm, kind=kind or self.kind,
            round=1, stage=0, sent_at=time.time(), sender=self.me if sender is None else sender,
            payload=payload,
        ).SerializeToString()

    async def meshsub_stream(self):
        return await self.host.new_stream(self.target.peer_id, [MESHSUB])

    async def send(self, stream, *msgs: rpc_pb2.Message) -> None:
        await stream.write(frame(rpc_pb2.RPC(publish=list(msgs)).SerializeToString()))

    # -- attacks ---------------------------------------------------------------------

    async def envelopes(self, oversized_bytes: int) -> None:
        s = await self.meshsub_stream()
        rollouts = [self.topic("rollouts")]
        good_payload = p2p_pb2.LoadBatch(round=1, filler=b"x").SerializeToString()
        cases = {
            "malformed_envelope": b"\xff\xff\xff\xff not a protobuf",
            "oversized": self.envelope(payload=b"x" * oversized_bytes),
            "wrong_swarm": self.envelope(payload=good_payload, swarm="another-swarm"),
            "bad_version": self.envelope(payload=good_payload, version=WIRE_VERSION + 7),
            "sender_mismatch": self.envelope(payload=good_payload, sender=b"\x00\x24" + os.urandom(36)),
            "unknown_kind": self.envelope(kind="no-such-kind", payload=good_payload),
            "malformed_payload": self.envelope(payload=b"\xff\xff\xff garbage"),
        }
        for reason, data in cases.items():
            await self.send(s, self.signed(data, rollouts))
            self.count(reason)
        await trio.sleep(0.2)

    async def wire(self) -> None:
        s = await self.meshsub_stream()
        rollouts = [self.topic("rollouts")]
        data = self.envelope(payload=p2p_pb2.LoadBatch(round=2).SerializeToString())
        await self.send(s, self.signed(data, rollouts, origin=os.urandom(20)))
        self.count("bad_from")
        # not an identity multihash and a key that does not decode: stock 0.8.1 cancels its Pubsub
        await self.send(s, self.signed(data, rollouts, origin=b"\x12\x20" + os.urandom(32), key=b"\x01\x02junk"))
        self.count("bad_from")
        await self.send(s, self.signed(data, rollouts, key=b"\x08\x01\x12\x20" + os.urandom(32)))
        self.count("bad_key")
        await self.send(s, self.signed(data, rollouts, seqno=b""))
        self.count("bad_seqno")
        await self.send(s, self.signed(data, rollouts, bad_signature=True))
        self.count("bad_signature")
        await self.send(s, self.signed(data, rollouts + [self.topic("rounds")]))
        self.count("bad_topic")
        await trio.sleep(0.2)

    async def flood(self, n: int) -> None:
        s = await self.meshsub_stream()
        presence = [self.topic("presence")]
        for i in range(n):
            p = p2p_pb2.Presence(name="hostile", version="0").SerializeToString()
            await self.send(s, self.signed(self.envelope(kind="presence", payload=p), presence))
            if i % 50 == 0:
                await trio.lowlevel.checkpoint()
        self.count("flood", n)
        await trio.sleep(0.5)

    async def garbage_rpc(self) -> None:
        s = await self.meshsub_stream()
        await s.write(frame(b"\xff\xfe\xfd this is not a protobuf RPC \x00\x01" * 4))
        self.count("malformed_rpc")
        await trio.sleep(0.5)

    async def topics(self) -> None:
        s = await self.meshsub_stream()
        subs = [rpc_pb2.RPC.SubOpts(subscribe=True, topicid=f"/junk/{i}") for i in range(1000)]
        await s.write(frame(rpc_pb2.RPC(subscriptions=subs).SerializeToString()))
        big = rpc_pb2.RPC.SubOpts(subscribe=True, topicid="t" * 65536)
        await s.write(frame(rpc_pb2.RPC(subscriptions=[big]).SerializeToString()))
        self.count("topics")
        await trio.sleep(0.5)

    async def streams(self, protocols: list[str]) -> None:
        for proto in protocols:
            # garbage, then close
            try:
                s = await self.host.new_stream(self.target.peer_id, [proto])
                await s.write(b"\xff" * 9 + b"garbage")
                await s.close()
            except Exception:  # noqa: BLE001 - the node may refuse; that is fine
                pass
            # a reset in the middle of a frame
            try:
                s = await self.host.new_stream(self.target.peer_id, [proto])
                await s.write(b"\x80\x80")
                await s.reset()
            except Exception:  # noqa: BLE001
                pass
            # silence: open and never speak (the node's deadline must end it)
            try:
                await self.host.new_stream(self.target.peer_id, [proto])
            except Exception:  # noqa: BLE001
                pass
            self.count(f"streams:{proto}")
        await trio.sleep(0.5)

    async def fuzz(self, path: Path, seconds: float, topics: list[str]) -> None:
        """Signed messages carrying each fuzzed body in turn, on every topic, for ``seconds``."""
        raw, bodies = await trio.Path(path).read_bytes(), []
        while raw:
            n = int.from_bytes(raw[:4], "big")
            bodies.append(raw[4 : 4 + n])
            raw = raw[4 + n :]
        # Bodies that name the placeholder sender get ours, so they pass the sender check
        # and reach everything behind it (kinds, payload schemas, validators).
        for k, body in enumerate(bodies):
            try:
                env = p2p_pb2.Envelope.FromString(body)
            except Exception:  # noqa: BLE001 - not an envelope: sent as it is
                continue
            if env.sender == FUZZ_SENDER:
                env.sender = self.me
                bodies[k] = env.SerializeToString()
        s = await self.meshsub_stream()
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            body = bodies[i % len(bodies)]
            await self.send(s, self.signed(body, [self.topic(topics[i % len(topics)])]))
            self.count("fuzz")
            i += 1
            await trio.sleep(0.01)  # ~100 messages/s: a steady hostile stream, not a flood
        await trio.sleep(0.5)

    async def churn(self, n: int) -> None:
        done = 0
        for _ in range(n):
            try:
                with trio.fail_after(10):
                    await self.host.connect(self.target)
                    await self.host.disconnect(self.target.peer_id)
                done += 1
            except Exception:  # noqa: BLE001 - counted by what completed
                pass
        self.count("churn", done)


async def run(args: argparse.Namespace) -> dict:
    a = Attacker(args.target, args.swarm, args.kind)
    a.host = a.new_host()
    pull, adapter, ping = (f"/swarmd/{args.swarm}/{p}/1" for p in ("pull", "adapter", "ping"))
    async with a.host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        await a.host.connect(a.target)
        for attack in args.attacks:
            if attack == "envelopes":
                await a.envelopes(args.oversized)
            elif attack == "wire":
                await a.wire()
            elif attack == "flood":
                await a.flood(args.flood)
            elif attack == "garbage_rpc":
                await a.garbage_rpc()
                await a.host.disconnect(a.target.peer_id)
                await a.host.connect(a.target)
            elif attack == "topics":
                await a.topics()
            elif attack == "streams":
                await a.streams([pull, adapter, ping, "/ipfs/id/push/1.0.0"])
            elif attack == "churn":
                await a.churn(args.churn)
            elif attack == "fuzz":
                await a.fuzz(args.fuzz_file, args.fuzz_seconds, ["rollouts", "rounds", "presence"])
            else:
                raise SystemExit(f"unknown attack {attack}")
        return {"peer_id": a.host.get_id().to_base58(), "sent": a.sent}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True)
    p.add_argument("--swarm", default="local")
    p.add_argument("--kind", default="loadgen", help="a kind the target has registered")
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--flood", type=int, default=1000)
    p.add_argument("--churn", type=int, default=40)
    p.add_argument("--oversized", type=int, default=100_000, help="payload bytes of the oversized envelope")
    p.add_argument("--fuzz-file", type=Path, help="length-prefixed message bodies for the fuzz attack")
    p.add_argument("--fuzz-seconds", type=float, default=60.0)
    p.add_argument("attacks", nargs="+")
    args = p.parse_args()
    report = trio.run(run, args)
    args.report.write_text(json.dumps(report))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
