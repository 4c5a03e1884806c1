"""Configuration of the p2p subsystem (the libp2p mesh)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from swarmd.configbase import Section


def _check_multiaddr(addr: str, need_peer_id: bool) -> str:
    # A light syntax check: full parsing needs the multiaddr package, which
    # the mesh imports in its own thread; the dialer reports the rest.
    if not addr.startswith("/") or "//" in addr or addr.endswith("/"):
        raise ValueError(f"{addr!r} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)")
    if need_peer_id and "/p2p/" not in addr:
        raise ValueError(f"{addr!r} has no /p2p/<peer id> part")
    return addr


class P2PConfig(Section):
    enabled: bool = Field(True, description="Run this subsystem.")
    listen: list[str] = Field(
        ["/ip4/127.0.0.1/tcp/0"],
        description="Multiaddrs to listen on. The default is loopback on a free port; a server "
        "reachable by others uses e.g. ['/ip4/0.0.0.0/tcp/4001'] (0.0.0.0 and :: are announced as "
        "the host's interface addresses, never as such).",
    )
    announce: list[str] = Field(
        [],
        description="Multiaddrs announced to peers instead of the listen addresses (a server "
        "behind NAT announces its public address, e.g. '/ip4/203.0.113.7/tcp/4001'). Unset: the "
        "listen addresses (expanded) plus the addresses peers observe.",
    )
    bootnodes: list[str] = Field(
        [],
        description="Multiaddrs with /p2p/<peer id> dialed at start and redialed with backoff "
        "forever while disconnected.",
    )
    max_peers: int = Field(
        64,
        ge=1,
        le=1000,
        description="Connections this node keeps (inbound and outbound); peers beyond it are not "
        "dialed and inbound connections beyond it are refused.",
    )
    degree: int = Field(
        4,
        ge=1,
        le=50,
        description="Gossipsub mesh degree D. Each message reaches a node about D times, and in "
        "py-libp2p each copy costs about a millisecond of CPU; what gossip misses, the pull layer fetches.",
    )
    degree_low: int = Field(3, ge=1, le=50, description="Gossipsub D_low: below it the mesh grafts.")
    degree_high: int = Field(6, ge=1, le=100, description="Gossipsub D_high: above it the mesh prunes.")
    heartbeat_s: int = Field(1, ge=1, le=60, description="Gossipsub heartbeat interval.")
    prune_backoff_s: int = Field(
        5, ge=1, le=300, description="Gossipsub prune backoff (libp2p's 60 s starves peers on small swarms)."
    )
    presence_interval_s: float = Field(
        2.0, gt=0, le=60, description="How often this node announces itself on the presence topic."
    )
    ping_interval_s: float = Field(
        2.0, gt=0, le=60, description="How often each connected peer is pinged (RTT and liveness)."
    )
    ping_timeout_s: float = Field(2.0, gt=0, le=60, description="A ping without answer by then counts as lost.")
    stale_after_s: float = Field(
        6.0,
        gt=0,
        le=600,
        description="A peer not heard from (presence or ping) for this long is marked stale and "
        "no longer waited for; it is detected within stale_after_s + 1 s.",
    )
    remove_after_s: float = Field(
        60.0, gt=0, le=86400, description="A stale peer not heard from for this long is forgotten and disconnected."
    )
    share_local_addrs: bool = Field(
        False,
        description="Offer private (10/8, 192.168/16, ...) addresses also to peers that reached this node "
        "over a public network, and keep such addresses from them. Loopback addresses are only ever "
        "used between nodes connected over loopback.",
    )
    redial_min_s: float = Field(
        1.0, gt=0, le=600, description="First redial delay of an address of a bootnode or a known peer."
    )
    redial_max_s: float = Field(
        8.0,
        gt=0,
        le=3600,
        description="Largest redial delay per address (exponential backoff): a peer back from a "
        "partition is redialed within about this long.",
    )
    reachability_check_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="How often a connected peer is asked to dial this node back at its announced "
        "addresses (0: never); the result shows in the log, status and dashboard.",
    )
    dial_timeout_s: float = Field(5.0, gt=0, le=120, description="Deadline of one dial.")
    rate_limit_per_s: float = Field(
        20.0, gt=0, le=10000, description="Gossip messages accepted per second from one origin peer."
    )
    rate_limit_burst: int = Field(60, ge=1, le=100000, description="Burst allowance of the per-peer rate limit.")
    max_message_bytes: int = Field(
        1_000_000,
        ge=4096,
        le=1_047_000,
        description="Largest gossip envelope accepted or sent (py-libp2p drops frames over ~1 MiB). "
        "Larger data goes over the blob protocol.",
    )
    pull_window_rounds: int = Field(
        8, ge=1, le=1000, description="Rounds of each sender's data kept (per kind) to serve pulls."
    )
    store_max_bytes: int = Field(
        256 * 1024 * 1024, ge=1 << 20, description="Memory cap of the round store; oldest entries go first."
    )
    pull_interval_s: float = Field(
        0.5, gt=0, le=60, description="While collecting, how often missing data is pulled from peers."
    )
    pull_fanout: int = Field(3, ge=1, le=50, description="Extra peers asked per pull besides the missing senders.")
    pull_timeout_s: float = Field(3.0, gt=0, le=120, description="Deadline of one pull request.")
    pull_max_response_bytes: int = Field(
        8 * 1024 * 1024, ge=65536, le=64 * 1024 * 1024, description="Largest pull response sent or accepted."
    )
    queue_size: int = Field(
        1024, ge=16, le=1_000_000, description="Per-subscriber queue of received messages; overflow is dropped and counted."
    )
    blob_max_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest blob offered or fetched (LoRA adapters, big batches)."
    )
    blob_store_bytes: int = Field(
        1024 * 1024 * 1024, ge=1024, description="Memory cap of offered blobs; oldest offers are dropped first."
    )
    blob_timeout_s: float = Field(120.0, gt=0, le=3600, description="Deadline of one blob fetch.")
    max_clock_skew_s: float = Field(
        300.0,
        ge=10,
        le=86400,
        description="Gossip whose sent_at differs from local time by more is rejected (replays of "
        "old messages); libp2p's duplicate cache is kept twice as long. Pulls are exempt.",
    )

    @field_validator("listen", "announce")
    @classmethod
    def _addrs(cls, v: list[str]) -> list[str]:
        return [_check_multiaddr(a, need_peer_id=False) for a in v]

    @field_validator("announce")
    @classmethod
    def _announce(cls, v: list[str]) -> list[str]:
        from swarmd.p2p.addrs import UNSPECIFIED, scope

        for a in v:
            if scope(a) == UNSPECIFIED:
                raise ValueError(f"{a!r} is an unspecified address; announce one that peers can dial")
        return v

    @field_validator("bootnodes")
    @classmethod
    def _bootnodes(cls, v: list[str]) -> list[str]:
        return [_check_multiaddr(a, need_peer_id=True) for a in v]

    @model_validator(mode="after")
    def _degrees(self) -> P2PConfig:
        if not self.degree_low <= self.degree <= self.degree_high:
            raise ValueError("gossipsub degrees must satisfy degree_low <= degree <= degree_high")
        if self.enabled and not self.listen:
            raise ValueError("listen must name at least one multiaddr")
        if self.remove_after_s <= self.stale_after_s:
            raise ValueError("remove_after_s must be larger than stale_after_s")
        if self.redial_max_s < self.redial_min_s:
            raise ValueError("redial_max_s must be at least redial_min_s")
        return self
