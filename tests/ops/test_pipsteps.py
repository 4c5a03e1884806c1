"""make install's pip steps: short progress lines, a heartbeat through pip's silent install, pip's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

PIPSTEPS = Path(__file__).resolve().parents[2] / "swarmd" / "tools" / "pipsteps.py"

FAKE_PIP = r"""
import sys, time
for i in range(30):
    print(f"Collecting pkg{i}==1.0")
    print(f"  Downloading pkg{i}-1.0-py3-none-any.whl (10 kB)")
print("WARNING: something pip wants the user to see")
print("Installing collected packages: " + ", ".join(f"pkg{i}" for i in range(30)), flush=True)
time.sleep(3)  # pip unpacking: it prints nothing for this long
if sys.argv[1] == "fail":
    print("ERROR: Could not install packages due to an OSError")
    sys.exit(1)
print("Successfully installed " + " ".join(f"pkg{i}-1.0" for i in range(30)))
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PIPSTEPS), "deps", "--", sys.executable, "-c", FAKE_PIP, mode],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PIPSTEPS_HEARTBEAT_S": "0.5"})


def test_progress_is_short_and_never_silent() -> None:
    r = _run("ok")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert not any("Downloading" in ln or ln.startswith("Collecting") for ln in lines)  # quieter than pip
    assert "WARNING: something pip wants the user to see" in lines  # warnings pass through
    assert any("installing 30 packages" in ln for ln in lines)
    assert any("still installing" in ln for ln in lines)  # the silent part has a heartbeat
    assert any("installed 30 packages" in ln for ln in lines)
    assert len(lines) < 20


def test_failure_keeps_pips_exit_code_and_last_lines() -> None:
    r = _run("fail")
    assert r.returncode == 1
    assert "deps failed (exit 1); pip's last lines:" in r.stdout
    assert "ERROR: Could not install packages due to an OSError" in r.stdout
