"""The gRPC control plane: a unix socket (always) and optionally TCP with a bearer token.

The unix socket's file permissions are the access control, so the socket is
created under a umask that never makes it wider than ``control.socket_mode``.
TCP is served by a second server whose interceptor checks the token on every
call, including health and reflection. TCP serves TLS when a certificate and
key are configured (mutual TLS with ``control.tls_client_ca_file``); without
TLS it binds only to loopback unless ``control.allow_insecure_tcp`` is set.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc
from swarmd.config import is_loopback_address
from swarmd.control.service import ControlService
from swarmd.errors import SwarmdError
from swarmd.metrics import REGISTRY

if TYPE_CHECKING:
    from swarmd.daemon import Daemon

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SwarmControl"].full_name
# sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


class ControlPlaneError(SwarmdError):
    pass


MALFORMED = Counter(
    "swarmd_control_malformed_requests", "Control-plane requests whose body did not decode", ["method"],
    registry=REGISTRY,
)
_UNDECODABLE = re.compile(r"Unexpected \[DecodeError\] raised by servicer method \[(?P<method>[^\]]*)\]")


class _MalformedRequests(logging.Filter):
    """grpc logs a traceback for every request body that does not decode; a client's
    garbage is not the daemon's error: say it in one line and count it."""

    def filter(self, record: logging.LogRecord) -> bool:
        m = _UNDECODABLE.search(record.getMessage())
        if m is None:
            return True
        method = m.group("method")[:120]
        MALFORMED.labels(method).inc()
        record.msg, record.args = "malformed request body for %s (not a valid protobuf message)", (method,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def load_or_create_token(path: Path) -> str:
    """The bearer token for TCP clients; created (0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        log.info("created control token file %s", path)
        return token
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text().strip()
    except OSError as e:
        raise ControlPlaneError(f"control token file {path} cannot be read: {e.strerror}") from None
    if mode & stat.S_IRWXO:
        raise ControlPlaneError(
            f"control token file {path} has mode {mode:04o}; other users must not read it "
            f"(chmod 600 {path})"
        )
    if len(token) < 16:
        raise ControlPlaneError(f"control token file {path} holds a token shorter than 16 characters")
    return token


def _read_pem(path: Path, what: str, secret: bool = False) -> bytes:
    try:
        data = path.read_bytes()
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as e:
        raise ControlPlaneError(f"control.{what} {path} cannot be read: {e.strerror}") from None
    if secret and mode & stat.S_IRWXO:
        raise ControlPlaneError(f"control.{what} {path} has mode {mode:04o}; other users must not read it (chmod 600 {path})")
    if b"-----BEGIN" not in data:
        raise ControlPlaneError(f"control.{what} {path} is not a PEM file")
    return data


def server_credentials(control) -> grpc.ServerCredentials:
    """TLS credentials from ``control.tls_*`` (the client CA makes client certificates mandatory)."""
    cert = _read_pem(control.tls_cert_file, "tls_cert_file")
    key = _read_pem(control.tls_key_file, "tls_key_file", secret=True)
    ca = None
    if control.tls_client_ca_file is not None:
        ca = _read_pem(control.tls_client_ca_file, "tls_client_ca_file")
    return grpc.ssl_server_credentials(((key, cert),), root_certificates=ca, require_client_auth=ca is not None)


class _TokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        async def deny_stream(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
            yield  # pragma: no cover - makes this an async generator

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny_stream)

    async def intercept_service(self, continuation, handler_call_details):
        presented = b""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                presented = value.encode() if isinstance(value, str) else value
        if hmac.compare_digest(presented, self._expected):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is not None and handler.response_streaming:
            return self._deny_stream
        return self._deny_unary


class ControlPlane:
    """Subsystem: serves SwarmControl, health and reflection."""

    name = "control"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.config = daemon.config
        self.socket_path = daemon.config.socket_path
        self.tcp_port: int | None = None
        self._servers: list[grpc.aio.Server] = []
        self._health = health.aio.HealthServicer()

    def _options(self) -> list[tuple[str, int]]:
        size = self.config.control.max_message_bytes
        return [
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", size),
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.so_reuseport", 0),
        ]

    def _new_server(self, interceptors=()) -> grpc.aio.Server:
        server = grpc.aio.server(options=self._options(), interceptors=list(interceptors))
        pb_grpc.add_SwarmControlServicer_to_server(ControlService(self.daemon), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
        return server

    async def start(self) -> None:
        logging.getLogger("grpc._cython.cygrpc").addFilter(_MalformedRequests())
        path = self.socket_path.absolute()
        if len(str(path).encode()) > MAX_SOCKET_PATH:
            raise ControlPlaneError(
                f"control socket path {path} is longer than {MAX_SOCKET_PATH} bytes; "
                f"set control.socket to a shorter path"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # We hold the data-dir lock, so any socket file here is a dead daemon's.
        if path.exists() or path.is_symlink():
            log.info("removing stale control socket %s", path)
            path.unlink()
        mode = self.config.control.socket_mode_bits
        server = self._new_server()
        old_umask = os.umask(0o777 & ~mode)
        try:
            if server.add_insecure_port(f"unix:{path}") == 0:
                raise ControlPlaneError(f"cannot bind control socket {path}")
        finally:
            os.umask(old_umask)
        await server.start()
        os.chmod(path, mode)
        self._servers.append(server)

        control = self.config.control
        if control.tcp_address:
            address = control.tcp_address
            if not control.tls and not is_loopback_address(address):
                # Only with control.allow_insecure_tcp: the config refuses it otherwise.
                log.warning("control plane listens on %s without TLS (control.allow_insecure_tcp)", address)
            token = load_or_create_token(self.config.token_path)
            tcp = self._new_server([_TokenInterceptor(token)])
            if control.tls:
                self.tcp_port = tcp.add_secure_port(address, server_credentials(control))
            else:
                self.tcp_port = tcp.add_insecure_port(address)
            if self.tcp_port == 0:
                raise ControlPlaneError(f"cannot listen on control.tcp_address {address}")
            await tcp.start()
            self._servers.append(tcp)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self._health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "control plane ready",
            extra={
                "socket": str(path),
                "tcp": (control.tcp_address + (" (tls)" if control.tls else "")) if control.tcp_address else "off",
            },
        )

    async def stop(self, grace_s: float = 2.0) -> None:
        try:
            await self._health.enter_graceful_shutdown()
        except Exception:  # noqa: BLE001 - best effort while stopping
            pass
        for server in reversed(self._servers):
            await server.stop(grace_s)
        self._servers.clear()
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass
