"""Fixtures for the chain tests: real anvil nodes on free loopback ports.

``contract`` shares one anvil and one deployment per module and rewinds the chain
between tests with ``evm_snapshot``/``evm_revert``; ``chain_node`` is a fresh anvil
per test (with a state file, so a test can stop and restart it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmd.chain import localnet


@pytest.fixture(scope="module")
def chain_module(tmp_path_factory) -> Iterator[localnet.Anvil]:
    """One anvil for a module."""
    node = localnet.Anvil(log_file=tmp_path_factory.mktemp("anvil") / "anvil.log").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def chain_node(tmp_path: Path) -> Iterator[localnet.Anvil]:
    """A fresh anvil for one test, persisting to tmp_path/anvil-state.json on SIGTERM."""
    node = localnet.Anvil(state_file=tmp_path / "anvil-state.json", log_file=tmp_path / "anvil.log").start()
    try:
        yield node
    finally:
        node.stop()
