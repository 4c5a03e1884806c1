"""SwarmCoordinator against a real anvil: every function, role check, event and custom error.

One deployment per module; each test starts from it (evm_snapshot / evm_revert).
Transactions come from anvil's unlocked test accounts; reverts are decoded from
the custom error's selector and arguments with the same decoder the daemon uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from swarmd.chain import artifact, localnet
from swarmd.chain.errors import contract_decoder

pytestmark = pytest.mark.chain

STAGES = 3
WINDOW = 5
PEER_A, PEER_B, PEER_C = "12D3KooWPeerA", "12D3KooWPeerB", "12D3KooWPeerC"


class Coordinator:
    """A deployed contract, with helpers to send from test account i and to expect reverts."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.c = w3.eth.contract(address=address, abi=artifact.load().abi)
        self.accounts = [localnet.test_account(i).address for i in range(6)]
        self.owner = self.accounts[0]

    def send(self, who: int, function: str, *args: Any):
        fn = getattr(self.c.functions, function)(*args)
        tx_hash = fn.transact({"from": self.accounts[who]})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return receipt

    def call(self, function: str, *args: Any, who: int = 0) -> Any:
        return getattr(self.c.functions, function)(*args).call({"from": self.accounts[who]})

    def reverts(self, who: int, function: str, *args: Any, error: str, **expected: Any) -> None:
        fn = getattr(self.c.functions, function)(*args)
        with pytest.raises(ContractCustomError) as info:
            fn.transact({"from": self.accounts[who]})
        decoded = contract_decoder().decode(info.value.data)
        assert decoded.name == error, str(decoded)
        for key, value in expected.items():
            assert decoded.arg(key) == value, f"{decoded}: {key}"

    def events(self, name: str, receipt) -> list[dict[str, Any]]:
        # Other events of the same transaction are not this one: DISCARD, not a warning.
        return [dict(e["args"]) for e in getattr(self.c.events, name)().process_receipt(receipt, errors=DISCARD)]

    def role(self, name: str) -> bytes:
        return self.call(name)

    def advance_to(self, round_: int, stage: int = 0) -> None:
        while (self.call("currentRound"), self.call("currentStage")) != (round_, stage):
            self.send(0, "updateStageAndRound")


@pytest.fixture(scope="module")
def deployment(chain_module: localnet.Anvil) -> localnet.Deployment:
    return localnet.deploy(chain_module.url, stage_count=STAGES, submission_window=WINDOW)


@pytest.fixture
def contract(chain_module: localnet.Anvil, deployment: localnet.Deployment) -> Iterator[Coordinator]:
    w3 = Web3(HTTPProvider(chain_module.url))
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield Coordinator(w3, deployment.address)
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


# -- construction ----------------------------------------------------------------------------


def test_constructor_grants_every_role_to_the_owner_and_fixes_the_parameters(contract: Coordinator) -> None:
    for role in ("OWNER_ROLE", "STAGE_MANAGER_ROLE", "BOOTNODE_MANAGER_ROLE"):
        assert contract.call("hasRole", contract.role(role), contract.owner)
        assert not contract.call("hasRole", contract.role(role), contract.accounts[1])
    assert contract.call("stageCount") == STAGES
    assert contract.call("submissionWindow") == WINDOW
    assert (contract.call("currentRound"), contract.call("currentStage")) == (0, 0)
    assert contract.call("MAX_WINNERS") == 64
    assert contract.call("MAX_PEER_ID_BYTES") == 128


def test_constructor_emits_role_grants(chain_module: localnet.Anvil) -> None:
    w3 = Web3(HTTPProvider(chain_module.url))
    art = artifact.load()
    owner = localnet.test_account(0).address
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(owner, 2, 0).transact({"from": owner}))
    c = w3.eth.contract(address=receipt["contractAddress"], abi=art.abi)
    granted = [dict(e["args"]) for e in c.events.RoleGranted().process_receipt(receipt, errors=DISCARD)]
    assert [g["role"] for g in granted] == [
        c.functions.OWNER_ROLE().call(), c.functions.STAGE_MANAGER_ROLE().call(), c.functions.BOOTNODE_MANAGER_ROLE().call()
    ]
    assert all(g["account"] == owner and g["sender"] == owner for g in granted)


