"""Chain: gas per contract call, and how fast the submission queue drains against a real anvil.

Gas figures are deterministic. Times depend on the machine and its load (anvil
mines each transaction at once; with --block-time 1 a confirmation waits for
the next block).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from web3 import HTTPProvider, Web3

from bench.table import Row
from swarmd import config as cfg
from swarmd import identity
from swarmd.chain import artifact, localnet
from swarmd.chain.client import registration_message
from swarmd.chain.subsystem import ChainSubsystem
from swarmd.daemon import Daemon

FAST = {"poll_interval_s": 0.1, "retry_initial_s": 0.1, "retry_max_s": 0.5}


def _gas(url: str) -> list[Row]:
    w3 = Web3(HTTPProvider(url))
    art = artifact.load()
    owner = localnet.test_account(0).address
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(owner, 3, 1000).transact({"from": owner}))
    c = w3.eth.contract(address=receipt["contractAddress"], abi=art.abi)
    rows = [Row("chain", "gas: deploy", f"{receipt['gasUsed']:,}")]
    chain_id = w3.eth.chain_id
    ids = [identity.generate() for _ in range(8)]
    peer = ids[0].peer_id

    def gas(name: str, fn, who: str = owner) -> None:
        r = w3.eth.wait_for_transaction_receipt(fn.transact({"from": who}))
        rows.append(Row("chain", f"gas: {name}", f"{r['gasUsed']:,}"))

    def register(ident: identity.Identity):
        proof = ident.sign(registration_message(chain_id, c.address, owner))
        return c.functions.registerPeer(ident.peer_id, proof)

    gas("registerPeer (Ed25519 proof checked on chain)", register(ids[0]))
    for ident in ids[1:]:
        w3.eth.wait_for_transaction_receipt(register(ident).transact({"from": owner}))
    gas("submitReward (first for a peer)", c.functions.submitReward(0, 0, 731, peer))
    gas("updateStageAndRound (stage)", c.functions.updateStageAndRound())
    gas("submitReward (later)", c.functions.submitReward(0, 1, 12, peer))
    gas("submitWinners (1 winner)", c.functions.submitWinners(0, [peer], peer))
    c.functions.updateStageAndRound().transact({"from": owner})
    gas("updateStageAndRound (round)", c.functions.updateStageAndRound())
    gas("submitWinners (8 winners)", c.functions.submitWinners(1, [i.peer_id for i in ids], peer))
    rows.append(Row("chain", "gas: getRewardRecords (256 rounds, a call)",
                    f"{c.functions.getRewardRecords(peer, 0, 0, 256).estimate_gas():,}"))
    return rows


async def _drain(url: str, dep: localnet.Deployment, tmp: Path, n: int, node: localnet.Anvil | None) -> float:
    """Seconds from queueing n rewards to all confirmed; with ``node``, anvil is down while queueing."""
    dep_file = tmp / "dep.json"
    dep.write(dep_file)
    localnet.write_test_key(tmp / "chain.key", 1)
    conf = cfg.load(environ={}, cli={
        "node.data_dir": str(tmp), "chain.enabled": True, "chain.deployments_file": str(dep_file),
        **{f"chain.{k}": v for k, v in FAST.items()},
    })
    daemon = Daemon(conf, identity.load_or_create(conf.identity_file)[0])
    chain = daemon.chain = ChainSubsystem(daemon)
    await chain.start()
    try:
        while not chain.registered:
            await asyncio.sleep(0.01)
        # A peer reports on rounds since its registration: each reward gets its own later round.
        await asyncio.to_thread(_advance, url, dep, n)
        start_round = (await chain.read_round())[0]
        if node is not None:
            node.stop()
            while chain.state != "unreachable":
                await asyncio.sleep(0.01)
        for i in range(n):  # one reward per round: rounds start_round, start_round - 1, ...
            chain.queue_results(start_round - i, 0, i, [])
        t0 = time.perf_counter()
        if node is not None:
            node.start()
        while chain.pending_count():
            await asyncio.sleep(0.01)
        return time.perf_counter() - t0
    finally:
        await chain.stop()


def _advance(url: str, dep: localnet.Deployment, rounds: int) -> None:
    """Rounds 0..rounds exist afterwards, so each benchmarked reward has its own round."""
    w3 = Web3(HTTPProvider(url))
    c = w3.eth.contract(address=dep.address, abi=artifact.load().abi)
    for _ in range(rounds):
        w3.eth.wait_for_transaction_receipt(c.functions.updateStageAndRound().transact({"from": dep.deployer}))


def run(args) -> list[Row]:
    n = 10 if getattr(args, "quick", False) else 30
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sd-bench-chain-", dir="/tmp") as tmp_:
        tmp = Path(tmp_)
        t0 = time.perf_counter()
        node = localnet.Anvil(state_file=tmp / "state.json").start()
        rows.append(Row("chain", "anvil start → JSON-RPC answers", f"{time.perf_counter() - t0:.2f} s"))
        try:
            rows += _gas(node.url)
            dep = localnet.deploy(node.url)
            seconds = asyncio.run(_drain(node.url, dep, tmp / "a", n, None))
            rows.append(Row("chain", f"queue → on chain, {n} rewards (automine)", f"{seconds:.2f} s",
                            note=f"{n / seconds:.1f} submissions/s, one sender"))
            seconds = asyncio.run(_drain(node.url, dep, tmp / "b", n, node))
            rows.append(Row("chain", f"anvil back → {n} queued rewards on chain", f"{seconds:.2f} s",
                            note="includes anvil restart with --state and reconnect backoff"))
        finally:
            node.stop()
        slow = localnet.Anvil(block_time=1).start()
        try:
            dep = localnet.deploy(slow.url)
            seconds = asyncio.run(_drain(slow.url, dep, tmp / "c", 3, None))
            rows.append(Row("chain", "queue → on chain, 3 rewards (--block-time 1)", f"{seconds:.2f} s",
                            note="one block per transaction: sends wait for each receipt"))
        finally:
            slow.stop()
    return rows
