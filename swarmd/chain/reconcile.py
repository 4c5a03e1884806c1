"""The reconciler: local records against the contract's own, until they are final.

A submission whose transaction was mined is kept under ``queue/confirmed/`` with
its block. Every ``reconcile_interval_s`` (and at once after a rollback or an
outage) the reconciler reads the contract's records for the rounds those
submissions cover — one ``getRewardRecords`` call per (stage, range of up to 256
rounds) and one ``getVoteRecords`` per range — and, for each record:

- on chain with our value and ``confirmations`` blocks deep: final, forgotten;
- on chain with our value, younger: kept (its block is moved down to the head if
  the chain went back below it);
- not on chain: the chain lost it (a reorg, a node restarted from older state):
  back to pending, and the sender submits it again;
- on chain with another value: failed, naming both (only another holder of this
  node's key could have sent it).

Exactly-once rests on the contract (it keeps each reward and vote once) and on
reading it: a record is resubmitted only when the contract says it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from swarmd.chain import metrics as m
from swarmd.chain.client import winners_hash
from swarmd.chain.errors import ChainMisconfigured, ChainUnavailable, TransientChainError
from swarmd.chain.queue import Submission
from swarmd.errors import NotAvailable

if TYPE_CHECKING:
    from swarmd.chain.subsystem import ChainSubsystem

log = logging.getLogger("swarmd.chain.subsystem")

RANGE = 256  # the contract's MAX_RECORDS_PER_CALL


def ranges(rounds: list[int], width: int = RANGE) -> list[tuple[int, int]]:
    """Cover sorted ``rounds`` with (start, count) ranges of at most ``width`` rounds."""
    out: list[tuple[int, int]] = []
    for r in sorted(set(rounds)):
        if out and r < out[-1][0] + width:
            start = out[-1][0]
            out[-1] = (start, r - start + 1)
        else:
            out.append((r, 1))
    return out


class Reconciler:
    def __init__(self, chain: ChainSubsystem) -> None:
        self.chain = chain
        self.wake = asyncio.Event()
        self.passes = 0
        self.resubmitted = 0  # records found missing on chain and queued again

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.chain.config.reconcile_interval_s):
                    await self.wake.wait()
            self.wake.clear()
            try:
                await self.check()
            except (ChainUnavailable, TransientChainError) as e:
                log.debug("reconciliation postponed: %s", e)
            except (ChainMisconfigured, NotAvailable):
                return
            finally:
                self.passes += 1

    async def _on_chain(self, subs: list[Submission]) -> dict[str, object]:
        """{key: what the contract holds for it (None: nothing)} for the given records."""
        client = self.chain._client()
        found: dict[str, object] = {}
        by_stage: dict[tuple[str, int], list[Submission]] = defaultdict(list)
        for sub in subs:
            by_stage[(sub.kind, sub.stage)].append(sub)
        for (kind, stage), group in by_stage.items():
            for start, count in ranges([s.round for s in group]):
                if kind == "reward":
                    values = await asyncio.to_thread(client.reward_records, self.chain.peer_id, stage, start, count)
                else:
                    values = await asyncio.to_thread(client.vote_records, self.chain.peer_id, start, count)
                for sub in group:
                    if start <= sub.round < start + count:
                        found[sub.key] = values[sub.round - start]
        return found

    async def check(self) -> int:
        """One pass over the confirmed records; returns how many went back to pending."""
        queue = self.chain.queue
        subs = queue.confirmed()
        if not subs:
            return 0
        client = self.chain._client()
        head, _ = await asyncio.to_thread(client.head)
        found = await self._on_chain(subs)
        depth = self.chain.config.confirmations
        reopened = 0
        for sub in subs:
            value = found.get(sub.key)
            ours = sub.reward if sub.kind == "reward" else winners_hash(sub.winners)
            if value is None:
                queue.reopen(sub, "not on chain any more (the chain went back): submitted again")
                reopened += 1
                m.SUBMISSIONS_RESUBMITTED.labels(sub.kind).inc()
                log.warning("chain lost %s (seen in block %d, head now %d): submitting it again",
                            sub.describe(), sub.block, head)
                self.chain._emit(
                    "resubmitting", f"chain lost {sub.describe()}: submitting it again",
                    what="submitReward" if sub.kind == "reward" else "submitWinners",
                    round=sub.round, stage=sub.stage, tx_hash=sub.tx_hash,
                )
            elif value != ours:
                self.chain.sender._failed(sub, f"on chain with a different value ({value!r}), ours {ours!r}")
            elif sub.block > head:
                queue.seen_at(sub, head)  # the chain went back below its block; it is there again
            elif head - sub.block >= depth:
                queue.finalize(sub)
        if reopened:
            self.resubmitted += reopened
            self.chain._wake.set()
        m.PENDING.set(queue.pending_count)
        return reopened