@pytest.mark.parametrize(
    ("owner", "stages", "error"),
    [("0x" + "0" * 40, 1, "ZeroAddress"), (None, 0, "InvalidStageCount")],
)
def test_constructor_rejects_bad_parameters(chain_module: localnet.Anvil, owner, stages, error) -> None:
    w3 = Web3(HTTPProvider(chain_module.url))
    art = artifact.load()
    sender = localnet.test_account(0).address
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    with pytest.raises(ContractCustomError) as info:
        factory.constructor(owner or sender, stages, 0).transact({"from": sender})
    assert contract_decoder().decode(info.value.data).name == error


# -- roles -------------------------------------------------------------------------------------


def test_owner_grants_and_revokes_roles_with_events(contract: Coordinator) -> None:
    stage_manager = contract.role("STAGE_MANAGER_ROLE")
    user = contract.accounts[1]
    receipt = contract.send(0, "grantRole", stage_manager, user)
    assert contract.events("RoleGranted", receipt) == [{"role": stage_manager, "account": user, "sender": contract.owner}]
    assert contract.call("hasRole", stage_manager, user)
    # Granting again changes nothing and says nothing.
    assert contract.events("RoleGranted", contract.send(0, "grantRole", stage_manager, user)) == []
    receipt = contract.send(0, "revokeRole", stage_manager, user)
    assert contract.events("RoleRevoked", receipt) == [{"role": stage_manager, "account": user, "sender": contract.owner}]
    assert not contract.call("hasRole", stage_manager, user)
    assert contract.events("RoleRevoked", contract.send(0, "revokeRole", stage_manager, user)) == []


def test_only_the_owner_manages_roles(contract: Coordinator) -> None:
    role = contract.role("BOOTNODE_MANAGER_ROLE")
    contract.reverts(1, "grantRole", role, contract.accounts[1], error="OnlyOwner", sender=contract.accounts[1])
    contract.reverts(1, "revokeRole", role, contract.owner, error="OnlyOwner", sender=contract.accounts[1])


def test_unknown_roles_and_zero_addresses_are_refused(contract: Coordinator) -> None:
    bogus = Web3.keccak(text="ADMIN_ROLE")
    contract.reverts(0, "grantRole", bogus, contract.accounts[1], error="UnknownRole", role=bogus)
    contract.reverts(0, "revokeRole", bogus, contract.accounts[1], error="UnknownRole", role=bogus)
    contract.reverts(0, "grantRole", contract.role("OWNER_ROLE"), "0x" + "0" * 40, error="ZeroAddress")


def test_the_last_owner_cannot_be_revoked(contract: Coordinator) -> None:
    owner_role = contract.role("OWNER_ROLE")
    contract.reverts(0, "revokeRole", owner_role, contract.owner, error="LastOwner", account=contract.owner)
    contract.send(0, "grantRole", owner_role, contract.accounts[1])
    contract.send(1, "revokeRole", owner_role, contract.owner)  # a second owner takes over
    assert not contract.call("hasRole", owner_role, contract.owner)
    contract.reverts(1, "revokeRole", owner_role, contract.accounts[1], error="LastOwner")
    contract.reverts(0, "grantRole", owner_role, contract.owner, error="OnlyOwner")


# -- rounds and stages ---------------------------------------------------------------------------


