"""Blocking calls to one SwarmCoordinator, signed locally by one account.

Every method blocks on JSON-RPC: the subsystem calls them through
``asyncio.to_thread`` so the event loop never waits on the chain. Waiting for
receipts is left to the caller (a short ``receipt()`` poll), so a stopping
daemon is never stuck in a long blocking wait.

Every failure leaves as one of ``swarmd.chain.errors``: reverts with the
contract's custom error decoded, unreachable RPCs as ``ChainUnavailable``, an
empty account as ``Unfunded``. Gas is always estimated (a fixed gas limit would
mine a failing call with ``status == 0`` and no exception), and a receipt's
status is always checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount

from swarmd.chain import artifact
from swarmd.chain import metrics as m
from swarmd.chain.errors import (
    ChainError,
    ChainUnavailable,
    DecodedRevert,
    Reverted,
    TransientChainError,
    Unfunded,
    classify,
    contract_decoder,
)

T = TypeVar("T")
ZERO_ADDRESS = "0x" + "0" * 40
# The contract's REGISTRATION_DOMAIN (bytes32, zero-padded).
REGISTRATION_DOMAIN = b"swarmd registerPeer v1".ljust(32, b"\0")


def registration_message(chain_id: int, contract: str, account: str) -> bytes:
    """What a peer's Ed25519 key signs to register to ``account`` (the contract's
    ``registrationMessage``). Built here, never read from the RPC: an RPC that handed back
    another account's message would get a proof for that account."""
    return (
        REGISTRATION_DOMAIN
        + chain_id.to_bytes(32, "big")
        + bytes.fromhex(contract[2:])
        + bytes.fromhex(account[2:])
    )


def winners_hash(winners: tuple[str, ...] | list[str]) -> bytes:
    """keccak256(abi.encode(string[])): what ``getVoteRecords`` reports for a vote."""
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(encode(["string[]"], [list(winners)]))


@dataclass(frozen=True)
class Prepared:
    """A signed transaction, not yet broadcast; its hash is known before sending."""

    what: str
    tx_hash: str
    raw: bytes
    nonce: int
    gas: int


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block: int
    gas_used: int
    logs: Any
    block_hash: str = ""


def _error_kind(err: ChainError) -> str:
    if isinstance(err, ChainUnavailable):
        return "unavailable"
    if isinstance(err, Unfunded):
        return "unfunded"
    if isinstance(err, Reverted):
        return "reverted"
    return "transient"


