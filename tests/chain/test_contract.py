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

from swarmd import identity
from swarmd.chain import artifact, localnet
from swarmd.chain.client import registration_message
from swarmd.chain.errors import contract_decoder

pytestmark = [pytest.mark.process, pytest.mark.chain]

STAGES = 3
WINDOW = 5
# Real libp2p Ed25519 identities: registering a peer ID takes a signature by its key.
IDS = [identity.generate() for _ in range(4)]
ID_A, ID_B, ID_C, ID_D = IDS
PEER_A, PEER_B, PEER_C, PEER_D = (i.peer_id for i in IDS)
ZERO = "0x" + "0" * 40


class Coordinator:
    """A deployed contract, with helpers to send from test account i and to expect reverts."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.c = w3.eth.contract(address=address, abi=artifact.load().abi)
        self.accounts = [localnet.test_account(i).address for i in range(10)]
        self.owner = self.accounts[0]

    def send(self, who: int, function: str, *args: Any):
        fn = getattr(self.c.functions, function)(*args)
        tx_hash = fn.transact({"from": self.accounts[who]})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return receipt

    def proof(self, who: int, ident: identity.Identity, chain_id: int | None = None, contract: str | None = None) -> bytes:
        """The peer key's signature that registers ``ident`` to test account ``who``."""
        message = registration_message(
            chain_id or self.w3.eth.chain_id, contract or self.c.address, self.accounts[who]
        )
        return ident.sign(message)

    def register(self, who: int, ident: identity.Identity):
        return self.send(who, "registerPeer", ident.peer_id, self.proof(who, ident))

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
    assert contract.call("MAX_WINNERS") == 32
    assert contract.call("MAX_PEERS_PER_ACCOUNT") == 8
    assert contract.call("maxReward") == contract.call("DEFAULT_MAX_REWARD") == 1_000_000
    assert contract.call("minRoundInterval") == 0


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
    contract.reverts(0, "revokeRole", owner_role, contract.owner, error="LastRoleHolder", account=contract.owner)
    contract.send(0, "grantRole", owner_role, contract.accounts[1])
    contract.send(1, "revokeRole", owner_role, contract.owner)  # a second owner takes over
    assert not contract.call("hasRole", owner_role, contract.owner)
    contract.reverts(1, "revokeRole", owner_role, contract.accounts[1], error="LastRoleHolder", role=owner_role)
    contract.reverts(0, "grantRole", owner_role, contract.owner, error="OnlyOwner")


@pytest.mark.parametrize("role_name", ["OWNER_ROLE", "STAGE_MANAGER_ROLE", "BOOTNODE_MANAGER_ROLE"])
def test_roles_are_renounced_but_never_left_empty(contract: Coordinator, role_name: str) -> None:
    role = contract.role(role_name)
    assert contract.call("getRoleMemberCount", role) == 1
    # The only holder can neither renounce nor be revoked.
    contract.reverts(0, "renounceRole", role, error="LastRoleHolder", role=role, account=contract.owner)
    contract.reverts(0, "revokeRole", role, contract.owner, error="LastRoleHolder", role=role, account=contract.owner)
    contract.send(0, "grantRole", role, contract.accounts[1])
    receipt = contract.send(1, "renounceRole", role)
    assert contract.events("RoleRevoked", receipt) == [
        {"role": role, "account": contract.accounts[1], "sender": contract.accounts[1]}
    ]
    assert not contract.call("hasRole", role, contract.accounts[1])
    assert contract.call("getRoleMemberCount", role) == 1
    contract.send(2, "renounceRole", role)  # a role one does not hold: nothing happens
    contract.reverts(2, "renounceRole", Web3.keccak(text="ADMIN_ROLE"), error="UnknownRole")


def test_owner_settings_are_the_owners_alone(contract: Coordinator) -> None:
    contract.reverts(1, "setMaxReward", 5, error="OnlyOwner")
    contract.reverts(1, "setMinRoundInterval", 5, error="OnlyOwner")
    receipt = contract.send(0, "setMaxReward", 5)
    assert contract.events("MaxRewardChanged", receipt) == [{"maxReward": 5}]
    limit = contract.call("MAX_REWARD_LIMIT")
    contract.reverts(0, "setMaxReward", limit + 1, error="InvalidMaxReward", maxReward=limit + 1, limit=limit)
    receipt = contract.send(0, "setMinRoundInterval", 60)
    assert contract.events("MinRoundIntervalChanged", receipt) == [{"minRoundInterval": 60}]


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


