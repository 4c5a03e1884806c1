"""Real swarmd processes with the chain enabled: swarmctl register and status, start-up errors,
a restart with queued submissions, and no private key in any log, event or status.

The swarm game is not involved (its own tests drive rounds): submissions reach a
daemon through its on-disk queue, exactly as a previous run would have left them.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from swarmd.chain import artifact, localnet
from swarmd.chain.client import registration_message
from swarmd.chain.queue import Submission, SubmissionQueue
from swarmd.identity import load_or_create
from tests.support.daemons import SWARMD, DaemonProcess, write_config
from tests.support.poll import wait_until

pytestmark = [pytest.mark.process, pytest.mark.chain]

# Only the control plane and the chain: nothing else starts.
OTHERS_OFF = {
    "p2p": {"enabled": False},
    "trainer": {"enabled": False},
    "swarm": {"enabled": False},
    "web": {"enabled": False},
}


def chain_config(dep_file: Path, **chain: Any) -> dict[str, dict[str, Any]]:
    return {
        **OTHERS_OFF,
        "chain": {
            "enabled": True,
            "deployments_file": str(dep_file),
            "poll_interval_s": 0.2,
            "retry_initial_s": 0.1,
            "retry_max_s": 0.5,
            **chain,
        },
    }


@pytest.fixture
def deployment(chain_node: localnet.Anvil, short_tmp: Path) -> tuple[localnet.Deployment, Path]:
    dep = localnet.deploy(chain_node.url, stage_count=1)
    path = short_tmp / "deployment.json"
    dep.write(path)
    return dep, path


def _events(chain_node: localnet.Anvil, dep: localnet.Deployment, name: str) -> list[Any]:
    w3 = Web3(HTTPProvider(chain_node.url))
    return getattr(w3.eth.contract(address=dep.address, abi=artifact.load().abi).events, name)().get_logs(from_block=0)


def _advance(chain_node: localnet.Anvil, dep: localnet.Deployment, rounds: int) -> None:
    w3 = Web3(HTTPProvider(chain_node.url))
    c = w3.eth.contract(address=dep.address, abi=artifact.load().abi)
    for _ in range(rounds):
        w3.eth.wait_for_transaction_receipt(c.functions.updateStageAndRound().transact({"from": dep.deployer}))


def _register(chain_node: localnet.Anvil, dep: localnet.Deployment, data: Path, key_index: int) -> str:
    """Register the node's peer ID (its identity file, created here) to test account ``key_index``."""
    ident = load_or_create(data / "identity.key")[0]
    account = localnet.test_account(key_index).address
    proof = ident.sign(registration_message(31337, dep.address, account))
    w3 = Web3(HTTPProvider(chain_node.url))
    c = w3.eth.contract(address=dep.address, abi=artifact.load().abi)
    w3.eth.wait_for_transaction_receipt(c.functions.registerPeer(ident.peer_id, proof).transact({"from": account}))
    return ident.peer_id


def _chain(d: DaemonProcess) -> dict[str, Any]:
    return d.ctl_json("status")["chain"]


def test_swarmctl_register_twice_and_status(daemons, chain_node, deployment, short_tmp: Path) -> None:
    dep, dep_file = deployment
    data = short_tmp / "a"
    address = localnet.write_test_key(data / "chain.key", 1)
    d = daemons("a", chain_config(dep_file, register_on_start=False))
    wait_until(lambda: _chain(d)["state"] == "ok", 60, what="chain ok")
    status = _chain(d)
    assert status["address"] == address and not status["registered"]
    assert status["contract"] == dep.address and status["chain_id"] == "31337"

    first = d.ctl("register")
    assert first.returncode == 0, first.stderr
    peer_id = d.status().peer_id
    assert first.stdout.startswith(f"{peer_id} is registered to {address} (tx 0x")
    again = d.ctl("--json", "register")
    assert again.returncode == 0
    assert json.loads(again.stdout)["already_registered"] is True
    status = _chain(d)
    assert status["registered"] and int(status["balance_wei"]) > 0 and status["state"] == "ok"
    human = d.ctl("status").stdout
    assert f"chain    ok · {address} · registered · pending 0 · sent 0" in human
    assert [e["args"]["peerId"] for e in _events(chain_node, dep, "PeerRegistered")] == [peer_id]


