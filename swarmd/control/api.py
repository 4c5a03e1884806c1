"""The control API's version and the mapping of state strings onto the proto's enums.

``API_MAJOR.API_MINOR`` is reported in ``Status.api_version``. Additions to
control.proto bump the minor version; a breaking change (a removed or
renumbered field or RPC, a changed type) needs a new major version, which
``python -m swarmd.tools.apicheck`` enforces against the committed descriptor
set (docs/api.md). Importing this module needs only protobuf.
"""

from __future__ import annotations

from swarmd._pb.swarm.v1 import control_pb2 as pb

API_MAJOR = 1
API_MINOR = 1
API_VERSION = f"{API_MAJOR}.{API_MINOR}"


def _enum_of(enum, prefix: str, text: str) -> int:
    """``text`` ("waiting_trainer") as a value of ``enum`` (UNSPECIFIED if it names none)."""
    try:
        return enum.Value(f"{prefix}_{text.upper()}")
    except ValueError:
        return 0


def fill_enums(status: pb.Status) -> pb.Status:
    """Set the enum twins of the state strings a ``Status`` carries."""
    status.daemon_state = _enum_of(pb.DaemonState, "DAEMON_STATE", status.state)
    status.mesh.mesh_state = _enum_of(pb.MeshState, "MESH_STATE", status.mesh.state)
    status.round.round_phase = _enum_of(pb.RoundPhase, "ROUND_PHASE", status.round.phase)
    status.training.training_state = _enum_of(pb.TrainingState, "TRAINING_STATE", status.training.state)
    status.chain.chain_state = _enum_of(pb.ChainState, "CHAIN_STATE", status.chain.state)
    return status


def peer_liveness(text: str) -> int:
    return _enum_of(pb.PeerLiveness, "PEER_LIVENESS", text)

# Trailing metadata naming the swarmd.errors class a failed call raised, so a
# client raises the same class (the gRPC status alone cannot tell them apart).
ERROR_CLASS_KEY = "swarmd-error"
