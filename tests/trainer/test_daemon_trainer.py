"""The trainer inside a real daemon: torch stays out of the daemon, and the daemon keeps
answering while its worker is killed and restarted.

The swarm game (which drives training) is switched off here; the worker is made
busy with what the daemon itself exposes: loading the model and `swarmctl export`.
The mid-step kill is in test_supervisor.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest

from swarmd._pb.swarm.v1 import control_pb2 as pb
from tests.support.poll import wait_until
from tests.trainer.conftest import tiny_config

pytestmark = pytest.mark.process

READY_S = 240


def trainer_only(**trainer) -> dict:
    return {
        "p2p": {"enabled": False},
        "swarm": {"enabled": False},
        "web": {"enabled": False},
        "chain": {"enabled": False},
        "trainer": tiny_config(**trainer),
    }


def maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def test_daemon_keeps_answering_while_the_worker_is_killed_and_restarted(daemons, model_cache, short_tmp) -> None:
    d = daemons("t", config=trainer_only(restart_backoff_s=0.5))
    # The daemon is running (gRPC up) long before the worker has loaded the model.
    first = wait_until(lambda: (s := d.status()).training.state == "ready" and s.training, READY_S,
                       what="trainer ready")
    assert first.model == "tiny" and first.device == "cpu" and first.dtype == "float32"
    worker = first.worker_pid
    assert worker and worker != d.proc.pid and first.worker_rss_bytes > 0

    # torch lives in the worker, never in the daemon.
    assert "libtorch" in maps(worker)
    assert "libtorch" not in maps(d.proc.pid) and "/torch/" not in maps(d.proc.pid)

    out = d.ctl_json("export", str(short_tmp / "adapter-1"))
    assert out["policy_version"] == "0" or out["policy_version"] == 0
    assert (short_tmp / "adapter-1" / "adapter_config.json").is_file()
    # swarmctl resolves a relative directory against its own working directory
    rel = subprocess.run([sys.executable, "-m", "swarmctl", "--socket", str(d.socket), "export", "adapter-rel"],
                         capture_output=True, text=True, cwd=short_tmp, timeout=60)
    assert rel.returncode == 0, rel.stderr
    assert (short_tmp / "adapter-rel" / "adapter_config.json").is_file()
    # the daemon itself refuses a relative path (from any gRPC client)
    with pytest.raises(grpc.RpcError) as refused:
        d.call("ExportAdapter", pb.ExportAdapterRequest(directory="relative/dir"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "absolute" in refused.value.details()

    os.kill(worker, signal.SIGKILL)
    seen: list[str] = []
    ctl_answered = False
    deadline = time.monotonic() + READY_S
    while True:
        t0 = time.monotonic()
        s = d.status(timeout=5).training  # must answer at every point of the restart
        assert time.monotonic() - t0 < 5
        seen.append(s.state)
        if not ctl_answered and s.state != "ready":
            # swarmctl as an operator runs it, while the worker is down or loading.
            status = json.loads(d.ctl("--json", "status", check=True).stdout)
            assert status["state"] == "running" and status["training"]["state"] in (
                "restarting", "starting", "ready")
            busy = d.ctl("export", str(short_tmp / "adapter-x"))
            if busy.returncode != 0:  # unless the worker came back meanwhile: "retry later"
                # the daemon answered: busy (exit 1), not unreachable (exit 3)
                assert busy.returncode == 1 and "busy" in busy.stderr and "trainer worker" in busy.stderr, busy.stderr
            ctl_answered = True
        if s.state == "ready" and s.worker_pid not in (0, worker):
            break
        assert time.monotonic() < deadline, f"worker not back: {seen[-5:]}"
        time.sleep(0.05)
    assert ctl_answered and {"restarting", "starting"} & set(seen)
    assert s.worker_restarts == 1 and "SIGKILL" in s.last_error

    d.ctl_json("export", str(short_tmp / "adapter-2"))
    assert (short_tmp / "adapter-2" / "adapter_model.safetensors").is_file()
    assert d.stop() == 0
    assert wait_until(lambda: not os.path.exists(f"/proc/{s.worker_pid}") or _zombie(s.worker_pid), 30,
                      what="worker gone with the daemon")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True
