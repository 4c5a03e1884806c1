"""Plain records handed from the network thread to the asyncio side (immutable, no libp2p objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Received:
    """One accepted message of a registered kind."""

    sender: str  # origin peer ID (base58), verified by signature
    kind: str
    round: int
    stage: int
    payload: Any  # the kind's decoded protobuf message
    sent_at: float  # sender's clock, unix seconds
    via: str  # "gossip" | "pull" | "local"
    received_at: float = 0.0  # local clock, unix seconds


@dataclass(frozen=True)
class Stats:
    """The mesh's counters and state, published about once a second."""

    state: str = "starting"  # starting | alone | connected | left
    listen_addrs: tuple[str, ...] = ()
    announced_addrs: tuple[str, ...] = ()  # what peers are told to dial
    observed_addrs: tuple[str, ...] = ()  # our addresses as peers see them
    reachability: str = "unknown"  # unknown | reachable | not_reachable
    reachability_detail: str = ""
    connected: int = 0
    live: int = 0
    stale: int = 0
    mesh_peers: dict[str, int] = field(default_factory=dict)
    messages_in: int = 0
    messages_out: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    pull_fetches: int = 0
    bootnodes: tuple[str, ...] = ()
