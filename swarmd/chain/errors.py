"""The chain client's errors, and decoding of the contract's custom errors.

web3.py does not decode custom errors: ``ContractCustomError.data`` carries the
raw revert data (some nodes give only the 4-byte selector, some a dict). We map
selectors to names from the ABI's ``error`` entries and decode arguments with
eth_abi, so an operator reads ``RoundTooOld(roundNumber=3, currentRound=1010,
window=1000)`` instead of a hex string.

Hierarchy (what the submission queue does with each):
- ``ChainUnavailable``: the RPC cannot be reached or timed out. Retry with backoff.
- ``TransientChainError``: the RPC answered, but a retry may succeed (nonce race,
  underpriced, no receipt yet, an RPC error we do not know). Retry with backoff.
- ``Unfunded``: the account cannot pay gas. Retry with backoff; status says so.
- ``Reverted``: the contract refused, with a decoded reason. Permanent.
- ``ChainMisconfigured``: wrong chain ID, no contract at the address. Stops the client.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from swarmd.errors import Busy, SwarmdError

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)

# JSON-RPC error texts that mean "try again", lower-cased substrings.
_TRANSIENT_RPC = (
    "nonce too low",
    "nonce too high",
    "replacement transaction underpriced",
    "transaction underpriced",
    "already known",
    "known transaction",
    "max fee per gas less than block base fee",
    "fee cap less than block base fee",
    "header not found",
    "rate limit",
    "too many requests",
    "timeout",
)
_UNFUNDED_RPC = ("insufficient funds",)


class ChainError(SwarmdError):
    """Base class of the chain client's errors."""


class ChainUnavailable(ChainError, Busy):
    """The RPC endpoint is unreachable or did not answer in time (gRPC UNAVAILABLE)."""


class TransientChainError(ChainError):
    """The RPC answered with an error that a later retry may not hit."""


class Unfunded(TransientChainError):
    """The account has no funds to pay gas."""


class ChainMisconfigured(ChainError):
    """The endpoint is not the configured chain, or no contract is at the address."""


@dataclass(frozen=True)
class DecodedRevert:
    name: str
    args: tuple[tuple[str, Any], ...] = ()

    def arg(self, name: str) -> Any:
        return dict(self.args).get(name)

    def __str__(self) -> str:
        if not self.args and not self.name.isidentifier():
            return self.name
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.args)
        return f"{self.name}({inner})"


def not_reached_yet(revert: DecodedRevert) -> bool:
    """A submission for a round or stage the contract has not reached yet.

    Rounds can run ahead of the chain (a coordinator drives them and the chain
    catches up after an outage), so such a refusal means "later", not "never".
    """
    if revert.name == "InvalidRoundNumber":
        return (revert.arg("roundNumber") or 0) > (revert.arg("currentRound") or 0)
    if revert.name == "InvalidStageNumber":
        return revert.arg("roundNumber") == revert.arg("currentRound") and (
            (revert.arg("stageNumber") or 0) > (revert.arg("currentStage") or 0)
        )
    return False


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value if re.fullmatch(r"0x[0-9a-fA-F]{40}", value) else repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


class Reverted(ChainError):
    """The contract refused the call; ``revert`` says why."""

    def __init__(self, what: str, revert: DecodedRevert) -> None:
        super().__init__(f"{what} reverted: {revert}")
        self.revert = revert


def _type_string(param: dict[str, Any]) -> str:
    """ABI type of one parameter, expanding tuples (for selectors and eth_abi)."""
    t = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param.get("components", []))
        return f"({inner}){t[5:]}"
    return t


