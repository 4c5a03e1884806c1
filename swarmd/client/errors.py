"""What a control-plane call can raise: one small hierarchy, rooted in swarmd.errors.

The daemon raises ``NotAvailable``, ``Refused``, ``BadRequest`` and ``Busy``
(swarmd.errors) toward the control plane; a client gets the very same classes
back, plus the two only a client can see: ``Unreachable`` and
``DeadlineExceeded``.

    ControlError                 base: every failed call (``code``: the gRPC status name)
    ├── Unreachable              no daemon answers there (no socket, refused, TLS handshake failed)
    ├── DeadlineExceeded         the daemon did not answer within the call's deadline
    ├── Refused                  no permission: socket mode, token, client certificate, role
    ├── NotAvailable             the subsystem or state the call needs is not there
    ├── BadRequest               the request names something malformed or unknown
    ├── Busy                     transient; retrying later may work
    └── DaemonError              the daemon failed internally (see its log)
"""

from __future__ import annotations

from swarmd.errors import BadRequest, Busy, ControlError, NotAvailable, Refused


class Unreachable(ControlError):
    """No daemon answers at the target: no socket, connection refused, TLS handshake failed."""

    code = "UNAVAILABLE"


class DeadlineExceeded(ControlError):
    """The daemon did not answer within the call's deadline (pass a larger ``timeout``)."""

    code = "DEADLINE_EXCEEDED"


class DaemonError(ControlError):
    """The daemon reported an internal error, or a status this client does not know."""

    code = "INTERNAL"


__all__ = [
    "BadRequest",
    "Busy",
    "ControlError",
    "DaemonError",
    "DeadlineExceeded",
    "NotAvailable",
    "Refused",
    "Unreachable",
]
