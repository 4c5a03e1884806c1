"""Run swarmd daemons as child processes and wait on their readiness.

Used by the demo, the experiment, the soak and the tests. No sleeps as
synchronisation: a daemon is ready when its control socket answers GetStatus
with state "running"; it is gone when its process has exited.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc

SWARMD = [sys.executable, "-m", "swarmd"]
SWARMCTL = [sys.executable, "-m", "swarmctl"]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def write_config(path: Path, tree: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in tree.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class DaemonProcess:
    """One swarmd process with its own data directory."""

    def __init__(self, data_dir: Path, config: dict[str, dict[str, Any]] | None = None,
                 env: dict[str, str] | None = None, name: str = "node", command: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir).absolute()  # the daemon runs with its data dir as cwd
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config_tree = config or {}
        self.env = env or {}
        self.command = command or SWARMD  # e.g. a test's modified daemon
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "swarmd.log"
        self._log_file = None

    @property
    def socket(self) -> Path:
        return self.data_dir / "swarmd.sock"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.toml"

    def start(self, wait: bool = True, timeout: float = 60.0, extra_args: list[str] | None = None) -> DaemonProcess:
        # web port 0: any free port, so daemons side by side never fight over 8080
        tree = {"node": {"data_dir": str(self.data_dir)}, "log": {"level": "debug"}, "web": {"port": 0}}
        for section, values in self.config_tree.items():
            tree.setdefault(section, {}).update(values)
        write_config(self.config_path, tree)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_") and k != "NOTIFY_SOCKET"}
        env.update(self.env)
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.command, "--config", str(self.config_path), *(extra_args or [])],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.data_dir,
            start_new_session=True,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> pb.Status:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if self.socket.exists():
                try:
                    status = self.status(timeout=2.0)
                    if status.state == "running":
                        return status
                except grpc.RpcError as e:
                    last_error = str(e.details())
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready within {timeout}s ({last_error}):\n{self.log()[-4000:]}")

    @contextlib.contextmanager
    def channel(self) -> Iterator[grpc.Channel]:
        ch = grpc.insecure_channel(f"unix:{self.socket}")
        try:
            yield ch
        finally:
            ch.close()

    def call(self, method: str, request, timeout: float = 10.0):
        with self.channel() as ch:
            return getattr(pb_grpc.SwarmControlStub(ch), method)(request, timeout=timeout)

    def status(self, timeout: float = 10.0) -> pb.Status:
        return self.call("GetStatus", pb.GetStatusRequest(), timeout=timeout)

    def ctl(self, *args: str, check: bool = False, timeout: float = 60.0, user_cmd: list[str] | None = None,
            socket: bool = True) -> subprocess.CompletedProcess[str]:
        target = ["--socket", str(self.socket)] if socket else []
        return subprocess.run(
            [*(user_cmd or []), *SWARMCTL, *target, *args],
            capture_output=True, text=True, check=check, timeout=timeout,
        )

    def ctl_json(self, *args: str, timeout: float = 60.0) -> dict[str, Any]:
        result = self.ctl("--json", *args, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"swarmctl {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return json.loads(result.stdout)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait; SIGKILL the process group if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported if we time out
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s" + (f" (last error: {last_exc})" if last_exc else ""))
