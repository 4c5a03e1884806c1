"""The dashboard, JSON endpoints, /healthz and /metrics."""
