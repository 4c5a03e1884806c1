"""The SwarmControl servicer: translates RPCs into calls on the daemon's subsystems.

It holds no state of its own. A subsystem that is not running answers with
FAILED_PRECONDITION and a message saying why, never with a fake success.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.control.api import API_VERSION, ERROR_CLASS_KEY, fill_enums, peer_liveness
from swarmd.errors import BadRequest, ControlError

if TYPE_CHECKING:
    from swarmd.daemon import Daemon

log = logging.getLogger(__name__)

# Adapter bytes per DownloadAdapter message (well under control.max_message_bytes).
CHUNK_BYTES = 256 * 1024
MAX_ROUNDS_PAGE = 1000


def _unary(method):
    """Map ControlError to its gRPC status; log and hide anything unexpected."""

    @functools.wraps(method)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except ControlError as e:
            # The error's class travels as metadata so a client raises the same one.
            context.set_trailing_metadata(((ERROR_CLASS_KEY, type(e).__name__),))
            await context.abort(getattr(grpc.StatusCode, e.code), str(e))
        except asyncio.CancelledError:
            raise
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("control request %s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__} failed; see the daemon log")

    return wrapper


class ControlService(pb_grpc.SwarmControlServicer):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @_unary
    async def GetStatus(self, request, context):
        status = fill_enums(self.daemon.status())
        status.api_version = API_VERSION
        from swarmd.p2p.codec import WIRE_VERSION_MAX, WIRE_VERSION_MIN

        status.wire_version_min, status.wire_version_max = WIRE_VERSION_MIN, WIRE_VERSION_MAX
        status.training_paused = bool(getattr(self.daemon.swarm, "paused", False))
        return status

    @_unary
    async def ListPeers(self, request, context):
        reply = await self.daemon.require_mesh().list_peers(include_stale=request.include_stale)
        for peer in reply.peers:
            peer.peer_liveness = peer_liveness(peer.liveness)
        return reply

    @_unary
    async def Join(self, request, context):
        return await self.daemon.require_mesh().join(list(request.multiaddrs))

    @_unary
    async def Leave(self, request, context):
        return await self.daemon.require_mesh().leave()

    @_unary
    async def StartRound(self, request, context):
        return await self.daemon.require_swarm().start_round(request.round)

    @_unary
    async def AdvanceRound(self, request, context):
        return await self.daemon.require_swarm().advance_round()

    @_unary
    async def Register(self, request, context):
        return await self.daemon.require_chain().register()

    @_unary
    async def SubmitResults(self, request, context):
        return await self.daemon.require_swarm().submit_results(request.round)

    @_unary
    async def GetLeaderboard(self, request, context):
        swarm = self.daemon.require_swarm()
        await swarm.refresh_chain_totals(timeout=2.0)
        return swarm.leaderboard(request.query, request.limit)

    @_unary
    async def ExportAdapter(self, request, context):
        return await self.daemon.require_trainer().export_adapter(request.directory)

    async def WatchEvents(self, request, context) -> AsyncIterator[pb.Event]:
        sub = self.daemon.events.subscribe(
            request.kinds, since=request.since if request.has_since else None, replay=request.replay
        )
        # Initial metadata tells the client its subscription is in place, so
        # nothing emitted after this point can be missed.
        await context.send_initial_metadata(())
        try:
            async for event in sub:
                yield event
        finally:
            sub.close()

    @_unary
    async def GetDiagnostics(self, request, context):
        from swarmd import diagnostics

        return diagnostics.collect(self.daemon, request.log_lines)

    @_unary
    async def ListRounds(self, request, context):
        swarm = self.daemon.require_swarm()
        size = min(request.page_size or 50, MAX_ROUNDS_PAGE)
        rows = swarm.round_history()
        # The token is how many of the newest records the previous pages held.
        try:
            skip = int(request.page_token) if request.page_token else 0
        except ValueError:
            raise BadRequest(f"page_token {request.page_token[:40]!r} is not one ListRounds returned") from None
        if skip < 0 or skip > len(rows):
            raise BadRequest(f"page_token {skip} is outside the {len(rows)} records held")
        newest_first = rows[::-1][skip : skip + size]
        reply = pb.ListRoundsResponse(total=len(rows))
        for h in newest_first:
            reply.rounds.append(round_record(h))
        if skip + size < len(rows):
            reply.next_page_token = str(skip + size)
        return reply

    @_unary
    async def GetTrainingHistory(self, request, context):
        trainer = self.daemon.require_trainer()
        reply = pb.TrainingHistory()
        for point in trainer.history(request.limit or 100):
            reply.points.add(**{k: point[k] for k in _TRAINING_POINT_FIELDS if k in point})
        return reply

    @_unary
    async def GetConfig(self, request, context):
        from swarmd.diagnostics import redacted_config

        config = self.daemon.config
        tree = redacted_config(config).model_dump(mode="json")
        return pb.ConfigResponse(config_json=json.dumps(tree),
                                 redacted=_changed_keys(config.model_dump(mode="json"), tree))

    async def DownloadAdapter(self, request, context) -> AsyncIterator[pb.AdapterChunk]:
        try:
            trainer = self.daemon.require_trainer()
            staging = Path(tempfile.mkdtemp(prefix="download-", dir=self.daemon.config.data_dir))
        except ControlError as e:
            context.set_trailing_metadata(((ERROR_CLASS_KEY, type(e).__name__),))
            await context.abort(getattr(grpc.StatusCode, e.code), str(e))
        try:
            try:
                result = await trainer.export_adapter(str(staging / "adapter"))
            except ControlError as e:
                context.set_trailing_metadata(((ERROR_CLASS_KEY, type(e).__name__),))
                await context.abort(getattr(grpc.StatusCode, e.code), str(e))
            files = await asyncio.to_thread(_listing, Path(result.directory))
            total = sum(size for _, _, _, size in files)
            first = True
            for path, rel, mode, _ in files:
                with open(path, "rb") as f:  # noqa: ASYNC230 - reads go through to_thread below
                    offset = 0
                    while True:
                        data = await asyncio.to_thread(f.read, CHUNK_BYTES)
                        chunk = pb.AdapterChunk(path=rel, offset=offset, data=data, mode=mode,
                                                file_done=len(data) < CHUNK_BYTES)
                        if first:
                            chunk.policy_version, chunk.total_bytes, first = result.policy_version, total, False
                        offset += len(data)
                        yield chunk
                        if chunk.file_done:
                            break
            yield pb.AdapterChunk(done=True, policy_version=result.policy_version, total_bytes=total)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)

    @_unary
    async def PauseTraining(self, request, context):
        return self.daemon.require_swarm().pause_training(True)

    @_unary
    async def ResumeTraining(self, request, context):
        return self.daemon.require_swarm().pause_training(False)

    @_unary
    async def Checkpoint(self, request, context):
        trainer = self.daemon.require_trainer()
        swarm = self.daemon.swarm
        round_state = swarm.last_round_state() if swarm is not None else {}
        path = await trainer.checkpoint(round_state)
        return pb.CheckpointResponse(path=os.fspath(path), policy_version=trainer.policy_version)

    @_unary
    async def Shutdown(self, request, context):
        log.info("shutdown requested over the control plane")
        self.daemon.request_stop("control request")
        return pb.ShutdownResponse()


def _changed_keys(before: object, after: object, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON trees of the same shape."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [k for key in before for k in _changed_keys(before[key], after.get(key), f"{prefix}{key}.")]
    return [prefix.rstrip(".")] if before != after else []


def _listing(root: Path) -> list[tuple[Path, str, int, int]]:
    """(path, path relative to root, mode bits, size) of every file under ``root``."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        st = path.stat()
        out.append((path, str(path.relative_to(root)), st.st_mode & 0o777, st.st_size))
    return out


_TRAINING_POINT_FIELDS = tuple(pb.TrainingPoint.DESCRIPTOR.fields_by_name)
_RECORD_SCALARS = ("round", "stage", "local_groups", "external_groups", "rejections", "seconds", "finished_at")


def round_record(h: dict) -> pb.RoundRecord:
    """One round-history record (a dict of the game's state file) as a RoundRecord."""
    rec = pb.RoundRecord(record_json=json.dumps(h, sort_keys=True, default=str))
    for key in _RECORD_SCALARS:
        value = h.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(rec, key, type(getattr(rec, key))(value))
    if isinstance(h.get("own_reward"), int | float):
        rec.own_reward, rec.has_own_reward = float(h["own_reward"]), True
    for peer, reward in (h.get("rewards") or {}).items():
        if isinstance(reward, int | float):
            rec.rewards[str(peer)] = float(reward)
    rec.winners.extend(str(w) for w in h.get("winners") or [])
    rec.external_peers.extend(str(p) for p in h.get("external_peers") or [])
    for key, value in (h.get("train") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            rec.train[str(key)] = float(value)
    return rec