def test_rounds_advance_no_faster_than_the_owner_set_interval(contract: Coordinator) -> None:
    contract.send(0, "setMinRoundInterval", 3600)
    contract.send(0, "updateStageAndRound")  # stages within a round are not limited
    contract.send(0, "updateStageAndRound")
    started = contract.call("lastRoundAdvanceAt")
    contract.reverts(0, "updateStageAndRound", error="AdvanceTooSoon", nextAllowedAt=started + 3600)
    contract.w3.provider.make_request("evm_increaseTime", [3600])
    contract.w3.provider.make_request("evm_mine", [])
    contract.send(0, "updateStageAndRound")
    assert (contract.call("currentRound"), contract.call("currentStage")) == (1, 0)
    contract.send(0, "updateStageAndRound")
    contract.send(0, "updateStageAndRound")
    contract.reverts(0, "updateStageAndRound", error="AdvanceTooSoon")


def test_only_a_stage_manager_advances(contract: Coordinator) -> None:
    contract.reverts(2, "updateStageAndRound", error="OnlyStageManager", sender=contract.accounts[2])
    contract.send(0, "grantRole", contract.role("STAGE_MANAGER_ROLE"), contract.accounts[2])
    contract.send(2, "updateStageAndRound")
    assert contract.call("currentStage") == 1


# -- peers ---------------------------------------------------------------------------------------


def test_an_address_registers_many_peer_ids_with_indexed_events(contract: Coordinator) -> None:
    r1 = contract.register(1, ID_A)
    contract.register(1, ID_B)
    contract.register(2, ID_C)
    assert contract.events("PeerRegistered", r1) == [
        {"eoa": contract.accounts[1], "peerIdHash": Web3.keccak(text=PEER_A), "index": 0, "peerId": PEER_A}
    ]
    assert contract.call("getPeerId", [contract.accounts[1], contract.accounts[2], contract.accounts[3]]) == [
        [PEER_A, PEER_B], [PEER_C], []
    ]
    assert contract.call("getEoa", [PEER_C, PEER_A, "nobody"]) == [contract.accounts[2], contract.accounts[1], ZERO]
    # The events are filterable by peer (indexed keccak256 of the ID) and by address.
    by_peer = contract.c.events.PeerRegistered().get_logs(
        from_block=0, argument_filters={"peerIdHash": Web3.keccak(text=PEER_C)}
    )
    assert [e["args"]["eoa"] for e in by_peer] == [contract.accounts[2]]
    by_eoa = contract.c.events.PeerRegistered().get_logs(from_block=0, argument_filters={"eoa": contract.accounts[1]})
    assert [e["args"]["peerId"] for e in by_eoa] == [PEER_A, PEER_B]


def test_a_peer_id_never_moves(contract: Coordinator) -> None:
    contract.register(1, ID_A)
    proof = contract.proof(2, ID_A)  # even the key's own signature for another account
    contract.reverts(2, "registerPeer", PEER_A, proof, error="PeerIdAlreadyRegistered", peerId=PEER_A, owner=contract.accounts[1])
    contract.reverts(1, "registerPeer", PEER_A, contract.proof(1, ID_A), error="PeerIdAlreadyRegistered")
    assert contract.call("getEoa", [PEER_A]) == [contract.accounts[1]]


def test_squatting_a_peer_id_without_its_key_reverts(contract: Coordinator) -> None:
    # The squatter signs with its own key, replays the owner's proof for another account,
    # or sends no proof at all: each is refused, and the owner registers afterwards.
    squatter = 2
    for proof in (
        contract.proof(squatter, ID_B),  # a signature by another peer's key
        contract.proof(1, ID_A),  # the owner's proof, made for the owner's account
        b"",
        b"\0" * 64,
        contract.proof(squatter, ID_A, chain_id=1),  # for another chain
        contract.proof(squatter, ID_A, contract=localnet.test_account(9).address),  # another contract
    ):
        contract.reverts(
            squatter, "registerPeer", PEER_A, proof, error="InvalidPeerProof", peerId=PEER_A, sender=contract.accounts[squatter]
        )
    assert contract.call("getEoa", [PEER_A]) == [ZERO]
    contract.register(1, ID_A)
    assert contract.call("getEoa", [PEER_A]) == [contract.accounts[1]]


