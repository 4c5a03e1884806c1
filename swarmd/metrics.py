"""The daemon's Prometheus registry. Subsystems define their metrics against REGISTRY.

One daemon per process, so a module-level registry is the daemon's registry;
the web subsystem serves it at /metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)
