"""A real local chain: anvil on loopback with the SwarmCoordinator deployed.

Used by the tests (a fresh chain on a free port), by ``make chain`` (anvil in
the foreground, ``deployments/local.json`` written, until Ctrl-C) and by the
demo. anvil comes from npm (``@foundry-rs/anvil``); the platform binary is
started directly, not through npx or the ``.bin`` wrapper, so stopping it stops
the chain (a killed wrapper would orphan the binary).

    python -m swarmd.chain.localnet [--port 8545] [--state FILE] [--deployments FILE]
                                    [--key-dir DIR --keys N] ...

Simplifications: accounts are anvil's well-known test accounts (the public
"test test ... junk" mnemonic), which anyone can spend from; a local chain only.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from swarmd.chain import artifact
from swarmd.chain.keys import write_key_file
from swarmd.errors import SwarmdError

REPO = Path(__file__).resolve().parents[2]
# anvil's default mnemonic: its accounts are public test accounts, funded with 10000 ETH.
TEST_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
DEFAULT_STAGE_COUNT = 1
# Past rounds a submission is still accepted for: enough for a long outage on a fast local
# chain, small enough to exercise RoundTooOld in tests that choose otherwise.
DEFAULT_SUBMISSION_WINDOW = 100


class LocalnetError(SwarmdError):
    """anvil is missing, did not start, or a deployment failed."""


def anvil_binary() -> Path:
    """The anvil binary from node_modules (or $SWARMD_ANVIL)."""
    override = os.environ.get("SWARMD_ANVIL")
    if override:
        return Path(override)
    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    path = REPO / "node_modules" / "@foundry-rs" / f"anvil-{system}-{machine}" / "bin" / "anvil"
    if not path.exists():
        raise LocalnetError(
            f"anvil is not installed ({path} is missing): run 'make install' "
            "(npm ci --ignore-scripts; never --omit=optional)"
        )
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@functools.cache
def test_account_keys(count: int = 10) -> tuple[bytes, ...]:
    """Private keys of anvil's default accounts, derived from the public test mnemonic."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return tuple(
        bytes(Account.from_mnemonic(TEST_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(count)
    )


def test_account(index: int):
    from eth_account import Account

    return Account.from_key(test_account_keys(max(10, index + 1))[index])


def write_test_key(path: Path, index: int) -> str:
    """Write anvil test account ``index``'s key to ``path`` (0600); returns its address."""
    write_key_file(path, test_account_keys(max(10, index + 1))[index])
    return test_account(index).address


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 5.0) -> Any:
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout
    )
    reply.raise_for_status()
    body = reply.json()
    if "error" in body:
        raise LocalnetError(f"{method}: {body['error']}")
    return body["result"]


def set_balance(url: str, address: str, wei: int) -> None:
    """anvil_setBalance: fund (or drain) an account."""
    rpc(url, "anvil_setBalance", [address, hex(wei)])