def test_registration_with_a_valid_proof_and_its_gas(contract: Coordinator) -> None:
    assert contract.call("registrationMessage", contract.accounts[1]) == registration_message(
        contract.w3.eth.chain_id, contract.c.address, contract.accounts[1]
    )
    receipt = contract.register(1, ID_A)
    print(f"registerPeer with an Ed25519 proof: {receipt['gasUsed']} gas")
    assert 300_000 < receipt["gasUsed"] < 2_000_000
    assert contract.call("getRegisteredRound", PEER_A) == 0
    contract.advance_to(2)
    contract.register(1, ID_B)
    assert contract.call("getRegisteredRound", PEER_B) == 2


@pytest.mark.parametrize(
    "peer_id",
    [
        "",
        "x" * 128,
        "12D3KooWPeerA",  # the right prefix, too short
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",  # a SHA-256 (RSA-era) peer ID
        "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY",  # secp256k1
        "12D3KooW" + "0" * 44,  # "0" is not base58
        "112D3KooWPeerAPeerAPeerAPeerAPeerAPeerAPeerAPeerAPeer",  # two leading zero bytes
        "12D3KooW" + "z" * 50,  # too large a number
    ],
)
def test_malformed_peer_ids_revert(contract: Coordinator, peer_id: str) -> None:
    contract.reverts(1, "registerPeer", peer_id, b"\0" * 64, error="InvalidPeerId", peerId=peer_id)


def test_an_account_holds_a_bounded_number_of_peer_ids(contract: Coordinator) -> None:
    limit = contract.call("MAX_PEERS_PER_ACCOUNT")
    for _ in range(limit):
        contract.register(4, identity.generate())
    extra = identity.generate()
    contract.reverts(4, "registerPeer", extra.peer_id, contract.proof(4, extra), error="TooManyPeerIds", max=limit)
    assert len(contract.call("getPeerId", [contract.accounts[4]])[0]) == limit


def test_the_peer_list_is_enumerable(contract: Coordinator) -> None:
    for i, peer in enumerate((ID_A, ID_B, ID_C)):
        contract.register(1 + i, peer)
    assert contract.call("peerCount") == 3
    assert contract.call("getPeers", 0, 10) == [[PEER_A, PEER_B, PEER_C], contract.accounts[1:4]]
    assert contract.call("getPeers", 1, 1) == [[PEER_B], [contract.accounts[2]]]
    assert contract.call("getPeers", 3, 5) == [[], []]
    assert contract.call("getPeers", 99, 2**256 - 1) == [[], []]
    assert contract.call("getPeers", 2, 2**256 - 1) == [[PEER_C], [contract.accounts[3]]]


# -- bootnodes -----------------------------------------------------------------------------------


def test_the_bootnode_list_is_bounded(contract: Coordinator) -> None:
    limit = contract.call("MAX_BOOTNODES")
    contract.reverts(0, "addBootnodes", ["/ip4/127.0.0.1/tcp/1"] * (limit + 1), error="TooManyBootnodes", count=limit + 1)
    contract.reverts(0, "addBootnodes", ["/ip4/127.0.0.1/tcp/1", ""], error="InvalidBootnode", index=1)
    contract.reverts(0, "addBootnodes", ["/" + "x" * 256], error="InvalidBootnode", index=0)
    contract.send(0, "addBootnodes", ["/ip4/127.0.0.1/tcp/1"] * limit)
    receipt = contract.send(0, "clearBootnodes")
    assert receipt["gasUsed"] < 2_000_000


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
    contract.register(1, ID_A)
    contract.register(2, ID_B)
    contract.register(3, ID_C)


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


