"""Daemon start-up: time from exec to a GetStatus answer on the control socket."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from bench.table import Row
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc


def time_to_ready(data_dir: Path, extra: list[str]) -> float:
    sock = data_dir / "swarmd.sock"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmd", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"swarmd exited with {proc.returncode}")
            if sock.exists():
                ch = grpc.insecure_channel(f"unix:{sock}")
                try:
                    pb_grpc.SwarmControlStub(ch).GetStatus(pb.GetStatusRequest(), timeout=1)
                    return time.perf_counter() - t0
                except grpc.RpcError:
                    pass
                finally:
                    ch.close()
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(30)


def run(args) -> list[Row]:
    samples = []
    with tempfile.TemporaryDirectory(prefix="sd-bench-", dir="/tmp") as tmp:
        for _ in range(5):
            # first start creates the identity; later starts load it
            samples.append(time_to_ready(Path(tmp) / "d", []))
    median = statistics.median(samples[1:])
    return [
        Row("daemon", "start → gRPC ready (first start)", f"{samples[0]:.2f} s"),
        Row("daemon", "start → gRPC ready (median of 4 restarts)", f"{median:.2f} s", "< 1.5 s", median < 1.5),
    ]
