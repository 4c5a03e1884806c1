"""Control-plane latency while the node trains: GetStatus p50/p99 over the unix socket.

A single node (its own coordinator) plays SAPO rounds on the tiny model while
this process calls GetStatus back to back; the figure shows the event loop
stays responsive during generation and training steps (they run in the
trainer worker process).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.table import Row
from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.tools.procs import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[1]


def run(args) -> list[Row]:
    seconds = 15 if args.quick else 40
    with tempfile.TemporaryDirectory(prefix="sd-bench-ctl-", dir="/tmp") as tmp:
        root = Path(tmp)
        me = identity.load_or_create(root / "n" / "identity.key")[0].peer_id
        d = DaemonProcess(root / "n", {
            "web": {"enabled": False},
            "trainer": {"model": "tiny", "cache_dir": str(REPO / ".cache" / "models"), "threads": 1,
                        "sampling": {"max_new_tokens": 64}},
            "swarm": {"round_source": "coordinator", "coordinators": [me], "tasks": "dense",
                      "questions_per_round": 4, "group_size": 8, "announce_interval_s": 0.5},
        }, name="bench").start(timeout=120)
        try:
            wait_until(lambda: d.status().round.rounds_completed >= 1, 300, what="first round")
            latencies: list[float] = []
            busy: list[float] = []
            with d.channel() as ch:
                stub = pb_grpc.SwarmControlStub(ch)
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    t0 = time.perf_counter()
                    status = stub.GetStatus(pb.GetStatusRequest(), timeout=10)
                    dt = (time.perf_counter() - t0) * 1000
                    latencies.append(dt)
                    if status.round.phase in ("generating", "training"):
                        busy.append(dt)
            rounds = d.status().round.rounds_completed
        finally:
            d.stop()
    q = statistics.quantiles(busy or latencies, n=100)
    return [
        Row("control", "swarmctl status latency p50 while training", f"{statistics.median(busy or latencies):.2f} ms",
            note=f"{len(busy)} calls during generate/train, {rounds} rounds"),
        Row("control", "swarmctl status latency p99 while training", f"{q[98]:.2f} ms", "< 50 ms", q[98] < 50),
    ]
