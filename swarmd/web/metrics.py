"""Daemon-level metrics, read at scrape time, and the web server's own counters.

The daemon-level gauges are computed from the daemon when /metrics is
scraped (a custom collector), so they cannot go stale and nothing has to
remember to update them. The collector is registered while the web
subsystem runs and unregistered when it stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from swarmd.metrics import REGISTRY


def registered_names(registry=REGISTRY) -> frozenset[str]:
    """Metric family names already in ``registry`` (prometheus_client keeps them privately)."""
    return frozenset(getattr(registry, "_names_to_collectors", {}))

if TYPE_CHECKING:
    from swarmd.daemon import Daemon

HTTP_REQUESTS = Counter(
    "swarmd_http_requests",
    "HTTP requests answered by the dashboard server, by route and status code.",
    ["route", "code"],
    registry=REGISTRY,
)
HTTP_MALFORMED = Counter(
    "swarmd_http_malformed_requests",
    "HTTP requests the parser rejected before routing (oversized line or header, not HTTP), by error.",
    ["error"],
    registry=REGISTRY,
)
SSE_CLIENTS = Gauge(
    "swarmd_sse_clients", "Open /api/events streams.", registry=REGISTRY
)
LOOP_LAG = Gauge(
    "swarmd_event_loop_lag_seconds",
    "How late the last event-loop timer fired (a blocked loop shows here first).",
    registry=REGISTRY,
)

_STATES = ("starting", "running", "stopping")


class DaemonCollector(Collector):
    """uptime, round, stage, event-bus figures and identity, from the live daemon."""

    NAMES = (
        "swarmd_uptime_seconds", "swarmd_daemon_state", "swarmd_round", "swarmd_stage",
        "swarmd_event_subscribers", "swarmd_events_published", "swarmd_node",
    )

    def __init__(self, daemon: Daemon, registry=REGISTRY) -> None:
        self.daemon = daemon
        self.registry = registry

    def describe(self) -> list:
        # Claim no names: a subsystem that later defines one of these (the
        # swarm game exports its own round and stage gauges) must not fail to
        # register because of us. Instead collect() yields to it.
        return []

    def collect(self) -> Iterator:
        taken = registered_names(self.registry)
        for family in self._families():
            if family.name not in taken:
                yield family

    def _families(self) -> Iterator:
        d = self.daemon
        status = d.status()
        yield GaugeMetricFamily(
            "swarmd_uptime_seconds", "Seconds since the daemon started.", value=d.uptime_s
        )
        state = GaugeMetricFamily(
            "swarmd_daemon_state", "1 for the daemon's current lifecycle state.", labels=["state"]
        )
        for name in _STATES:
            state.add_metric([name], 1.0 if d.state == name else 0.0)
        yield state
        yield GaugeMetricFamily(
            "swarmd_round", "The swarm round this node is in (0 before the first).",
            value=float(status.round.round),
        )
        yield GaugeMetricFamily(
            "swarmd_stage", "The stage of the current round.", value=float(status.round.stage)
        )
        yield GaugeMetricFamily(
            "swarmd_event_subscribers",
            "Subscribers of the daemon's event bus (gRPC WatchEvents and dashboard streams).",
            value=float(d.events.subscriber_count),
        )
        yield CounterMetricFamily(
            "swarmd_events_published", "Events published on the daemon's event bus.",
            value=float(d.events.published),
        )
        yield InfoMetricFamily(
            "swarmd_node", "This node's identity and software.",
            value={
                "peer_id": d.identity.peer_id,
                "name": d.identity.name,
                "version": status.version,
                "swarm_id": status.swarm_id,
            },
        )
