"""The daemon's side of the trainer: starts the worker process, talks to it, restarts it.

Standard library and asyncio only: the daemon never imports torch. The
worker (``python -m swarmd.trainer.worker``) owns the model; requests go to
it one at a time over its stdin and answers come back on its stdout (see
protocol.py), so the event loop only ever awaits pipe I/O and stays
responsive while a training step runs.

Failure handling, in one place:
- The worker dies (crash, SIGKILL, the kernel's OOM killer): the request in
  flight fails with WorkerDied, the worker is restarted after a backoff
  (1 s, 2 s, 4 s … up to ``restart_backoff_max_s``; back to 1 s once a
  worker has stayed up a minute) and reloads the newest valid checkpoint.
- The worker reports out-of-memory: the batch that failed is halved and the
  same request retried, down to one sequence (then OutOfMemory). The
  smaller batch is kept.
- The worker does not answer within ``request_timeout_s``: it is killed as
  hung, and the request fails with WorkerDied.
- The worker reports a configuration problem at start (``fatal``): no
  restart loop; the state stays "failed" with the reason in last_error.
Simplification: batch sizes only shrink; a restart does not grow them back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.paths import make_dir
from swarmd.tasks import TaskRef
from swarmd.trainer import metrics, protocol
from swarmd.trainer.config import TrainerConfig
from swarmd.trainer.decisions import Limits, restart_delay, shrink_after_oom
from swarmd.trainer.errors import (
    InvalidRequest,
    OutOfMemory,
    TrainerNotReady,
    TrainerStopped,
    WorkerDied,
    WorkerFailed,
)
from swarmd.trainer.protocol import Group, ScoreItem, ScoreResult, TrainGroup, TrainStats

log = logging.getLogger(__name__)
worker_log = logging.getLogger("swarmd.trainer.worker")

# A worker that stayed up this long resets the restart backoff.
STABLE_S = 60.0
STOP_GRACE_S = 3.0
HISTORY = 1000
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class TrainerSupervisor:
    """The daemon's ``trainer`` slot. See the module docstring for failure handling."""

    name = "trainer"

    def __init__(self, config: TrainerConfig, data_dir: Path, events: Any = None,
                 python: str = sys.executable) -> None:
        self.config = config
        self.cache_dir = Path(config.cache_dir or Path(data_dir) / "models")
        self.checkpoint_dir = Path(config.checkpoint_dir or Path(data_dir) / "checkpoints")
        self.events = events
        self._python = python
        # What other subsystems read.
        self.ready = False
        self.state = "starting"
        self.model_name = config.model
        self.model_source = ""  # what the worker loaded: a directory or a hub name
        self.policy_version = 0
        self.device = ""
        self.dtype = ""
        self.trainable_params = 0
        self.restarts = 0
        self.last_error = ""
        self.detail = ""
        self.last_stats: TrainStats | None = None
        self.last_generation: dict[str, float] = {}
        self.last_checkpoint = ""
        # What an export's model card says about the training (the daemon wires in the swarm's facts).
        self.card_facts: Callable[[], dict[str, Any]] = lambda: {}
        self.limits = Limits(0 if config.micro_batch == "auto" else config.micro_batch)
        self._restored: dict[str, Any] | None = None
        self._history: collections.deque[dict[str, Any]] = collections.deque(maxlen=HISTORY)
        # Worker plumbing.
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._ready_since: float | None = None
        self._fatal = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        metrics.WORKER_RSS.set_function(lambda: float(self.worker_rss_bytes))

    # -- what the daemon and its subsystems see ---------------------------------------

    @property
    def worker_pid(self) -> int:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else 0

    @property
    def worker_alive(self) -> bool:
        return self.worker_pid != 0

    @property
    def worker_rss_bytes(self) -> int:
        pid = self.worker_pid
        if not pid:
            return 0
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def restored_round_state(self) -> dict[str, Any] | None:
        """The round state the worker's checkpoint held when it (re)started; None without one."""
        return None if self._restored is None else dict(self._restored.get("round_state") or {})

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` training steps, oldest first (for the dashboard)."""
        items = list(self._history)
        return items[-limit:] if limit > 0 else items

    def fill_status(self, status: pb.Status) -> None:
        t = status.training
        t.state = self.state
        t.model = self.model_name
        t.device = self.device
        t.dtype = self.dtype
        t.step = self.policy_version
        t.policy_version = self.policy_version
        t.worker_restarts = self.restarts
        t.micro_batch = self.limits.micro_batch or (self.last_stats.micro_batch if self.last_stats else 0)
        t.gen_batch = self.limits.gen_batch
        t.last_error = self.last_error
        t.worker_pid = self.worker_pid
        t.worker_rss_bytes = self.worker_rss_bytes
        t.detail = self.detail
        t.trainable_params = self.trainable_params
        t.last_checkpoint = self.last_checkpoint
        s = self.last_stats
        if s is not None:
            t.last_reward_mean = s.reward_mean
            t.last_loss = s.loss
            t.last_step_s = s.step_s
            t.tokens_per_s = s.tokens_per_s
            for key, value in s.to_json().items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    t.last_metrics[key] = float(value)
        for key, value in self.last_generation.items():
            t.last_metrics[key] = float(value)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Quick: spawning the worker and loading the model happen in the background."""
        make_dir(self.cache_dir)
        make_dir(self.checkpoint_dir)
        self._task = asyncio.create_task(self._life(), name="trainer-supervisor")

    async def stop(self) -> None:
        self._stopping = True
        was_ready = self.ready
        self._set_not_ready("stopping")
        proc = self._proc
        if proc is not None and proc.returncode is None:
            # An idle worker exits on end of input; a busy or loading one is
            # terminated (checkpoints are atomic, so nothing half-written stays).
            idle = was_ready and not self._pending
            if proc.stdin is not None:
                proc.stdin.close()
            if not idle or not await self._wait_exit(proc, STOP_GRACE_S):
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                if not await self._wait_exit(proc, 3.0):
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await self._wait_exit(proc, 5.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_pending(TrainerStopped("the trainer is stopping"))
        self.state = "stopped"

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until the worker is up with its model loaded; TrainerNotReady if it failed or stopped."""
        async def wait() -> None:
            while not self.ready:
                if self._fatal or self._stopping:
                    raise TrainerNotReady(self._not_ready_message())
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise TrainerNotReady(f"the trainer was not ready within {timeout:.0f}s: "
                                  f"{self._not_ready_message()}") from None

    # -- the API the swarm game calls ------------------------------------------------------

    async def rollouts(self, refs: list[TaskRef], group_size: int) -> list[Group]:
        """Sample ``group_size`` completions per question (one batched pass) and score them."""
        result, _ = await self._call("rollouts", {"refs": [r.to_json() for r in refs], "group_size": group_size})
        self.last_generation = {k: float(v) for k, v in result.get("stats", {}).items()}
        if "generate_tokens_per_s" in self.last_generation:
            metrics.GENERATE_TOKENS_PER_S.set(self.last_generation["generate_tokens_per_s"])
        return [Group.from_json(g) for g in result["groups"]]

    async def generate(self, prompts: list[list[dict[str, str]]], n: int) -> list[list[str]]:
        """``n`` completions for each free-form chat prompt."""
        result, _ = await self._call("generate", {"prompts": prompts, "n": n})
        return [list(c) for c in result["completions"]]

    async def score(self, items: list[ScoreItem]) -> list[ScoreResult]:
        """Re-score peers' completions; problems with an item are in its result, never raised."""
        result, _ = await self._call("score", {"items": [i.to_json() for i in items]})
        return [ScoreResult.from_json(r) for r in result["results"]]

    async def train(self, groups: list[TrainGroup], *, round: int | None = None) -> TrainStats:  # noqa: A002
        """One GRPO optimizer step on the groups (zero-advantage ones skipped)."""
        result, _ = await self._call("train", {"groups": [g.to_json() for g in groups]})
        stats = TrainStats.from_json(result["stats"])
        self._record_step(stats, round)
        return stats

    async def evaluate(self, refs: list[TaskRef], max_new_tokens: int, batch: int) -> dict[str, Any]:
        """One greedy completion per held-out question, scored: {"datasets", "rewards", "completions", "seconds"}."""
        result, _ = await self._call("evaluate", {"refs": [r.to_json() for r in refs],
                                                  "max_new_tokens": max_new_tokens, "batch": batch})
        return result

    async def checkpoint(self, round_state: dict[str, Any]) -> str:
        """Write a checkpoint (adapter, optimizer, RNG, counters, ``round_state``) atomically."""
        result, _ = await self._call("checkpoint", {"round_state": round_state})
        self.last_checkpoint = result["path"]
        return result["path"]

    async def adapter_bytes(self) -> bytes:
        """The adapter's weights as safetensors bytes (for the blob protocol)."""
        _, blob = await self._call("adapter_bytes", {})
        return blob

    async def export_adapter(self, directory: str) -> pb.ExportAdapterResponse:
        """Write the adapter as a plain PEFT directory (``directory`` absolute, absent or empty)."""
        if not directory or not os.path.isabs(directory):
            raise InvalidRequest(f"export directory {directory!r} must be an absolute path")
        try:
            facts = self.card_facts()
        except Exception:  # noqa: BLE001 - a model card with fewer facts beats no export
            log.warning("export: the model card's facts are unavailable", exc_info=True)
            facts = {}
        result, _ = await self._call("export", {"directory": directory, "facts": facts})
        return pb.ExportAdapterResponse(directory=result["directory"], policy_version=result["policy_version"])

    # -- requests --------------------------------------------------------------------------

    def _not_ready_message(self) -> str:
        if self._stopping:
            return "the trainer is stopping"
        if self._fatal:
            return f"the trainer worker failed to start: {self.last_error}"
        return f"the trainer worker is {self.state}" + (f" ({self.detail})" if self.detail else "")

    async def _call(self, op: str, args: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        if self._stopping:
            raise TrainerStopped("the trainer is stopping")
        if not self.ready:
            raise TrainerNotReady(self._not_ready_message())
        async with self._lock:
            while True:
                if not self.ready:
                    raise TrainerNotReady(self._not_ready_message())
                reply, data = await self._roundtrip(op, args, blob)
                if reply.get("ok"):
                    return reply.get("result") or {}, data
                error = reply.get("error") or {}
                kind, message = error.get("kind"), str(error.get("message", "unknown error"))
                if kind == protocol.ERR_OOM:
                    metrics.OOMS.inc()
                    smaller = shrink_after_oom(op, self.limits, int(error.get("batch", 1)))
                    if smaller is None:
                        raise OutOfMemory(f"{op} ran out of memory even with one sequence at a time: {message}")
                    log.warning("%s ran out of memory; retrying with micro_batch %d, gen_batch %d",
                                op, smaller.micro_batch, smaller.gen_batch)
                    self.limits = smaller
                    continue
                if kind == protocol.ERR_BAD_REQUEST:
                    raise InvalidRequest(message)
                raise WorkerFailed(f"{op} failed in the trainer worker: {message}")

    async def _roundtrip(self, op: str, args: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        rid = next(self._ids)
        future: asyncio.Future[tuple[dict[str, Any], bytes]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        self.state = "busy"
        self.detail = op
        try:
            proc.stdin.write(protocol.encode({"id": rid, "op": op, "args": args, "limits": self.limits.to_json()}, blob))
            await proc.stdin.drain()
            return await asyncio.wait_for(future, self.config.request_timeout_s)
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerDied(f"the trainer worker died before taking {op}") from None
        except TimeoutError:
            log.error("the trainer worker did not answer %s within %.0fs; killing it", op,
                      self.config.request_timeout_s)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise WorkerDied(f"the trainer worker hung on {op} and was killed") from None
        finally:
            self._pending.pop(rid, None)
            if self.ready:
                self.state, self.detail = "ready", ""

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # mark retrieved: the caller may have gone
        self._pending.clear()

    # -- the worker's life -------------------------------------------------------------------

    def _set_not_ready(self, state: str) -> None:
        self.ready = False
        self.state = state
        self._ready_since = None
        metrics.READY.set(0)
        self._changed.set()

    async def _life(self) -> None:
        failures = 0
        while not self._stopping:
            rc: int | None = None
            try:
                await self._spawn()
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure here means: restart the worker
                log.exception("trainer worker plumbing failed")
                self.last_error = f"{type(e).__name__}: {e}"
            finally:
                stable = self._ready_since is not None and time.monotonic() - self._ready_since >= STABLE_S
                rc = await self._reap()
                self._set_not_ready("restarting")
                self._fail_pending(WorkerDied(f"the trainer worker died ({describe_exit(rc)})"))
            if self._stopping:
                return
            if self._fatal:
                self.state = "failed"
                self._emit("failed", f"trainer worker cannot start: {self.last_error}")
                self._changed.set()
                return
            failures = 1 if stable else failures + 1
            delay = restart_delay(failures, self.config.restart_backoff_s, self.config.restart_backoff_max_s)
            self.restarts += 1
            metrics.RESTARTS.inc()
            if not self.last_error or rc not in (0, None):
                self.last_error = f"worker {describe_exit(rc)}"
            self.detail = f"worker {describe_exit(rc)}; restarting in {delay:.1f}s"
            log.warning("trainer worker %s; restarting in %.1fs (restart %d)", describe_exit(rc), delay,
                        self.restarts)
            self._emit("restarting", f"trainer worker {describe_exit(rc)}; restarting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _spawn(self) -> None:
        env = dict(os.environ)
        # Fewer malloc arenas: less fragmentation growth in a process that runs for weeks.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        self.state, self.detail = "starting", "starting the worker process"
        self._changed.set()
        self._proc = await asyncio.create_subprocess_exec(
            self._python, "-m", "swarmd.trainer.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        log.info("trainer worker started (pid %d)", self._proc.pid)
        self._stderr_task = asyncio.create_task(self._relay_stderr(self._proc), name="trainer-worker-stderr")
        init = {
            "op": "init",
            "config": self.config.model_dump(mode="json"),
            "cache_dir": str(self.cache_dir),
            "checkpoint_dir": str(self.checkpoint_dir),
        }
        assert self._proc.stdin is not None
        self._proc.stdin.write(protocol.encode(init))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self._proc.stdin.drain()

    async def _serve(self) -> None:
        """Read frames until the worker's stdout ends."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while True:
            try:
                header, blob = await protocol.read_frame(proc.stdout)
            except EOFError:
                return
            except protocol.ProtocolError as e:
                log.error("the trainer worker sent a malformed frame (%s); killing it", e)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                return
            if "notice" in header:
                self._on_notice(header)
                continue
            future = self._pending.get(header.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result((header, blob))

    def _on_notice(self, notice: dict[str, Any]) -> None:
        kind = notice.get("notice")
        if kind == "progress":
            self.detail = str(notice.get("message", ""))[:300]
        elif kind == "working":
            self.detail = f"{notice.get('op', '?')} running"
        elif kind == "warning":
            self.detail = str(notice.get("message", ""))[:300]
        elif kind == "fatal":
            self._fatal = True
            self.last_error = str(notice.get("message", ""))[:1000]
        elif kind == "ready":
            self.model_name = str(notice.get("model", self.model_name))
            self.model_source = str(notice.get("source", ""))
            self.device = str(notice.get("device", ""))
            self.dtype = str(notice.get("dtype", ""))
            self.trainable_params = int(notice.get("trainable_params", 0))
            self.policy_version = int(notice.get("step", 0))
            self._restored = notice.get("restored")
            self.ready = True
            self.state, self.detail = "ready", ""
            self._ready_since = time.monotonic()
            self._changed.set()
            metrics.READY.set(1)
            metrics.POLICY_VERSION.set(self.policy_version)
            where = f" from {self._restored['path']}" if self._restored else ""
            log.info("trainer ready: %s on %s/%s at policy version %d%s", self.model_name, self.device,
                     self.dtype, self.policy_version, where)
            self._emit("ready", f"trainer ready: {self.model_name} on {self.device}/{self.dtype} "
                                f"at policy version {self.policy_version}{where}")

    async def _relay_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            try:
                raw = await proc.stderr.readline()
            except ValueError:  # a line beyond the stream limit: skip it
                continue
            if not raw:
                return
            # Progress bars redraw with \r: keep the last state only.
            line = raw.decode(errors="replace").rstrip().split("\r")[-1].strip()
            if not line:
                continue
            level_name, _, rest = line.partition(" ")
            level = _LEVELS.get(level_name)
            worker_log.log(level or logging.INFO, "[pid %d] %s", proc.pid, rest if level else line)

    async def _reap(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            if not await self._wait_exit(proc, 5.0):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._stderr_task, 2.0)
        return proc.returncode

    @staticmethod
    async def _wait_exit(proc: asyncio.subprocess.Process, timeout: float) -> bool:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- reporting ---------------------------------------------------------------------------

    def _record_step(self, stats: TrainStats, round_: int | None) -> None:
        self.last_stats = stats
        self.policy_version = stats.policy_version
        metrics.POLICY_VERSION.set(stats.policy_version)
        metrics.REWARD.set(stats.reward_mean)
        if stats.stepped:
            metrics.STEPS.inc()
            metrics.LOSS.set(stats.loss)
            metrics.KL.set(stats.kl)
            metrics.STEP_SECONDS.observe(stats.step_s)
            metrics.TRAIN_TOKENS_PER_S.set(stats.tokens_per_s)
        self._history.append({
            "step": stats.policy_version, "round": int(round_ or 0), "reward_mean": stats.reward_mean,
            "loss": stats.loss, "kl": stats.kl, "tokens_per_s": stats.tokens_per_s, "step_s": stats.step_s,
            "stepped": stats.stepped, "time": time.time(),
        })
        what = (f"step {stats.policy_version}: reward {stats.reward_mean:.3f}, loss {stats.loss:.4f}, "
                f"{stats.groups_used} groups ({stats.groups_skipped} skipped), {stats.step_s:.1f}s")
        if not stats.stepped:
            what = f"no step: all {stats.groups_skipped} groups had zero advantage"
        self._emit("stepped" if stats.stepped else "skipped", what, stats)

    def _emit(self, state: str, message: str, stats: TrainStats | None = None) -> None:
        if self.events is None:
            return
        event = pb.TrainingEvent(step=self.policy_version, state=state)
        if stats is not None:
            event.reward_mean = stats.reward_mean
            event.loss = stats.loss
            event.kl = stats.kl
            event.step_s = stats.step_s
            event.tokens_per_s = stats.tokens_per_s
        self.events.emit(pb.EVENT_KIND_TRAINING, message, training=event)
