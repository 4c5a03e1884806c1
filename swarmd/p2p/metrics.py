"""Prometheus metrics of the mesh (updated from the network thread; prometheus_client is thread-safe).

Label values are bounded: kinds are the registered ones, reasons a fixed set
of short strings, topics our three.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from swarmd.metrics import REGISTRY

CONNECTED = Gauge("swarmd_p2p_connected_peers", "Peers with an open connection.", registry=REGISTRY)
KNOWN = Gauge("swarmd_p2p_known_peers", "Peers in the peer table, by liveness.", ["liveness"], registry=REGISTRY)
MESH = Gauge("swarmd_p2p_mesh_peers", "Gossipsub mesh size per topic.", ["topic"], registry=REGISTRY)
MESSAGES_IN = Counter(
    "swarmd_p2p_messages_in_total", "Accepted messages from peers, by kind and path.", ["kind", "via"], registry=REGISTRY
)
MESSAGES_OUT = Counter("swarmd_p2p_messages_out_total", "Messages published, by kind.", ["kind"], registry=REGISTRY)
REJECTED = Counter(
    "swarmd_p2p_rejected_total", "Peer messages dropped at the boundary, by reason.", ["reason"], registry=REGISTRY
)
DUPLICATES = Counter(
    "swarmd_p2p_duplicates_total", "Gossip copies of data already held (not forwarded).", registry=REGISTRY
)
PULL_REQUESTS = Counter(
    "swarmd_p2p_pull_requests_total", "Pull requests sent, by outcome.", ["outcome"], registry=REGISTRY
)
PULL_FETCHED = Counter("swarmd_p2p_pull_fetched_total", "Messages obtained by pull.", registry=REGISTRY)
PULL_SERVED = Counter("swarmd_p2p_pull_served_total", "Pull requests answered.", registry=REGISTRY)
LATENCY = Histogram(
    "swarmd_p2p_delivery_latency_seconds",
    "Sender's sent_at to local receipt, by path.",
    ["via"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
DROPPED = Counter(
    "swarmd_p2p_dropped_total", "Received messages dropped because a subscriber queue was full.", ["kind"],
    registry=REGISTRY,
)
DIALS = Counter("swarmd_p2p_dials_total", "Outbound dials, by outcome.", ["outcome"], registry=REGISTRY)
LIBRARY_LOG_SUPPRESSED = Counter(
    "swarmd_p2p_library_log_suppressed_total",
    "py-libp2p log records dropped by the rate limit, by the library's module.", ["module"], registry=REGISTRY,
)
REACHABLE = Gauge(
    "swarmd_p2p_reachable", "1 when a peer could dial this node back at its announced addresses, 0 when not.",
    registry=REGISTRY,
)
