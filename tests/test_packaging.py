"""What ships besides the code: the systemd unit, generated code, the README contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.process
def test_generated_protobuf_code_is_current() -> None:
    r = subprocess.run([sys.executable, "-m", "swarmd.tools.protogen", "--check"], capture_output=True, text=True,
                       cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.process
@pytest.mark.parametrize("name", ["swarmd.service", "swarmd@.service"])
def test_systemd_unit_verifies(tmp_path: Path, name: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (REPO / "systemd" / name).read_text()
    # verify checks that ExecStart exists: point it at this checkout's swarmd
    unit = unit.replace("/opt/swarmd/.venv/bin/swarmd", str(Path(sys.executable).parent / "swarmd"))
    path = tmp_path / name
    path.write_text(unit)
    r = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    # A template is verified as an instance (swarmd@i.service).
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if "swarmd" in line and ("Unknown" in line or "Failed" in line or "Invalid" in line
                                         or "not executable" in line)]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr
    for key in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "StateDirectory=swarmd", "ConfigurationDirectory=swarmd", "DeviceAllow=/dev/nvidiactl"):
        assert key in unit


def test_readme_names_its_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    makefile = (REPO / "Makefile").read_text()
    for target in ("install:", "demo:", "test:", "bench:", "proto:", "contracts:", "lint:"):
        assert f"\n{target}" in makefile, target


@pytest.mark.process
def test_swarmctl_help_is_instant() -> None:
    # --help must not import grpc or anything heavy
    code = "import sys, runpy; sys.argv=['swarmctl','--help']\ntry: runpy.run_module('swarmctl', run_name='__main__')\nexcept SystemExit: pass\nprint(sorted(m for m in ('grpc','google.protobuf','torch','libp2p') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().endswith("[]"), r.stdout[-300:]
