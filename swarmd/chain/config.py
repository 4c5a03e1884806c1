"""Configuration of the chain subsystem (off by default: a chain is opt-in)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from swarmd.configbase import Section


class ChainConfig(Section):
    enabled: bool = Field(
        False,
        description="Record participation on a SwarmCoordinator contract (register, rewards, winners; "
        "rounds from the contract).",
    )
    rpc_url: str = Field(
        "http://127.0.0.1:8545",
        description="Ethereum JSON-RPC endpoint (http or https). Default: the deployments file's, "
        "when one is set and this key is not.",
    )
    chain_id: int | None = Field(
        None,
        ge=1,
        description="Chain ID the RPC must report; a mismatch stops the chain client (state 'error'). "
        "Default: the deployments file's; unset and no file: not checked.",
    )
    contract: str | None = Field(
        None, description="SwarmCoordinator address (0x...). Either this or `deployments_file`."
    )
    deployments_file: Path | None = Field(
        None,
        description="JSON file with rpc_url, chain_id and address (written by `make chain`). "
        "Either this or `contract`.",
    )
    key_file: Path | None = Field(
        None,
        description="Account private key as 64 hex digits, mode 0600. Default: DATA_DIR/chain.key "
        "(unless `keystore_file` is set).",
    )
    keystore_file: Path | None = Field(
        None, description="Encrypted Ethereum keystore (JSON, mode 0600) instead of `key_file`."
    )
    password_file: Path | None = Field(
        None, description="File (mode 0600) holding the keystore's password; needed with `keystore_file`."
    )
    register_on_start: bool = Field(
        True, description="Register this node's peer ID on the contract when the chain is reachable."
    )
    submit_every_n_rounds: int = Field(
        1,
        ge=1,
        le=1000,
        description="Batching: hold submissions until N rounds of results are queued (or the oldest is "
        "N rounds behind the chain), then send them together. Keep N below the contract's "
        "submission window.",
    )
    retry_initial_s: float = Field(
        1.0, gt=0, le=600, description="First wait after a transient failure (RPC down, nonce race)."
    )
    retry_max_s: float = Field(
        30.0, gt=0, le=3600, description="Cap of the exponential backoff between retries."
    )
    rpc_timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one JSON-RPC request.")
    receipt_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="How long to wait for a transaction's receipt before re-checking."
    )
    gas_multiplier: float = Field(
        1.25,
        ge=1.0,
        le=5.0,
        description="Gas limit = estimate × this. Gas is always estimated: a fixed limit would hide reverts.",
    )
    max_fee_gwei: float | None = Field(
        None, gt=0, description="Cap on maxFeePerGas in gwei. Default: no cap (2 × base fee + tip)."
    )
    poll_interval_s: float = Field(
        2.0, gt=0, le=600, description="How often the current round and stage, balance and block are read."
    )
    confirmations: int = Field(
        64,
        ge=0,
        le=1_000_000,
        description="Blocks a submission must be deep before its local record is dropped; until then "
        "the reconciler checks it against the contract and resubmits it if a rollback removed it.",
    )
    reconcile_interval_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How often submissions that are not final yet are checked against the contract "
        "(also at once after a rollback or an outage).",
    )
    advance_every_s: float = Field(
        0.0,
        ge=0,
        le=86400,
        description="Stage managers only: advance the contract's stage on this period (0: only on "
        "request, e.g. `swarmctl round advance`).",
    )

    @field_validator("contract")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", v):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return v

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"https?://", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ChainConfig:
        if self.contract and self.deployments_file:
            raise ValueError("set either chain.contract or chain.deployments_file, not both")
        if self.enabled and not (self.contract or self.deployments_file):
            raise ValueError("chain.enabled needs chain.contract or chain.deployments_file")
        if self.keystore_file and self.key_file:
            raise ValueError("set either chain.key_file or chain.keystore_file, not both")
        if self.keystore_file and not self.password_file:
            raise ValueError("chain.keystore_file needs chain.password_file")
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError("chain.retry_initial_s must not exceed chain.retry_max_s")
        return self
