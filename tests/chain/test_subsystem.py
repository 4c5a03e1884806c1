"""The chain subsystem in this process against a real anvil, through the API the swarm game calls.

Each test builds the subsystem the way the daemon does (a Daemon object with a
real config and identity, never run) and checks results on chain: the
contract's getters and its events, so "exactly once" means one RewardSubmitted
per (round, stage, peer) and one WinnerSubmitted per (round, voter).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from swarmd import config as cfg
from swarmd import identity
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.chain import artifact, localnet
from swarmd.chain import metrics as m
from swarmd.chain.client import ChainClient, registration_message
from swarmd.chain.errors import ChainUnavailable
from swarmd.chain.keys import write_key_file
from swarmd.chain.queue import Submission, SubmissionQueue
from swarmd.chain.subsystem import ChainSubsystem
from swarmd.daemon import Daemon
from swarmd.errors import NotAvailable, Refused
from tests.support.poll import until

pytestmark = [pytest.mark.process, pytest.mark.chain]

FAST = {"poll_interval_s": 0.2, "retry_initial_s": 0.1, "retry_max_s": 0.5, "rpc_timeout_s": 5.0}


def run(test):
    """Run an async test body in a fresh event loop, with an overall deadline."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(asyncio.wait_for(test(*args, **kwargs), 300))

    return wrapper


class Node:
    """A chain subsystem as the daemon builds it; the data directory survives a restart."""

    def __init__(self, data_dir: Path, chain: dict[str, Any], key_index: int | None = None) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        if key_index is not None:
            localnet.write_test_key(data_dir / "chain.key", key_index)
        settings = {"enabled": True, **FAST, **chain}
        conf = cfg.load(
            environ={}, cli={"node.data_dir": str(data_dir), **{f"chain.{k}": v for k, v in settings.items()}}
        )
        ident, _ = identity.load_or_create(conf.identity_file)
        self.daemon = Daemon(conf, ident)
        self.chain = ChainSubsystem(self.daemon)
        self.daemon.chain = self.chain
        self.peer_id = ident.peer_id

    async def __aenter__(self) -> ChainSubsystem:
        await self.chain.start()
        return self.chain

    async def __aexit__(self, *exc: object) -> None:
        await self.chain.stop()

    def events(self, change: str | None = None) -> list[pb.ChainEvent]:
        return [
            e.chain for e in self.daemon.events.history
            if e.kind == pb.EVENT_KIND_CHAIN and (change is None or e.chain.change == change)
        ]

    def status(self) -> pb.ChainStatus:
        return self.daemon.status().chain


class OnChain:
    """Reads the deployed contract directly (not through the code under test)."""

    def __init__(self, node: localnet.Anvil, dep: localnet.Deployment) -> None:
        self.w3 = Web3(HTTPProvider(node.url))
        self.c = self.w3.eth.contract(address=dep.address, abi=artifact.load().abi)
        self.deployer = dep.deployer

    def advance_to(self, round_: int, stage: int = 0) -> None:
        f = self.c.functions
        while (f.currentRound().call(), f.currentStage().call()) != (round_, stage):
            self.w3.eth.wait_for_transaction_receipt(f.updateStageAndRound().transact({"from": self.deployer}))

    def rewards(self) -> collections.Counter:
        logs = self.c.events.RewardSubmitted().get_logs(from_block=0)
        return collections.Counter((e["args"]["roundNumber"], e["args"]["stageNumber"], e["args"]["peerId"]) for e in logs)

    def votes(self) -> collections.Counter:
        logs = self.c.events.WinnerSubmitted().get_logs(from_block=0)
        return collections.Counter((e["args"]["roundNumber"], e["args"]["peerId"]) for e in logs)

    def reward(self, round_: int, stage: int, peer: str) -> int:
        return self.c.functions.getPeerRoundStageReward(round_, stage, [peer]).call()[0]


def _deploy(node: localnet.Anvil, tmp_path: Path, **kw: Any) -> tuple[localnet.Deployment, Path]:
    dep = localnet.deploy(node.url, **kw)
    path = tmp_path / "deployment.json"
    dep.write(path)
    return dep, path


# -- register, submit, advance, read ---------------------------------------------------------------