def test_votes_name_each_registered_winner_once(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(1, "submitWinners", 0, [PEER_B, PEER_C, PEER_B], PEER_A, error="InvalidVote", index=2, winner=PEER_B)
    contract.reverts(1, "submitWinners", 0, [PEER_B, PEER_D], PEER_A, error="UnregisteredWinner", index=1, winner=PEER_D)
    contract.reverts(1, "submitWinners", 0, [PEER_B, ""], PEER_A, error="UnregisteredWinner", index=1, winner="")
    contract.reverts(1, "submitWinners", 0, ["nobody"], PEER_A, error="UnregisteredWinner", index=0)
    too_many = [PEER_B] * 33
    contract.reverts(1, "submitWinners", 0, too_many, PEER_A, error="TooManyWinners", count=33, max=32)
    assert contract.call("getTotalWinsBatch", [PEER_B, PEER_D, "nobody"]) == [0, 0, 0]


def test_the_longest_vote_is_accepted(contract: Coordinator) -> None:
    _register(contract)
    winners = [PEER_A, PEER_B, PEER_C]
    for i in range(29):  # 8 peer IDs per account at most
        ident = identity.generate()
        contract.register(4 + i // 8, ident)
        winners.append(ident.peer_id)
    receipt = contract.send(1, "submitWinners", 0, winners, PEER_A)
    assert contract.call("getVoterVotes", 0, PEER_A) == winners
    print(f"submitWinners with {len(winners)} winners: {receipt['gasUsed']} gas")


def test_only_the_owner_of_a_peer_id_votes_with_it(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(
        2, "submitWinners", 0, [PEER_B], PEER_A,
        error="InvalidVoterPeerId", peerId=PEER_A, owner=contract.accounts[1], sender=contract.accounts[2],
    )
    contract.reverts(4, "submitWinners", 0, [PEER_B], PEER_D, error="InvalidVoterPeerId", owner=ZERO)


def test_votes_are_for_started_rounds_within_the_window(contract: Coordinator) -> None:
    _register(contract)
    contract.reverts(1, "submitWinners", 1, [PEER_B], PEER_A, error="InvalidRoundNumber", roundNumber=1, currentRound=0)
    contract.advance_to(WINDOW + 1)
    contract.reverts(
        1, "submitWinners", 0, [PEER_B], PEER_A,
        error="RoundTooOld", roundNumber=0, currentRound=WINDOW + 1, window=WINDOW,
    )
    contract.send(1, "submitWinners", 1, [PEER_B], PEER_A)  # exactly WINDOW rounds back


def test_a_peer_reports_only_on_rounds_since_its_registration(contract: Coordinator) -> None:
    # A fresh ID registered at round 4 cannot vote or report rewards for rounds 0-3.
    contract.register(1, ID_A)
    contract.advance_to(4)
    contract.register(2, ID_B)
    for r in range(4):
        contract.reverts(
            2, "submitWinners", r, [PEER_A], PEER_B, error="BeforeRegistration", roundNumber=r, registeredRound=4
        )
        contract.reverts(2, "submitReward", r, 0, 1, PEER_B, error="BeforeRegistration", roundNumber=r, peerId=PEER_B)
    contract.send(2, "submitWinners", 4, [PEER_A], PEER_B)
    contract.send(2, "submitReward", 4, 0, 1, PEER_B)
    contract.send(1, "submitReward", 3, 0, 1, PEER_A)  # an earlier peer still may


def test_rewards_are_bounded_by_the_owner_set_maximum(contract: Coordinator) -> None:
    _register(contract)
    contract.send(0, "setMaxReward", 1000)
    for reward in (1001, -1001, 2**255 - 1, -(2**255)):
        contract.reverts(1, "submitReward", 0, 0, reward, PEER_A, error="RewardOutOfBounds", reward=reward, maxReward=1000)
    contract.send(1, "submitReward", 0, 0, 1000, PEER_A)
    contract.send(2, "submitReward", 0, 0, -1000, PEER_B)
    assert contract.call("getTotalRewards", [PEER_A, PEER_B]) == [1000, -1000]


def test_record_getters_answer_for_ranges_of_rounds(contract: Coordinator) -> None:
    from swarmd.chain.client import winners_hash

    _register(contract)
    contract.advance_to(3)
    contract.send(1, "submitReward", 0, 1, 7, PEER_A)
    contract.send(1, "submitReward", 2, 1, -3, PEER_A)
    contract.send(1, "submitWinners", 1, [PEER_B, PEER_C], PEER_A)
    contract.send(1, "submitWinners", 2, [], PEER_A)
    assert contract.call("getRewardRecords", PEER_A, 1, 0, 4) == [[True, False, True, False], [7, 0, -3, 0]]
    assert contract.call("getRewardRecords", PEER_A, 0, 0, 4) == [[False] * 4, [0] * 4]
    voted, hashes = contract.call("getVoteRecords", PEER_A, 0, 3)
    assert voted == [False, True, True]
    assert hashes == [b"\0" * 32, winners_hash([PEER_B, PEER_C]), winners_hash([])]
    contract.reverts(0, "getVoteRecords", PEER_A, 0, 257, error="TooManyRecords", count=257, max=256)
    contract.reverts(0, "getRewardRecords", PEER_A, 0, 0, 257, error="TooManyRecords")


# -- rewards -------------------------------------------------------------------------------------


def test_rewards_are_recorded_summed_and_announced(contract: Coordinator) -> None:
    _register(contract)
    contract.register(1, ID_D)  # a second peer ID of account 1
    receipt = contract.send(1, "submitReward", 0, 0, 700, PEER_A)
    assert contract.events("RewardSubmitted", receipt) == [
        {"account": contract.accounts[1], "roundNumber": 0, "stageNumber": 0, "reward": 700, "peerId": PEER_A}
    ]
    assert contract.events("CumulativeRewardsUpdated", receipt) == [
        {"account": contract.accounts[1], "peerIdHash": Web3.keccak(text=PEER_A), "peerId": PEER_A, "totalRewards": 700}
    ]
    contract.send(1, "submitReward", 0, 0, -50, PEER_D)
    contract.send(2, "submitReward", 0, 0, 10, PEER_B)
    contract.advance_to(1, 2)
    receipt = contract.send(1, "submitReward", 0, 2, -1000, PEER_A)  # a past round: any stage
    assert contract.events("CumulativeRewardsUpdated", receipt)[0]["totalRewards"] == -300
    contract.send(1, "submitReward", 1, 2, 5, PEER_A)  # the current stage of the current round
    assert contract.call("getTotalRewards", [PEER_A, PEER_B, PEER_D, "nobody"]) == [-295, 10, -50, 0]
    assert contract.call("getRoundStageReward", 0, 0, [contract.accounts[1], contract.accounts[2], contract.accounts[3]]) == [
        650, 10, 0
    ]
    assert contract.call("getPeerRoundStageReward", 0, 0, [PEER_A, PEER_D, PEER_B]) == [700, -50, 10]
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
    "OnlyOwner", "OnlyStageManager", "OnlyBootnodeManager", "UnknownRole", "ZeroAddress", "LastRoleHolder",
    "InvalidStageCount", "InvalidBootnodeIndex", "InvalidPeerId", "PeerIdAlreadyRegistered",
    "InvalidVoterPeerId", "InvalidRoundNumber", "RoundTooOld", "InvalidStageNumber", "WinnerAlreadyVoted",
    "InvalidVote", "TooManyWinners", "RewardAlreadySubmitted", "InvalidPeerProof", "TooManyPeerIds",
    "UnregisteredWinner", "BeforeRegistration", "RewardOutOfBounds", "InvalidMaxReward", "AdvanceTooSoon",
    "TooManyBootnodes", "InvalidBootnode", "TooManyRecords",
}
EVENTS_TESTED = {
    "RoleGranted", "RoleRevoked", "StageAdvanced", "RoundAdvanced", "PeerRegistered", "BootnodesAdded",
    "BootnodeRemoved", "AllBootnodesCleared", "WinnerSubmitted", "RewardSubmitted", "CumulativeRewardsUpdated",
    "MaxRewardChanged", "MinRoundIntervalChanged",
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
        "grantRole", "revokeRole", "renounceRole", "updateStageAndRound", "registerPeer", "addBootnodes",
        "removeBootnode", "clearBootnodes", "submitWinners", "submitReward", "setMaxReward", "setMinRoundInterval",
    }

