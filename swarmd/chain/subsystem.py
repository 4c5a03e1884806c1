"""The daemon's chain subsystem: connection, registration, the round, and the submission sender.

``start`` only spawns a background task, so a slow or absent RPC never delays
the daemon. That task loads the key (a keystore takes about a second of
scrypt), connects with backoff (state "unreachable" until it answers), checks
the chain ID and that a contract is at the address (a mismatch is state
"error": the rest of the daemon runs on), then runs three loops:

- the poller reads round, stage, block and balance every ``poll_interval_s``;
- the sender registers the peer ID (if configured) and drains the on-disk
  queue, one transaction at a time (one sender per key: the next nonce is the
  account's pending count);
- the optional advancer moves the stage on a timer (stage managers only);
- the reconciler checks submissions that are on chain but not final against the
  contract's records and resubmits any the chain lost (``reconcile.py``).

The poller also watches the head: a lower block number, or a known block whose
hash changed, is a rollback, said in the log, a ``rollback`` event and status
(``rollbacks``, ``last_rollback``); the reconciler then runs at once and the
registration is read again (the chain may have lost it too).

Exactly-once: before each send the sender reads the chain for the submission
(the contract keeps each reward and each vote once), so a submission whose
transaction landed during an outage or before a restart is confirmed, never
sent again. Transient failures back off exponentially; reverts are decoded and
the submission moves to ``queue/failed/`` with its reason.

``queue_results`` only writes to the queue: a chain outage never blocks or
fails the swarm game.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.chain import metrics as m
from swarmd.chain.errors import (
    ChainError,
    ChainMisconfigured,
    ChainUnavailable,
    Reverted,
    TransientChainError,
)
from swarmd.chain.keys import KeyFileError
from swarmd.chain.preflight import Endpoint, resolve
from swarmd.chain.queue import Submission, SubmissionQueue, backoff_delay
from swarmd.chain.reconcile import Reconciler
from swarmd.chain.redact import redact_url, register_secrets, scrub, secrets_of
from swarmd.chain.sender import Sender
from swarmd.errors import Busy, NotAvailable, Refused

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from swarmd.chain.client import ChainClient
    from swarmd.daemon import Daemon

log = logging.getLogger(__name__)

MAX_WINNERS = 32  # the contract's MAX_WINNERS
MAX_PEER_ID_BYTES = 128
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1
RECENT_FAILURES = 10


class ChainSubsystem:
    name = "chain"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.config = daemon.config.chain
        self.peer_id = daemon.identity.peer_id
        self.endpoint: Endpoint = resolve(daemon.config)
        # The RPC URL as shown anywhere (credentials masked); its secrets never leave the client.
        self.rpc_url_shown = redact_url(self.endpoint.rpc_url)
        self._secrets = secrets_of(self.endpoint.rpc_url)
        register_secrets(self._secrets)
        self.queue = SubmissionQueue(daemon.config.data_dir / "queue")
        self.client: ChainClient | None = None
        self.address = ""
        # What the chain said last (None: not read yet).
        self.chain_id_seen: int | None = None
        self.round_state: tuple[int, int] | None = None
        self.stage_count = 0
        self.block = 0
        self.balance_wei: int | None = None
        self.registered = False
        self.is_stage_manager = False
        self.submitted = 0
        self.last_error = ""
        self.recent_failures: collections.deque[str] = collections.deque(maxlen=RECENT_FAILURES)
        self.rollbacks = 0
        self.last_rollback = ""
        self._head: tuple[int, str] | None = None  # (number, hash) of the head at the last poll
        # State flags; `state` is derived from them.
        self._connected = False
        self._unreachable = False
        self._unfunded_at: int | None = None  # balance when gas could not be paid
        self._fatal = ""  # wrong chain, no contract, bad keystore: nothing more is tried
        self._owner_conflict = ""
        self._winner_rounds: set[int] = set()
        self._bootnodes_fed: set[str] = set()
        self._bootnodes_due = 0.0
        self._wake = asyncio.Event()
        self.sender = Sender(self)
        self.reconciler = Reconciler(self)
        self._main: asyncio.Task[None] | None = None
        m.PENDING.set(self.queue.pending_count)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name="chain")
        self._main.add_done_callback(self._main_done)

    def _main_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A bug, not a chain condition: keep the daemon up, say so in status.
        err = task.exception()
        log.error("the chain client failed", exc_info=err)
        self._set_fatal(f"internal error: {type(err).__name__}: {err}")

    async def stop(self) -> None:
        if self._main is None:
            return
        self._main.cancel()
        try:
            await self._main
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # stop() itself was cancelled (the daemon's shutdown deadline)
        except Exception:  # noqa: BLE001 - already logged by _main_done
            pass

    @property
    def state(self) -> str:
        if self._fatal:
            return "error"
        if self._unreachable:
            return "unreachable"
        if not self._connected:
            return "connecting"
        if self._unfunded_at is not None or self._owner_conflict:
            return "error"
        return "ok"

    async def _run(self) -> None:
        try:
            account = await asyncio.to_thread(self._load_account)
        except KeyFileError as e:
            self._set_fatal(str(e))
            return
        from swarmd.chain.client import ChainClient

        max_fee = int(self.config.max_fee_gwei * 10**9) if self.config.max_fee_gwei else None
        self.client = ChainClient(
            self.endpoint.rpc_url,
            self.endpoint.contract,
            account,
            rpc_timeout_s=self.config.rpc_timeout_s,
            gas_multiplier=self.config.gas_multiplier,
            max_fee_wei=max_fee,
        )
        self.address = account.address
        del account
        log.info("chain account %s, contract %s at %s", self.address, self.endpoint.contract, self.rpc_url_shown)
        if not await self._connect():
            return
        self.reconciler.wake.set()  # records confirmed before a restart are checked at once
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._poller(), name="chain-poller")
            tg.create_task(self.sender.run(), name="chain-sender")
            tg.create_task(self.reconciler.run(), name="chain-reconciler")
            if self.config.advance_every_s > 0:
                tg.create_task(self._advancer(), name="chain-advancer")

    def _load_account(self) -> LocalAccount:
        from swarmd.chain.keys import load_key_file, load_keystore

        ep = self.endpoint
        if ep.key_file is not None:
            return load_key_file(ep.key_file)
        assert ep.keystore_file is not None and ep.password_file is not None
        return load_keystore(ep.keystore_file, ep.password_file)

    async def _connect(self) -> bool:
        """Verify the endpoint, retrying while unreachable; False if it is the wrong chain."""
        failures = 0
        while True:
            try:
                await self._verify()
                await self._refresh_account()
                self._connected = True
                self._set_reachable()
                return True
            except ChainMisconfigured as e:
                self._set_fatal(str(e))
                return False
            except (ChainUnavailable, TransientChainError) as e:
                failures += 1
                self._set_unreachable(str(e))
                await asyncio.sleep(self._backoff(failures))

    async def _verify(self) -> None:
        """The endpoint is the expected chain and has our contract (run again after an outage)."""
        client = self._client(connected=False)
        chain_id = await asyncio.to_thread(client.chain_id)
        self.chain_id_seen = chain_id
        expected = self.endpoint.chain_id
        if expected is not None and chain_id != expected:
            raise ChainMisconfigured(
                f"chain ID mismatch: {self.rpc_url_shown} is chain {chain_id}, but chain.chain_id "
                f"expects {expected}"
            )
        if not await asyncio.to_thread(client.has_code):
            raise ChainMisconfigured(
                f"no contract at {self.endpoint.contract} on chain {chain_id} ({self.rpc_url_shown}): "
                "wrong address, or a fresh chain without the deployment"
            )
        self.stage_count = await asyncio.to_thread(client.stage_count)
        self.is_stage_manager = await asyncio.to_thread(client.has_role, "STAGE_MANAGER_ROLE")

    async def _refresh_account(self) -> None:
        client = self._client(connected=False)
        owner = await asyncio.to_thread(client.peer_owner, self.peer_id)
        self._note_owner(owner)
        await self._poll_once()

    def _note_owner(self, owner: str | None) -> None:
        if owner is not None and owner.lower() == self.address.lower():
            self.registered = True
            self._owner_conflict = ""
        elif owner is not None:
            self.registered = False
            self._owner_conflict = (
                f"peer ID {self.peer_id} is registered to {owner}, not to this node's account "
                f"{self.address}: its submissions cannot be accepted"
            )
            self.last_error = self._owner_conflict
        else:
            self.registered = False

    def _client(self, connected: bool = True) -> ChainClient:
        """The client; for the public API (``connected``) only once the endpoint was verified."""
        if self._fatal:
            raise NotAvailable(f"the chain client stopped: {self._fatal}")
        if self.client is None or (connected and not self._connected):
            raise ChainUnavailable(f"the chain client is still connecting to {self.rpc_url_shown}")
        return self.client

    def _backoff(self, failures: int) -> float:
        return backoff_delay(failures, self.config.retry_initial_s, self.config.retry_max_s)

    # -- state changes, each emitted once ---------------------------------------------------

    def _emit(self, change: str, message: str, **fields: Any) -> None:
        fields = {k: scrub(v, self._secrets) if isinstance(v, str) else v for k, v in fields.items()}
        self.daemon.events.emit(
            pb.EVENT_KIND_CHAIN, scrub(message, self._secrets), chain=pb.ChainEvent(change=change, **fields)
        )

    def _set_fatal(self, message: str) -> None:
        self._fatal = message
        self.last_error = message
        log.error("chain client stopped: %s", message)
        self._emit("failed", f"chain: {message}", what="connect", error=message)

    def _set_unreachable(self, message: str) -> None:
        self.last_error = message
        if not self._unreachable:
            self._unreachable = True
            log.warning("chain unreachable (retrying in the background): %s", message)
            self._emit(
                "retrying",
                f"chain unreachable, {self.queue.pending_count} submissions wait: {message}",
                what="connect",
                error=message,
            )

    def _set_reachable(self) -> None:
        if self._unreachable:
            self._unreachable = False
            log.info("chain reachable again at %s", self.rpc_url_shown)
            self.reconciler.wake.set()  # whatever happened meanwhile, check the records
            if self.last_error and self.state == "ok":
                self.last_error = ""

    def _set_unfunded(self, message: str) -> None:
        first = self._unfunded_at is None
        self._unfunded_at = self.balance_wei or 0
        self.last_error = message
        if first:
            log.warning("%s; submissions stay queued", message)
            self._emit("retrying", f"chain: {message}; submissions stay queued", what="gas", error=message)

    # -- loops -------------------------------------------------------------------------------

    async def _poll_once(self) -> None:
        client = self._client(connected=False)
        await self._check_head(client)
        round_state = await asyncio.to_thread(client.round_state)
        self.balance_wei = await asyncio.to_thread(client.balance)
        if self._unfunded_at is not None and self.balance_wei > self._unfunded_at:
            self._unfunded_at = None  # funded since: let the sender try again
            self.last_error = ""
            self._wake.set()
        self._note_round(round_state)

    async def _check_head(self, client: ChainClient) -> None:
        """Read the head; a lower number, or a known block with another hash, is a rollback."""
        number, block_hash = await asyncio.to_thread(client.head)
        previous, self._head = self._head, (number, block_hash)
        self.block = number
        if previous is None:
            return
        old, old_hash = previous
        what = ""
        if number < old:
            what = f"head block {old} -> {number}"
        elif number == old and block_hash != old_hash:
            what = f"block {old} replaced"
        elif number > old:
            now = await asyncio.to_thread(client.block_hash, old)
            if now is not None and now != old_hash:
                what = f"block {old} replaced (head {number})"
        if what:
            await self._rolled_back(client, what, old - min(old, number))

    async def _rolled_back(self, client: ChainClient, what: str, depth: int) -> None:
        self.rollbacks += 1
        m.ROLLBACKS.inc()
        self.last_rollback = f"{what} at {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC"
        message = (
            f"the chain went back ({what}): {self.queue.confirmed_count} submissions not yet final are "
            "checked against the contract and submitted again where missing"
        )
        if depth > self.config.confirmations:
            message += (
                f"; {depth} blocks is deeper than chain.confirmations ({self.config.confirmations}): "
                "submissions already final before may be lost"
            )
        log.warning(message)
        self._emit("rollback", message, what="head", error=what)
        # The registration may be gone with it: read it again (the sender re-registers).
        owner = await asyncio.to_thread(client.peer_owner, self.peer_id)
        self._note_owner(owner)
        self.reconciler.wake.set()
        self._wake.set()

    def _note_round(self, round_state: tuple[int, int]) -> None:
        if round_state == self.round_state:
            return
        first = self.round_state is None
        self.round_state = round_state
        m.ROUND.set(round_state[0])
        r, s = round_state
        self._emit("round", f"chain round {r} stage {s}" + (" (first read)" if first else ""), round=r, stage=s)
        self._wake.set()  # batching may be due now

    async def _feed_bootnodes(self) -> None:
        """Hand the contract's bootnode list to the mesh (it dials new ones with backoff)."""
        mesh = self.daemon.mesh
        if mesh is None or time.monotonic() < self._bootnodes_due:
            return
        self._bootnodes_due = time.monotonic() + 60.0
        fresh = [a for a in await self.bootnodes() if a not in self._bootnodes_fed]
        if fresh:
            self._bootnodes_fed.update(fresh)
            mesh.add_bootnodes(fresh)
            log.info("bootnodes from the contract: %s", ", ".join(fresh))

    async def _poller(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                if self._unreachable:
                    await self._verify()  # the chain came back: is it still the same chain?
                await self._poll_once()
                await self._feed_bootnodes()
                self._set_reachable()
            except ChainMisconfigured as e:
                self._set_fatal(str(e))
                raise asyncio.CancelledError from None
            except (ChainUnavailable, TransientChainError) as e:
                self._set_unreachable(str(e))

    async def _auto_register(self) -> bool:
        if not self.config.register_on_start:
            if not self._owner_conflict and self.queue.pending_count:
                self.last_error = "peer ID not registered on chain: submissions wait for `swarmctl register`"
            return False
        if self._owner_conflict:
            return False
        try:
            await self.register()
        except Refused:
            return False  # _owner_conflict or a decoded revert is in last_error
        except Busy as e:
            cause = e.__cause__ if isinstance(e.__cause__, ChainError) else None
            raise (cause or TransientChainError(str(e))) from None
        return self.registered

    async def _advancer(self) -> None:
        while True:
            await asyncio.sleep(self.config.advance_every_s)
            if not self.is_stage_manager:
                continue
            try:
                await self.advance()
            except (ChainError, Busy, Refused, NotAvailable) as e:
                log.warning("timed stage advance failed: %s", e)

    @contextlib.asynccontextmanager
    async def _control(self, what: str) -> AsyncIterator[None]:
        """Chain errors as control-plane errors, for calls an operator makes."""
        try:
            yield
        except ChainUnavailable as e:
            raise ChainUnavailable(scrub(str(e), self._secrets)) from None
        except Reverted as e:
            raise Refused(f"{what}: the contract refused: {e.revert}") from e
        except ChainMisconfigured as e:
            raise NotAvailable(scrub(str(e), self._secrets)) from e
        except ChainError as e:
            raise Busy(scrub(f"{what}: {e}", self._secrets)) from e

    # -- the API other parts call ---------------------------------------------------------------

    async def register(self) -> pb.RegisterResponse:
        """Register this node's peer ID to its account (already registered to it: success)."""
        async with self._control("register"), self.sender.lock:
            client = self._client()
            owner = await asyncio.to_thread(client.peer_owner, self.peer_id)
            self._note_owner(owner)
            if self._owner_conflict:
                raise Refused(self._owner_conflict)
            tx_hash = ""
            if not self.registered:
                from swarmd.chain.client import registration_message

                # Proof of the peer ID's key: its signature over chain ID, contract and account.
                chain_id = self.chain_id_seen or await asyncio.to_thread(client.chain_id)
                proof = self.daemon.identity.sign(registration_message(chain_id, client.contract.address, self.address))
                try:
                    receipt = await self.sender.transact("registerPeer", "registerPeer", self.peer_id, proof)
                    tx_hash = receipt.tx_hash
                except Reverted as e:
                    if e.revert.name != "PeerIdAlreadyRegistered":
                        self.last_error = str(e)
                        raise
                    self._note_owner(e.revert.arg("owner"))
                    if self._owner_conflict:
                        raise Refused(self._owner_conflict) from None
            already = not tx_hash
            self.registered = True
            if self.last_error.startswith("peer ID not registered"):
                self.last_error = ""
        message = f"peer ID {self.peer_id} registered to {self.address}" + (" (already)" if already else "")
        log.info(message)
        self._emit("registered", message, what="registerPeer", tx_hash=tx_hash)
        self._wake.set()
        return pb.RegisterResponse(
            peer_id=self.peer_id, address=self.address, tx_hash=tx_hash, already_registered=already
        )

    def queue_results(self, round: int, stage: int, reward: int, winners: list[str]) -> int:  # noqa: A002
        """Queue ``submitReward`` for (round, stage) and, once per round, ``submitWinners``.

        Only writes to DATA_DIR/queue/ and returns how many submissions are new (a
        repeated call queues nothing). The winners of a round come from the first
        call that names any. Raises ValueError for malformed results.
        """
        if round < 0 or stage < 0:
            raise ValueError(f"round and stage must be non-negative (got round {round}, stage {stage})")
        if self.stage_count and stage >= self.stage_count:
            raise ValueError(f"stage {stage} is not below the contract's stage count {self.stage_count}")
        reward = int(reward)
        if not INT256_MIN <= reward <= INT256_MAX:
            raise ValueError(f"reward {reward} does not fit int256")
        winners = list(winners)
        if len(winners) > MAX_WINNERS:
            raise ValueError(f"{len(winners)} winners; the contract takes at most {MAX_WINNERS}")
        if len(set(winners)) != len(winners):
            raise ValueError(f"duplicate peer IDs in winners {winners}")
        if any(not w or len(w.encode()) > MAX_PEER_ID_BYTES for w in winners):
            raise ValueError("a winner's peer ID is empty or longer than 128 bytes")
        new = [Submission("reward", round, stage, self.peer_id, reward=reward)]
        if winners and round not in self._winner_rounds:
            self._winner_rounds.add(round)
            new.append(Submission("winners", round, 0, self.peer_id, winners=tuple(winners)))
        queued = 0
        for sub in new:
            if self.queue.add(sub):
                queued += 1
                m.SUBMISSIONS_QUEUED.labels(sub.kind).inc()
        m.PENDING.set(self.queue.pending_count)
        if queued:
            self._wake.set()
        return queued

    def pending_count(self) -> int:
        return self.queue.pending_count

    async def read_round(self) -> tuple[int, int, int]:
        """(round, stage, stage count) read from the contract now; ChainUnavailable when it cannot be."""
        client = self._client()
        try:
            round_state = await asyncio.to_thread(client.round_state)
        except ChainUnavailable as e:
            self._set_unreachable(str(e))
            raise
        except TransientChainError as e:
            raise ChainUnavailable(f"cannot read the round: {e}") from None
        self._note_round(round_state)
        return round_state[0], round_state[1], self.stage_count

    async def advance(self) -> tuple[int, int]:
        """Advance the contract's stage (stage managers only); returns the new (round, stage)."""
        async with self._control("advance"):
            client = self._client()
            if not self.is_stage_manager:
                self.is_stage_manager = await asyncio.to_thread(client.has_role, "STAGE_MANAGER_ROLE")
            if not self.is_stage_manager:
                raise Refused(
                    f"this node's account {self.address} does not hold STAGE_MANAGER_ROLE on {client.contract.address}"
                )
            async with self.sender.lock:
                receipt = await self.sender.transact("updateStageAndRound", "updateStageAndRound")
            round_state = client.stage_advanced(receipt)
        self._note_round(round_state)
        return round_state

    async def bootnodes(self) -> list[str]:
        """The contract's bootnode multiaddrs."""
        return await self._read("bootnodes")

    async def totals(self, peer_ids: list[str]) -> dict[str, tuple[int, int]]:
        """{peer ID: (total reward, total wins)} from the contract."""
        return await self._read("totals", list(peer_ids))

    async def _read(self, method: str, *args: Any) -> Any:
        client = self._client()
        try:
            return await asyncio.to_thread(getattr(client, method), *args)
        except TransientChainError as e:
            raise ChainUnavailable(str(e)) from None

    # -- status --------------------------------------------------------------------------------

    def fill_status(self, status: pb.Status) -> None:
        c = status.chain
        c.state = self.state
        c.rpc_url = self.rpc_url_shown
        c.chain_id = self.chain_id_seen or self.endpoint.chain_id or 0
        c.contract = self.endpoint.contract
        c.address = self.address
        c.balance_wei = "" if self.balance_wei is None else str(self.balance_wei)
        c.registered = self.registered
        c.pending_submissions = self.queue.pending_count
        c.failed_submissions = self.queue.failed_count
        c.last_error = scrub(self.last_error, self._secrets)
        c.submitted = self.submitted
        if self.round_state is not None:
            c.round, c.stage = self.round_state
        c.stage_count = self.stage_count
        c.block = self.block
        c.stage_manager = self.is_stage_manager
        c.recent_failures.extend(scrub(f, self._secrets) for f in self.recent_failures)
        c.unfinal_submissions = self.queue.confirmed_count
        c.rollbacks = self.rollbacks
        c.last_rollback = self.last_rollback
        m.UNFINAL.set(self.queue.confirmed_count)


__all__ = ["ChainSubsystem"]
