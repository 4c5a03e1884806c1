"""Build the libp2p host, pubsub and gossipsub with swarmd's settings (network thread only).

Importing this module imports libp2p (about a second), so the actor imports it
inside its thread, after the control plane is already serving.

Settings that differ from py-libp2p 0.8.1's defaults, and why:
- security: Noise only (the default list also accepts plaintext and secio);
- muxer: yamux; ``max_connections_per_peer=1`` (otherwise every connect waits 250 ms);
- gossipsub 1.1 only: 1.2's IDONTWANT costs one control RPC per mesh peer per
  message, and with it a 10-node mesh on a loaded 2-core machine delivered
  almost nothing;
- gossipsub: explicit degrees, 1 s heartbeat (default 120 s), prune backoff from
  config (the default 60 s starves peers on small swarms), spam protection off
  (it drops silently and counts our own publishes; the actor rate-limits in its
  validator instead), eclipse protection off (it wants distinct IPs, and every
  test peer shares 127.0.0.1);
- pubsub: strict signing, our three topics only, at most 8 subscriptions per
  peer, a frame cap just above the envelope cap, a duplicate cache as long as
  twice the allowed clock skew;
- the library's automatic redialing is off (the actor's dialer decides);
- mDNS off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import multiaddr
from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.serialization import deserialize_private_key
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.network.config import ConnectionConfig
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

from swarmd.p2p import canary, hardening, loghygiene
from swarmd.p2p.codec import Protocols
from swarmd.p2p.config import P2PConfig

# Pubsub frames carry one envelope plus signature, key, topic and control; leave room.
FRAME_OVERHEAD = 64 * 1024


@dataclass
class Built:
    host: Any
    pubsub: hardening.GuardedPubsub
    gossipsub: GossipSub
    listen: list[Any]


def attach_logging(level: str) -> None:
    """py-libp2p detaches its loggers from the root on import; send them through ours, rate-limited."""
    loghygiene.install(level)
    # multiaddr logs every parse at DEBUG: thousands of lines a second under load.
    logging.getLogger("multiaddr").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    # Every failed redial of a down bootnode is an ERROR there; the dialer reports outages itself.
    tcp = logging.getLogger("libp2p.transport.tcp.tcp")
    if not any(isinstance(f, _DropDialErrors) for f in tcp.filters):
        tcp.addFilter(_DropDialErrors())


class _DropDialErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to open TCP stream")


def _maddrs(addrs: list[str], what: str) -> list[Any]:
    out = []
    for a in addrs:
        try:
            out.append(multiaddr.Multiaddr(a))
        except Exception as e:  # noqa: BLE001 - report which address and why
            raise ValueError(f"p2p.{what}: {a!r} is not a valid multiaddr ({e})") from None
    return out


def build(cfg: P2PConfig, private_key_bytes: bytes, protocols: Protocols, guard: hardening.Guard) -> Built:
    canary.verify()  # the patches below are written for one py-libp2p: refuse any other
    private = deserialize_private_key(private_key_bytes)
    key_pair = KeyPair(private, private.get_public_key())
    listen = _maddrs(cfg.listen, "listen")
    announce = _maddrs(cfg.announce, "announce") or None
    connections = ConnectionConfig(
        max_connections=cfg.max_peers,
        min_connections=0,
        low_watermark=0,
        high_watermark=cfg.max_peers,
        max_connections_per_peer=1,
        dial_timeout=cfg.dial_timeout_s,
    )
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=new_x25519_key_pair().private_key)},
        muxer_opt=create_yamux_muxer_option(),
        listen_addrs=listen,
        announce_addrs=announce,
        connection_config=connections,
        enable_mDNS=False,
        enable_upnp=False,
    )
    gossipsub = GossipSub(
        protocols=[PROTOCOL_ID_V11],
        degree=cfg.degree,
        degree_low=cfg.degree_low,
        degree_high=cfg.degree_high,
        heartbeat_interval=cfg.heartbeat_s,
        heartbeat_initial_delay=0.1,
        prune_back_off=cfg.prune_backoff_s,
        spam_protection_enabled=False,
        eclipse_protection_enabled=False,
    )
    pubsub = hardening.GuardedPubsub(
        host,
        gossipsub,
        strict_signing=True,
        seen_ttl=int(2 * cfg.max_clock_skew_s),
        max_subscriptions_per_rpc=16,
        max_subscriptions_per_peer=8,
        max_inbound_rpc_size=cfg.max_message_bytes + FRAME_OVERHEAD,
        allowed_topics=set(protocols.topics),
    )
    pubsub.guard = guard
    return Built(host, pubsub, gossipsub, listen)


def offer_addrs(built: Built, announced: Any) -> None:
    """What identify and signed peer records carry: ``announced()`` (never 0.0.0.0 or ::), not
    the raw listen addresses; and one dial attempt per address (the dialer retries with backoff)."""
    from libp2p.network.config import RetryConfig

    host = built.host
    host.get_addrs = lambda: [multiaddr.Multiaddr(a) for a in announced()]
    host.get_network().retry_config = RetryConfig(max_retries=0)


def harden(built: Built, on_error: Any, admit: Any) -> None:
    """After every stream handler is registered: contain them, fix inbound slots, stop auto-dialing."""
    network = built.host.get_network()
    hardening.contain_handlers(built.host, on_error)
    hardening.release_inbound_slots(network, admit)
    hardening.disable_auto_connect(network)
    hardening.dial_only_when_asked(network)
    hardening.cache_peer_records()
