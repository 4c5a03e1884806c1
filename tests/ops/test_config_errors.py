"""Bad input gets one clear line naming the file, key or source; never a traceback."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from swarmd import config as cfg
from swarmd import paths
from swarmd.swarm import leaderboard

REPO = Path(__file__).resolve().parents[2]


def swarmd(*args: str, env: dict | None = None, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_")}
    base["PYTHONPATH"] = str(REPO)
    base.update(env or {})
    return subprocess.run([*(prefix or []), sys.executable, "-m", "swarmd", *args],
                          capture_output=True, text=True, env=base, timeout=60, cwd="/")


@pytest.mark.process
def test_non_utf8_config_file_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b'[node]\nswarm_id = "caf\xe9"\n')
    with pytest.raises(cfg.ConfigError, match=rf"config file {f} is not UTF-8"):
        cfg.load(f, environ={})
    r = swarmd("--config", str(f), "--check")
    assert r.returncode == 2 and "not UTF-8" in r.stderr and "Traceback" not in r.stderr


def test_max_message_bytes_beyond_grpc_limit_fails_check() -> None:
    with pytest.raises(cfg.ConfigError, match=r"control.max_message_bytes"):
        cfg.load(environ={}, cli={"control.max_message_bytes": 2**31})
    assert cfg.load(environ={}, cli={"control.max_message_bytes": 2**31 - 1})


@pytest.mark.parametrize("mode", ["0777", "0666", "0662", "0604", "0460"])
def test_socket_mode_that_opens_the_daemon_to_everyone_is_refused(mode: str) -> None:
    with pytest.raises(cfg.ConfigError, match=r"control.socket_mode"):
        cfg.load(environ={}, cli={"control.socket_mode": mode})


def test_socket_modes_that_are_fine() -> None:
    for mode in ("0600", "0660", "660", "0770"):
        assert cfg.load(environ={}, cli={"control.socket_mode": mode}).control.socket_mode == mode


def test_hex_values_from_set_and_env_stay_strings() -> None:
    address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    key, value = cfg.parse_assignment(f"chain.contract={address}")
    assert (key, value) == ("chain.contract", address)
    c = cfg.load(environ={"SWARMD_CHAIN__CONTRACT": address}, cli={})
    assert c.chain.contract == address
    assert cfg.parse_assignment("node.shutdown_timeout_s=12")[1] == 12  # plain numbers are still numbers


@pytest.mark.process
def test_errors_name_the_override_that_caused_them(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[log]\nlevel = "loud"\n')
    with pytest.raises(cfg.ConfigError) as e:
        cfg.load(environ={"SWARMD_NODE__SHUTDOWN_TIMEOUT_S": "-1"}, cli={"web.port": "eighty"})
    text = str(e.value)
    assert "node.shutdown_timeout_s" in text and "environment variable SWARMD_NODE__SHUTDOWN_TIMEOUT_S" in text
    assert "web.port" in text and "--set web.port" in text
    assert "(defaults)" not in text
    with pytest.raises(cfg.ConfigError, match=rf"log.level.*from config file {f}"):
        cfg.load(f, environ={})
    r = swarmd("--check", env={"SWARMD_WEB__PORTT": "1"})
    assert r.returncode == 2 and "unknown config key 'web.portt' (from environment variable SWARMD_WEB__PORTT)" in r.stderr


@pytest.mark.process
def test_identity_key_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "identity.key").mkdir(mode=0o700)
    r = swarmd("--data-dir", str(tmp_path), "--check")
    assert r.returncode == 2, r.stderr
    assert f"identity key file {tmp_path / 'identity.key'} is a directory" in r.stderr
    assert "mode" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.process
def test_read_only_data_directory(short_tmp: Path) -> None:
    data = short_tmp / "data"  # not under pytest's shared base directory, whose modes this changes
    data.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop privileges")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        for parent in [data, *data.parents]:
            parent.chmod(parent.stat().st_mode | 0o005)
    else:
        data.chmod(0o555)
    r = swarmd("--data-dir", str(data), "--set", "trainer.enabled=false", prefix=prefix)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"data directory {data} is not writable" in r.stderr and "Traceback" not in r.stderr


def test_state_and_directories_get_explicit_modes(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        paths.make_dir(tmp_path / "a" / "b")
        state = leaderboard.GameState()
        leaderboard.save(state, tmp_path / "swarm" / "state.json")
    finally:
        os.umask(old)
    for d in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "swarm"):
        assert stat.S_IMODE(d.stat().st_mode) == paths.DIR_MODE == 0o750, d
    assert stat.S_IMODE((tmp_path / "swarm" / "state.json").stat().st_mode) == paths.FILE_MODE == 0o640
