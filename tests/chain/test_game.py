"""The swarm game on chain: two training daemons register, the coordinator (the contract's stage
manager) moves rounds on chain, both submit rewards and winners every round; a chain outage of
several rounds never stops training; a chain that restarts from an older state (anvil SIGKILLed,
its --state file rolled back) is detected and every lost record is submitted again; afterwards
every local record is on chain exactly once (events and getters)."""

from __future__ import annotations

import collections
import json
import shutil
import time
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.chain import artifact, localnet
from swarmd.swarm.selection import scaled_reward
from tests.support.daemons import DaemonProcess
from tests.support.poll import wait_until
from tests.swarm.conftest import Swarm

pytestmark = [pytest.mark.process, pytest.mark.chain, pytest.mark.slow]


def played(d: DaemonProcess) -> list[dict]:
    path = d.data_dir / "swarm" / "state.json"
    return [h for h in json.loads(path.read_text())["history"] if h.get("own_reward") is not None] if path.exists() else []


def pending(d: DaemonProcess) -> int:
    return d.status().chain.pending_submissions


def on_chain(contract, records: list[dict], peer: str) -> bool:
    """Every given round record has its reward and vote on chain."""
    for h in records:
        if not contract.functions.hasSubmittedRoundStageReward(h["round"], h["stage"], peer).call():
            return False
        if h["winners"] and not contract.functions.hasSubmittedWinners(h["round"], peer).call():
            return False
    return True


