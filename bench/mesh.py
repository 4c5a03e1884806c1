"""The p2p mesh: connect time, gossip latency, pull completion, CPU per message.

Real swarmd processes on loopback (the load generator inside each daemon, see
swarmd/p2p/loadgen.py). Numbers from a shared 2-core machine move with its
load: compare runs made on the same quiet machine.

- connect: the Join RPC (leave, then join again) between two daemons, median;
- gossip latency: 5 daemons, one batch each per round, sent_at → received_at
  for copies that came by gossip, 1 KiB and 16 KiB;
- CPU per message: CPU seconds of all daemons during the rounds, minus their
  idle rate, per delivered message (each copy a node accepted);
- 10-peer round: 10 daemons; the time from a round's last publish until a
  node holds all 10, over all nodes and rounds (goal ≤ 2 s), and the same for
  a node that takes no gossip (its rate limit refuses it) and pulls everything.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.table import Row
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.p2p.cluster import Cluster, mesh_config
from swarmd.tools.procs import DaemonProcess, wait_until


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def connect_time(tmp: Path, cycles: int) -> float:
    a = DaemonProcess(tmp / "ca", mesh_config(), name="ca").start()
    b = DaemonProcess(tmp / "cb", mesh_config(), name="cb").start()
    try:
        addr = a.status().mesh.listen_addrs[0]
        samples = []
        for _ in range(cycles):
            t0 = time.perf_counter()
            reply = b.call("Join", pb.JoinRequest(multiaddrs=[addr]), timeout=30)
            samples.append(time.perf_counter() - t0)
            assert reply.results[0].ok, reply.results[0].error
            b.call("Leave", pb.LeaveRequest(), timeout=30)
            wait_until(lambda: a.status().mesh.connected_peers == 0, 10, what="a sees the leave")
        return statistics.median(samples)
    finally:
        b.stop()
        a.stop()


def cpu_seconds(nodes: list[DaemonProcess]) -> float:
    total = 0.0
    for d in nodes:
        try:
            t = psutil.Process(d.proc.pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run_cluster(tmp: Path, n: int, rounds: int, period: float, size: int, **kw: Any) -> dict[str, Any]:
    c = Cluster(tmp, n, rounds, period, size=size, **kw)
    try:
        c.start(go=False)
        idle0, t0 = cpu_seconds(c.all), time.monotonic()
        time.sleep(3)  # measuring the idle CPU rate over a fixed window
        idle_rate = (cpu_seconds(c.all) - idle0) / (time.monotonic() - t0)
        c.go()
        busy0, t1 = cpu_seconds(c.all), time.monotonic()
        c.wait_done(rounds * period + 60)
        busy = cpu_seconds(c.all) - busy0 - idle_rate * (time.monotonic() - t1)
        out: dict[str, Any] = {"gossip": [], "delivered": 0, "complete": [], "pull_complete": [], "pulled": 0}
        for i, d in enumerate(c.nodes):
            for rec in c.rounds(d).values():
                senders = rec["senders"]
                if len(senders) < n:
                    continue
                done = max(s["received_at"] for s in senders.values()) - max(s["sent_at"] for s in senders.values())
                (out["pull_complete"] if i in kw.get("special", {}) else out["complete"]).append(done)
                for s in senders.values():
                    if s["via"] == "gossip":
                        out["gossip"].append(s["received_at"] - s["sent_at"])
                    if s["via"] != "local":
                        out["delivered"] += 1
                        out["pulled"] += s["via"] == "pull"
        out["cpu_per_message"] = busy / max(1, out["delivered"])
        return out
    finally:
        c.stop()


def run(args) -> list[Row]:
    quick = getattr(args, "quick", False)
    rounds = 4 if quick else 8
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sd-bench-mesh-", dir="/tmp") as d:
        tmp = Path(d)
        rows.append(Row("mesh", "connect (Join RPC, median)", f"{connect_time(tmp / 'c', 3 if quick else 7) * 1000:.0f} ms"))
        for size in (1024, 16384):
            r = run_cluster(tmp / f"g{size}", 5, rounds, 2.0, size)
            lat = r["gossip"]
            label = f"{size // 1024} KiB"
            rows.append(Row("mesh", f"gossip latency {label}, 5 daemons (p50 / p99)",
                            f"{quantile(lat, .5) * 1000:.0f} / {quantile(lat, .99) * 1000:.0f} ms",
                            note=f"{len(lat)} copies"))
            rows.append(Row("mesh", f"CPU per delivered message, {label}", f"{r['cpu_per_message'] * 1000:.1f} ms",
                            note="all daemons, idle rate subtracted"))
        r = run_cluster(tmp / "ten", 10, rounds, 3.0, 16384,
                        special={9: {"rate_limit_per_s": 0.001, "rate_limit_burst": 1}})
        worst = max(r["complete"])
        rows.append(Row("mesh", "10-peer round complete after the last publish (median / max)",
                        f"{statistics.median(r['complete']):.2f} / {worst:.2f} s", "≤ 2 s", worst <= 2.0,
                        note=f"{len(r['complete'])} node-rounds"))
        rows.append(Row("mesh", "10-peer round by pull only (median / max)",
                        f"{statistics.median(r['pull_complete']):.2f} / {max(r['pull_complete']):.2f} s",
                        note="a node that takes no gossip"))
    return rows
