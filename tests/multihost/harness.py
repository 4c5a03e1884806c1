"""Hosts made of Linux network namespaces on one bridge, with real swarmd daemons in them.

    net = Net.create(hosts=4, impair=False)      # needs root and `ip netns`
    net.ip(0)                                    # "10.77.0.1"
    d = net.daemon(0, tmp / "boot", config, args)  # a loadgen daemon inside host 0
    net.cut(2); net.heal(2)                      # host 2's cable out and back in
    net.shape(1, "5mbit")                        # tbf on host 1's egress
    net.destroy()                                # also done at exit and on failure

Layout (every name carries a per-run prefix, so parallel runs never collide,
and nothing is created in the caller's own namespace):

    <p>b: bridge namespace   br0 ── h0 ── veth ── eth0  <p>0 (10.77.0.1/24)
                                 ├── h1 ── veth ── eth0  <p>1 (10.77.0.2/24)
                                 └── ...

With ``impair=True`` every host's veth ends in the bridge namespace unbridged
(``hN``) and a second pair (``fN`` ↔ ``gN``, ``gN`` on the bridge) carries
its traffic through ``tests/multihost/forwarder.py`` (delay ± jitter, loss on
each host's egress; this kernel has no netem). Offloads are turned off on
every veth then.

A cut takes the bridge-side end of a host's link down: frames are dropped
silently, as with a pulled cable, and TCP sees nothing until it times out.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from swarmd.p2p.cluster import LoadgenDaemon

SUBNET = "10.77.0"
REPO = Path(__file__).resolve().parents[2]


def unavailable() -> str | None:
    """Why this machine cannot run the harness, or None."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "the multi-host harness needs root (network namespaces, veths, a bridge)"
    if shutil.which("ip") is None:
        return "the multi-host harness needs iproute2's `ip`"
    probe = f"sdp{uuid.uuid4().hex[:6]}"
    try:
        _run("ip", "netns", "add", probe)
    except RuntimeError as e:
        return f"`ip netns add` does not work here: {e}"
    _run("ip", "netns", "del", probe, check=False)
    return None


