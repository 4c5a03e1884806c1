"""The SwarmControl servicer: translates RPCs into calls on the daemon's subsystems.

It holds no state of its own. A subsystem that is not running answers with
FAILED_PRECONDITION and a message saying why, never with a fake success.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.errors import ControlError

if TYPE_CHECKING:
    from swarmd.daemon import Daemon

log = logging.getLogger(__name__)


def _unary(method):
    """Map ControlError to its gRPC status; log and hide anything unexpected."""

    @functools.wraps(method)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except ControlError as e:
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
        return self.daemon.status()

    @_unary
    async def ListPeers(self, request, context):
        return await self.daemon.require_mesh().list_peers(include_stale=request.include_stale)

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
        sub = self.daemon.events.subscribe(request.kinds)
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
    async def Shutdown(self, request, context):
        log.info("shutdown requested over the control plane")
        self.daemon.request_stop("control request")
        return pb.ShutdownResponse()
