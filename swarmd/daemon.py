"""The daemon: one asyncio entry point that starts subsystems in order and stops them in reverse.

Order matters. The control plane comes first so an operator can ask what is
happening while the rest starts; readiness (sd_notify READY=1) is reported
once every subsystem's ``start`` returned. Stopping runs in ``finally`` in the
reverse order, each step under what is left of ``node.shutdown_timeout_s``,
so the mesh announces leaving before the transport closes and the control
plane answers until the very end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any, Protocol

from swarmd import __version__
from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.config import Config
from swarmd.errors import NotAvailable
from swarmd.events import EventBus
from swarmd.identity import Identity
from swarmd.sdnotify import Notifier

log = logging.getLogger(__name__)


class Subsystem(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Daemon:
    def __init__(self, config: Config, identity: Identity, notifier: Notifier | None = None) -> None:
        self.config = config
        self.identity = identity
        self.events = EventBus()
        self.notifier = notifier or Notifier()
        self.started_monotonic = time.monotonic()
        self.state = "starting"
        self.stop_reason = ""
        self._stop = asyncio.Event()
        # Subsystems by role; None until built (or when disabled by config).
        self.control: Any = None
        self.mesh: Any = None
        self.trainer: Any = None
        self.chain: Any = None
        self.swarm: Any = None
        self.web: Any = None
        self._running: list[Subsystem] = []

    # -- wiring ---------------------------------------------------------------

    def build(self) -> list[Subsystem]:
        """Create the configured subsystems, in start order."""
        from swarmd.control.server import ControlPlane

        self.control = ControlPlane(self)
        subsystems: list[Subsystem] = [self.control]
        if self.config.p2p.enabled:
            from swarmd.p2p.subsystem import Mesh

            self.mesh = Mesh(self)
            subsystems.append(self.mesh)
        if self.config.chain.enabled:
            from swarmd.chain.subsystem import ChainSubsystem

            self.chain = ChainSubsystem(self)
            subsystems.append(self.chain)
        if self.config.trainer.enabled and self.config.node.mode == "trainer":
            from swarmd.trainer.supervisor import TrainerSupervisor

            self.trainer = TrainerSupervisor(self.config.trainer, self.config.data_dir, self.events)
            subsystems.append(self.trainer)
        if self.config.swarm.enabled:
            from swarmd.swarm.game import SwarmGame

            self.swarm = SwarmGame(self)
            subsystems.append(self.swarm)
            if self.trainer is not None:
                self.trainer.card_facts = self.swarm.card_facts  # an export's model card
        if self.config.web.enabled:
            from swarmd.web.server import WebServer

            self.web = WebServer(self)
            subsystems.append(self.web)
        return subsystems

    # -- accessors for the control plane ---------------------------------------

    def _require(self, attr: str, what: str, section: str) -> Any:
        sub = getattr(self, attr)
        if sub is not None:
            return sub
        if not getattr(self.config, section).enabled:
            raise NotAvailable(f"{what} is disabled on this node ({section}.enabled = false)")
        raise NotAvailable(f"{what} is not available yet on this node")

    def require_mesh(self) -> Any:
        return self._require("mesh", "the p2p mesh", "p2p")

    def require_trainer(self) -> Any:
        return self._require("trainer", "the trainer", "trainer")

    def require_chain(self) -> Any:
        return self._require("chain", "the chain client", "chain")

    def require_swarm(self) -> Any:
        return self._require("swarm", "the swarm game", "swarm")

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def roles(self) -> list[str]:
        return [self.config.node.mode]

    def status(self) -> pb.Status:
        status = pb.Status(
            peer_id=self.identity.peer_id,
            name=self.identity.name,
            version=__version__,
            uptime_s=self.uptime_s,
            swarm_id=self.config.node.swarm_id,
            data_dir=str(self.config.data_dir),
            state=self.state,
            roles=self.roles(),
            pid=os.getpid(),
        )
        status.mesh.state = "disabled" if not self.config.p2p.enabled else "unavailable"
        status.training.state = "disabled" if not self.config.trainer.enabled else "unavailable"
        status.chain.state = "disabled" if not self.config.chain.enabled else "unavailable"
        status.round.phase = "idle"
        for sub in (self.mesh, self.trainer, self.chain, self.swarm, self.web):
            if sub is not None:
                sub.fill_status(status)
        return status

    # -- lifecycle --------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            log.info("stopping: %s", reason)
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, signal.Signals(sig).name)

    async def _watchdog(self, interval_s: float) -> None:
        # Pinging from the event loop itself means a stuck loop stops the pings
        # and systemd restarts the daemon, which is the point.
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval_s)

    async def run(self) -> int:
        """Run until asked to stop; returns the process exit code."""
        self._install_signal_handlers()
        self.events.lifecycle("starting", f"swarmd {__version__} starting as {self.identity.name}")
        watchdog = None
        if self.notifier.watchdog_interval_s:
            watchdog = asyncio.create_task(self._watchdog(self.notifier.watchdog_interval_s))
        exit_code = 0
        try:
            for sub in self.build():
                if self._stop.is_set():
                    break
                t0 = time.monotonic()
                await asyncio.wait_for(sub.start(), self.config.node.subsystem_start_timeout_s)
                self._running.append(sub)
                elapsed = time.monotonic() - t0
                log.info("started %s in %.2fs", sub.name, elapsed)
                self.events.lifecycle("subsystem_started", f"{sub.name} started", sub.name, elapsed)
            if not self._stop.is_set():
                self.state = "running"
                self.notifier.ready(f"running as {self.identity.name}")
                self.events.lifecycle("ready", "ready", elapsed_s=self.uptime_s)
                log.info(
                    "ready in %.2fs",
                    self.uptime_s,
                    extra={"peer_id": self.identity.peer_id, "node_name": self.identity.name},
                )
            await self._stop.wait()
        except TimeoutError:
            log.error("a subsystem did not start within %.0fs", self.config.node.subsystem_start_timeout_s)
            exit_code = 1
        except Exception:
            log.exception("start-up failed")
            exit_code = 1
        finally:
            self.state = "stopping"
            self.notifier.stopping()
            self.events.lifecycle("stopping", f"stopping ({self.stop_reason or 'error'})")
            if not await self._stop_all():
                exit_code = exit_code or 1
            if watchdog is not None:
                watchdog.cancel()
            self.notifier.close()
        return exit_code

    async def _stop_all(self) -> bool:
        deadline = time.monotonic() + self.config.node.shutdown_timeout_s
        clean = True
        while self._running:
            sub = self._running.pop()
            remaining = max(0.1, deadline - time.monotonic())
            if sub is self.control:
                # The last subsystem: end every event stream so clients see EOF.
                self.events.lifecycle("stopped", "stopped", elapsed_s=self.uptime_s)
                self.events.close()
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(sub.stop(), remaining)
                log.info("stopped %s in %.2fs", sub.name, time.monotonic() - t0)
                if sub is not self.control:
                    self.events.lifecycle("subsystem_stopped", f"{sub.name} stopped", sub.name)
            except TimeoutError:
                clean = False
                log.error("%s did not stop within the shutdown deadline", sub.name)
            except Exception:
                clean = False
                log.exception("stopping %s failed", sub.name)
        return clean