@pytest.mark.timeout(1500)  # two trainers start and play about ten rounds; slow on a loaded machine
def test_rounds_on_chain_survive_an_outage_and_a_rollback_and_match_local_records(short_tmp: Path) -> None:
    state_file = short_tmp / "anvil-state.json"
    # The state is dumped every second, so the copy taken below is a known older state.
    anvil = localnet.Anvil(state_file=state_file, log_file=short_tmp / "anvil.log", state_interval=1).start()
    swarm = Swarm(short_tmp)
    try:
        dep = localnet.deploy(anvil.url, stage_count=1)
        dep_file = short_tmp / "deployment.json"
        dep.write(dep_file)
        lead = swarm.identity("n0")

        def chain(i: int) -> dict:
            key = short_tmp / f"key{i}.hex"
            localnet.write_test_key(key, i)  # account 0 deployed the contract: stage manager
            return {"chain": {"enabled": True, "deployments_file": str(dep_file), "key_file": str(key),
                              "poll_interval_s": 0.5, "retry_initial_s": 0.2, "retry_max_s": 1.0,
                              "reconcile_interval_s": 1.0, "confirmations": 1000}}

        # Rounds no shorter than 6 s: the senders keep up with them even on a loaded machine.
        n0 = swarm.add("n0", 0, [lead], start_min_peers=2, min_stage_s=6.0, sections=chain(0))
        n1 = swarm.add("n1", 1, [lead], sections=chain(1))
        nodes = [n0, n1]
        wait_until(lambda: all(d.status().chain.registered for d in nodes), 60, what="both registered")
        wait_until(lambda: all(len(played(d)) >= 2 for d in nodes), 300, interval=1.0, what="2 rounds")

        # The chain goes away for several rounds: training goes on, submissions wait.
        anvil.stop()
        before = {d.name: len(played(d)) for d in nodes}
        wait_until(lambda: all(len(played(d)) >= before[d.name] + 2 for d in nodes), 300, interval=1.0,
                   what="2 rounds without the chain")
        assert all(pending(d) > 0 for d in nodes)
        assert all(d.status().chain.state == "unreachable" for d in nodes)

        anvil = localnet.Anvil(port=anvil.port, state_file=state_file, log_file=short_tmp / "anvil2.log",
                               state_interval=1).start()
        wait_until(lambda: all(len(played(d)) >= before[d.name] + 4 for d in nodes), 300, interval=1.0,
                   what="rounds after the chain returned")
        w3 = Web3(HTTPProvider(anvil.url))
        contract = w3.eth.contract(address=dep.address, abi=artifact.load().abi)
        ids = {d.name: d.status().peer_id for d in nodes}

        # Rollback: keep a dump of the chain as it is now, play on, then SIGKILL anvil and
        # restart it from that older dump. Everything mined in between is gone.
        dumped = time.time()
        wait_until(lambda: state_file.stat().st_mtime > dumped + 1, 30, what="a fresh state dump")
        old_state = short_tmp / "older-state.json"

        def copied() -> bool:  # a whole dump, not one caught while anvil writes it
            shutil.copy(state_file, old_state)
            try:
                return bool(json.loads(old_state.read_text()))
            except ValueError:
                return False

        wait_until(copied, 30, what="a complete copy of the state dump")
        before = {d.name: len(played(d)) for d in nodes}
        wait_until(lambda: all(len(played(d)) >= before[d.name] + 2 for d in nodes), 300, interval=1.0,
                   what="2 more rounds")

        # Stop n0 (the coordinator) while it may hold queued submissions; rounds stop.
        assert n0.stop(timeout=90) == 0
        try:
            wait_until(lambda: pending(n1) == 0, 120, interval=0.5, what="n1's queue drained")
        except TimeoutError:
            print(n1.status().chain)
            print("\n".join(line for line in n1.log().splitlines() if "chain" in line)[-6000:])
            raise
        # Restart it without advancing rounds: whatever it had queued is sent after the restart.
        n0.config_tree["swarm"]["auto_advance"] = False
        n0.start(timeout=120)
        wait_until(lambda: pending(n0) == 0 and n0.status().chain.state == "ok", 120, interval=0.5,
                   what="n0's queue drained after restart")
        records = {d.name: played(d) for d in nodes}  # final: no more rounds are played
        assert all(on_chain(contract, records[d.name], ids[d.name]) for d in nodes)

        # Everything since the older dump is on chain; now the chain loses it.
        lost_from = w3.eth.block_number
        rollbacks = {d.name: d.status().chain.rollbacks for d in nodes}  # the SIGTERM above may have been one
        anvil.kill()
        shutil.copy(old_state, state_file)
        anvil = localnet.Anvil(port=anvil.port, state_file=state_file, log_file=short_tmp / "anvil3.log",
                               state_interval=1).start()
        restarted = time.monotonic()
        back_to = w3.eth.block_number
        assert back_to < lost_from
        assert not all(on_chain(contract, records[d.name], ids[d.name]) for d in nodes)  # records were lost
        wait_until(lambda: all(d.status().chain.rollbacks > rollbacks[d.name] for d in nodes), 60, interval=0.5,
                   what="both daemons reported the rollback")
        try:
            wait_until(lambda: all(on_chain(contract, records[d.name], ids[d.name]) for d in nodes)
                       and all(pending(d) == 0 for d in nodes), 300, interval=1.0,
                       what="every local record on chain again")
        except TimeoutError:
            for d in nodes:
                print(d.name, d.status().chain)
            raise
        print(f"rollback: head {lost_from} -> {back_to}; the records of {sum(len(r) for r in records.values())} "
              f"rounds (both nodes) on chain again {time.monotonic() - restarted:.1f}s after the restart")
        for d in nodes:
            assert d.log().count("the chain went back (head block") > rollbacks[d.name]
            assert d.status().chain.last_rollback.startswith("head block")

        events = contract.events.RewardSubmitted().get_logs(from_block=0)
        per_key = collections.Counter((e.args.roundNumber, e.args.stageNumber, e.args.peerId) for e in events)
        assert all(c == 1 for c in per_key.values()), per_key
        votes_expected: collections.Counter[str] = collections.Counter()
        for d in nodes:
            peer = ids[d.name]
            records = played(d)
            assert len(records) >= 7
            total = 0
            for h in records:
                reward = scaled_reward(h["own_reward"], 1000)
                total += reward
                assert per_key[(h["round"], h["stage"], peer)] == 1, (d.name, h["round"])  # landed, once
                recorded = contract.functions.getPeerRoundStageReward(h["round"], h["stage"], [peer]).call()
                assert recorded == [reward], (d.name, h["round"], recorded, reward)
                votes = contract.functions.getVoterVotes(h["round"], peer).call()
                assert votes == h["winners"], (d.name, h["round"], votes, h["winners"])
                votes_expected.update(h["winners"])
            assert contract.functions.getTotalRewards([peer]).call() == [total]
            # nothing on chain for this peer that the node did not record
            assert sum(1 for (_, _, p) in per_key if p == peer) == len(records)
        for peer in ids.values():
            assert contract.functions.getTotalWins(peer).call() == votes_expected[peer]
        for d in nodes:
            assert "Traceback" not in d.log()
    finally:
        swarm.stop_all()
        anvil.stop()


def test_nodes_find_each_other_through_the_contracts_bootnode_list(short_tmp: Path) -> None:
    anvil = localnet.Anvil(log_file=short_tmp / "anvil.log").start()
    swarm = Swarm(short_tmp)
    try:
        boot = swarm.add("n0", 0, [swarm.identity("n0")], sections={"trainer": {"enabled": False}})
        addr = swarm.addrs_of("n0")
        dep = localnet.deploy(anvil.url, stage_count=1, bootnodes=addr)
        dep_file = short_tmp / "deployment.json"
        dep.write(dep_file)
        key = short_tmp / "key1.hex"
        localnet.write_test_key(key, 1)
        # no bootnodes configured: only the contract knows where the swarm is
        n1 = swarm.add("n1", 1, [swarm.identity("n0")], bootnodes=[], sections={
            "trainer": {"enabled": False},
            "chain": {"enabled": True, "deployments_file": str(dep_file), "key_file": str(key), "poll_interval_s": 0.5},
        })
        boot_id = boot.status().peer_id
        wait_until(lambda: boot_id in {p.peer_id for p in n1.call("ListPeers", pb.ListPeersRequest()).peers}, 60,
                   what="n1 connected to the contract's bootnode")
    finally:
        swarm.stop_all()
        anvil.stop()
