"""Probe the local daemon's /healthz: the container image's HEALTHCHECK.

    python -m swarmd.tools.healthcheck [--probe live|ready] [--timeout S]

The dashboard's address comes from the same configuration the daemon resolves
(``$SWARMD_CONFIG`` or ``--config``, then ``SWARMD_<SECTION>__<KEY>``), so the
check follows ``web.port`` wherever it is set. A wildcard ``web.host``
(0.0.0.0, ::) is probed on loopback. Exit status: 0 healthy, 1 unhealthy or
unreachable, 2 a configuration that cannot be probed. One line on stdout says
why.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_CONFIG = 0, 1, 2
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def probe_url(host: str, port: int, probe: str) -> str:
    """The /healthz URL of a dashboard bound to ``host``:``port``, reachable from this host."""
    host = _WILDCARDS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz?probe={probe}"


def check(url: str, timeout: float) -> tuple[bool, str]:
    """(healthy, one line saying why) for one GET of ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a local URL
            body = response.read()
            healthy = response.status == 200
    except urllib.error.HTTPError as e:  # 503: the daemon answered "unhealthy"
        body, healthy = e.read(), False
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return False, f"{url}: unreachable ({reason})"
    try:
        report = json.loads(body)
    except ValueError:
        return False, f"{url}: not a health report ({body[:80]!r})"
    reasons = (report.get("reasons") or []) if isinstance(report, dict) else []
    summary = "healthy" if healthy else "unhealthy" + (f" ({'; '.join(map(str, reasons))})" if reasons else "")
    return healthy, f"{url}: {summary}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swarmd.tools.healthcheck", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="TOML config file (default: $SWARMD_CONFIG)")
    parser.add_argument("--probe", choices=["live", "ready"], default="live",
                        help="live: the daemon does its job at all (default); ready: also the trainer")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)

    from swarmd import config as cfg

    try:
        web = cfg.load(args.config).web
    except cfg.ConfigError as e:
        print(f"healthcheck: {e}")
        return EXIT_CONFIG
    if not web.enabled:
        print("healthcheck: web.enabled is false: there is no /healthz to probe")
        return EXIT_CONFIG
    if web.port == 0:
        print("healthcheck: web.port is 0 (any free port): set a fixed port to probe /healthz")
        return EXIT_CONFIG
    healthy, line = check(probe_url(web.host, web.port, args.probe), args.timeout)
    print(line)
    return EXIT_HEALTHY if healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
