"""What the trainer supervisor raises to its callers (the swarm game, the control plane).

Each is a ControlError, so the control plane maps it to a gRPC status as is.
The swarm game catches TrainerError and decides whether to retry: a
WorkerDied or TrainerNotReady is transient (the supervisor is restarting
the worker), a WorkerFailed or OutOfMemory is not fixed by retrying the same
request at once.
"""

from __future__ import annotations

from swarmd.errors import ControlError


class TrainerError(ControlError):
    code = "INTERNAL"


class TrainerNotReady(TrainerError):
    """The worker is starting, restarting or has failed; the message says which."""

    code = "UNAVAILABLE"


class WorkerDied(TrainerError):
    """The worker exited (or was killed as hung) while this request was in flight."""

    code = "UNAVAILABLE"


class TrainerStopped(TrainerError):
    """The supervisor is stopping; no more requests are taken."""

    code = "FAILED_PRECONDITION"


class WorkerFailed(TrainerError):
    """The request raised inside the worker; the worker itself is fine."""

    code = "INTERNAL"


class InvalidRequest(TrainerError):
    """The worker refused the arguments (a bad task reference, a bad export directory)."""

    code = "INVALID_ARGUMENT"


class OutOfMemory(TrainerError):
    """Still out of memory at the smallest batch."""

    code = "RESOURCE_EXHAUSTED"
