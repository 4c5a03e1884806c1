"""Config tree: precedence, unknown keys, wrong types, --check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swarmd import config as cfg
from swarmd.configdoc import render_reference

REPO = Path(__file__).resolve().parents[1]


def swarmd(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "swarmd", *args], capture_output=True, text=True, env=base, timeout=60)


def test_precedence_defaults_file_env_cli(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[log]\nlevel = "warning"\nformat = "json"\n[node]\nswarm_id = "from-file"\n')
    c = cfg.load(f, environ={"SWARMD_LOG__LEVEL": "error"}, cli={"node.swarm_id": "from-cli"})
    assert c.log.level == "error"  # env beats file
    assert c.log.format == "json"  # file beats default
    assert c.node.swarm_id == "from-cli"  # cli beats all
    assert c.control.socket_mode == "0660"


def test_env_values_are_typed(tmp_path: Path) -> None:
    c = cfg.load(environ={"SWARMD_NODE__SHUTDOWN_TIMEOUT_S": "12.5", "SWARMD_NODE__DATA_DIR": str(tmp_path)})
    assert c.node.shutdown_timeout_s == 12.5
    assert c.data_dir == tmp_path
    assert c.socket_path == tmp_path / "swarmd.sock"


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[log]\nlevl = 'debug'\n", "unknown config key 'log.levl'"),
        ("[nod]\nswarm_id = 'x'\n", "unknown config key 'nod'"),
        ("[node]\nshutdown_timeout_s = 'soon'\n", "config key 'node.shutdown_timeout_s'"),
        ("[node]\nswarm_id = 'Has Spaces'\n", "config key 'node.swarm_id'"),
        ("[control]\ntcp_address = 'nocolon'\n", "config key 'control.tcp_address'"),
        ("[log\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(cfg.ConfigError) as e:
        cfg.load(f, environ={})
    assert needle in str(e.value)


def test_bad_env_name_is_named() -> None:
    with pytest.raises(cfg.ConfigError, match="SWARMD_LOGLEVEL"):
        cfg.load(environ={"SWARMD_LOGLEVEL": "debug"})
    with pytest.raises(cfg.ConfigError, match="unknown config key 'log.colour'"):
        cfg.load(environ={"SWARMD_LOG__COLOUR": "red"})


@pytest.mark.process
def test_check_prints_resolved_config(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[node]\nswarm_id = "alpha"\n')
    r = swarmd("--config", str(f), "--data-dir", str(tmp_path / "d"), "--check", env={"SWARMD_LOG__LEVEL": "debug"})
    assert r.returncode == 0, r.stderr
    assert 'swarm_id = "alpha"' in r.stdout
    assert 'level = "debug"' in r.stdout
    assert f'data_dir = "{tmp_path / "d"}"' in r.stdout
    # --check creates nothing
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[p2p]\nbogus = 1\n", "unknown config key 'p2p.bogus'"),
        ("[node]\nshutdown_timeout_s = -1\n", "node.shutdown_timeout_s"),
    ],
)
@pytest.mark.process
def test_check_and_startup_fail_on_bad_config(tmp_path: Path, toml: str, needle: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    for extra in (["--check"], []):
        r = swarmd("--config", str(f), "--data-dir", str(tmp_path / "d"), *extra)
        assert r.returncode == 2, (extra, r.stderr)
        assert needle in r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.process
def test_missing_and_unreadable_config_file(tmp_path: Path) -> None:
    r = swarmd("--config", str(tmp_path / "nope.toml"), "--check")
    assert r.returncode == 2 and "nope.toml does not exist" in r.stderr


@pytest.mark.process
def test_unreadable_identity_file_fails_check_and_startup(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    key = data / "identity.key"
    key.write_bytes(b"garbage")
    key.chmod(0o600)
    for extra in (["--check"], []):
        r = swarmd("--data-dir", str(data), *extra)
        assert r.returncode == 2, r.stderr
        assert str(key) in r.stderr and "not a libp2p Ed25519 private key" in r.stderr
    key.write_bytes(b"\x08\x01\x12\x20" + bytes(32))
    key.chmod(0o644)
    r = swarmd("--data-dir", str(data), "--check")
    assert r.returncode == 2 and "mode 0644" in r.stderr and str(key) in r.stderr


def test_reference_doc_is_current() -> None:
    doc = REPO / "docs" / "configuration.md"
    assert doc.read_text() == render_reference() + "\n", "run: swarmd --config-reference > docs/configuration.md"
