"""Connection to the daemon and translation of failures into exit codes and plain words."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import grpc

from swarmctl.main import EXIT_ERROR, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, CtlError
from swarmd._pb.swarm.v1 import control_pb2_grpc as pb_grpc


@dataclass
class Target:
    socket: str | None = None
    address: str | None = None
    token_file: str | None = None


def _probe_socket(path: str) -> None:
    """Connect once ourselves so a missing or forbidden socket gets a clear message."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2.0)
        s.connect(path)
    except FileNotFoundError:
        raise CtlError(
            f"no daemon socket at {path} (is swarmd running? pick one with --socket or --data-dir)",
            EXIT_UNREACHABLE,
        ) from None
    except PermissionError:
        raise CtlError(
            f"permission denied on {path}: you need read and write access to the socket "
            f"(run as its owner or join its group)",
            EXIT_REFUSED,
        ) from None
    except ConnectionRefusedError:
        raise CtlError(
            f"nothing is listening on {path} (a stale socket: the daemon is not running)",
            EXIT_UNREACHABLE,
        ) from None
    except OSError as e:
        code = EXIT_REFUSED if e.errno in (errno.EACCES, errno.EPERM) else EXIT_UNREACHABLE
        raise CtlError(f"cannot connect to {path}: {e.strerror or e}", code) from None
    finally:
        s.close()


def _read_token(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise CtlError(f"cannot read token file {path}: {e.strerror}", EXIT_USAGE) from None


@contextlib.contextmanager
def connect(target: Target, timeout: float) -> Iterator[pb_grpc.SwarmControlStub]:
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    if target.socket is not None:
        _probe_socket(target.socket)
        channel = grpc.insecure_channel(f"unix:{target.socket}", options=options)
        where = target.socket
    else:
        assert target.address is not None
        metadata = []
        if target.token_file:
            metadata = [("authorization", f"Bearer {_read_token(target.token_file)}")]
        channel = grpc.intercept_channel(
            grpc.insecure_channel(target.address, options=options), _MetadataInterceptor(metadata)
        )
        where = target.address
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise CtlError(f"daemon at {where} did not answer within {timeout:g}s", EXIT_UNREACHABLE) from None
        yield _Stub(pb_grpc.SwarmControlStub(channel), timeout, where)
    finally:
        channel.close()


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, metadata: list[tuple[str, str]]) -> None:
        self._metadata = metadata

    def _details(self, details):
        return details._replace(metadata=list(details.metadata or []) + self._metadata)

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


_REFUSED = {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
}
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def translate(e: grpc.RpcError, where: str) -> CtlError:
    code = e.code()
    details = e.details() or code.name.lower()
    if code in _REFUSED:
        return CtlError(f"refused: {details}", EXIT_REFUSED)
    if code in _UNREACHABLE:
        return CtlError(f"daemon at {where} unavailable: {details}", EXIT_UNREACHABLE)
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.OUT_OF_RANGE):
        return CtlError(f"rejected: {details}", EXIT_USAGE)
    return CtlError(f"daemon error ({code.name}): {details}", EXIT_ERROR)


class _Stub:
    """The generated stub with a default deadline and errors turned into CtlError."""

    def __init__(self, stub: pb_grpc.SwarmControlStub, timeout: float, where: str) -> None:
        self._stub = stub
        self._timeout = timeout
        self._where = where

    def call(self, method: str, request):
        try:
            return getattr(self._stub, method)(request, timeout=self._timeout)
        except grpc.RpcError as e:
            raise translate(e, self._where) from None

    def stream(self, method: str, request):
        try:
            yield from getattr(self._stub, method)(request)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise translate(e, self._where) from None