class ChainClient:
    def __init__(
        self,
        rpc_url: str,
        contract: str,
        account: LocalAccount,
        *,
        rpc_timeout_s: float = 10.0,
        gas_multiplier: float = 1.25,
        max_fee_wei: int | None = None,
    ) -> None:
        from web3 import HTTPProvider, Web3

        # No provider-level retries: the submission queue owns retrying, with its own backoff.
        self.w3 = Web3(
            HTTPProvider(rpc_url, request_kwargs={"timeout": rpc_timeout_s}, exception_retry_configuration=None)
        )
        self.rpc_url = rpc_url
        self.address = account.address
        self._account = account
        self.contract = self.w3.eth.contract(address=Web3.to_checksum_address(contract), abi=artifact.load().abi)
        self.gas_multiplier = gas_multiplier
        self.max_fee_wei = max_fee_wei
        self.decoder = contract_decoder()
        self._chain_id: int | None = None

    def __repr__(self) -> str:  # the account object stays out of reprs and tracebacks
        return f"ChainClient({self.rpc_url!r}, contract={self.contract.address}, address={self.address})"

    def _do(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - every failure leaves as a ChainError
            err = classify(e, self.decoder, what)
            m.RPC_ERRORS.labels(_error_kind(err)).inc()
            raise err from None

    # -- reads ----------------------------------------------------------------------

    def chain_id(self) -> int:
        self._chain_id = self._do("eth_chainId", lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def has_code(self) -> bool:
        code = self._do("eth_getCode", lambda: self.w3.eth.get_code(self.contract.address))
        return len(code) > 0

    def balance(self) -> int:
        return self._do("eth_getBalance", lambda: int(self.w3.eth.get_balance(self.address)))

    def block_number(self) -> int:
        block = self._do("eth_blockNumber", lambda: int(self.w3.eth.block_number))
        m.LAST_BLOCK.set(block)
        return block

    def head(self) -> tuple[int, str]:
        """(number, hash) of the latest block."""
        block = self._do("eth_getBlockByNumber", lambda: self.w3.eth.get_block("latest"))
        m.LAST_BLOCK.set(int(block["number"]))
        return int(block["number"]), block["hash"].to_0x_hex()

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number`` on the RPC's chain now, or None if it has no such block."""
        from web3.exceptions import BlockNotFound

        def read() -> str | None:
            try:
                return self.w3.eth.get_block(number)["hash"].to_0x_hex()
            except BlockNotFound:
                return None

        return self._do("eth_getBlockByNumber", read)

    def _view(self, name: str, *args: Any) -> Any:
        return self._do(name, lambda: getattr(self.contract.functions, name)(*args).call())

    def round_state(self) -> tuple[int, int]:
        """(current round, current stage), read in one block so they agree."""
        block = self.block_number()

        def read() -> tuple[int, int]:
            f = self.contract.functions
            return (
                int(f.currentRound().call(block_identifier=block)),
                int(f.currentStage().call(block_identifier=block)),
            )

        return self._do("currentRound/currentStage", read)

    def stage_count(self) -> int:
        return int(self._view("stageCount"))

    def submission_window(self) -> int:
        return int(self._view("submissionWindow"))

    def bootnodes(self) -> list[str]:
        return list(self._view("getBootnodes"))

    def peer_owner(self, peer_id: str) -> str | None:
        """The address that registered ``peer_id``, or None."""
        (owner,) = self._view("getEoa", [peer_id])
        return None if int(owner, 16) == 0 else owner

    def registered(self, peer_ids: list[str]) -> list[bool]:
        """Whether each peer ID is registered (to any account)."""
        if not peer_ids:
            return []
        return [int(owner, 16) != 0 for owner in self._view("getEoa", list(peer_ids))]

    def has_role(self, role: str, address: str | None = None) -> bool:
        role_id = self._view(role)
        return bool(self._view("hasRole", role_id, address or self.address))

    def totals(self, peer_ids: list[str]) -> dict[str, tuple[int, int]]:
        if not peer_ids:
            return {}
        rewards = self._view("getTotalRewards", list(peer_ids))
        wins = self._view("getTotalWinsBatch", list(peer_ids))
        return {p: (int(r), int(w)) for p, r, w in zip(peer_ids, rewards, wins, strict=True)}

    def reward_on_chain(self, round_: int, stage: int, peer_id: str) -> int | None:
        """The reward recorded for (round, stage, peer), or None if none was."""
        if not self._view("hasSubmittedRoundStageReward", round_, stage, peer_id):
            return None
        (reward,) = self._view("getPeerRoundStageReward", round_, stage, [peer_id])
        return int(reward)

    def winners_on_chain(self, round_: int, peer_id: str) -> list[str] | None:
        """The winners ``peer_id`` voted for in ``round_``, or None if it did not vote."""
        if not self._view("hasSubmittedWinners", round_, peer_id):
            return None
        return list(self._view("getVoterVotes", round_, peer_id))

    def reward_records(self, peer_id: str, stage: int, from_round: int, count: int) -> list[int | None]:
        """For ``count`` rounds from ``from_round``: the reward recorded for (round, stage), or None."""
        submitted, rewards = self._view("getRewardRecords", peer_id, stage, from_round, count)
        return [int(r) if s else None for s, r in zip(submitted, rewards, strict=True)]

    def vote_records(self, peer_id: str, from_round: int, count: int) -> list[bytes | None]:
        """For ``count`` rounds from ``from_round``: the hash of the recorded vote (see
        ``winners_hash``), or None where ``peer_id`` did not vote."""
        voted, hashes = self._view("getVoteRecords", peer_id, from_round, count)
        return [bytes(h) if v else None for v, h in zip(voted, hashes, strict=True)]

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The mined receipt, or None while unknown or pending."""
        from web3.exceptions import TransactionNotFound

        def read() -> Receipt | None:
            try:
                r = self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None
            return Receipt(
                tx_hash, int(r["status"]), int(r["blockNumber"]), int(r["gasUsed"]), r["logs"],
                r["blockHash"].to_0x_hex(),
            )

        return self._do("eth_getTransactionReceipt", read)

    def is_known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (pending in its pool, or mined)."""
        from web3.exceptions import TransactionNotFound

        def read() -> bool:
            try:
                self.w3.eth.get_transaction(tx_hash)
                return True
            except TransactionNotFound:
                return False

        return self._do("eth_getTransactionByHash", read)

    # -- writes -----------------------------------------------------------------------

    def prepare(self, what: str, function: str, *args: Any) -> Prepared:
        """Estimate gas (decoding a revert), check funds, sign with the next pending nonce."""
        fn = getattr(self.contract.functions, function)(*args)
        chain_id = self._chain_id or self.chain_id()
        gas_estimate = self._do(what, lambda: fn.estimate_gas({"from": self.address}))
        gas = int(gas_estimate * self.gas_multiplier)

        def fees() -> tuple[int, int]:
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
            tip = int(self.w3.eth.max_priority_fee)
            max_fee = 2 * base + tip
            if self.max_fee_wei is not None:
                max_fee = min(max_fee, self.max_fee_wei)
                tip = min(tip, max_fee)
            return max_fee, tip

        max_fee, tip = self._do(f"{what}: fee estimate", fees)
        balance = self.balance()
        if balance < gas * max_fee:
            m.RPC_ERRORS.labels("unfunded").inc()
            if balance == 0:
                raise Unfunded(f"account {self.address} has no funds to pay gas")
            raise Unfunded(
                f"account {self.address} has {balance} wei, less than the {gas * max_fee} wei "
                f"{what} may cost in gas"
            )
        nonce = self._do("eth_getTransactionCount", lambda: self.w3.eth.get_transaction_count(self.address, "pending"))
        tx = self._do(
            what,
            lambda: fn.build_transaction(
                {
                    "from": self.address,
                    "nonce": nonce,
                    "gas": gas,
                    "maxFeePerGas": max_fee,
                    "maxPriorityFeePerGas": tip,
                    "chainId": chain_id,
                }
            ),
        )
        signed = self._account.sign_transaction(tx)
        return Prepared(what, signed.hash.to_0x_hex(), bytes(signed.raw_transaction), nonce, gas)

    def send(self, prepared: Prepared) -> None:
        """Broadcast. A node that already has the transaction is not an error."""
        try:
            self._do(prepared.what, lambda: self.w3.eth.send_raw_transaction(prepared.raw))
        except TransientChainError as e:
            if "already known" in str(e).lower() or "known transaction" in str(e).lower():
                return
            raise

    def explain(self, function: str, args: tuple[Any, ...], block: int) -> DecodedRevert:
        """Why a mined call failed: replay it against the state before its block."""
        fn = getattr(self.contract.functions, function)(*args)
        try:
            self._do(function, lambda: fn.call({"from": self.address}, block_identifier=max(0, block - 1)))
        except Reverted as e:
            return e.revert
        except ChainError:
            pass
        return DecodedRevert("reverted on chain (the replayed call succeeds: a race with another transaction)")

    def stage_advanced(self, receipt: Receipt) -> tuple[int, int]:
        """(round, stage) from the StageAdvanced event of an updateStageAndRound receipt."""
        event = self.contract.events.StageAdvanced()
        for entry in receipt.logs:
            if entry["address"].lower() != self.contract.address.lower():
                continue
            try:
                decoded = event.process_log(entry)
            except Exception:  # noqa: BLE001 - another event of the same transaction
                continue
            return int(decoded["args"]["roundNumber"]), int(decoded["args"]["newStage"])
        raise TransientChainError(f"updateStageAndRound {receipt.tx_hash} emitted no StageAdvanced event")

    def events(self, name: str, from_block: int = 0, to_block: int | str = "latest", page: int = 5000) -> list[Any]:
        """All ``name`` events of the contract, paged (hosted RPCs cap eth_getLogs ranges)."""
        event = getattr(self.contract.events, name)
        last = self.block_number() if to_block == "latest" else int(to_block)
        out: list[Any] = []
        start = from_block
        while start <= last:
            end = min(last, start + page - 1)
            out += self._do(f"{name} logs", lambda s=start, e=end: event.get_logs(from_block=s, to_block=e))
            start = end + 1
        return out