class Anvil:
    """One anvil process on 127.0.0.1. ``stop()`` sends SIGTERM, which dumps ``--state``."""

    def __init__(
        self,
        port: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        state_file: Path | None = None,
        block_time: float | None = None,
        accounts: int = 10,
        log_file: Path | None = None,
        state_interval: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.state_file = state_file
        self.block_time = block_time
        self.accounts = accounts
        self.log_file = log_file
        self.state_interval = state_interval  # seconds between dumps of --state (anvil's default: 60)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--silent",
        ]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
            if self.state_interval:
                cmd += ["--state-interval", str(self.state_interval)]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def start(self, timeout: float = 30.0) -> Anvil:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if self.log_file:
                out.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise LocalnetError(f"anvil exited with {self.proc.returncode} (port {self.port} taken?)")
            try:
                if int(rpc(self.url, "eth_chainId", timeout=1.0), 16) == self.chain_id:
                    return
            except (requests.RequestException, LocalnetError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise LocalnetError(f"anvil did not answer on {self.url} within {timeout:.0f}s")
            time.sleep(0.05)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Anvil:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Deployment:
    rpc_url: str
    chain_id: int
    address: str
    deployer: str
    block: int
    stage_count: int
    submission_window: int

    def write(self, path: Path) -> None:
        """Atomically write the deployments file that ChainConfig.deployments_file reads."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> Deployment:
        data = json.loads(path.read_text())
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _web3(url: str):
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url, request_kwargs={"timeout": 30}, exception_retry_configuration=None))


def _transact(w3, account, fn) -> Any:
    """Sign and send one call from ``account``; wait for its receipt and insist on success."""
    tx = fn.build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), 60)
    if receipt["status"] != 1:
        raise LocalnetError(f"transaction {receipt['transactionHash'].to_0x_hex()} reverted")
    return receipt


def deploy(
    url: str,
    deployer_index: int = 0,
    stage_count: int = DEFAULT_STAGE_COUNT,
    submission_window: int = DEFAULT_SUBMISSION_WINDOW,
    stage_managers: list[str] = (),
    bootnode_managers: list[str] = (),
    bootnodes: list[str] = (),
) -> Deployment:
    """Deploy a fresh SwarmCoordinator from a test account and grant the given roles."""
    w3 = _web3(url)
    art = artifact.load()
    deployer = test_account(deployer_index)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = _transact(w3, deployer, factory.constructor(deployer.address, stage_count, submission_window))
    address = receipt["contractAddress"]
    contract = w3.eth.contract(address=address, abi=art.abi)
    for role_name, accounts in (("STAGE_MANAGER_ROLE", stage_managers), ("BOOTNODE_MANAGER_ROLE", bootnode_managers)):
        role = getattr(contract.functions, role_name)().call()
        for account in accounts:
            _transact(w3, deployer, contract.functions.grantRole(role, w3.to_checksum_address(account)))
    if bootnodes:
        _transact(w3, deployer, contract.functions.addBootnodes(list(bootnodes)))
    return Deployment(
        rpc_url=url,
        chain_id=w3.eth.chain_id,
        address=address,
        deployer=deployer.address,
        block=receipt["blockNumber"],
        stage_count=stage_count,
        submission_window=submission_window,
    )


def deployed_at(url: str, path: Path) -> Deployment | None:
    """The deployment in ``path`` if its contract exists on the chain at ``url`` (a --state restart)."""
    try:
        dep = Deployment.read(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    code = rpc(url, "eth_getCode", [dep.address, "latest"])
    if code in ("0x", "0x0", None):
        return None
    return Deployment(**{**asdict(dep), "rpc_url": url})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m swarmd.chain.localnet",
        description="Run anvil on 127.0.0.1 with the SwarmCoordinator deployed, until Ctrl-C.",
    )
    p.add_argument("--port", type=int, default=8545)
    p.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    p.add_argument("--state", type=Path, help="persist the chain in this file across restarts")
    p.add_argument("--block-time", type=float, help="seconds per block (default: mine each transaction)")
    p.add_argument("--deployments", type=Path, default=REPO / "deployments" / "local.json",
                   help="deployments file to write (default: deployments/local.json)")
    p.add_argument("--stage-count", type=int, default=DEFAULT_STAGE_COUNT)
    p.add_argument("--submission-window", type=int, default=DEFAULT_SUBMISSION_WINDOW)
    p.add_argument("--stage-manager", action="append", default=[], metavar="ADDRESS",
                   help="grant STAGE_MANAGER_ROLE (repeatable; the deployer holds it anyway)")
    p.add_argument("--bootnode", action="append", default=[], metavar="MULTIADDR",
                   help="add to the contract's bootnode list (repeatable)")
    p.add_argument("--key-dir", type=Path, help="write funded test keys key-1.hex ... here (0600)")
    p.add_argument("--keys", type=int, default=3, help="how many keys --key-dir gets (default 3)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        node = Anvil(args.port, args.chain_id, args.state, args.block_time, accounts=max(10, args.keys + 1))
        node.start()
    except LocalnetError as e:
        print(f"localnet: {e}", file=sys.stderr)
        return 1
    stop = False

    def _on_signal(signum, frame):  # noqa: ARG001
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        dep = deployed_at(node.url, args.deployments) if args.state else None
        if dep is None:
            dep = deploy(node.url, 0, args.stage_count, args.submission_window, args.stage_manager,
                         bootnodes=args.bootnode)
        dep.write(args.deployments)
        print(f"anvil on {node.url} (chain {dep.chain_id}); SwarmCoordinator at {dep.address}")
        print(f"wrote {args.deployments}")
        if args.key_dir:
            for i in range(1, args.keys + 1):
                path = args.key_dir / f"key-{i}.hex"
                print(f"  {path}: {write_test_key(path, i)}")
        print("Ctrl-C stops the chain" + (f" (state kept in {args.state})" if args.state else ""), flush=True)
        while not stop and node.alive:
            time.sleep(0.2)
        if not node.alive:
            print("localnet: anvil exited", file=sys.stderr)
            return 1
        return 0
    except (LocalnetError, requests.RequestException) as e:
        print(f"localnet: {e}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
