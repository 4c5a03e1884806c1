"""The mesh across hosts: rejoin times and round time under delay (network namespaces).

Real daemons, one per namespace on a bridge (tests/multihost/harness.py), the
load generator in each: a bootnode on 0.0.0.0 without announce and three
trainers, 2 s rounds (2.5 s under delay).

- bootnode restart: kill -9, start again (same identity, port); seconds from
  its start until every trainer lists it live, and until a round with every
  trainer's batch completes (goal ≤ 20 s);
- partition: one trainer cut off for 30 s and healed; seconds from the heal
  until it is live in every peer table, and until its batch is in a completed
  round (goal ≤ 20 s);
- delay: 100 ms ± 20 ms and 1 % loss on every host's egress, 50 rounds of 2.5 s:
  delivery (goal 100 %), time from publish until a node holds every batch
  (p50, p90, max), and how batches arrived (gossip, pull).

Needs root and `ip netns`; elsewhere the group reports why it did not run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.table import Row

G = "multihost"


def run(args: Any) -> list[Row]:
    from tests.multihost import scenarios
    from tests.multihost.harness import Net, unavailable
    from tests.multihost.test_delay import run_delayed

    why = unavailable()
    if why is not None:
        return [Row(G, "skipped", "-", note=why)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sdmh-", dir="/tmp") as tmp:
        net = Net.create(hosts=4)
        try:
            s = scenarios.Swarm(net, Path(tmp), trainers=3, period=2.0)
            s.start()
            b = scenarios.bootnode_restart(s)
            rows.append(Row(G, "bootnode restart: listed live again", f"{b['boot_live_s']:.1f} s", "≤ 20 s",
                            b["boot_live_s"] <= 20, "from the restarted daemon's ready"))
            rows.append(Row(G, "bootnode restart: kill -9 → listed live", f"{b['boot_live_from_kill_s']:.1f} s",
                            "", None, f"daemon start-up {b['start_s']:.1f} s included"))
            rows.append(Row(G, "bootnode restart: round with every batch", f"{b['round_s']:.1f} s", "≤ 20 s",
                            b["round_s"] <= 20))
            c = scenarios.cut_and_heal(s, index=2, cut_s=30)
            rows.append(Row(G, "30 s partition: live in every table", f"{c['live_s']:.1f} s", "", None,
                            "from the heal"))
            rows.append(Row(G, "30 s partition: its batch in a round", f"{c['round_s']:.1f} s", "≤ 20 s",
                            c["round_s"] <= 20, "from the heal"))
            waited = max((x["waited_s"] for x in c["during"]), default=0.0)
            rows.append(Row(G, "30 s partition: others' longest round", f"{waited:.2f} s", "", None,
                            "publish → return, once the cut trainer was stale"))
            s.stop()
        finally:
            net.destroy()
    with tempfile.TemporaryDirectory(prefix="sdmh-", dir="/tmp") as tmp:
        d = run_delayed(Path(tmp))
    note = "100 ms ± 20 ms, 1 % loss per host egress; 3 trainers, 2.5 s rounds"
    rows.append(Row(G, "delay: delivery over 50 rounds", f"{100 * d['delivery']:.1f} %", "100 %",
                    d["delivery"] == 1.0, note + (f"; incomplete {d['incomplete'][:3]}" if d["incomplete"] else "")))
    rows.append(Row(G, "delay: round time p50 / p90 / max",
                    f"{d['round_p50_s']:.2f} / {d['round_p90_s']:.2f} / {d['round_max_s']:.2f} s", "", None,
                    "publish → every batch held"))
    rows.append(Row(G, "delay: batches by gossip / pull", f"{d['via_gossip']} / {d['via_pull']}", "", None,
                    f"RTT p50 {d['rtt_ms_p50']:.0f} ms"))
    return rows