@run
async def test_two_nodes_register_submit_and_advance_over_several_rounds(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    manager = localnet.test_account(1).address
    dep, dep_file = _deploy(chain_node, tmp_path, stage_count=2, stage_managers=[manager],
                            bootnodes=["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBoot"])
    a = Node(tmp_path / "a", {"deployments_file": str(dep_file), "register_on_start": False}, key_index=1)
    b = Node(tmp_path / "b", {"deployments_file": str(dep_file)}, key_index=2)
    chain = OnChain(chain_node, dep)
    async with a as ca, b as cb:
        await until(lambda: ca.state == "ok" and cb.registered, what="both connected, b registered")
        assert not ca.registered
        first = await ca.register()
        assert (first.peer_id, first.address, first.already_registered) == (a.peer_id, manager, False)
        assert first.tx_hash.startswith("0x")
        again = await ca.register()  # registering twice is success
        assert again.already_registered and not again.tx_hash
        assert [e.change for e in a.events("registered")] == ["registered", "registered"]

        assert ca.is_stage_manager and not cb.is_stage_manager
        assert await ca.read_round() == (0, 0, 2)
        assert await cb.bootnodes() == ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBoot"]
        with pytest.raises(Refused, match="does not hold STAGE_MANAGER_ROLE"):
            await cb.advance()

        local: dict[str, list[int]] = {a.peer_id: [0, 0], b.peer_id: [0, 0]}  # reward, wins
        for round_ in range(3):
            for stage in range(2):
                for i, (node, sub) in enumerate(((a, ca), (b, cb))):
                    reward = 100 * round_ + 10 * stage - 7 * i
                    winners = [a.peer_id] if stage == 1 else []
                    assert sub.queue_results(round_, stage, reward, winners) == (2 if winners else 1)
                    assert sub.queue_results(round_, stage, reward, winners) == 0  # queued once only
                    local[node.peer_id][0] += reward
                    if winners:
                        local[a.peer_id][1] += 1
                assert await ca.advance() == ((round_, 1) if stage == 0 else (round_ + 1, 0))
        await until(lambda: ca.pending_count() == 0 and cb.pending_count() == 0, what="queues drained")

        totals = await cb.totals([a.peer_id, b.peer_id])
        assert totals == {p: tuple(v) for p, v in local.items()}
        assert await ca.read_round() == (3, 0, 2)
        assert chain.rewards() == collections.Counter({(r, s, p): 1 for r in range(3) for s in range(2) for p in local})
        assert chain.votes() == collections.Counter({(r, p): 1 for r in range(3) for p in local})
        status = a.status()
        assert (status.state, status.registered, status.submitted, status.pending_submissions) == ("ok", True, 9, 0)
        assert status.stage_manager and (status.round, status.stage, status.stage_count) == (3, 0, 2)
        assert status.address == manager and int(status.balance_wei) > 0 and status.chain_id == 31337
        assert len(a.events("confirmed")) == 9
        assert {(e.round, e.stage) for e in a.events("round")} >= {(1, 0), (2, 1), (3, 0)}


@run
async def test_future_rounds_wait_and_a_refusal_is_recorded_with_its_decoded_reason(
    chain_node: localnet.Anvil, tmp_path: Path
) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path, stage_count=2, submission_window=1)
    n = Node(tmp_path / "n", {"deployments_file": str(dep_file)}, key_index=3)
    manager = Node(tmp_path / "m", {"deployments_file": str(dep_file)}, key_index=0)  # the stage manager
    failed_before = m.SUBMISSIONS_FAILED.labels("reward")._value.get()
    async with n as c, manager as mc:
        await until(lambda: c.registered, what="registered")
        c.queue_results(1, 0, 5, [])  # round 1 has not begun: it waits, it is not dropped
        c.queue_results(0, 1, 5, [])  # neither has stage 1 of the current round
        c.queue_results(0, 0, 5, [])  # fine
        await until(lambda: n.status().submitted == 1, what="the current stage landed")
        events = await until(lambda: [e for e in n.events("retrying") if "has not reached it yet" in e.error],
                             what="the wait is said")
        assert events and n.status().pending_submissions == 2 and n.status().failed_submissions == 0
        await mc.advance()  # round 0 stage 1
        await until(lambda: n.status().submitted == 2, what="stage 1 landed once the chain reached it")
        await mc.advance()  # round 1 stage 0
        await until(lambda: c.pending_count() == 0, what="queue drained")
        for _ in range(4):  # round 3: round 1 is now outside the submission window of 1
            await mc.advance()
        c.queue_results(1, 1, 7, [])  # too late: refused for good, with the contract's reason
        await until(lambda: n.status().failed_submissions == 1, what="the late reward failed")
        status = n.status()
        assert status.submitted == 3 and status.pending_submissions == 0
        assert list(status.recent_failures) == [
            "reward 7 for round 1 stage 1 failed: RoundTooOld(roundNumber=1, currentRound=3, window=1)"
        ]
        assert status.last_error == status.recent_failures[-1]
        failed = n.events("failed")
        assert [(e.round, e.stage, e.error) for e in failed] == [
            (1, 1, "RoundTooOld(roundNumber=1, currentRound=3, window=1)")
        ]
        assert m.SUBMISSIONS_FAILED.labels("reward")._value.get() - failed_before == 1
        assert [p.name.split("-")[1] for p in (tmp_path / "n" / "queue" / "failed").iterdir()] == ["1"]
        with pytest.raises(ValueError, match="duplicate peer IDs"):
            c.queue_results(0, 0, 1, [n.peer_id, n.peer_id])
        with pytest.raises(ValueError, match="not below the contract's stage count 2"):
            c.queue_results(0, 2, 1, [])


