"""Run a pip command with short progress lines instead of pip's full output or silence.

    python3 swarmd/tools/pipsteps.py LABEL -- python -m pip install ...

pip prints a line per package while it resolves and downloads, then nothing at
all for minutes while it unpacks and installs. This prints one line every few
seconds while it resolves ("resolving: 42 packages, latest transformers"), a
line when the installing starts (with how many packages), a heartbeat every
15 s while it runs silent, and the elapsed time at the end. Warnings and
errors pass through as they come; when pip fails, its last lines follow.
The exit status is pip's. Standard library only: it runs before the project
is installed.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time

COLLECT = re.compile(r"^\s*(?:Collecting|Requirement already satisfied:|Obtaining)\s+([^\s<>=!~;\[(]+)")
INSTALLING = re.compile(r"^\s*Installing collected packages:\s*(.*)$")
DONE = re.compile(r"^\s*Successfully installed\s+(.*)$")
PASS = re.compile(r"^\s*(ERROR|WARNING|error:|warning:)", re.IGNORECASE)


class Steps:
    def __init__(self, label: str, out=sys.stdout, every_s: float = 5.0, heartbeat_s: float = 15.0) -> None:
        self.label, self.out, self.every_s, self.heartbeat_s = label, out, every_s, heartbeat_s
        self.t0 = time.monotonic()
        self.collected = 0
        self.latest = ""
        self.last_print = 0.0
        self.phase = "resolving"
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.lock = threading.Lock()

    def say(self, text: str) -> None:
        self.out.write(f"    [{time.monotonic() - self.t0:>4.0f}s] {self.label}: {text}\n")
        self.out.flush()
        self.last_print = time.monotonic()

    def line(self, raw: str) -> None:
        raw = raw.rstrip("\n")
        with self.lock:
            self.tail.append(raw)
            if PASS.match(raw):
                self.out.write(raw + "\n")
                self.out.flush()
                return
            m = COLLECT.match(raw)
            if m:
                self.collected += 1
                self.latest = m.group(1)
                if time.monotonic() - self.last_print >= self.every_s:
                    self.say(f"resolving: {self.collected} packages, latest {self.latest}")
                return
            m = INSTALLING.match(raw)
            if m:
                n = len([p for p in m.group(1).split(",") if p.strip()])
                self.phase = "installing"
                self.say(f"installing {n} packages (pip prints nothing while it unpacks; a minute or more)")
                return
            m = DONE.match(raw)
            if m:
                self.phase = "done"
                self.say(f"installed {len(m.group(1).split())} packages")

    def heartbeat(self) -> None:
        with self.lock:
            if self.phase != "done" and time.monotonic() - self.last_print >= self.heartbeat_s:
                what = "still installing" if self.phase == "installing" else (
                    f"still resolving ({self.collected} packages so far)")
                self.say(what)


def run(label: str, command: list[str], heartbeat_s: float = 15.0) -> int:
    steps = Steps(label, heartbeat_s=heartbeat_s)
    steps.say("started")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(1.0):
            steps.heartbeat()

    threading.Thread(target=beat, daemon=True).start()
    assert proc.stdout is not None
    for raw in proc.stdout:
        steps.line(raw)
    code = proc.wait()
    stop.set()
    if code:
        sys.stdout.write(f"    {label} failed (exit {code}); pip's last lines:\n")
        sys.stdout.write("".join(f"      {ln}\n" for ln in steps.tail))
    else:
        steps.say("done")
    return code


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: pipsteps.py LABEL -- COMMAND...\n")
        return 2
    return run(argv[0], argv[2:], float(os.environ.get("PIPSTEPS_HEARTBEAT_S", "15")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
