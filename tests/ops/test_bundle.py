"""`swarmctl bundle`: everything a bug report needs, and no key, token or credential (checked byte by byte)."""

from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

import pytest

from swarmd import diagnostics
from swarmd.chain.localnet import write_test_key

API_KEY = "s3cretApiKey0123456789"
PASSWORD = "hunter2-rpc-password"


@pytest.mark.process
def test_bundle_has_the_report_and_no_secrets(daemons, short_tmp: Path) -> None:
    data = short_tmp / "n"
    data.mkdir()
    write_test_key(data / "chain.key", 1)
    rpc = f"http://operator:{PASSWORD}@127.0.0.1:9/v3/{API_KEY}"  # nothing listens: the chain is 'unreachable'
    d = daemons("n", config={
        "trainer": {"enabled": False},
        "log": {"file": "logs/swarmd.log", "max_bytes": 65536, "backups": 2},
        "chain": {"enabled": True, "rpc_url": rpc, "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                  "key_file": str(data / "chain.key")},
    })
    out = short_tmp / "report.tar.gz"
    r = d.ctl("bundle", str(out))
    assert r.returncode == 0, r.stderr
    assert "no keys or credentials" in r.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    with tarfile.open(out) as tar:
        members = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    for name in ("README.txt", "config.toml", "status.json", "peers.json", "events.jsonl", "logs/daemon.log",
                 "logs/file-tail.log", "versions.json", "system.json"):
        assert name in members, (name, sorted(members))
    status = json.loads(members["status.json"])
    assert status["peer_id"] == d.status().peer_id
    assert b"[chain]" in members["config.toml"] and b"rpc_url = \"http://<redacted>@127.0.0.1:9/<redacted>\"" in \
        members["config.toml"]
    assert json.loads(members["versions.json"])["daemon"]["swarmd"]
    assert b"identity" in members["logs/daemon.log"]  # the daemon's own recent lines
    assert members["events.jsonl"].strip() and all(json.loads(line) for line in members["events.jsonl"].splitlines())

    # No secret, in any form, in any member.
    chain_key = (data / "chain.key").read_text().strip()
    identity_key = (d.data_dir / "identity.key").read_bytes()
    forbidden = [API_KEY.encode(), PASSWORD.encode(), chain_key.encode(), chain_key.removeprefix("0x").encode(),
                 identity_key, identity_key[4:], identity_key[4:].hex().encode()]
    for name, body in members.items():
        for secret in forbidden:
            assert secret not in body, f"{name} carries a secret"


def test_redaction_rules() -> None:
    assert diagnostics.redact_url("https://user:pw@rpc.example:8443/v3/KEY?x=1") == \
        "https://<redacted>@rpc.example:8443/<redacted>"
    assert diagnostics.redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert diagnostics.scrub("dial https://a:b@host/x failed; token abcdefgh", ["abcdefgh"]) == \
        "dial https://<redacted>@host/x failed; token <redacted>"


@pytest.mark.process
def test_log_file_of_a_daemon(daemons, short_tmp: Path) -> None:
    d = daemons("n", config={"trainer": {"enabled": False}, "log": {"file": "swarmd-file.log"}})
    log = d.data_dir / "swarmd-file.log"  # relative: inside the data directory
    assert "identity" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o640


def test_log_file_rotates_by_size_and_count(tmp_path: Path) -> None:
    import logging

    from swarmd import logs

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    log = tmp_path / "logs" / "swarmd.log"
    try:
        logs.setup("info", "human", file=log, max_bytes=65536, backups=2)
        for i in range(3000):
            logging.getLogger("swarmd.test").info("line %d %s", i, "x" * 60)
    finally:
        for h in root.handlers:
            if h not in saved[0]:
                h.close()
        root.handlers[:], root.level = saved
    names = sorted(p.name for p in log.parent.iterdir())
    assert names == ["swarmd.log", "swarmd.log.1", "swarmd.log.2"], names
    for p in log.parent.iterdir():
        assert p.stat().st_size <= 65536 and stat.S_IMODE(p.stat().st_mode) == 0o640, p
    assert "line 2999" in log.read_text()
    assert list(logs.RECENT.lines)[-1].endswith("line 2999 " + "x" * 60)
