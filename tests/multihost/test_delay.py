"""A swarm across hosts with 100 ms ± 20 ms delay and 1 % loss on every host's egress:
50 consecutive rounds, every trainer holds every trainer's batch in each."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from swarmd.tools.procs import wait_until
from tests.multihost import scenarios
from tests.multihost.harness import Net

pytestmark = [pytest.mark.multihost, pytest.mark.process]

ROUNDS = 50


def run_delayed(tmp: Path, rounds: int = ROUNDS, period: float = 2.5) -> dict:
    """Build the impaired net, play ``rounds`` rounds, return the summary and the forwarder's counters."""
    net = Net.create(hosts=4, impair=True)
    try:
        stats = tmp / "forwarder.json"
        net.start_forwarder(100, 20, 0.01, stats)
        s = scenarios.Swarm(net, tmp, trainers=3, period=period, size=4096, rounds=rounds)
        s.start()
        wait_until(lambda: all(d.results().get("done") for d in s.trainers), rounds * period + 60, interval=1,
                   what=f"{rounds} rounds on every trainer")
        summary = scenarios.summarize_rounds(s, 1, rounds)
        rtts = sorted(p.rtt_ms for d in s.trainers for p in s.peers(d).values() if p.rtt_ms)
        summary["rtt_ms_p50"] = rtts[len(rtts) // 2] if rtts else 0.0
        net.stop_forwarder()
        summary["forwarder"] = json.loads(stats.read_text())
        summary["missing"] = {d.name: [r for r in range(1, rounds + 1) if not s.complete(r, [d])]
                              for d in s.trainers}
        s.stop()
        return summary
    finally:
        net.destroy()


def test_fifty_rounds_with_delay_and_loss_deliver_everything():
    with tempfile.TemporaryDirectory(prefix="sdmh-", dir="/tmp") as tmp:
        summary = run_delayed(Path(tmp))
    scenarios.write_figures(Path("out/multihost.json"), {"delay_100ms_loss_1pct": summary})
    print(f"delay 100±20 ms, 1% loss: {summary}")
    lost = sum(link["lost"] for link in summary["forwarder"].values())
    assert lost > 0, "the forwarder dropped frames (the loss was real)"
    assert summary["rtt_ms_p50"] >= 150, "peers measured the added delay (2 × 100 ms ± 20 ms per round trip)"
    assert summary["missing"] == {d: [] for d in summary["missing"]}, summary["incomplete"]
    assert summary["complete"] == ROUNDS * 3 and summary["delivery"] == 1.0
