"""Pre-flight checks that ``swarmd --check`` and start-up share.

Each check takes the resolved Config and raises ConfigError (or a subsystem's
own error) naming the key or file at fault. Subsystems append theirs here.
"""

from __future__ import annotations

from collections.abc import Callable

from swarmd.config import Config

CHECKS: list[Callable[[Config], None]] = []


def _chain(config: Config) -> None:
    if not config.chain.enabled:
        return  # and eth_account stays unimported
    from swarmd.chain.preflight import check

    check(config)


CHECKS.append(_chain)


def _trainer(config: Config) -> None:
    from swarmd.trainer.preflight import check

    check(config)


CHECKS.append(_trainer)
