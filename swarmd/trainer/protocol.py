"""What the daemon and the trainer worker say to each other: typed records and their framing.

Both sides import this module, so it needs the standard library only. Every
record is a dataclass with ``to_json``/``from_json``; the pipe carries frames

    u32 header length | u32 blob length | header (UTF-8 JSON) | blob (raw bytes)

big-endian. The blob carries bulk bytes (adapter weights) without base64. No
pickle: a frame is data, never code. Frames above ``MAX_FRAME`` are refused
before they are read, so a confused peer cannot make the other side allocate
without bound.

Messages:
    daemon → worker   {"id": n, "op": str, "args": {...}, "limits": {...}}
    worker → daemon   {"id": n, "ok": true, "result": {...}}
                      {"id": n, "ok": false, "error": {"kind": str, "message": str, ...}}
                      {"notice": str, ...}   unsolicited: "progress", "ready", "fatal"
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import asdict, dataclass, field, fields
from typing import Any, BinaryIO

from swarmd.errors import SwarmdError
from swarmd.tasks import TaskRef

HEADER = struct.Struct(">II")
MAX_HEADER = 64 * 1024 * 1024
MAX_BLOB = 1024 * 1024 * 1024
MAX_FRAME = MAX_HEADER + MAX_BLOB

# Error kinds the worker reports.
ERR_OOM = "oom"  # out of memory; ``batch`` says how many sequences were in flight
ERR_BAD_REQUEST = "bad_request"  # the arguments were wrong; retrying will not help
ERR_NOT_READY = "not_ready"
ERR_INTERNAL = "internal"


class ProtocolError(SwarmdError):
    """A malformed frame or record."""


def _messages(value: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    ):
        raise ProtocolError(f"{what} must be a list of {{role, content}} string messages")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _floats(value: Any, what: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise ProtocolError(f"{what} must be a list of numbers")
    return [float(x) for x in value]


def _id_lists(value: Any, what: str) -> list[list[int]]:
    if not isinstance(value, list) or not all(
        isinstance(row, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in row)
        for row in value
    ):
        raise ProtocolError(f"{what} must be a list of lists of token ids")
    return [list(row) for row in value]


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ProtocolError(f"{what} must be a list of strings")
    return list(value)


@dataclass
class Group:
    """One question with its G sampled completions, scored by the verifier."""

    ref: TaskRef
    prompt: list[dict[str, str]]
    question: str
    completions: list[str]
    rewards: list[float]
    completion_tokens: list[int]
    # Mean log-prob per token of each completion under the distribution it was sampled from.
    logprobs: list[float] = field(default_factory=list)
    # The token ids each completion was sampled as.
    token_ids: list[list[int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ref"] = self.ref.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Group:
        return cls(
            ref=TaskRef.from_json(d["ref"]),
            prompt=_messages(d["prompt"], "prompt"),
            question=str(d["question"]),
            completions=_strings(d["completions"], "completions"),
            rewards=_floats(d["rewards"], "rewards"),
            completion_tokens=[int(x) for x in d["completion_tokens"]],
            logprobs=_floats(d.get("logprobs", []), "logprobs"),
            token_ids=_id_lists(d.get("token_ids", []), "token_ids"),
        )


@dataclass
class ScoreItem:
    """A peer's question (by reference and claimed text) and its completions, to re-score."""

    ref: TaskRef
    question: str
    completions: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref.to_json(), "question": self.question, "completions": list(self.completions)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScoreItem:
        return cls(TaskRef.from_json(d["ref"]), str(d["question"]), _strings(d["completions"], "completions"))


@dataclass
class ScoreResult:
    """Rewards in [0, 1], one per completion; or an error and no rewards."""

    rewards: list[float] = field(default_factory=list)
    # "" when scored; "question_mismatch", or a message naming the bad reference.
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScoreResult:
        return cls(_floats(d.get("rewards", []), "rewards"), str(d.get("error", "")))