class ErrorDecoder:
    """Custom-error decoding by 4-byte selector, built from a contract ABI."""

    def __init__(self, abi: Iterable[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for entry in abi:
            if entry.get("type") != "error":
                continue
            types = [_type_string(p) for p in entry.get("inputs", [])]
            names = [p.get("name") or f"arg{i}" for i, p in enumerate(entry.get("inputs", []))]
            selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
            self._errors[selector] = (entry["name"], types, names)

    @property
    def names(self) -> set[str]:
        return {name for name, _, _ in self._errors.values()}

    def decode(self, data: Any) -> DecodedRevert:
        """Decode revert data given as bytes, a 0x-hex string, or a node's ``{"data": ...}`` dict."""
        raw = _revert_bytes(data)
        if raw is None or len(raw) < 4:
            return DecodedRevert("execution reverted (no reason given)")
        selector, body = raw[:4], raw[4:]
        if selector == _ERROR_STRING:
            try:
                (reason,) = abi_decode(["string"], body)
                return DecodedRevert("Error", (("reason", reason),))
            except Exception:  # noqa: BLE001 - malformed revert data is still a revert
                return DecodedRevert("Error")
        if selector == _PANIC:
            try:
                (code,) = abi_decode(["uint256"], body)
                return DecodedRevert("Panic", (("code", hex(code)),))
            except Exception:  # noqa: BLE001
                return DecodedRevert("Panic")
        known = self._errors.get(selector)
        if known is None:
            return DecodedRevert(f"unknown error 0x{selector.hex()}")
        name, types, names = known
        if not body:  # the node gave the selector only
            return DecodedRevert(name)
        try:
            values = abi_decode(types, body)
        except Exception:  # noqa: BLE001
            return DecodedRevert(name)
        return DecodedRevert(
            name, tuple((n, _plain(t, v)) for n, t, v in zip(names, types, values, strict=True))
        )


def _plain(abi_type: str, value: Any) -> Any:
    # Addresses as checksummed strings (as web3 returns them), tuples as lists.
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, tuple):
        inner = abi_type[:-2] if abi_type.endswith("[]") else ""
        return [_plain(inner, v) for v in value]
    return value


def _revert_bytes(data: Any) -> bytes | None:
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        text = data.strip()
        if text.startswith("0x"):
            try:
                return bytes.fromhex(text[2:])
            except ValueError:
                return None
    return None


def classify(exc: BaseException, decoder: ErrorDecoder, what: str) -> ChainError:
    """Map an exception from web3/requests to one of ours (with a message for operators)."""
    import requests
    from web3.exceptions import (
        ContractCustomError,
        ContractLogicError,
        ContractPanicError,
        TimeExhausted,
        Web3RPCError,
    )

    if isinstance(exc, ChainError):
        return exc
    if isinstance(exc, ContractCustomError | ContractPanicError):
        return Reverted(what, decoder.decode(exc.data))
    if isinstance(exc, ContractLogicError):
        if exc.data:
            return Reverted(what, decoder.decode(exc.data))
        message = str(exc.message or exc)
        return Reverted(what, DecodedRevert("Error", (("reason", message),)))
    if isinstance(exc, requests.Timeout | TimeoutError):
        return ChainUnavailable(f"{what}: the RPC did not answer in time")
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return ChainUnavailable(f"{what}: cannot connect to the RPC endpoint")
    if isinstance(exc, requests.HTTPError):
        code = exc.response.status_code if exc.response is not None else "?"
        body = (exc.response.text[:200] if exc.response is not None else "").strip()
        return TransientChainError(f"{what}: the RPC answered HTTP {code}" + (f": {body}" if body else ""))
    if isinstance(exc, TimeExhausted):
        return TransientChainError(f"{what}: no receipt yet (the transaction may still be mined)")
    if isinstance(exc, Web3RPCError):
        message = _rpc_message(exc)
        lowered = message.lower()
        if any(s in lowered for s in _UNFUNDED_RPC):
            return Unfunded(f"{what}: {message}")
        return TransientChainError(f"{what}: the RPC refused: {message}")
    if isinstance(exc, OSError):
        return ChainUnavailable(f"{what}: {exc.strerror or type(exc).__name__}")
    return TransientChainError(f"{what}: {type(exc).__name__}: {exc}")


def _rpc_message(exc: Any) -> str:
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, dict) and isinstance(rpc.get("error"), dict):
        return str(rpc["error"].get("message", rpc["error"]))
    return str(getattr(exc, "message", None) or exc)


@functools.cache
def contract_decoder() -> ErrorDecoder:
    from swarmd.chain import artifact

    return ErrorDecoder(artifact.load().abi)
