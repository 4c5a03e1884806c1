"""Errors that subsystems raise toward the control plane, each with one gRPC status.

Every message is written for the operator who reads it in `swarmctl`.
"""

from __future__ import annotations


class ControlError(Exception):
    """Base class; ``code`` is the name of a grpc.StatusCode."""

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
