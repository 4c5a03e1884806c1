"""Where a client connects (unix socket or TCP with token and TLS), and how failures read."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import grpc

from swarmd.client import errors
from swarmd.control.api import ERROR_CLASS_KEY

# Replies up to this size are accepted (the daemon's control.max_message_bytes caps what it sends).
MAX_RECEIVE_BYTES = 64 * 1024 * 1024
_SWARMD_ERRORS = {
    cls.__name__: cls
    for cls in (errors.NotAvailable, errors.Refused, errors.BadRequest, errors.Busy)
}
_BY_CODE = {
    grpc.StatusCode.PERMISSION_DENIED: errors.Refused,
    grpc.StatusCode.UNAUTHENTICATED: errors.Refused,
    grpc.StatusCode.FAILED_PRECONDITION: errors.NotAvailable,
    grpc.StatusCode.UNIMPLEMENTED: errors.NotAvailable,
    grpc.StatusCode.INVALID_ARGUMENT: errors.BadRequest,
    grpc.StatusCode.NOT_FOUND: errors.BadRequest,
    grpc.StatusCode.OUT_OF_RANGE: errors.BadRequest,
    grpc.StatusCode.ALREADY_EXISTS: errors.BadRequest,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Busy,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
    grpc.StatusCode.UNAVAILABLE: errors.Unreachable,
}


@dataclass(frozen=True)
class TLS:
    """TLS for a TCP target.

    ``ca_file``: PEM roots that signed the daemon's certificate (None: the
    system's roots). ``cert_file``/``key_file``: this client's certificate, for
    a daemon that requires one (``control.tls_client_ca_file``).
    ``server_name``: the name to verify the certificate against, when it is not
    the host of the address.
    """

    ca_file: str | Path | None = None
    cert_file: str | Path | None = None
    key_file: str | Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TLS cert_file and key_file go together: give both or neither")

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: str | Path | None, what: str) -> bytes | None:
            if path is None:
                return None
            try:
                return Path(path).read_bytes()
            except OSError as e:
                raise errors.BadRequest(f"cannot read TLS {what} {path}: {e.strerror}") from None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file, "CA file"),
            private_key=read(self.key_file, "key file"),
            certificate_chain=read(self.cert_file, "certificate file"),
        )


@dataclass(frozen=True)
class Target:
    """A daemon's control plane: its unix socket, or a TCP address with token and TLS."""

    socket: Path | None = None
    address: str | None = None
    token: str | None = None
    tls: TLS | None = None

    @classmethod
    def resolve(cls, socket: str | Path | None = None, *, address: str | None = None,
                data_dir: str | Path | None = None, token: str | None = None,
                token_file: str | Path | None = None, tls: TLS | None = None) -> Target:
        """The target the arguments name; with none, ``$SWARMCTL_SOCKET`` or the default data directory's socket."""
        if socket is not None and address is not None:
            raise ValueError("give a socket or an address, not both")
        if address is None and (token is not None or token_file is not None or tls is not None):
            raise ValueError("a token or TLS needs a TCP address")
        if token_file is not None:
            token = read_token(token_file)
        if address is not None:
            return cls(address=address, token=token, tls=tls)
        if socket is None:
            from swarmd.paths import SOCKET_NAME, default_data_dir

            if data_dir is not None:
                socket = Path(data_dir) / SOCKET_NAME
            elif os.environ.get("SWARMCTL_SOCKET"):
                socket = os.environ["SWARMCTL_SOCKET"]
            else:
                socket = default_data_dir() / SOCKET_NAME
        return cls(socket=Path(socket))

    @property
    def where(self) -> str:
        return str(self.socket) if self.socket is not None else str(self.address)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def channel_args(self) -> tuple[str, grpc.ChannelCredentials | None, list[tuple[str, object]]]:
        """(gRPC target, credentials or None for plaintext, channel options)."""
        options: list[tuple[str, object]] = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
        if self.socket is not None:
            return f"unix:{self.socket.absolute()}", None, options
        assert self.address is not None
        if self.tls is None:
            return self.address, None, options
        if self.tls.server_name:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name))
        return self.address, self.tls.credentials(), options

    def probe(self) -> None:
        """For a unix socket: connect once so a missing, stale or forbidden socket reads plainly."""
        if self.socket is None:
            return
        path = str(self.socket)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(2.0)
            s.connect(path)
        except FileNotFoundError:
            raise errors.Unreachable(f"no daemon socket at {path} (is swarmd running?)") from None
        except PermissionError:
            raise errors.Refused(
                f"permission denied on {path}: you need read and write access to the socket "
                f"(run as its owner or join its group)"
            ) from None
        except ConnectionRefusedError:
            raise errors.Unreachable(
                f"nothing is listening on {path} (a stale socket: the daemon is not running)"
            ) from None
        except OSError as e:
            cls = errors.Refused if e.errno in (errno.EACCES, errno.EPERM) else errors.Unreachable
            raise cls(f"cannot connect to {path}: {e.strerror or e}") from None
        finally:
            s.close()


def read_token(path: str | Path) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as e:
        raise errors.BadRequest(f"cannot read token file {path}: {e.strerror}") from None
    if not token:
        raise errors.BadRequest(f"token file {path} is empty")
    return token


def translate(e: grpc.RpcError, target: Target, method: str, timeout: float | None) -> errors.ControlError:
    """A failed call as the hierarchy's exception, with a message naming what to do."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else None) or code.name.lower()
    name = ""
    try:
        for key, value in e.trailing_metadata() or ():
            if key == ERROR_CLASS_KEY:
                name = value
    except Exception:  # noqa: BLE001 - a transport failure carries no metadata
        name = ""
    cls = _SWARMD_ERRORS.get(name) or _BY_CODE.get(code, errors.DaemonError)
    if name and cls is errors.Unreachable:
        # The daemon answered with a transient condition of its own (a subsystem's error class
        # this client does not know, e.g. the trainer restarting): reachable, and busy.
        cls = errors.Busy
    if cls is errors.Unreachable:
        if target.socket is not None:
            target.probe()  # a socket that vanished or went stale says so
        lowered = details.lower()
        dropped = any(w in lowered for w in ("handshake", "ssl", "tls", "certificate", "socket closed"))
        if dropped and target.tls is not None:
            # Something listens there but ended the TLS handshake: a certificate it did not accept
            # (or none, where it requires one), or ours did not verify.
            cls = errors.Refused
            message = (f"TLS handshake with {target.where} failed: check the CA (--tls-ca) and whether the "
                       f"daemon requires a client certificate (--tls-cert/--tls-key) ({details})")
        elif dropped:
            message = (f"daemon at {target.where} closed the connection: does it serve TLS? "
                       f"(give its CA with --tls-ca) ({details})")
        else:
            message = f"daemon at {target.where} is unreachable: {details}"
    elif cls is errors.DeadlineExceeded:
        within = f" within {timeout:g}s" if timeout else ""
        message = f"{method} got no answer from {target.where}{within} (a longer timeout may help)"
    elif code == grpc.StatusCode.UNIMPLEMENTED and not name:
        message = f"the daemon does not implement {method} (an older swarmd?): {details}"
    else:
        message = details
    err = cls(message)
    err.code = code.name
    return err