# -- outages and restarts: exactly once ------------------------------------------------------------


@run
async def test_an_outage_and_a_restart_lose_nothing_and_send_nothing_twice(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path)
    chain = OnChain(chain_node, dep)
    data = tmp_path / "n"
    n = Node(data, {"deployments_file": str(dep_file)}, key_index=1)
    expected: dict[tuple[int, int, str], int] = {}
    async with n as c:
        await until(lambda: c.registered, what="registered")
        await asyncio.to_thread(chain.advance_to, 5)
        c.queue_results(0, 0, 11, [n.peer_id])
        expected[(0, 0, n.peer_id)] = 11
        await until(lambda: c.pending_count() == 0, what="round 0 on chain")

        chain_node.stop()  # SIGTERM: anvil writes its state file
        await until(lambda: c.state == "unreachable", what="state unreachable")
        for round_ in (1, 2, 3):  # three rounds of results while the chain is away
            assert c.queue_results(round_, 0, 10 + round_, [n.peer_id]) == 2
            expected[(round_, 0, n.peer_id)] = 10 + round_
        with pytest.raises(ChainUnavailable):
            await c.read_round()
        assert c.pending_count() == 6
        assert n.status().state == "unreachable" and "cannot connect" in n.status().last_error
        assert any(e.change == "retrying" for e in n.events())

        chain_node.start()  # back, with the state it had
        await until(lambda: c.pending_count() == 0, what="queued submissions landed after the outage")
        assert c.state == "ok"

        chain_node.stop()  # down again; these stay queued across a restart of the node
        await until(lambda: c.state == "unreachable", what="state unreachable again")
        for round_ in (4, 5):
            c.queue_results(round_, 0, 20 + round_, [n.peer_id])
            expected[(round_, 0, n.peer_id)] = 20 + round_
    assert len(SubmissionQueue(data / "queue").pending()) == 4

    chain_node.start()
    n2 = Node(data, {"deployments_file": str(dep_file)})
    assert n2.peer_id == n.peer_id
    async with n2 as c2:
        assert c2.pending_count() == 4
        await until(lambda: c2.pending_count() == 0, what="queued submissions landed after the restart")
        assert n2.status().submitted == 4

    assert chain.rewards() == collections.Counter({k: 1 for k in expected})
    assert chain.votes() == collections.Counter({(r, n.peer_id): 1 for r in range(6)})
    for (round_, stage, peer), reward in expected.items():
        assert chain.reward(round_, stage, peer) == reward
    totals = chain.c.functions.getTotalRewards([n.peer_id]).call()
    assert totals == [sum(expected.values())]
    assert chain.c.functions.getTotalWins(n.peer_id).call() == 6


