"""The trainer worker process: ``python -m swarmd.trainer.worker``, started by the supervisor.

It owns torch, transformers, peft and reasoning-gym. Frames (see
protocol.py) arrive on stdin and answers leave on the original stdout; the
process's own fd 1 is pointed at stderr first, so a library that prints
cannot corrupt the channel. Logs go to stderr, which the supervisor relays
into the daemon's log.

Life: read the ``init`` frame (config and paths), load the model, restore
the newest valid checkpoint, announce ``ready``, then answer one request at
a time until stdin closes or ``shutdown`` arrives. A configuration problem
(no such model, bad LoRA targets) is announced as ``fatal`` so the
supervisor does not restart in a loop; any other crash just ends the
process and the supervisor restarts it.

The worker dies with its parent (PR_SET_PDEATHSIG), ignores SIGINT (a ^C in
the daemon's terminal is the daemon's to handle), lowers its own priority
and optionally caps its heap so that memory exhaustion becomes an
exception here rather than the kernel's OOM killer.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, BinaryIO

from swarmd.tasks import TaskRef
from swarmd.trainer import protocol
from swarmd.trainer.protocol import ScoreItem, TrainGroup

log = logging.getLogger("swarmd.trainer.worker")

EXIT_FATAL = 3
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the closed stdin still ends the worker once it is idle


class Channel:
    def __init__(self, rx: BinaryIO, tx: BinaryIO) -> None:
        self.rx, self.tx = rx, tx

    def send(self, header: dict[str, Any], blob: bytes = b"") -> None:
        self.tx.write(protocol.encode(header, blob))
        self.tx.flush()

    def notice(self, kind: str, **fields: Any) -> None:
        self.send({"notice": kind, **fields})

    def receive(self) -> tuple[dict[str, Any], bytes]:
        return protocol.read_frame_sync(self.rx)


class Worker:
    def __init__(self, channel: Channel, init: dict[str, Any]) -> None:
        from swarmd.trainer.config import TrainerConfig

        self.channel = channel
        self.cfg = TrainerConfig.model_validate(init["config"])
        self.cache_dir = Path(init["cache_dir"])
        self.checkpoint_dir = Path(init["checkpoint_dir"])
        self.policy = None

    def progress(self, message: str) -> None:
        log.info("%s", message)
        self.channel.notice("progress", message=message)

    def start(self) -> None:
        from swarmd.trainer.policy import Policy

        self.policy = Policy(self.cfg, self.cache_dir, self.progress)
        restored = self.policy.restore(self.checkpoint_dir, self._warn)
        if restored:
            self.progress(f"resumed from {restored['path']} at step {restored['step']}")
        self.channel.notice("ready", restored=restored, **self.policy.describe())

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.channel.notice("warning", message=message)

    # -- operations: args (JSON) → (result JSON, blob) ------------------------------------

    def op_rollouts(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        refs = [TaskRef.from_json(r) for r in args["refs"]]
        groups, stats = self.policy.rollouts(refs, int(args["group_size"]), int(limits.get("gen_batch", 0)))
        return {"groups": [g.to_json() for g in groups], "stats": stats}, b""

    def op_generate(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        prompts = [protocol._messages(p, "prompt") for p in args["prompts"]]
        return {"completions": self.policy.generate(prompts, int(args["n"]), int(limits.get("gen_batch", 0)))}, b""

    def op_score(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        items = []
        results: list[dict | None] = []
        for raw in args["items"]:
            try:
                items.append(ScoreItem.from_json(raw))
                results.append(None)
            except (KeyError, TypeError, ValueError, protocol.ProtocolError) as e:
                results.append({"rewards": [], "error": f"malformed item: {e}"})
        scored = iter(self.policy.score(items))
        return {"results": [r if r is not None else next(scored).to_json() for r in results]}, b""

    def op_train(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        groups = [TrainGroup.from_json(g) for g in args["groups"]]
        stats = self.policy.train(groups, int(limits.get("micro_batch", 0)))
        return {"stats": stats.to_json()}, b""

    def op_evaluate(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        from swarmd.trainer import greedy

        refs = [TaskRef.from_json(r) for r in args["refs"]]
        return greedy.evaluate(self.policy, refs, int(args["max_new_tokens"]), int(args["batch"])), b""

    def op_checkpoint(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        state = args.get("round_state") or {}
        if not isinstance(state, dict):
            raise protocol.ProtocolError("round_state must be an object")
        path = self.policy.checkpoint(self.checkpoint_dir, state, self.cfg.checkpoint_keep)
        return {"path": str(path), "step": self.policy.step}, b""

    def op_adapter_bytes(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        return {"step": self.policy.step}, self.policy.adapter_bytes()

    def op_export(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        facts = args.get("facts") or {}
        if not isinstance(facts, dict):
            raise protocol.ProtocolError("facts must be an object")
        self.policy.export(str(args["directory"]), facts)
        return {"directory": str(args["directory"]), "policy_version": self.policy.step}, b""

    def op_describe(self, args: dict, limits: dict) -> tuple[dict, bytes]:
        return self.policy.describe(), b""

    def handle(self, header: dict[str, Any]) -> bool:
        """Answer one request; False when the worker should exit."""
        from swarmd.trainer.policy import BadInput, DeviceOutOfMemory

        rid = header.get("id")
        op = header.get("op")
        if op == "shutdown":
            self.channel.send({"id": rid, "ok": True, "result": {}})
            return False
        method = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if method is None:
            self.channel.send({"id": rid, "ok": False, "error": {"kind": protocol.ERR_BAD_REQUEST,
                                                                 "message": f"unknown operation {op!r}"}})
            return True
        self.channel.notice("working", op=op, id=rid)
        error: dict[str, Any] | None = None
        try:
            result, blob = method(header.get("args") or {}, header.get("limits") or {})
        except DeviceOutOfMemory as e:
            error = {"kind": protocol.ERR_OOM, "message": str(e), "batch": e.batch}
        except (BadInput, protocol.ProtocolError, KeyError, TypeError, ValueError) as e:
            message = str(e) if isinstance(e, BadInput | protocol.ProtocolError) else f"{type(e).__name__}: {e}"
            error = {"kind": protocol.ERR_BAD_REQUEST, "message": message}
        except Exception as e:  # noqa: BLE001 - reported to the caller; the worker stays up
            log.error("%s failed:\n%s", op, traceback.format_exc())
            error = {"kind": protocol.ERR_INTERNAL, "message": f"{type(e).__name__}: {e}"[:500]}
        if error is not None:
            if error["kind"] == protocol.ERR_OOM:
                # Outside the except block: the failed attempt's tensors, held by the
                # exception's traceback, are unreachable now and can be freed.
                self._release_memory()
            self.channel.send({"id": rid, "ok": False, "error": error})
            return True
        self.channel.send({"id": rid, "ok": True, "result": result}, blob)
        return True

    @staticmethod
    def _release_memory() -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _set_limits(cfg: dict[str, Any]) -> None:
    nice, memory_limit_mib = int(cfg.get("worker_nice", 0)), int(cfg.get("memory_limit_mib", 0))
    if nice:
        try:
            os.nice(nice)
        except OSError as e:
            log.warning("cannot lower the worker's priority (trainer.worker_nice): %s", e)
    if memory_limit_mib:
        import torch

        if cfg.get("device") != "cpu" and torch.cuda.is_available():
            # CUDA reserves large virtual ranges that RLIMIT_DATA would count; the CUDA
            # allocator reports its own out-of-memory errors.
            log.warning("trainer.memory_limit_mib applies to CPU workers only; ignored on a GPU")
            return
        cap = memory_limit_mib * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
        except (OSError, ValueError) as e:
            log.warning("cannot cap the worker's memory (trainer.memory_limit_mib): %s", e)


def main() -> int:
    # The channel keeps the real stdout; anything printed goes to stderr.
    tx = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    rx = os.fdopen(os.dup(0), "rb", buffering=0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    # Deprecation notices from the ML libraries are for their developers, not operators.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    channel = Channel(rx, tx)
    try:
        header, _ = channel.receive()
    except EOFError:
        return 0
    if header.get("op") != "init":
        log.error("the first frame must be init, got %r", header.get("op"))
        return EXIT_FATAL
    _set_limits(header["config"])
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        worker = Worker(channel, header)
        worker.start()
    except Exception as e:  # noqa: BLE001 - sorted into fatal (configuration) or retryable below
        from swarmd.trainer.models import ModelError

        if isinstance(e, ModelError | ValueError):
            log.error("cannot start: %s", e)
            channel.notice("fatal", message=str(e)[:1000])
            return EXIT_FATAL
        log.error("start-up failed:\n%s", traceback.format_exc())
        return 1
    while True:
        try:
            header, _ = channel.receive()
        except EOFError:
            return 0
        if not worker.handle(header):
            return 0


if __name__ == "__main__":
    sys.exit(main())