def test_stages_advance_then_the_round_wraps(contract: Coordinator) -> None:
    assert contract.call("updateStageAndRound") == [0, 1]  # what the call would return
    receipt = contract.send(0, "updateStageAndRound")
    assert contract.events("StageAdvanced", receipt) == [{"roundNumber": 0, "newStage": 1}]
    assert contract.events("RoundAdvanced", receipt) == []
    contract.send(0, "updateStageAndRound")
    receipt = contract.send(0, "updateStageAndRound")  # past the last stage (STAGES = 3)
    assert contract.events("RoundAdvanced", receipt) == [{"newRoundNumber": 1}]
    assert contract.events("StageAdvanced", receipt) == [{"roundNumber": 1, "newStage": 0}]
    assert (contract.call("currentRound"), contract.call("currentStage")) == (1, 0)


def test_only_a_stage_manager_advances(contract: Coordinator) -> None:
    contract.reverts(2, "updateStageAndRound", error="OnlyStageManager", sender=contract.accounts[2])
    contract.send(0, "grantRole", contract.role("STAGE_MANAGER_ROLE"), contract.accounts[2])
    contract.send(2, "updateStageAndRound")
    assert contract.call("currentStage") == 1


# -- peers ---------------------------------------------------------------------------------------


def test_an_address_registers_many_peer_ids_with_indexed_events(contract: Coordinator) -> None:
    r1 = contract.send(1, "registerPeer", PEER_A)
    contract.send(1, "registerPeer", PEER_B)
    contract.send(2, "registerPeer", PEER_C)
    assert contract.events("PeerRegistered", r1) == [
        {"eoa": contract.accounts[1], "peerIdHash": Web3.keccak(text=PEER_A), "index": 0, "peerId": PEER_A}
    ]
    assert contract.call("getPeerId", [contract.accounts[1], contract.accounts[2], contract.accounts[3]]) == [
        [PEER_A, PEER_B], [PEER_C], []
    ]
    assert contract.call("getEoa", [PEER_C, PEER_A, "nobody"]) == [
        contract.accounts[2], contract.accounts[1], "0x" + "0" * 40
    ]
    # The events are filterable by peer (indexed keccak256 of the ID) and by address.
    by_peer = contract.c.events.PeerRegistered().get_logs(
        from_block=0, argument_filters={"peerIdHash": Web3.keccak(text=PEER_C)}
    )
    assert [e["args"]["eoa"] for e in by_peer] == [contract.accounts[2]]
    by_eoa = contract.c.events.PeerRegistered().get_logs(from_block=0, argument_filters={"eoa": contract.accounts[1]})
    assert [e["args"]["peerId"] for e in by_eoa] == [PEER_A, PEER_B]


def test_a_peer_id_never_moves(contract: Coordinator) -> None:
    contract.send(1, "registerPeer", PEER_A)
    contract.reverts(2, "registerPeer", PEER_A, error="PeerIdAlreadyRegistered", peerId=PEER_A, owner=contract.accounts[1])
    contract.reverts(1, "registerPeer", PEER_A, error="PeerIdAlreadyRegistered", owner=contract.accounts[1])
    assert contract.call("getEoa", [PEER_A]) == [contract.accounts[1]]


def test_peer_ids_must_be_1_to_128_bytes(contract: Coordinator) -> None:
    contract.reverts(1, "registerPeer", "", error="InvalidPeerId", peerId="")
    contract.reverts(1, "registerPeer", "x" * 129, error="InvalidPeerId")
    contract.send(1, "registerPeer", "x" * 128)


def test_the_peer_list_is_enumerable(contract: Coordinator) -> None:
    for i, peer in enumerate((PEER_A, PEER_B, PEER_C)):
        contract.send(1 + i, "registerPeer", peer)
    assert contract.call("peerCount") == 3
    assert contract.call("getPeers", 0, 10) == [[PEER_A, PEER_B, PEER_C], contract.accounts[1:4]]
    assert contract.call("getPeers", 1, 1) == [[PEER_B], [contract.accounts[2]]]
    assert contract.call("getPeers", 3, 5) == [[], []]
    assert contract.call("getPeers", 99, 2**256 - 1) == [[], []]
    assert contract.call("getPeers", 2, 2**256 - 1) == [[PEER_C], [contract.accounts[3]]]