@run
async def test_a_rollback_is_reported_and_lost_records_are_resubmitted_once(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    """evm_revert takes the chain back to a snapshot: what was mined after it is gone."""
    dep, dep_file = _deploy(chain_node, tmp_path)
    chain = OnChain(chain_node, dep)
    n = Node(tmp_path / "n", {"deployments_file": str(dep_file), "reconcile_interval_s": 0.5, "confirmations": 20},
             key_index=1)
    async with n as c:
        await until(lambda: c.registered, what="registered")
        c.queue_results(0, 0, 5, [n.peer_id])
        await until(lambda: c.pending_count() == 0, what="round 0 on chain")
        snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
        await asyncio.to_thread(chain.advance_to, 2)
        for round_ in (1, 2):
            c.queue_results(round_, 0, 5 + round_, [n.peer_id])
        await until(lambda: c.pending_count() == 0 and c.queue.confirmed_count == 6, what="rounds 1-2 on chain")
        chain.w3.provider.make_request("evm_revert", [snapshot])  # rounds 1-2 and their records are gone
        back = chain.w3.eth.block_number
        await until(lambda: c.rollbacks == 1, what="the rollback noticed")
        assert re.match(rf"head block \d+ -> {back} at ", n.status().last_rollback), n.status().last_rollback
        assert [e.change for e in n.events("rollback")] == ["rollback"]
        # The coordinator moves the contract on again; the lost records follow.
        await asyncio.to_thread(chain.advance_to, 2)
        await until(lambda: c.pending_count() == 0 and chain.rewards().total() == 3, what="lost records again on chain")
        assert {(e.round, e.stage) for e in n.events("resubmitting")} == {(1, 0), (2, 0)}
        assert c.reconciler.resubmitted == 4
        # Enough blocks later everything is final and forgotten locally.
        chain.w3.provider.make_request("anvil_mine", [hex(21)])
        await until(lambda: c.queue.confirmed_count == 0, what="records final")
        assert n.status().unfinal_submissions == 0 and n.status().rollbacks == 1
    assert chain.rewards() == collections.Counter({(r, 0, n.peer_id): 1 for r in range(3)})
    assert chain.votes() == collections.Counter({(r, n.peer_id): 1 for r in range(3)})
    assert [chain.reward(r, 0, n.peer_id) for r in range(3)] == [5, 6, 7]


@run
async def test_a_transaction_broadcast_before_a_crash_is_not_sent_again(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    """The queue file names the last signed transaction; the restarted sender asks the chain about it."""
    dep, dep_file = _deploy(chain_node, tmp_path)
    chain = OnChain(chain_node, dep)
    data = tmp_path / "n"
    n = Node(data, {"deployments_file": str(dep_file)}, key_index=4)
    async with n as c:
        await until(lambda: c.registered, what="registered")
    chain.advance_to(2)
    account = Account.from_key(localnet.test_account_keys()[4])
    client = ChainClient(chain_node.url, dep.address, account)
    queue = SubmissionQueue(data / "queue")

    def crashed_after(round_: int, broadcast: bool) -> Submission:
        """What a sender leaves behind when it dies after recording (and maybe sending) a transaction."""
        sub = Submission("reward", round_, 0, n.peer_id, reward=round_ * 3)
        prepared = client.prepare("reward", "submitReward", sub.round, sub.stage, sub.reward, sub.peer_id)
        queue.add(sub)
        sub = queue.update(sub, tx_hash=prepared.tx_hash, attempts=1)
        if broadcast:
            client.send(prepared)
        return sub

    crashed_after(0, broadcast=True)  # mined while the node was down
    chain.w3.provider.make_request("evm_setAutomine", [False])
    pending = crashed_after(1, broadcast=True)  # still pending in the node's pool
    sent_before = m.SUBMISSIONS_SENT.labels("reward")._value.get()
    n2 = Node(data, {"deployments_file": str(dep_file)})
    async with n2 as c2:
        await until(lambda: c2.pending_count() == 1, what="round 0 confirmed from the chain")
        await until(lambda: c2.sender.waiting_for == pending.tx_hash, what="the sender waits for the pending one")
        chain.w3.provider.make_request("evm_mine", [])
        await until(lambda: c2.pending_count() == 0, what="round 1 confirmed once mined")
        assert n2.status().submitted == 2
    assert m.SUBMISSIONS_SENT.labels("reward")._value.get() == sent_before  # nothing was sent again

    chain.w3.provider.make_request("evm_setAutomine", [True])
    crashed_after(2, broadcast=False)  # signed and recorded, never sent
    n3 = Node(data, {"deployments_file": str(dep_file)})
    async with n3 as c3:
        await until(lambda: c3.pending_count() == 0, what="round 2 sent after the restart")
    assert m.SUBMISSIONS_SENT.labels("reward")._value.get() == sent_before + 1
    assert chain.rewards() == collections.Counter({(r, 0, n.peer_id): 1 for r in range(3)})


@run
async def test_batching_holds_results_until_n_rounds_are_queued(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path)
    chain = OnChain(chain_node, dep)
    n = Node(tmp_path / "n", {"deployments_file": str(dep_file), "submit_every_n_rounds": 3}, key_index=1)
    async with n as c:
        await until(lambda: c.registered, what="registered")
        await asyncio.to_thread(chain.advance_to, 2)
        await until(lambda: c.round_state == (2, 0), what="round read")
        c.queue_results(0, 0, 1, [])
        c.queue_results(1, 0, 2, [])
        passes = c.sender.passes
        await until(lambda: c.sender.passes >= passes + 2, what="two sender passes")
        assert c.pending_count() == 2 and not chain.rewards()
        c.queue_results(2, 0, 3, [])
        await until(lambda: c.pending_count() == 0, what="the batch sent")
    assert chain.rewards() == collections.Counter({(r, 0, n.peer_id): 1 for r in range(3)})


# -- errors at start ---------------------------------------------------------------------------------


@run
async def test_wrong_chain_id_stops_the_client_with_a_named_error(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, _ = _deploy(chain_node, tmp_path)
    n = Node(tmp_path / "n", {"rpc_url": chain_node.url, "contract": dep.address, "chain_id": 1}, key_index=1)
    async with n as c:
        await until(lambda: c.state == "error", what="state error")
        expected = f"chain ID mismatch: {chain_node.url} is chain 31337, but chain.chain_id expects 1"
        assert n.status().last_error == expected
        assert [(e.change, e.error) for e in n.events()] == [("failed", expected)]
        with pytest.raises(NotAvailable, match="chain ID mismatch"):
            await c.read_round()
        with pytest.raises(NotAvailable, match="chain ID mismatch"):
            await c.register()
        assert c.queue_results(0, 0, 1, []) == 1  # results stay queued for a fixed configuration


@run
async def test_no_contract_at_the_address_is_a_named_error(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    n = Node(tmp_path / "n", {"rpc_url": chain_node.url, "contract": "0x" + "42" * 20}, key_index=1)
    async with n as c:
        await until(lambda: c.state == "error", what="state error")
        assert n.status().last_error.startswith(f"no contract at 0x{'42' * 20} on chain 31337")


@run
async def test_an_unreachable_rpc_at_start_is_retried_until_it_answers(tmp_path: Path) -> None:
    port = localnet.free_port()
    url = f"http://127.0.0.1:{port}"
    first_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # account 0's first deployment
    n = Node(tmp_path / "n", {"rpc_url": url, "contract": first_address, "chain_id": 31337}, key_index=1)
    async with n as c:
        await until(lambda: c.state == "unreachable", what="state unreachable")
        status = n.status()
        assert status.last_error == "eth_chainId: cannot connect to the RPC endpoint"
        assert status.rpc_url == url and not status.registered
        assert n.events("retrying")[0].error == status.last_error
        with pytest.raises(ChainUnavailable):
            await c.read_round()
        c.queue_results(0, 0, 9, [])
        late = localnet.Anvil(port=port, log_file=tmp_path / "anvil.log").start()
        try:
            assert localnet.deploy(url).address == first_address
            await until(lambda: c.registered and c.pending_count() == 0, timeout=90, what="registered and sent")
            assert c.state == "ok" and n.status().last_error == ""
        finally:
            late.stop()


@run
async def test_an_unfunded_account_says_so_and_keeps_its_submissions(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path)
    poor = Account.create()
    data = tmp_path / "n"
    data.mkdir()
    write_key_file(data / "chain.key", bytes(poor.key))
    n = Node(data, {"deployments_file": str(dep_file)})
    async with n as c:
        c.queue_results(0, 0, 3, [])
        message = f"account {poor.address} has no funds to pay gas"
        await until(lambda: n.status().last_error == message, what="unfunded error")
        status = n.status()
        assert (status.state, status.balance_wei, status.pending_submissions) == ("error", "0", 1)
        assert any(e.change == "retrying" and e.error == message for e in n.events())
        localnet.set_balance(chain_node.url, poor.address, 10**18)
        await until(lambda: c.registered and c.pending_count() == 0, what="funded, registered and sent")
        assert n.status().state == "ok"
    assert OnChain(chain_node, dep).reward(0, 0, n.peer_id) == 3


@run
async def test_a_peer_id_registered_to_another_account_is_reported(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path)
    data = tmp_path / "n"
    n = Node(data, {"deployments_file": str(dep_file), "register_on_start": False}, key_index=1)
    chain = OnChain(chain_node, dep)
    other = localnet.test_account(2).address
    # The key's holder registered it to another of its accounts (with a valid proof).
    proof = n.daemon.identity.sign(registration_message(chain.w3.eth.chain_id, dep.address, other))
    chain.w3.eth.wait_for_transaction_receipt(chain.c.functions.registerPeer(n.peer_id, proof).transact({"from": other}))
    async with n as c:
        await until(lambda: c.state == "error", what="state error")
        assert n.status().last_error.startswith(f"peer ID {n.peer_id} is registered to {other}")
        with pytest.raises(Refused, match=f"registered to {other}"):
            await c.register()


@run
async def test_a_peer_id_squatted_on_the_old_contract_is_reported_naming_the_account(
    chain_node: localnet.Anvil, tmp_path: Path
) -> None:
    """The previous contract (registerPeer without proof, kept as test data) let anyone take an ID."""
    old = json.loads((Path(__file__).parent / "data" / "SwarmCoordinator-v1.json").read_text())
    w3 = Web3(HTTPProvider(chain_node.url))
    owner = localnet.test_account(0).address
    factory = w3.eth.contract(abi=old["abi"], bytecode=old["bytecode"])
    address = w3.eth.wait_for_transaction_receipt(factory.constructor(owner, 1, 10).transact({"from": owner}))[
        "contractAddress"
    ]
    n = Node(tmp_path / "n", {"contract": address, "rpc_url": chain_node.url}, key_index=1)
    squatter = localnet.test_account(3).address
    old_contract = w3.eth.contract(address=address, abi=old["abi"])
    w3.eth.wait_for_transaction_receipt(old_contract.functions.registerPeer(n.peer_id).transact({"from": squatter}))
    async with n as c:
        await until(lambda: c.state == "error", what="state error")
        assert squatter in n.status().last_error and n.peer_id in n.status().last_error
        assert not n.status().registered
        with pytest.raises(Refused, match=f"registered to {squatter}"):
            await c.register()


def test_deployment_file_round_trip(tmp_path: Path) -> None:
    dep = localnet.Deployment("http://127.0.0.1:1", 31337, "0x" + "1" * 40, "0x" + "2" * 40, 1, 1, 1000)
    dep.write(tmp_path / "d.json")
    assert localnet.Deployment.read(tmp_path / "d.json") == dep
    assert set(json.loads((tmp_path / "d.json").read_text())) >= {"rpc_url", "chain_id", "address", "deployer", "block"}


@run
async def test_a_keystore_with_a_password_file_signs(chain_node: localnet.Anvil, tmp_path: Path) -> None:
    dep, dep_file = _deploy(chain_node, tmp_path)
    account = localnet.test_account(5)
    keystore, password = tmp_path / "ks.json", tmp_path / "pw"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "correct horse", iterations=1024)))
    password.write_text("correct horse\n")
    keystore.chmod(0o600)
    password.chmod(0o600)
    n = Node(tmp_path / "n", {"deployments_file": str(dep_file), "keystore_file": str(keystore),
                              "password_file": str(password)})
    async with n as c:
        await until(lambda: c.registered, what="registered with the keystore's account")
        assert n.status().address == account.address
    password.write_text("wrong")
    n2 = Node(tmp_path / "n2", {"deployments_file": str(dep_file), "keystore_file": str(keystore),
                                "password_file": str(password)})
    async with n2 as c2:
        await until(lambda: c2.state == "error", what="state error")
        assert n2.status().last_error == f"cannot decrypt keystore file {keystore} with the password in {password}"
