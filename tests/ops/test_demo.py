"""The demo as a new user meets it: a short run of tiny nodes through the demo's own process.

One run checks what the operator sees: the previous run moved aside (not
wiped), a taken dashboard port reported, progress lines before the first
round, printed swarmctl commands that run as shown, the first trainer's page
(in headless Chromium) showing a completed round with every trainer's reward,
a node stopped with swarmctl reported while the others go on, and the final
leaderboard with the on-chain wins.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.browser import Browser, find_chromium

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.browser, pytest.mark.chain, pytest.mark.timeout(1200)]
REPO = Path(__file__).resolve().parents[2]
TINY_CACHE = REPO / ".cache" / "test-models"


class Output:
    """The demo's stdout+stderr, read line by line in a thread; waits on lines, never on time."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ended = False
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait(self, pattern: str, timeout: float, after: int = 0) -> tuple[int, re.Match[str]]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 1.0))

    @property
    def text(self) -> str:
        with self.cond:
            return "\n".join(self.lines)


def _ctl(command: str, verb: str, json: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a command exactly as the demo printed it (``… --socket PATH``), from where the demo ran."""
    argv = shlex.split(command)
    if json:
        argv[-2:-2] = ["--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*argv, verb], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def test_demo_run_as_an_operator_sees_it(short_tmp: Path) -> None:
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    work = short_tmp / "demo"
    work.mkdir()
    (work / "old.log").write_text("the previous run\n")
    TINY_CACHE.mkdir(parents=True, exist_ok=True)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmd.tools.demo", "--all-tiny", "--nodes", "3",
         "--dir", str(work), "--web-port", str(port), "--stage-timeout", "90", "--cache", str(TINY_CACHE)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )
    out = Output(proc)
    try:
        # 7: the previous run is moved aside and the demo says where.
        _, m = out.wait(r"previous run .* moved to (\S+)", 60)
        moved = REPO / m.group(1) if not Path(m.group(1)).is_absolute() else Path(m.group(1))
        assert (moved / "old.log").read_text() == "the previous run\n"
        # 1: a taken port is reported, not hidden.
        out.wait(rf"port {port} is in use by another program; node1's dashboard is on \d+ instead", 60)

        # 8: every printed command runs as shown.
        up, _ = out.wait(r"The swarm is up", 400)
        commands: dict[str, str] = {}
        for node in ("bootnode", "node1", "node2", "node3"):
            _, m = out.wait(rf"^\s+{node}\s.*?(\S*swarmctl|\S+ -m swarmctl) (--socket \S+) status$", 10, after=up)
            commands[node] = f"{m.group(1)} {m.group(2)}"
            assert not m.group(1).startswith("swarmctl")  # not on PATH after make install
        status = _ctl(commands["node1"], "status")
        assert status.returncode == 0, status.stderr
        peer_ids = {}
        for node in ("node1", "node2", "node3"):
            r = _ctl(commands[node], "status", json=True)
            assert r.returncode == 0, r.stderr
            peer_ids[node] = re.search(r'"peer_id":\s*"(\w+)"', r.stdout).group(1)
        _, m = out.wait(r"^Open (http://127\.0\.0\.1:\d+/) : node1's dashboard", 10, after=up)
        url = m.group(1)
        assert url != f"http://127.0.0.1:{port}/"

        # 2: progress lines before the first round.
        first_round, _ = out.wait(r"^round\s+\d+ │", 600, after=up)
        progress = [ln for ln in out.lines[up:first_round] if re.match(r"^\s+\[\s*\d+s\] ", ln)]
        assert progress, out.text

        # 1: the dashboard on the printed URL shows a completed round with every trainer's reward.
        with Browser() as b:
            b.goto(url)
            cells = " && ".join(
                f"/^-?\\d+\\.\\d{{3}}$/.test((tr.querySelector('td[data-peer-id=\"{pid}\"]') || {{}}).textContent || '')"
                for pid in peer_ids.values())
            b.wait_for(f"[...document.querySelectorAll('#rounds-body tr')].some(tr => {cells})", timeout=120,
                       what="a round with every trainer's reward")
            assert "(this node)" in b.text("#rounds-head")
            b.screenshot(short_tmp / "demo-dashboard.png")
            assert not b.errors, b.errors

        # 3: a node stopped with swarmctl is reported; the others go on.
        r = _ctl(commands["node3"], "shutdown")
        assert r.returncode == 0, r.stderr
        left, _ = out.wait(r"node3 \(.*\) left the swarm \(exit code 0\); 2 trainer\(s\) go on", 180)
        out.wait(r"^round\s+\d+ │", 600, after=left + 1)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops the swarm and prints the final board
        assert proc.wait(timeout=600) == 0, out.text
        # 6: the final table has the chain wins, in the same units, with the columns explained.
        board, _ = out.wait(r"^Final leaderboard", 5)
        header = out.lines[board + 1]
        assert "CHAIN REWARD" in header and "CHAIN WINS" in header
        out.wait(r"chain wins: winner votes from every node on chain", 5, after=board)
        out.wait(r"all stopped", 5, after=board)
    finally:
        taken.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
