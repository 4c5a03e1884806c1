"""Client and AsyncClient: one method per SwarmControl RPC."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import grpc

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.client import errors
from swarmd.client._target import TLS, Target, translate

DEFAULT_TIMEOUT = 10.0
# Export, download, checkpoint, register and submit wait on the trainer or the chain.
LONG_TIMEOUT = 600.0
# Pauses between retries of an idempotent call that found the daemon unreachable or busy.
RETRY_DELAYS = (0.1, 0.3, 1.0)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AdapterDownload:
    """What ``download_adapter`` wrote."""

    directory: Path
    policy_version: int
    files: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class DaemonConfig:
    """The daemon's resolved configuration; secrets read ``"<redacted>"``."""

    values: dict[str, Any]
    redacted: tuple[str, ...]

    def get(self, dotted: str, default: Any = None) -> Any:
        """A value by dotted key, e.g. ``config.get("control.socket_mode")``."""
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def _config(reply: pb.ConfigResponse) -> DaemonConfig:
    return DaemonConfig(json.loads(reply.config_json), tuple(reply.redacted))


def _events_request(kinds: Iterable[int | str], since: int | None, replay: int) -> pb.WatchEventsRequest:
    values = []
    for k in kinds:
        values.append(pb.EventKind.Value(f"EVENT_KIND_{k.upper()}") if isinstance(k, str) else int(k))
    req = pb.WatchEventsRequest(kinds=values, replay=replay)
    if since is not None:
        req.since, req.has_since = since, True
    return req


class _AdapterWriter:
    """Writes DownloadAdapter chunks into a staging directory, then renames it into place."""

    def __init__(self, directory: str | Path, progress: Progress | None) -> None:
        self.final = Path(directory).absolute()
        if self.final.exists() and (not self.final.is_dir() or any(self.final.iterdir())):
            raise errors.BadRequest(f"{self.final} exists and is not an empty directory")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.", dir=self.final.parent))
        # mkdtemp makes it 0700; the result is an ordinary directory (modes as the umask allows).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.staging, 0o777 & ~umask)
        self.progress = progress
        self.received = self.total = self.policy_version = 0
        self.files: list[str] = []
        self._open: tuple[str, Any] | None = None
        self.done = False

    def add(self, chunk: pb.AdapterChunk) -> None:
        if chunk.total_bytes:
            self.total, self.policy_version = chunk.total_bytes, chunk.policy_version
        if chunk.done:
            self._close()
            self.done = True
            return
        rel = PurePosixPath(chunk.path)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise errors.DaemonError(f"the daemon sent an unsafe adapter path {chunk.path!r}")
        if self._open is None or self._open[0] != chunk.path:
            self._close()
            path = self.staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open = (chunk.path, path.open("wb"))
            os.chmod(path, (chunk.mode & 0o777) or 0o644)
            self.files.append(chunk.path)
        self._open[1].write(chunk.data)
        self.received += len(chunk.data)
        if chunk.file_done:
            self._close()
        if self.progress is not None:
            self.progress(self.received, self.total)

    def _close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None

    def finish(self) -> AdapterDownload:
        self._close()
        if not self.done:
            raise errors.DaemonError("the adapter stream ended before its last chunk")
        if self.final.exists():
            self.final.rmdir()  # empty, checked above
        os.rename(self.staging, self.final)
        return AdapterDownload(self.final, self.policy_version, tuple(self.files), self.received)

    def abort(self) -> None:
        self._close()
        shutil.rmtree(self.staging, ignore_errors=True)