@dataclass
class TrainGroup:
    """Text only: the worker re-tokenizes, so peers running other tokenizers can share."""

    prompt: list[dict[str, str]]
    completions: list[str]
    rewards: list[float]
    source: str = "local"  # "local", or the peer ID the group came from
    # A peer's group from the same model: the sender's mean log-prob per token of each
    # completion (swarmd.trainer.offpolicy); None otherwise.
    behavior_logprobs: list[float] | None = None
    # A peer's group from the same model: the token ids it sampled (used when they decode to
    # the completion's text); None otherwise.
    token_ids: list[list[int]] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainGroup:
        behavior, ids = d.get("behavior_logprobs"), d.get("token_ids")
        g = cls(
            _messages(d["prompt"], "prompt"),
            _strings(d["completions"], "completions"),
            _floats(d["rewards"], "rewards"),
            str(d.get("source", "local")),
            None if behavior is None else _floats(behavior, "behavior_logprobs"),
            None if ids is None else _id_lists(ids, "token_ids"),
        )
        if len(g.completions) != len(g.rewards):
            raise ProtocolError("a train group needs one reward per completion")
        return g


@dataclass
class TrainStats:
    """Metrics of one optimizer step (or of a batch that had nothing to learn from)."""

    policy_version: int = 0  # optimizer steps taken, after this one
    stepped: bool = False  # False when every group had zero advantage
    reward_mean: float = 0.0
    reward_std: float = 0.0
    zero_adv_fraction: float = 0.0
    loss: float = 0.0
    kl: float = 0.0
    clip_fraction: float = 0.0
    grad_norm: float = 0.0
    learning_rate: float = 0.0
    completion_len: float = 0.0  # mean completion tokens of the groups used
    tokens: int = 0  # completion tokens trained on
    tokens_per_s: float = 0.0  # of the training pass
    step_s: float = 0.0
    peak_memory_bytes: int = 0  # accelerator peak on GPU; process high-water RSS on CPU
    groups_used: int = 0
    groups_skipped: int = 0
    micro_batch: int = 0
    # Peers' completions with a sender log-prob: how many, their mean per-token log-ratio
    # (local − sender), and the mean weight they were trained with (swarmd.trainer.offpolicy).
    external_rows: int = 0
    external_log_ratio: float = 0.0
    external_weight: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainStats:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# -- framing -------------------------------------------------------------------


def encode(header: dict[str, Any], blob: bytes = b"") -> bytes:
    body = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(body) > MAX_HEADER or len(blob) > MAX_BLOB:
        raise ProtocolError(f"frame too large ({len(body)} + {len(blob)} bytes)")
    return HEADER.pack(len(body), len(blob)) + body + blob


def _decode_header(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"frame header is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ProtocolError("frame header is not a JSON object")
    return value


def _check_sizes(n_header: int, n_blob: int) -> None:
    if n_header > MAX_HEADER or n_blob > MAX_BLOB:
        raise ProtocolError(f"frame too large ({n_header} + {n_blob} bytes)")


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """One frame; EOFError at a clean end of stream, ProtocolError on garbage."""
    try:
        prefix = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            raise EOFError from None
        raise ProtocolError("stream ended inside a frame prefix") from None
    n_header, n_blob = HEADER.unpack(prefix)
    _check_sizes(n_header, n_blob)
    try:
        raw = await reader.readexactly(n_header)
        blob = await reader.readexactly(n_blob) if n_blob else b""
    except asyncio.IncompleteReadError:
        raise ProtocolError("stream ended inside a frame") from None
    return _decode_header(raw), blob


def read_frame_sync(stream: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The blocking twin of :func:`read_frame`, for the worker."""

    def exactly(n: int, at_start: bool = False) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = stream.read(n - got)
            if not chunk:
                if got == 0 and at_start:
                    raise EOFError
                raise ProtocolError("stream ended inside a frame")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    n_header, n_blob = HEADER.unpack(exactly(HEADER.size, at_start=True))
    _check_sizes(n_header, n_blob)
    raw = exactly(n_header)
    blob = exactly(n_blob) if n_blob else b""
    return _decode_header(raw), blob
