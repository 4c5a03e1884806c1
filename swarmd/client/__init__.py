"""The public Python client of a swarmd daemon's control plane.

    from swarmd.client import Client

    with Client(data_dir="/var/lib/swarmd") as daemon:
        print(daemon.status().round.round)
        record = daemon.wait_for_round(10, timeout=3600)
        daemon.download_adapter("adapter-r10")

``Client`` is synchronous, ``AsyncClient`` its asyncio twin; both have one
method per RPC of ``swarm.v1.SwarmControl`` (proto/swarm/v1/control.proto) and
return its messages (``swarmd.client.pb``) or small dataclasses. Failures raise
the classes of ``swarmd.client.errors``. Importing this package loads grpc and
protobuf only: never torch, libp2p or web3.
"""

from swarmd._pb.swarm.v1 import control_pb2 as pb
from swarmd.client._client import (
    AdapterDownload,
    AsyncClient,
    AsyncEventStream,
    Client,
    DaemonConfig,
    EventStream,
)
from swarmd.client._target import TLS, Target
from swarmd.client.errors import (
    BadRequest,
    Busy,
    ControlError,
    DaemonError,
    DeadlineExceeded,
    NotAvailable,
    Refused,
    Unreachable,
)
from swarmd.control.api import API_VERSION

__all__ = [
    "API_VERSION",
    "TLS",
    "AdapterDownload",
    "AsyncClient",
    "AsyncEventStream",
    "BadRequest",
    "Busy",
    "Client",
    "ControlError",
    "DaemonConfig",
    "DaemonError",
    "DeadlineExceeded",
    "EventStream",
    "NotAvailable",
    "Refused",
    "Target",
    "Unreachable",
    "pb",
]