# -- bootnodes -----------------------------------------------------------------------------------


def test_bootnode_list_management(contract: Coordinator) -> None:
    addrs = ["/ip4/127.0.0.1/tcp/4001/p2p/A", "/ip4/127.0.0.1/tcp/4002/p2p/B", "/ip4/127.0.0.1/tcp/4003/p2p/C"]
    receipt = contract.send(0, "addBootnodes", addrs)
    assert contract.events("BootnodesAdded", receipt) == [{"manager": contract.owner, "count": 3}]
    assert contract.call("getBootnodes") == addrs
    assert contract.call("getBootnodesCount") == 3
    receipt = contract.send(0, "removeBootnode", 0)  # the last entry takes its place
    assert contract.events("BootnodeRemoved", receipt) == [{"manager": contract.owner, "index": 0}]
    assert contract.call("getBootnodes") == [addrs[2], addrs[1]]
    contract.send(0, "removeBootnode", 1)
    assert contract.call("getBootnodes") == [addrs[2]]
    contract.reverts(0, "removeBootnode", 1, error="InvalidBootnodeIndex", index=1, count=1)
    receipt = contract.send(0, "clearBootnodes")
    assert contract.events("AllBootnodesCleared", receipt) == [{"manager": contract.owner}]
    assert contract.call("getBootnodesCount") == 0


def test_only_a_bootnode_manager_changes_the_list(contract: Coordinator) -> None:
    sender = contract.accounts[3]
    contract.reverts(3, "addBootnodes", ["/ip4/127.0.0.1/tcp/1"], error="OnlyBootnodeManager", sender=sender)
    contract.reverts(3, "removeBootnode", 0, error="OnlyBootnodeManager", sender=sender)
    contract.reverts(3, "clearBootnodes", error="OnlyBootnodeManager", sender=sender)
    contract.send(0, "grantRole", contract.role("BOOTNODE_MANAGER_ROLE"), sender)
    contract.send(3, "addBootnodes", ["/ip4/127.0.0.1/tcp/1"])
    assert contract.call("getBootnodesCount") == 1


# -- winners -------------------------------------------------------------------------------------


def _register(contract: Coordinator) -> None:
    contract.send(1, "registerPeer", PEER_A)
    contract.send(2, "registerPeer", PEER_B)


def test_votes_are_recorded_counted_and_announced(contract: Coordinator) -> None:
    _register(contract)
    receipt = contract.send(1, "submitWinners", 0, [PEER_B, PEER_C], PEER_A)
    assert contract.events("WinnerSubmitted", receipt) == [
        {
            "account": contract.accounts[1], "roundNumber": 0, "voterHash": Web3.keccak(text=PEER_A),
            "peerId": PEER_A, "winners": [PEER_B, PEER_C],
        }
    ]
    contract.send(2, "submitWinners", 0, [PEER_B], PEER_B)
    contract.advance_to(1)
    contract.send(1, "submitWinners", 1, [PEER_A], PEER_A)
    assert contract.call("getVoterVotes", 0, PEER_A) == [PEER_B, PEER_C]
    assert contract.call("getVoterVotes", 1, PEER_B) == []
    assert contract.call("getVoterVoteCount", PEER_A) == 2
    assert contract.call("getVoterVoteCount", PEER_B) == 1
    assert contract.call("getTotalWins", PEER_B) == 2
    assert contract.call("getTotalWinsBatch", [PEER_A, PEER_B, PEER_C, "nobody"]) == [1, 2, 1, 0]
    assert contract.call("uniqueVoters") == 2
    assert contract.call("uniqueVotedPeers") == 3
    assert contract.call("hasSubmittedWinners", 0, PEER_A)
    assert not contract.call("hasSubmittedWinners", 1, PEER_B)
    # An empty vote is a vote: it records that the voter took part.
    contract.send(2, "submitWinners", 1, [], PEER_B)
    assert contract.call("hasSubmittedWinners", 1, PEER_B)