def test_register_is_refused_clearly_without_a_chain(daemons) -> None:
    d = daemons("nochain", OTHERS_OFF)
    result = d.ctl("register")
    assert result.returncode == 4
    assert "the chain client is disabled on this node (chain.enabled = false)" in result.stderr


def test_a_restarted_daemon_sends_what_was_queued_exactly_once(daemons, chain_node, deployment, short_tmp) -> None:
    dep, dep_file = deployment
    data = short_tmp / "q"
    localnet.write_test_key(data / "chain.key", 2)
    peer_id = _register(chain_node, dep, data, 2)  # registered in round 0
    _advance(chain_node, dep, 3)
    queue = SubmissionQueue(data / "queue")  # what a run that stopped before sending leaves behind
    for round_ in range(3):
        queue.add(Submission("reward", round_, 0, peer_id, reward=round_ - 1))
        queue.add(Submission("winners", round_, 0, peer_id, winners=(peer_id,)))
    d = daemons("q", chain_config(dep_file))
    wait_until(lambda: _chain(d)["pending_submissions"] == 0, 90, what="queue drained")
    assert _chain(d)["submitted"] == "6"
    d.stop()
    d.start()  # nothing left: nothing sent again
    wait_until(lambda: _chain(d)["state"] == "ok" and _chain(d)["registered"], 60, what="chain ok")
    assert _chain(d)["pending_submissions"] == 0
    rewards = collections.Counter((e["args"]["roundNumber"], e["args"]["peerId"]) for e in _events(chain_node, dep, "RewardSubmitted"))
    assert rewards == collections.Counter({(r, peer_id): 1 for r in range(3)})
    assert len(_events(chain_node, dep, "WinnerSubmitted")) == 3


def test_wrong_chain_id_is_named_and_the_daemon_runs_on(daemons, chain_node, deployment) -> None:
    _, dep_file = deployment
    d = daemons("w", chain_config(dep_file, chain_id=5), start=False)
    localnet.write_test_key(d.data_dir / "chain.key", 1)
    d.start()
    wait_until(lambda: _chain(d)["state"] == "error", 60, what="chain error")
    status = d.ctl_json("status")
    assert status["state"] == "running"
    assert status["chain"]["last_error"] == f"chain ID mismatch: {chain_node.url} is chain 31337, but chain.chain_id expects 5"
    result = d.ctl("register")
    assert result.returncode == 4 and "chain ID mismatch" in result.stderr


def _check(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWARMD, "--config", str(config_path), "--check"], capture_output=True, text=True, timeout=60)


