"""The persistent submission queue: one JSON file per submission in DATA_DIR/queue/.

Each submission has a stable key (kind, round, stage, peer) which is also its file
name, so queueing the same result twice is a no-op and a restart finds exactly
what was pending. Writes are atomic (temp file, fsync, rename, fsync of the
directory). A confirmed submission moves to ``queue/confirmed/`` with the block
its transaction landed in, and stays there until it is final (``chain.confirmations``
blocks deep): the reconciler compares those records with the contract's own and
moves any the chain lost (a reorg, a node restarted from older state) back to
pending. Only a final record is deleted. A permanently failed one moves to
``queue/failed/`` with its decoded reason, where it stays visible in status until
an operator removes it.

The file records the hash of the last signed transaction *before* it is
broadcast, so after a crash or an outage the sender can ask the chain about it
instead of guessing. Exactly-once itself rests on the chain: before every send
the sender reads whether the submission already landed (the contract keeps each
(round, stage, peer) reward and each (round, voter) vote once).

Queue files hold no secrets: results, peer IDs and transaction hashes only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from swarmd.paths import make_dir

log = logging.getLogger(__name__)

Kind = Literal["reward", "winners"]
_NAME = re.compile(r"(reward|winners)-(\d+)-(\d+)-([1-9A-HJ-NP-Za-km-z]{1,128})\.json")


@dataclass(frozen=True)
class Submission:
    kind: Kind
    round: int
    stage: int  # 0 for winners
    peer_id: str
    reward: int = 0
    winners: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    attempts: int = 0
    tx_hash: str = ""  # last transaction signed for it (may never have reached the chain)
    last_error: str = ""
    failed_reason: str = ""
    block: int = 0  # confirmed: the block it was seen on chain in
    block_hash: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.round}-{self.stage}-{self.peer_id}"

    @property
    def file_name(self) -> str:
        return f"{self.key}.json"

    def describe(self) -> str:
        if self.kind == "reward":
            return f"reward {self.reward} for round {self.round} stage {self.stage}"
        return f"winners {list(self.winners)} for round {self.round}"

    def to_json(self) -> str:
        data = asdict(self)
        data["winners"] = list(self.winners)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Submission:
        data = json.loads(text)
        data["winners"] = tuple(data.get("winners", ()))
        sub = cls(**data)
        if sub.kind not in ("reward", "winners") or sub.round < 0 or sub.stage < 0:
            raise ValueError("not a submission")
        if not isinstance(sub.reward, int) or not all(isinstance(w, str) for w in sub.winners):
            raise ValueError("malformed fields")
        return sub


def sort_key(sub: Submission) -> tuple[int, int, int]:
    # Oldest round first (it is the closest to the contract's submission window);
    # within a round, rewards by stage before the round's vote.
    return (sub.round, 0 if sub.kind == "reward" else 1, sub.stage)


def batch_due(pending_rounds: set[int], current_round: int | None, every_n: int) -> bool:
    """Whether held submissions should be sent now.

    With batching every N rounds, submissions wait until N distinct rounds are
    queued, or until the oldest is N rounds behind the chain (so a node that stops
    taking part still flushes what it has).
    """
    if not pending_rounds:
        return False
    if every_n <= 1 or len(pending_rounds) >= every_n:
        return True
    return current_round is not None and current_round - min(pending_rounds) >= every_n


def backoff_delay(failures: int, initial_s: float, max_s: float) -> float:
    """Capped exponential backoff: initial, 2×, 4×, ... up to max (failures counts from 1)."""
    if failures <= 0:
        return 0.0
    return min(max_s, initial_s * (2 ** min(failures - 1, 30)))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class SubmissionQueue:
    """Pending submissions on disk, mirrored in memory (the disk is the truth at start)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.failed_dir = directory / "failed"
        self.confirmed_dir = directory / "confirmed"
        self.corrupt_dir = directory / "corrupt"
        make_dir(self.failed_dir)
        make_dir(self.confirmed_dir)
        self._pending: dict[str, Submission] = {}
        self._failed: dict[str, Submission] = {}
        self._confirmed: dict[str, Submission] = {}
        self._load()

    def _load(self) -> None:
        for tmp in self.dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)  # a write interrupted before its rename
        for directory, into in (
            (self.dir, self._pending), (self.failed_dir, self._failed), (self.confirmed_dir, self._confirmed)
        ):
            for path in sorted(directory.glob("*.json")):
                try:
                    sub = Submission.from_json(path.read_text())
                    if path.name != sub.file_name:
                        raise ValueError(f"file name does not match its key {sub.key}")
                except (OSError, ValueError, TypeError) as e:
                    make_dir(self.corrupt_dir)
                    os.replace(path, self.corrupt_dir / path.name)
                    log.warning("moved unreadable queue file %s to %s: %s", path.name, self.corrupt_dir, e)
                    continue
                into[sub.key] = sub
        for key in self._pending.keys() & self._confirmed.keys():
            # A crash between writing the confirmed record and removing the pending one.
            (self.dir / self._pending.pop(key).file_name).unlink(missing_ok=True)

    # -- queries ------------------------------------------------------------------------

    def pending(self) -> list[Submission]:
        return sorted(self._pending.values(), key=sort_key)

    def failed(self) -> list[Submission]:
        return sorted(self._failed.values(), key=sort_key)

    def confirmed(self) -> list[Submission]:
        """On chain, not yet final."""
        return sorted(self._confirmed.values(), key=sort_key)

    @property
    def confirmed_count(self) -> int:
        return len(self._confirmed)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def failed_count(self) -> int:
        return len(self._failed)

    def known(self, key: str) -> bool:
        return key in self._pending or key in self._failed or key in self._confirmed

    def pending_rounds(self) -> set[int]:
        return {s.round for s in self._pending.values()}

    # -- changes ------------------------------------------------------------------------

    def add(self, sub: Submission) -> bool:
        """Persist a new submission; False (and nothing written) if its key is already queued."""
        if not _NAME.fullmatch(sub.file_name):
            raise ValueError(f"cannot queue {sub.key!r}: peer ID is not base58")
        if self.known(sub.key):
            return False
        _atomic_write(self.dir / sub.file_name, sub.to_json())
        self._pending[sub.key] = sub
        return True

    def update(self, sub: Submission, **changes: object) -> Submission:
        """Persist changed fields of a pending submission (e.g. the tx hash before sending)."""
        new = replace(sub, **changes)
        _atomic_write(self.dir / new.file_name, new.to_json())
        self._pending[new.key] = new
        return new

    def confirm(self, sub: Submission, block: int, block_hash: str = "") -> Submission:
        """The submission is on chain (in ``block``): keep it under confirmed/ until final."""
        new = replace(sub, block=block, block_hash=block_hash, last_error="")
        _atomic_write(self.confirmed_dir / new.file_name, new.to_json())
        (self.dir / sub.file_name).unlink(missing_ok=True)
        _fsync_dir(self.dir)
        self._pending.pop(sub.key, None)
        self._confirmed[new.key] = new
        return new

    def seen_at(self, sub: Submission, block: int) -> Submission:
        """A confirmed record was found on chain again, now counted from ``block``."""
        new = replace(sub, block=block, block_hash="")
        _atomic_write(self.confirmed_dir / new.file_name, new.to_json())
        self._confirmed[new.key] = new
        return new

    def finalize(self, sub: Submission) -> None:
        """Final on chain: forget it."""
        (self.confirmed_dir / sub.file_name).unlink(missing_ok=True)
        _fsync_dir(self.confirmed_dir)
        self._confirmed.pop(sub.key, None)

    def reopen(self, sub: Submission, reason: str) -> Submission:
        """A confirmed record is not on chain any more (the chain went back): pending again."""
        new = replace(sub, block=0, block_hash="", last_error=reason)
        _atomic_write(self.dir / new.file_name, new.to_json())
        (self.confirmed_dir / sub.file_name).unlink(missing_ok=True)
        _fsync_dir(self.confirmed_dir)
        self._confirmed.pop(sub.key, None)
        self._pending[new.key] = new
        return new

    def fail(self, sub: Submission, reason: str) -> Submission:
        """Permanent failure: keep it with its reason under failed/, out of the pending set."""
        new = replace(sub, failed_reason=reason, last_error=reason)
        _atomic_write(self.failed_dir / new.file_name, new.to_json())
        for directory in (self.dir, self.confirmed_dir):
            (directory / sub.file_name).unlink(missing_ok=True)
            _fsync_dir(directory)
        self._pending.pop(sub.key, None)
        self._confirmed.pop(sub.key, None)
        self._failed[new.key] = new
        return new
