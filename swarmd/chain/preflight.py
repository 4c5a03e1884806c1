"""Resolve where the chain is and which key signs, and the pre-flight check built on it.

A key file is configuration: a missing, unreadable, malformed or group/world-readable
one fails ``swarmd --check`` and start-up, naming the file. Network problems are not
configuration and are left to the running client (it keeps retrying).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from swarmd.chain.keys import KeyFileError, check_key_file, check_keystore

if TYPE_CHECKING:
    from swarmd.config import Config


@dataclass(frozen=True)
class Endpoint:
    rpc_url: str
    chain_id: int | None  # expected; None: not checked
    contract: str
    # Exactly one of these is set.
    key_file: Path | None
    keystore_file: Path | None
    password_file: Path | None


def _config_error(message: str) -> Exception:
    from swarmd.config import ConfigError

    return ConfigError(message)


def read_deployments(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise _config_error(f"chain.deployments_file {path} does not exist (run 'make chain' to create one)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _config_error(f"chain.deployments_file {path} cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise _config_error(f"chain.deployments_file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", str(data.get("address", ""))):
        raise _config_error(f"chain.deployments_file {path} has no valid 'address'")
    if "chain_id" in data and not isinstance(data["chain_id"], int):
        raise _config_error(f"chain.deployments_file {path}: 'chain_id' must be an integer")
    return data


def resolve(config: Config) -> Endpoint:
    """Where to connect and with which key; raises ConfigError naming the key or file."""
    chain = config.chain
    rpc_url, chain_id, contract = chain.rpc_url, chain.chain_id, chain.contract
    if chain.deployments_file is not None:
        dep = read_deployments(chain.deployments_file)
        contract = dep["address"]
        if "rpc_url" not in chain.model_fields_set and isinstance(dep.get("rpc_url"), str):
            rpc_url = dep["rpc_url"]
        if chain_id is None:
            chain_id = dep.get("chain_id")
    assert contract is not None  # the config validator insists on contract or deployments_file
    if chain.keystore_file is not None:
        return Endpoint(rpc_url, chain_id, contract, None, chain.keystore_file, chain.password_file)
    return Endpoint(rpc_url, chain_id, contract, chain.key_file or config.data_dir / "chain.key", None, None)


def check(config: Config) -> None:
    """Pre-flight: the chain's files exist and the key file is private and well-formed."""
    if not config.chain.enabled:
        return
    ep = resolve(config)
    try:
        if ep.key_file is not None:
            check_key_file(ep.key_file)
        else:
            assert ep.keystore_file is not None and ep.password_file is not None
            check_keystore(ep.keystore_file, ep.password_file)
    except KeyFileError as e:
        raise _config_error(f"chain: {e}") from None
