"""The multi-host suite: skipped, with the reason, where namespaces cannot be made."""

from __future__ import annotations

import pytest

from tests.multihost.harness import unavailable

_why: list[str | None] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = [i for i in items if "tests/multihost/" in str(i.fspath).replace("\\", "/")]
    if not here:
        return
    if not _why:
        _why.append(unavailable())
    if _why[0] is not None:
        skip = pytest.mark.skip(reason=f"multihost: {_why[0]}")
        for item in here:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _why and _why[0] is not None:
        terminalreporter.write_line(f"multihost tests skipped: {_why[0]}")