def test_a_voter_votes_once_per_round(contract: Coordinator) -> None:
    _register(contract)
    contract.send(1, "submitWinners", 0, [PEER_B], PEER_A)
    contract.reverts(1, "submitWinners", 0, [PEER_C], PEER_A, error="WinnerAlreadyVoted", roundNumber=0, peerId=PEER_A)


def test_votes_name_each_winner_once(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(1, "submitWinners", 0, [PEER_B, PEER_C, PEER_B], PEER_A, error="InvalidVote", index=2, winner=PEER_B)
    contract.reverts(1, "submitWinners", 0, [PEER_B, ""], PEER_A, error="InvalidVote", index=1, winner="")
    contract.reverts(1, "submitWinners", 0, [f"p{i}" for i in range(65)], PEER_A, error="TooManyWinners", count=65, max=64)
    contract.send(1, "submitWinners", 0, [f"p{i}" for i in range(64)], PEER_A)


def test_only_the_owner_of_a_peer_id_votes_with_it(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(
        2, "submitWinners", 0, [PEER_B], PEER_A,
        error="InvalidVoterPeerId", peerId=PEER_A, owner=contract.accounts[1], sender=contract.accounts[2],
    )
    contract.reverts(3, "submitWinners", 0, [PEER_B], PEER_C, error="InvalidVoterPeerId", owner="0x" + "0" * 40)


def test_votes_are_for_started_rounds_within_the_window(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(1, "submitWinners", 1, [PEER_B], PEER_A, error="InvalidRoundNumber", roundNumber=1, currentRound=0)
    contract.advance_to(WINDOW + 1)
    contract.reverts(
        1, "submitWinners", 0, [PEER_B], PEER_A,
        error="RoundTooOld", roundNumber=0, currentRound=WINDOW + 1, window=WINDOW,
    )
    contract.send(1, "submitWinners", 1, [PEER_B], PEER_A)  # exactly WINDOW rounds back


# -- rewards -------------------------------------------------------------------------------------


def test_rewards_are_recorded_summed_and_announced(contract: Coordinator) -> None:
    _register(contract)
    contract.send(1, "registerPeer", PEER_C)  # a second peer ID of account 1
    receipt = contract.send(1, "submitReward", 0, 0, 700, PEER_A)
    assert contract.events("RewardSubmitted", receipt) == [
        {"account": contract.accounts[1], "roundNumber": 0, "stageNumber": 0, "reward": 700, "peerId": PEER_A}
    ]
    assert contract.events("CumulativeRewardsUpdated", receipt) == [
        {"account": contract.accounts[1], "peerIdHash": Web3.keccak(text=PEER_A), "peerId": PEER_A, "totalRewards": 700}
    ]
    contract.send(1, "submitReward", 0, 0, -50, PEER_C)
    contract.send(2, "submitReward", 0, 0, 10, PEER_B)
    contract.advance_to(1, 2)
    receipt = contract.send(1, "submitReward", 0, 2, -1000, PEER_A)  # a past round: any stage
    assert contract.events("CumulativeRewardsUpdated", receipt)[0]["totalRewards"] == -300
    contract.send(1, "submitReward", 1, 2, 5, PEER_A)  # the current stage of the current round
    assert contract.call("getTotalRewards", [PEER_A, PEER_B, PEER_C, "nobody"]) == [-295, 10, -50, 0]
    assert contract.call("getRoundStageReward", 0, 0, [contract.accounts[1], contract.accounts[2], contract.accounts[3]]) == [
        650, 10, 0
    ]
    assert contract.call("getPeerRoundStageReward", 0, 0, [PEER_A, PEER_C, PEER_B]) == [700, -50, 10]
    assert contract.call("hasSubmittedRoundStageReward", 0, 2, PEER_A)
    assert not contract.call("hasSubmittedRoundStageReward", 0, 1, PEER_A)


def test_a_reward_is_submitted_once_per_round_stage_and_peer(contract: Coordinator) -> None:
    _register(contract)
    contract.send(1, "submitReward", 0, 0, 1, PEER_A)
    contract.reverts(
        1, "submitReward", 0, 0, 2, PEER_A, error="RewardAlreadySubmitted", roundNumber=0, stageNumber=0, peerId=PEER_A
    )
    assert contract.call("getTotalRewards", [PEER_A]) == [1]


def test_reward_stage_bounds(contract: Coordinator) -> None:
    _register(contract)
    # In the current round, only stages that have begun.
    contract.reverts(
        1, "submitReward", 0, 1, 1, PEER_A,
        error="InvalidStageNumber", roundNumber=0, stageNumber=1, currentRound=0, currentStage=0,
    )
    contract.advance_to(1)
    # In a past round, any stage below stageCount.
    contract.send(1, "submitReward", 0, STAGES - 1, 1, PEER_A)
    contract.reverts(1, "submitReward", 0, STAGES, 1, PEER_A, error="InvalidStageNumber", stageNumber=STAGES)


def test_reward_round_bounds_tell_a_late_submitter_the_current_round(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(1, "submitReward", 2, 0, 1, PEER_A, error="InvalidRoundNumber", roundNumber=2, currentRound=0)
    contract.advance_to(WINDOW + 2)
    contract.reverts(
        1, "submitReward", 1, 0, 1, PEER_A, error="RoundTooOld", roundNumber=1, currentRound=WINDOW + 2, window=WINDOW
    )
    contract.send(1, "submitReward", 2, 0, 1, PEER_A)


def test_only_the_owner_of_a_peer_id_reports_its_reward(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(
        2, "submitReward", 0, 0, 1, PEER_A,
        error="InvalidVoterPeerId", peerId=PEER_A, owner=contract.accounts[1], sender=contract.accounts[2],
    )


# -- coverage of the ABI -------------------------------------------------------------------------

ERRORS_TESTED = {
    "OnlyOwner", "OnlyStageManager", "OnlyBootnodeManager", "UnknownRole", "ZeroAddress", "LastOwner",
    "InvalidStageCount", "InvalidBootnodeIndex", "InvalidPeerId", "PeerIdAlreadyRegistered",
    "InvalidVoterPeerId", "InvalidRoundNumber", "RoundTooOld", "InvalidStageNumber", "WinnerAlreadyVoted",
    "InvalidVote", "TooManyWinners", "RewardAlreadySubmitted",
}
EVENTS_TESTED = {
    "RoleGranted", "RoleRevoked", "StageAdvanced", "RoundAdvanced", "PeerRegistered", "BootnodesAdded",
    "BootnodeRemoved", "AllBootnodesCleared", "WinnerSubmitted", "RewardSubmitted", "CumulativeRewardsUpdated",
}


def _abi_names(kind: str) -> set[str]:
    return {e["name"] for e in artifact.load().abi if e["type"] == kind}


def test_every_custom_error_and_event_has_a_test_above() -> None:
    # Adding an error or an event to the contract means adding its test here.
    assert _abi_names("error") == ERRORS_TESTED
    assert _abi_names("event") == EVENTS_TESTED


def test_state_changing_functions_are_covered() -> None:
    mutating = {e["name"] for e in artifact.load().abi if e["type"] == "function" and e["stateMutability"] != "view"}
    assert mutating == {
        "grantRole", "revokeRole", "updateStageAndRound", "registerPeer", "addBootnodes", "removeBootnode",
        "clearBootnodes", "submitWinners", "submitReward",
    }

