"""Health: what /healthz reports, as a pure function of a snapshot of the daemon.

Two probes. *Liveness* asks "is this process still doing its job at all?" (the
event loop turns, the control plane serves); a supervisor restarts a daemon
that is not live. *Readiness* asks "is it doing useful work?" and also needs
the trainer worker up and ready; a node whose worker is down is kept running
(the supervisor inside restarts the worker) but reported unhealthy.

The snapshot is plain values so the decision is tested without a daemon.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Probe = Literal["live", "ready"]


@dataclass(frozen=True)
class Snapshot:
    """What the health decision looks at; ``None`` means the part does not exist."""

    daemon_state: str  # "starting", "running", "stopping"
    control_running: bool
    loop_lag_s: float
    max_loop_lag_s: float
    trainer_enabled: bool
    trainer_present: bool
    trainer_worker_alive: bool | None = None  # None: the trainer does not say
    trainer_ready: bool | None = None
    trainer_state: str = ""
    trainer_error: str = ""
    mesh_state: str = ""  # informational only
    chain_state: str = ""  # informational only


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    probe: Probe  # the probe this check counts for ("live" checks count for both)
    detail: str


@dataclass(frozen=True)
class Report:
    live: bool
    ready: bool
    checks: list[Check] = field(default_factory=list)

    def healthy(self, probe: Probe) -> bool:
        return self.live if probe == "live" else self.ready

    def to_json(self, probe: Probe) -> dict[str, Any]:
        healthy = self.healthy(probe)
        return {
            "status": "ok" if healthy else "unhealthy",
            "probe": probe,
            "live": self.live,
            "ready": self.ready,
            "checks": [asdict(c) for c in self.checks],
            "reasons": [f"{c.name}: {c.detail}" for c in self.checks
                        if not c.ok and (probe == "ready" or c.probe == "live")],
        }


def _trainer_check(s: Snapshot) -> Check:
    if not s.trainer_enabled:
        return Check("trainer", True, "ready", "disabled by config (trainer.enabled = false)")
    if not s.trainer_present:
        return Check("trainer", False, "ready", "the trainer subsystem is not running")
    if s.trainer_worker_alive is False:
        why = f" ({s.trainer_error})" if s.trainer_error else ""
        return Check("trainer", False, "ready", f"the trainer worker is down{why}")
    if s.trainer_ready is False:
        state = s.trainer_state or "not ready"
        return Check("trainer", False, "ready", f"the trainer worker is not ready ({state})")
    return Check("trainer", True, "ready", f"worker up ({s.trainer_state or 'ready'})")


def evaluate(s: Snapshot) -> Report:
    checks = [
        Check(
            "event_loop",
            s.loop_lag_s <= s.max_loop_lag_s,
            "live",
            f"timer lag {s.loop_lag_s:.3f}s (limit {s.max_loop_lag_s:g}s)",
        ),
        Check(
            "control",
            s.control_running and s.daemon_state == "running",
            "live",
            "serving" if s.control_running and s.daemon_state == "running"
            else f"daemon is {s.daemon_state}" + ("" if s.control_running else ", control plane not running"),
        ),
        _trainer_check(s),
    ]
    # Informational: a node alone in the mesh or with its chain down keeps
    # training, so these never fail a probe; they are listed for the operator.
    if s.mesh_state:
        checks.append(Check("mesh", True, "ready", s.mesh_state))
    if s.chain_state:
        checks.append(Check("chain", True, "ready", s.chain_state))
    live = all(c.ok for c in checks if c.probe == "live")
    ready = live and all(c.ok for c in checks)
    return Report(live=live, ready=ready, checks=checks)