def test_missing_or_readable_key_fails_check_and_start_naming_the_file(short_tmp: Path, deployment) -> None:
    _, dep_file = deployment
    data = short_tmp / "k"
    data.mkdir()
    config = write_config(short_tmp / "k.toml", {"node": {"data_dir": str(data)}, **chain_config(dep_file)})
    key = data / "chain.key"

    result = _check(config)
    assert result.returncode == 2
    assert f"chain: key file {key} does not exist" in result.stderr

    localnet.write_test_key(key, 1)
    key.chmod(0o644)
    for command in ([*SWARMD, "--config", str(config), "--check"], [*SWARMD, "--config", str(config)]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert f"key file {key} is readable by group or others (mode 0644); run: chmod 600 {key}" in result.stderr
        assert key.read_text().strip() not in result.stderr

    key.chmod(0o600)
    result = _check(config)
    assert result.returncode == 0, result.stderr


def test_private_keys_never_appear_in_logs_events_status_or_tracebacks(daemons, chain_node, deployment, short_tmp) -> None:
    dep, dep_file = deployment
    data = short_tmp / "s"
    localnet.write_test_key(data / "chain.key", 3)
    key_hex = localnet.test_account_keys()[3].hex()
    peer_id = load_or_create(data / "identity.key")[0].peer_id
    _advance(chain_node, dep, 2)
    SubmissionQueue(data / "queue").add(Submission("reward", 2, 0, peer_id, reward=4))
    # refused for good (a stage the contract does not have): a traceback path
    SubmissionQueue(data / "queue").add(Submission("reward", 2, 5, peer_id, reward=4))
    d = daemons("s", chain_config(dep_file, register_on_start=False))
    events = subprocess.Popen(
        [sys.executable, "-m", "swarmctl", "--socket", str(d.socket), "--json", "events"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: _chain(d)["state"] == "ok", 60, what="chain ok")
        assert d.ctl("register").returncode == 0
        wait_until(lambda: _chain(d)["pending_submissions"] == 0, 60, what="queue drained")
        assert _chain(d)["failed_submissions"] == 1

        chain_node.stop()  # an outage: errors, retries, a refused command
        wait_until(lambda: _chain(d)["state"] == "unreachable", 60, what="unreachable")
        assert d.ctl("register").returncode != 0
        chain_node.start()
        wait_until(lambda: _chain(d)["state"] == "ok", 60, what="ok again")

        outputs = {
            "status": d.ctl("--json", "status").stdout + d.ctl("status").stdout,
            "queue files": "".join(p.read_text() for p in (data / "queue").rglob("*.json")),
        }
    finally:
        d.stop()
        events.wait(30)
    outputs["events"] = events.stdout.read()
    outputs["log"] = d.log()
    assert "InvalidStageNumber(roundNumber=2, stageNumber=5, currentRound=2" in outputs["events"]
    assert "chain unreachable" in outputs["log"]
    for name, text in outputs.items():
        lowered = text.lower()
        for form in (key_hex, "0x" + key_hex):
            assert form not in lowered, f"the private key appears in the {name}"


class _Proxy:
    """An RPC endpoint whose URL carries credentials: forwards any path to anvil's "/"."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading

        import requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    reply = requests.post(upstream, data=body, headers={"Content-Type": "application/json"}, timeout=10)
                except requests.RequestException:
                    self.send_error(502)
                    return
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRETS = ("s3cr3t-pass", "AbCdEf0123456789xyzKEY", "tok-123456", "alice")


def test_rpc_credentials_never_appear_in_logs_status_events_api_or_metrics(
    daemons, chain_node, deployment, short_tmp
) -> None:
    import requests

    dep, dep_file = deployment
    proxy = _Proxy(chain_node.url)
    url = f"http://alice:s3cr3t-pass@127.0.0.1:{proxy.port}/v2/AbCdEf0123456789xyzKEY?apikey=tok-123456"
    shown = f"http://***@127.0.0.1:{proxy.port}/v2/***?apikey=***"
    data = short_tmp / "r"
    localnet.write_test_key(data / "chain.key", 4)
    config = chain_config(dep_file, rpc_url=url)
    config["web"] = {"enabled": True, "port": 0}
    d = daemons("r", config)
    events = subprocess.Popen(
        [sys.executable, "-m", "swarmctl", "--socket", str(d.socket), "--json", "events"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: _chain(d)["state"] == "ok" and _chain(d)["registered"], 60, what="registered via the proxy")
        assert _chain(d)["rpc_url"] == shown
        proxy.close()  # an outage: connection errors that would quote the URL
        wait_until(lambda: _chain(d)["state"] == "unreachable", 60, what="unreachable")
        assert d.ctl("register").returncode != 0
        web = d.status().dashboard_url.rstrip("/")
        outputs = {
            "status": d.ctl("--json", "status").stdout + d.ctl("status").stdout,
            "/api/status": requests.get(f"{web}/api/status", timeout=10).text,
            "/metrics": requests.get(f"{web}/metrics", timeout=10).text,
        }
        assert shown in outputs["/api/status"]
    finally:
        d.stop()
        events.wait(30)
        proxy.close()
    outputs["events"] = events.stdout.read()
    outputs["log"] = d.log()
    assert "chain unreachable" in outputs["log"] and shown in outputs["log"]
    for name, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} appears in the {name}"
