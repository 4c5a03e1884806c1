"""The one sender of a chain account: transactions in order, and the queue's exactly-once rule.

One transaction is in flight at a time (``lock``), so the next nonce is always
the account's pending count and nonce races cannot arise within the daemon.
Before sending a submission the sender asks the chain whether it is there
already (the contract keeps each reward and each vote once): a submission
whose transaction landed before an outage or a crash is confirmed, never sent
again. A signed transaction's hash is written to the queue file before it is
broadcast, so after a restart a transaction still in the node's pool is waited
for rather than replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from swarmd.chain import metrics as m
from swarmd.chain.errors import (
    ChainMisconfigured,
    ChainUnavailable,
    Reverted,
    TransientChainError,
    Unfunded,
    not_reached_yet,
)
from swarmd.chain.queue import Submission, batch_due
from swarmd.errors import NotAvailable


class NotReachedYet(TransientChainError):
    """A submission for a round or stage the contract has not reached yet: retried later."""


if TYPE_CHECKING:
    from swarmd.chain.client import Receipt
    from swarmd.chain.subsystem import ChainSubsystem

log = logging.getLogger("swarmd.chain.subsystem")


class Sender:
    def __init__(self, chain: ChainSubsystem) -> None:
        self.chain = chain
        self.lock = asyncio.Lock()
        self.passes = 0  # completed loop iterations (lets tests wait for one)
        self.waiting_for = ""  # the transaction whose receipt is awaited now

    async def run(self) -> None:
        """Drain the queue whenever woken (or every poll interval), backing off after failures."""
        failures = 0
        while True:
            if failures:
                await asyncio.sleep(self.chain._backoff(failures))
            else:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that arrives as the wait ends, and then stop() would wait forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.chain.config.poll_interval_s):
                        await self.chain._wake.wait()
            self.chain._wake.clear()
            try:
                if not self.chain.registered and not await self.chain._auto_register():
                    continue
                if self.chain._unfunded_at is not None:
                    continue
                current = self.chain.round_state[0] if self.chain.round_state else None
                if not batch_due(self.chain.queue.pending_rounds(), current, self.chain.config.submit_every_n_rounds):
                    continue
                waiting: list[str] = []
                for sub in self.chain.queue.pending():
                    try:
                        await self.submit(sub)
                    except NotReachedYet as e:
                        # Later rounds wait for the chain; the others go ahead meanwhile.
                        waiting.append(str(e))
                if waiting:
                    raise NotReachedYet(f"{waiting[0]}" + (f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""))
                failures = 0
                self.chain._set_reachable()
            except Unfunded as e:
                self.chain._set_unfunded(str(e))
            except ChainUnavailable as e:
                failures += 1
                self.chain._set_unreachable(str(e))
            except TransientChainError as e:
                failures += 1
                repeated = self.chain.last_error == str(e)
                self.chain.last_error = str(e)
                # Said once at warning level; the same reason again (every backoff) at debug.
                log.log(logging.DEBUG if repeated else logging.WARNING, "chain submission will be retried: %s", e)
                if not repeated:
                    self.chain._emit("retrying", f"chain: {e}", what="submission", error=str(e))
            except ChainMisconfigured as e:
                self.chain._set_fatal(str(e))
                return
            except NotAvailable:
                return  # the client stopped (state "error"); the reason is in last_error
            finally:
                self.passes += 1

    async def wait_receipt(self, tx_hash: str) -> Receipt:
        client = self.chain._client()
        deadline = time.monotonic() + self.chain.config.receipt_timeout_s
        delay = 0.05
        self.waiting_for = tx_hash
        try:
            while True:
                receipt = await asyncio.to_thread(client.receipt, tx_hash)
                if receipt is not None:
                    self.chain.block = max(self.chain.block, receipt.block)
                    m.LAST_BLOCK.set(self.chain.block)
                    return receipt
                if time.monotonic() > deadline:
                    raise TransientChainError(
                        f"no receipt for {tx_hash} after {self.chain.config.receipt_timeout_s:.0f}s "
                        "(it may still be mined)"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        finally:
            self.waiting_for = ""

    async def transact(self, what: str, function: str, *args: Any) -> Receipt:
        """Send one call and wait for success; reverts are decoded. The caller holds ``lock``."""
        client = self.chain._client()
        prepared = await asyncio.to_thread(client.prepare, what, function, *args)
        await asyncio.to_thread(client.send, prepared)
        receipt = await self.wait_receipt(prepared.tx_hash)
        if receipt.status != 1:
            raise Reverted(what, await asyncio.to_thread(client.explain, function, args, receipt.block))
        return receipt

    async def _landed(self, sub: Submission) -> Any:
        client = self.chain._client()
        if sub.kind == "reward":
            return await asyncio.to_thread(client.reward_on_chain, sub.round, sub.stage, sub.peer_id)
        votes = await asyncio.to_thread(client.winners_on_chain, sub.round, sub.peer_id)
        return None if votes is None else tuple(votes)

    def _ours(self, sub: Submission) -> Any:
        return sub.reward if sub.kind == "reward" else sub.winners

    async def _resolve_landed(self, sub: Submission) -> bool:
        """If the submission is on chain already, confirm it (or fail it: another value is there)."""
        on_chain = await self._landed(sub)
        if on_chain is None:
            return False
        if on_chain == self._ours(sub):
            self._confirmed(sub, self.chain.block)
        else:
            self._failed(sub, f"already on chain with a different value ({on_chain!r}, ours {self._ours(sub)!r})")
        return True

    async def submit(self, sub: Submission) -> None:
        async with self.lock:
            if await self._resolve_landed(sub):
                return
            client = self.chain._client()
            if sub.tx_hash and await asyncio.to_thread(client.is_known, sub.tx_hash):
                # Sent before an outage or a restart and still known to the node: let it
                # finish, then look again (mined and reverted falls through to a new send).
                await self.wait_receipt(sub.tx_hash)
                if await self._resolve_landed(sub):
                    return
            if sub.kind == "winners" and sub.winners:
                # The contract takes registered winners only: peers without the chain drop out.
                known = await asyncio.to_thread(client.registered, list(sub.winners))
                kept = tuple(w for w, ok in zip(sub.winners, known, strict=True) if ok)
                if kept != sub.winners:
                    log.info("round %d vote: %d winner(s) not registered on chain left out",
                             sub.round, len(sub.winners) - len(kept))
                    sub = self.chain.queue.update(sub, winners=kept)
            if sub.kind == "reward":
                function, args = "submitReward", (sub.round, sub.stage, sub.reward, sub.peer_id)
            else:
                function, args = "submitWinners", (sub.round, list(sub.winners), sub.peer_id)
            try:
                prepared = await asyncio.to_thread(client.prepare, sub.describe(), function, *args)
            except Reverted as e:
                if e.revert.name in ("RewardAlreadySubmitted", "WinnerAlreadyVoted") and await self._resolve_landed(sub):
                    return
                if not_reached_yet(e.revert) and not (self.chain.stage_count and sub.stage >= self.chain.stage_count):
                    raise NotReachedYet(f"{sub.describe()}: the chain has not reached it yet ({e.revert})") from None
                if e.revert.name == "InvalidVoterPeerId" and int(str(e.revert.arg("owner")), 16) == 0:
                    # The registration itself is gone (the chain went back past it): register again.
                    self.chain.registered = False
                    raise TransientChainError(f"{sub.describe()}: the peer ID is not registered any more") from None
                self._failed(sub, str(e.revert))
                return
            # Record the hash before broadcasting: after a crash the sender asks about it.
            sub = self.chain.queue.update(sub, tx_hash=prepared.tx_hash, attempts=sub.attempts + 1, last_error="")
            await asyncio.to_thread(client.send, prepared)
            m.SUBMISSIONS_SENT.labels(sub.kind).inc()
            self.chain._emit(
                "submitted", f"sent {sub.describe()} (tx {prepared.tx_hash})",
                what=function, round=sub.round, stage=sub.stage, tx_hash=prepared.tx_hash,
            )
            receipt = await self.wait_receipt(prepared.tx_hash)
            if receipt.status == 1:
                self._confirmed(sub, receipt.block, receipt.block_hash)
            elif not await self._resolve_landed(sub):
                # Mined but reverted (a race after the estimate): the next attempt decodes why.
                self.chain.queue.update(sub, last_error=f"transaction {prepared.tx_hash} reverted on chain")
                raise TransientChainError(f"{sub.describe()}: transaction {prepared.tx_hash} reverted on chain")

    def _confirmed(self, sub: Submission, block: int, block_hash: str = "") -> None:
        self.chain.queue.confirm(sub, block, block_hash)
        self.chain.submitted += 1
        m.SUBMISSIONS_CONFIRMED.labels(sub.kind).inc()
        m.PENDING.set(self.chain.queue.pending_count)
        log.info("on chain: %s", sub.describe())
        self.chain._emit(
            "confirmed", f"on chain: {sub.describe()}",
            what="submitReward" if sub.kind == "reward" else "submitWinners",
            round=sub.round, stage=sub.stage, tx_hash=sub.tx_hash,
        )

    def _failed(self, sub: Submission, reason: str) -> None:
        self.chain.queue.fail(sub, reason)
        message = f"{sub.describe()} failed: {reason}"
        self.chain.recent_failures.append(message)
        self.chain.last_error = message
        m.SUBMISSIONS_FAILED.labels(sub.kind).inc()
        m.PENDING.set(self.chain.queue.pending_count)
        log.warning("chain submission dropped: %s", message)
        self.chain._emit(
            "failed", message,
            what="submitReward" if sub.kind == "reward" else "submitWinners",
            round=sub.round, stage=sub.stage, tx_hash=sub.tx_hash, error=reason,
        )