class _Methods:
    """The unary RPCs, shared by Client (returns replies) and AsyncClient (returns awaitables)."""

    timeout: float
    long_timeout: float

    def _call(self, method: str, request: Any, *, timeout: float | None, idempotent: bool) -> Any:
        raise NotImplementedError

    def status(self, *, timeout: float | None = None) -> pb.Status:
        """Identity, mesh, round, training and chain state, and the API version."""
        return self._call("GetStatus", pb.GetStatusRequest(), timeout=timeout, idempotent=True)

    def peers(self, include_stale: bool = False, *, timeout: float | None = None) -> pb.ListPeersResponse:
        """The peer table (live peers; stale ones too with ``include_stale``)."""
        return self._call("ListPeers", pb.ListPeersRequest(include_stale=include_stale), timeout=timeout,
                          idempotent=True)

    def join(self, multiaddrs: Iterable[str], *, timeout: float | None = None) -> pb.JoinResponse:
        """Dial these multiaddrs and keep them as bootstrap addresses; one result per address."""
        return self._call("Join", pb.JoinRequest(multiaddrs=list(multiaddrs)), timeout=timeout, idempotent=False)

    def leave(self, *, timeout: float | None = None) -> pb.LeaveResponse:
        """Leave the mesh (announce it and disconnect); the daemon keeps running."""
        return self._call("Leave", pb.LeaveRequest(), timeout=timeout, idempotent=False)

    def start_round(self, round: int = 0, *, timeout: float | None = None) -> pb.RoundResponse:  # noqa: A002
        """Start a round (0: the next one); coordinator or stage manager only."""
        return self._call("StartRound", pb.StartRoundRequest(round=round), timeout=timeout, idempotent=False)

    def advance_round(self, *, timeout: float | None = None) -> pb.RoundResponse:
        """Advance to the next stage or round; coordinator or stage manager only."""
        return self._call("AdvanceRound", pb.AdvanceRoundRequest(), timeout=timeout, idempotent=False)

    def register(self, *, timeout: float | None = None) -> pb.RegisterResponse:
        """Register this node's peer ID on the coordinator contract (waits for the transaction)."""
        return self._call("Register", pb.RegisterRequest(), timeout=timeout or self.long_timeout, idempotent=False)

    def submit_results(self, round: int = 0, *, timeout: float | None = None) -> pb.SubmitResultsResponse:  # noqa: A002
        """Queue a round's results for the chain (0: the last completed round).

        Stages already handed to the chain are not sent again (``already_submitted``
        counts them); a round this node has no results for raises NotAvailable.
        """
        return self._call("SubmitResults", pb.SubmitResultsRequest(round=round),
                          timeout=timeout or self.long_timeout, idempotent=False)

    def leaderboard(self, query: str = "", limit: int = 0, *, timeout: float | None = None) -> pb.Leaderboard:
        """Verified rewards and wins per peer, filtered by name or peer ID substring."""
        return self._call("GetLeaderboard", pb.GetLeaderboardRequest(query=query, limit=limit), timeout=timeout,
                          idempotent=True)

    def export_adapter(self, directory: str | Path, *, timeout: float | None = None) -> pb.ExportAdapterResponse:
        """Write the adapter as a PEFT directory on the daemon's own filesystem (an absolute path).

        A remote client uses ``download_adapter`` instead.
        """
        return self._call("ExportAdapter", pb.ExportAdapterRequest(directory=os.path.abspath(directory)),
                          timeout=timeout or self.long_timeout, idempotent=False)

    def diagnostics(self, log_lines: int = 0, *, timeout: float | None = None) -> pb.Diagnostics:
        """What a bug report needs: redacted configuration, recent log lines and events, versions, host facts."""
        return self._call("GetDiagnostics", pb.GetDiagnosticsRequest(log_lines=log_lines), timeout=timeout,
                          idempotent=True)

    def shutdown(self, *, timeout: float | None = None) -> pb.ShutdownResponse:
        """Stop the daemon gracefully."""
        return self._call("Shutdown", pb.ShutdownRequest(), timeout=timeout, idempotent=False)

    def rounds(self, page_size: int = 50, page_token: str = "", *,
               timeout: float | None = None) -> pb.ListRoundsResponse:
        """One page of the round history, newest first; pass ``next_page_token`` for older records."""
        return self._call("ListRounds", pb.ListRoundsRequest(page_size=page_size, page_token=page_token),
                          timeout=timeout, idempotent=True)

    def training_history(self, limit: int = 100, *, timeout: float | None = None) -> pb.TrainingHistory:
        """The trainer's last ``limit`` optimizer steps, oldest first."""
        return self._call("GetTrainingHistory", pb.GetTrainingHistoryRequest(limit=limit), timeout=timeout,
                          idempotent=True)

    def pause_training(self, *, timeout: float | None = None) -> pb.TrainingControlResponse:
        """Skip training from the next stage on (the node keeps relaying) until ``resume_training``."""
        return self._call("PauseTraining", pb.PauseTrainingRequest(), timeout=timeout, idempotent=True)

    def resume_training(self, *, timeout: float | None = None) -> pb.TrainingControlResponse:
        """Train again from the next stage on."""
        return self._call("ResumeTraining", pb.ResumeTrainingRequest(), timeout=timeout, idempotent=True)

    def checkpoint(self, *, timeout: float | None = None) -> pb.CheckpointResponse:
        """Write a trainer checkpoint now (waits for a running step to finish)."""
        return self._call("Checkpoint", pb.CheckpointRequest(), timeout=timeout or self.long_timeout,
                          idempotent=False)


class EventStream:
    """Events from ``Client.events``: iterate it; ``last_seq`` is where to resume after a disconnect."""

    def __init__(self, call: Any, target: Target, timeout: float | None = None) -> None:
        self._call = call
        self._target = target
        self._timeout = timeout
        self.last_seq: int | None = None

    def ready(self) -> EventStream:
        """Wait until the daemon has subscribed this stream (nothing emitted afterwards can be missed)."""
        try:
            self._call.initial_metadata()
        except grpc.RpcError as e:
            raise translate(e, self._target, "WatchEvents", self._timeout) from None
        return self

    def __iter__(self) -> Iterator[pb.Event]:
        try:
            for event in self._call:
                if event.kind != pb.EVENT_KIND_GAP:
                    self.last_seq = event.seq
                else:
                    self.last_seq = event.gap.last_missed
                yield event
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise translate(e, self._target, "WatchEvents", self._timeout) from None

    def close(self) -> None:
        self._call.cancel()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client(_Methods):
    """A synchronous client of one daemon's control plane.

    ``Client()`` talks to the default data directory's socket;
    ``Client("/var/lib/swarmd/swarmd.sock")`` or ``Client(data_dir=...)`` to
    another; ``Client(address="host:50051", token_file=..., tls=TLS(ca_file=...))``
    over TCP. Calls time out after ``timeout`` seconds (the long ones, which
    wait on the trainer or the chain, after ``long_timeout``); each method
    takes its own ``timeout=`` too. Idempotent calls are retried ``retries``
    times when the daemon is unreachable or busy. Failures raise the classes
    of ``swarmd.client.errors``. Use it as a context manager, or ``close()`` it.
    """

    def __init__(self, socket: str | Path | None = None, *, address: str | None = None,
                 data_dir: str | Path | None = None, token: str | None = None,
                 token_file: str | Path | None = None, tls: TLS | None = None,
                 timeout: float = DEFAULT_TIMEOUT, long_timeout: float = LONG_TIMEOUT, retries: int = 2) -> None:
        self.target = Target.resolve(socket, address=address, data_dir=data_dir, token=token,
                                     token_file=token_file, tls=tls)
        self.timeout, self.long_timeout, self.retries = timeout, long_timeout, retries
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.SwarmControlStub | None = None

    def _connect(self) -> pb_grpc.SwarmControlStub:
        if self._stub is None:
            self.target.probe()
            address, creds, options = self.target.channel_args()
            self._channel = (grpc.secure_channel(address, creds, options=options) if creds is not None
                             else grpc.insecure_channel(address, options=options))
            self._stub = pb_grpc.SwarmControlStub(self._channel)
        return self._stub

    def _call(self, method: str, request: Any, *, timeout: float | None, idempotent: bool) -> Any:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            stub = self._connect()
            try:
                return getattr(stub, method)(request, timeout=max(0.001, deadline - time.monotonic()),
                                             metadata=self.target.metadata)
            except grpc.RpcError as e:
                err = translate(e, self.target, method, timeout)
            retry = idempotent and isinstance(err, errors.Unreachable | errors.Busy) and attempt < self.retries
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            if not retry or time.monotonic() + delay >= deadline:
                raise err
            attempt += 1
            time.sleep(delay)

    def get_config(self, *, timeout: float | None = None) -> DaemonConfig:
        """The resolved configuration the daemon runs with, secrets redacted."""
        return _config(self._call("GetConfig", pb.GetConfigRequest(), timeout=timeout, idempotent=True))

    def iter_rounds(self, page_size: int = 100) -> Iterator[pb.RoundRecord]:
        """Every round record the daemon holds, newest first, page by page."""
        token = ""
        while True:
            page = self.rounds(page_size, token)
            yield from page.rounds
            token = page.next_page_token
            if not token:
                return

    def events(self, kinds: Iterable[int | str] = (), *, since: int | None = None, replay: int = 0,
               timeout: float | None = None) -> EventStream:
        """Follow the daemon's events (``kinds``: names such as "round" or EventKind values).

        With ``since`` (a sequence number seen before) the buffered events after
        it come first, preceded by an EVENT_KIND_GAP marker if some are no
        longer buffered; without it, the newest ``replay`` events. The stream
        ends when the daemon stops, or after ``timeout`` seconds if given.
        """
        stub = self._connect()
        call = stub.WatchEvents(_events_request(kinds, since, replay), timeout=timeout,
                                metadata=self.target.metadata)
        return EventStream(call, self.target, timeout)

    def download_adapter(self, directory: str | Path, *, progress: Progress | None = None,
                         timeout: float | None = None) -> AdapterDownload:
        """Export the adapter and write its files into ``directory`` here (absent or empty).

        ``progress(received_bytes, total_bytes)`` is called per chunk. The
        directory appears complete or not at all.
        """
        timeout = timeout or self.long_timeout
        writer = _AdapterWriter(directory, progress)
        try:
            call = self._connect().DownloadAdapter(pb.DownloadAdapterRequest(), timeout=timeout,
                                                   metadata=self.target.metadata)
            try:
                for chunk in call:
                    writer.add(chunk)
            except grpc.RpcError as e:
                raise translate(e, self.target, "DownloadAdapter", timeout) from None
            return writer.finish()
        except BaseException:
            writer.abort()
            raise

    def wait_for_round(self, round: int, *, timeout: float) -> pb.RoundRecord:  # noqa: A002
        """Block until this node has recorded a stage of round ``round`` or later; return that record."""
        with self.events(["round"], timeout=timeout).ready() as stream:
            newest = self.rounds(1).rounds
            if newest and newest[0].round >= round:
                return newest[0]
            for event in stream:
                if event.round.phase == "done" and event.round.round >= round:
                    return self.rounds(1).rounds[0]
        raise errors.Unreachable(f"the event stream of {self.target.where} ended before round {round}")

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream:
    """Events from ``AsyncClient.events``: ``async for`` over it; ``last_seq`` is where to resume."""

    def __init__(self, call: Any, target: Target, timeout: float | None = None) -> None:
        self._call = call
        self._target = target
        self._timeout = timeout
        self.last_seq: int | None = None

    async def ready(self) -> AsyncEventStream:
        """Wait until the daemon has subscribed this stream."""
        try:
            await self._call.initial_metadata()
        except grpc.RpcError as e:
            raise translate(e, self._target, "WatchEvents", self._timeout) from None
        return self

    def __aiter__(self) -> AsyncIterator[pb.Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[pb.Event]:
        try:
            async for event in self._call:
                self.last_seq = event.gap.last_missed if event.kind == pb.EVENT_KIND_GAP else event.seq
                yield event
        except asyncio.CancelledError:
            raise
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise translate(e, self._target, "WatchEvents", self._timeout) from None

    def close(self) -> None:
        self._call.cancel()


class AsyncClient(_Methods):
    """The asyncio twin of Client: the same methods and arguments, each a coroutine
    (``events`` returns an AsyncEventStream). Create it inside a running loop;
    ``async with AsyncClient(...) as c:`` closes it."""

    def __init__(self, socket: str | Path | None = None, *, address: str | None = None,
                 data_dir: str | Path | None = None, token: str | None = None,
                 token_file: str | Path | None = None, tls: TLS | None = None,
                 timeout: float = DEFAULT_TIMEOUT, long_timeout: float = LONG_TIMEOUT, retries: int = 2) -> None:
        self.target = Target.resolve(socket, address=address, data_dir=data_dir, token=token,
                                     token_file=token_file, tls=tls)
        self.timeout, self.long_timeout, self.retries = timeout, long_timeout, retries
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.SwarmControlStub | None = None

    def _connect(self) -> pb_grpc.SwarmControlStub:
        if self._stub is None:
            self.target.probe()
            address, creds, options = self.target.channel_args()
            self._channel = (grpc.aio.secure_channel(address, creds, options=options) if creds is not None
                             else grpc.aio.insecure_channel(address, options=options))
            self._stub = pb_grpc.SwarmControlStub(self._channel)
        return self._stub

    async def _call(self, method: str, request: Any, *, timeout: float | None, idempotent: bool) -> Any:
        timeout = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        attempt = 0
        while True:
            stub = self._connect()
            try:
                return await getattr(stub, method)(request, timeout=max(0.001, deadline - loop.time()),
                                                   metadata=self.target.metadata)
            except grpc.RpcError as e:
                err = translate(e, self.target, method, timeout)
            retry = idempotent and isinstance(err, errors.Unreachable | errors.Busy) and attempt < self.retries
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            if not retry or loop.time() + delay >= deadline:
                raise err
            attempt += 1
            await asyncio.sleep(delay)

    async def get_config(self, *, timeout: float | None = None) -> DaemonConfig:
        """The resolved configuration the daemon runs with, secrets redacted."""
        return _config(await self._call("GetConfig", pb.GetConfigRequest(), timeout=timeout, idempotent=True))

    async def iter_rounds(self, page_size: int = 100) -> AsyncIterator[pb.RoundRecord]:
        """Every round record the daemon holds, newest first, page by page."""
        token = ""
        while True:
            page = await self.rounds(page_size, token)
            for record in page.rounds:
                yield record
            token = page.next_page_token
            if not token:
                return

    def events(self, kinds: Iterable[int | str] = (), *, since: int | None = None, replay: int = 0,
               timeout: float | None = None) -> AsyncEventStream:
        """As Client.events; ``await stream.ready()`` waits for the subscription."""
        stub = self._connect()
        call = stub.WatchEvents(_events_request(kinds, since, replay), timeout=timeout,
                                metadata=self.target.metadata)
        return AsyncEventStream(call, self.target, timeout)

    async def download_adapter(self, directory: str | Path, *, progress: Progress | None = None,
                               timeout: float | None = None) -> AdapterDownload:
        """As Client.download_adapter."""
        timeout = timeout or self.long_timeout
        writer = _AdapterWriter(directory, progress)
        try:
            call = self._connect().DownloadAdapter(pb.DownloadAdapterRequest(), timeout=timeout,
                                                   metadata=self.target.metadata)
            try:
                async for chunk in call:
                    writer.add(chunk)
            except grpc.RpcError as e:
                raise translate(e, self.target, "DownloadAdapter", timeout) from None
            return writer.finish()
        except BaseException:
            writer.abort()
            raise

    async def wait_for_round(self, round: int, *, timeout: float) -> pb.RoundRecord:  # noqa: A002
        """As Client.wait_for_round."""
        stream = self.events(["round"], timeout=timeout)
        try:
            await stream.ready()
            newest = (await self.rounds(1)).rounds
            if newest and newest[0].round >= round:
                return newest[0]
            async for event in stream:
                if event.round.phase == "done" and event.round.round >= round:
                    return (await self.rounds(1)).rounds[0]
        finally:
            stream.close()
        raise errors.Unreachable(f"the event stream of {self.target.where} ended before round {round}")

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["AdapterDownload", "AsyncClient", "AsyncEventStream", "Client", "DaemonConfig", "EventStream", "TLS"]
