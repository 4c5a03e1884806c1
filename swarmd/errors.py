"""swarmd's exception hierarchy: one root, and the errors the control plane maps to gRPC.

Every exception swarmd defines derives from :class:`SwarmdError`, so a caller (or a
test) can catch "anything swarmd raised on purpose" in one clause. Subsystems keep
their own families in their own modules and subclass the root:

- :class:`ControlError` (here): raised toward the control plane, each with one gRPC
  status; the trainer supervisor's ``TrainerError`` family (``trainer/errors.py``)
  and ``chain.errors.ChainUnavailable`` are ControlErrors too.
- ``chain.errors.ChainError``: the chain client's (transient, unfunded, reverted,
  misconfigured) — what the submission queue retries and what it gives up on.
- Boundary and file errors, each next to its code: ``config.ConfigError``,
  ``identity.IdentityError``, ``lockfile.LockError``, ``chain.keys.KeyFileError``,
  ``p2p.streams.FrameError``/``BlobError``, ``p2p.bridge.BridgeClosed``,
  ``trainer.protocol.ProtocolError``, ``trainer.checkpoint.CheckpointError``,
  ``trainer.models.ModelError``, ``trainer.verifier.TaskError``, the worker's
  ``trainer.policy.DeviceOutOfMemory``/``BadInput``.

Every message is written for the operator who reads it in `swarmctl` or the log.
"""

from __future__ import annotations


class SwarmdError(Exception):
    """The root of every exception swarmd raises on purpose."""


class ControlError(SwarmdError):
    """Base class of the control plane's errors; ``code`` is the name of a grpc.StatusCode."""

    code = "UNKNOWN"


class NotAvailable(ControlError):
    """The subsystem is not built yet, disabled by config, or not running."""

    code = "FAILED_PRECONDITION"


class Refused(ControlError):
    """This node does not hold the role the request needs."""

    code = "PERMISSION_DENIED"


class BadRequest(ControlError):
    """The request names something malformed or unknown."""

    code = "INVALID_ARGUMENT"


class Busy(ControlError):
    """A transient condition; retrying later may work."""

    code = "UNAVAILABLE"