def _run(*cmd: str, check: bool = True, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


class Net:
    def __init__(self, prefix: str, hosts: int, impair: bool) -> None:
        self.prefix = prefix
        self.n = hosts
        self.impair = impair
        self.bridge_ns = f"{prefix}b"
        self.forwarder: subprocess.Popen[bytes] | None = None
        self.daemons: list[LoadgenDaemon] = []
        self._destroyed = False

    # -- building ---------------------------------------------------------------------

    @classmethod
    def create(cls, hosts: int, impair: bool = False, prefix: str | None = None) -> Net:
        net = cls(prefix or f"sd{uuid.uuid4().hex[:5]}", hosts, impair)
        atexit.register(net.destroy)
        try:
            net._build()
        except BaseException:
            net.destroy()
            raise
        return net

    def ns(self, i: int) -> str:
        return f"{self.prefix}{i}"

    def ip(self, i: int) -> str:
        return f"{SUBNET}.{i + 1}"

    def _build(self) -> None:
        b = self.bridge_ns
        _run("ip", "netns", "add", b)
        _run("ip", "link", "add", "br0", "type", "bridge", ns=b)
        _run("ip", "link", "set", "br0", "up", ns=b)
        _run("ip", "link", "set", "lo", "up", ns=b)
        _run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=b, check=False)
        _run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=b, check=False)
        for i in range(self.n):
            h = self.ns(i)
            _run("ip", "netns", "add", h)
            _run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=h, check=False)
            _run("ip", "link", "add", "eth0", "netns", h, "type", "veth", "peer", "name", f"h{i}", "netns", b)
            _run("ip", "addr", "add", f"{self.ip(i)}/24", "dev", "eth0", ns=h)
            _run("ip", "link", "set", "lo", "up", ns=h)
            _run("ip", "link", "set", "eth0", "up", ns=h)
            if self.impair:
                _run("ip", "link", "add", f"f{i}", "type", "veth", "peer", "name", f"g{i}", ns=b)
                _run("ip", "link", "set", f"g{i}", "master", "br0", ns=b)
                for dev in (f"h{i}", f"f{i}", f"g{i}"):
                    _run("ip", "link", "set", dev, "up", ns=b)
                self._offloads_off(h, ["eth0"])
                self._offloads_off(b, [f"h{i}", f"f{i}", f"g{i}"])
            else:
                _run("ip", "link", "set", f"h{i}", "master", "br0", ns=b)
                _run("ip", "link", "set", f"h{i}", "up", ns=b)

    def _offloads_off(self, ns: str, ifaces: list[str]) -> None:
        _run(sys.executable, "-m", "tests.multihost.forwarder", "offload", *ifaces, ns=ns)

    def start_forwarder(self, delay_ms: float, jitter_ms: float, loss: float, stats: Path, seed: int = 1) -> None:
        """Delay ± jitter and loss on every host's egress (needs ``impair=True``)."""
        assert self.impair, "build the net with impair=True"
        self.stop_forwarder()
        links = ",".join(f"h{i}:f{i}" for i in range(self.n))
        self.forwarder = subprocess.Popen(
            ["ip", "netns", "exec", self.bridge_ns, sys.executable, "-m", "tests.multihost.forwarder", "run",
             "--link", links, "--delay-ms", str(delay_ms), "--jitter-ms", str(jitter_ms), "--loss", str(loss),
             "--seed", str(seed), "--stats", str(stats)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
            stderr=open(stats.with_suffix(".log"), "ab"),  # noqa: SIM115 - closed with the process
        )

    def stop_forwarder(self) -> None:
        if self.forwarder is not None and self.forwarder.poll() is None:
            self.forwarder.terminate()
            try:
                self.forwarder.wait(10)
            except subprocess.TimeoutExpired:
                self.forwarder.kill()
        self.forwarder = None

    # -- links ------------------------------------------------------------------------

    def cut(self, i: int) -> None:
        """Host ``i``'s cable out: its frames vanish both ways, no reset is sent."""
        dev = f"g{i}" if self.impair else f"h{i}"
        _run("ip", "link", "set", dev, "down", ns=self.bridge_ns)

    def heal(self, i: int) -> None:
        dev = f"g{i}" if self.impair else f"h{i}"
        _run("ip", "link", "set", dev, "up", ns=self.bridge_ns)

    def shape(self, i: int, rate: str | None) -> None:
        """A bandwidth limit (tbf) on host ``i``'s egress; None removes it."""
        if rate is None:
            _run("tc", "qdisc", "del", "dev", "eth0", "root", ns=self.ns(i), check=False)
        else:
            _run("tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "32kbit",
                 "latency", "400ms", ns=self.ns(i))

    # -- daemons ----------------------------------------------------------------------

    def daemon(self, i: int, data_dir: Path, config: dict[str, dict[str, Any]], loadgen_args: list[str],
               name: str) -> LoadgenDaemon:
        """A loadgen daemon (the real daemon plus a traffic task) that will run inside host ``i``."""
        d = LoadgenDaemon(data_dir, config, loadgen_args, name=name)
        d.command = ["ip", "netns", "exec", self.ns(i), *d.command]
        d.env = {**d.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self.daemons.append(d)
        return d

    def destroy(self) -> None:
        """Stop every daemon and the forwarder, delete every namespace (idempotent)."""
        if self._destroyed:
            return
        self._destroyed = True
        for d in self.daemons:
            if d.alive:
                d.kill()
        self.stop_forwarder()
        for i in range(self.n):
            _run("ip", "netns", "del", self.ns(i), check=False)
        _run("ip", "netns", "del", self.bridge_ns, check=False)


def leftovers(prefix: str) -> list[str]:
    """Namespaces of this prefix still present (for a test that checks the cleanup)."""
    out = _run("ip", "netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in out if line.startswith(prefix)]
