from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("version", "swarm_id", "kind", "round", "stage", "sent_at", "sender", "payload")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SWARM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    version: int
    swarm_id: str
    kind: str
    round: int
    stage: int
    sent_at: float
    sender: bytes
    payload: bytes
    def __init__(self, version: _Optional[int] = ..., swarm_id: _Optional[str] = ..., kind: _Optional[str] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., sent_at: _Optional[float] = ..., sender: _Optional[bytes] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Presence(_message.Message):
    __slots__ = ("name", "version", "round", "stage", "model", "capabilities", "roles", "addrs", "leaving", "wire_version_min", "wire_version_max")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    ADDRS_FIELD_NUMBER: _ClassVar[int]
    LEAVING_FIELD_NUMBER: _ClassVar[int]
    WIRE_VERSION_MIN_FIELD_NUMBER: _ClassVar[int]
    WIRE_VERSION_MAX_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    round: int
    stage: int
    model: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    roles: _containers.RepeatedScalarFieldContainer[str]
    addrs: _containers.RepeatedScalarFieldContainer[str]
    leaving: bool
    wire_version_min: int
    wire_version_max: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., model: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., roles: _Optional[_Iterable[str]] = ..., addrs: _Optional[_Iterable[str]] = ..., leaving: _Optional[bool] = ..., wire_version_min: _Optional[int] = ..., wire_version_max: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("kind", "round", "stage", "have", "max_bytes")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    HAVE_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    round: int
    stage: int
    have: _containers.RepeatedScalarFieldContainer[bytes]
    max_bytes: int
    def __init__(self, kind: _Optional[str] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., have: _Optional[_Iterable[bytes]] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ("holds", "messages", "truncated")
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    holds: _containers.RepeatedScalarFieldContainer[bytes]
    messages: _containers.RepeatedScalarFieldContainer[bytes]
    truncated: bool
    def __init__(self, holds: _Optional[_Iterable[bytes]] = ..., messages: _Optional[_Iterable[bytes]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class BlobRequest(_message.Message):
    __slots__ = ("sha256", "max_bytes")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    sha256: bytes
    max_bytes: int
    def __init__(self, sha256: _Optional[bytes] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class BlobHeader(_message.Message):
    __slots__ = ("found", "size", "error")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    found: bool
    size: int
    error: str
    def __init__(self, found: _Optional[bool] = ..., size: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class LoadBatch(_message.Message):
    __slots__ = ("round", "filler")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    FILLER_FIELD_NUMBER: _ClassVar[int]
    round: int
    filler: bytes
    def __init__(self, round: _Optional[int] = ..., filler: _Optional[bytes] = ...) -> None: ...

class ExchangeRequest(_message.Message):
    __slots__ = ("dial_back",)
    DIAL_BACK_FIELD_NUMBER: _ClassVar[int]
    dial_back: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dial_back: _Optional[_Iterable[str]] = ...) -> None: ...

class PeerAddrs(_message.Message):
    __slots__ = ("peer_id", "addrs")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRS_FIELD_NUMBER: _ClassVar[int]
    peer_id: bytes
    addrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, peer_id: _Optional[bytes] = ..., addrs: _Optional[_Iterable[str]] = ...) -> None: ...

class DialBackResult(_message.Message):
    __slots__ = ("addr", "ok", "error")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    addr: str
    ok: bool
    error: str
    def __init__(self, addr: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class ExchangeResponse(_message.Message):
    __slots__ = ("observed", "peers", "dial_back")
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    DIAL_BACK_FIELD_NUMBER: _ClassVar[int]
    observed: str
    peers: _containers.RepeatedCompositeFieldContainer[PeerAddrs]
    dial_back: _containers.RepeatedCompositeFieldContainer[DialBackResult]
    def __init__(self, observed: _Optional[str] = ..., peers: _Optional[_Iterable[_Union[PeerAddrs, _Mapping]]] = ..., dial_back: _Optional[_Iterable[_Union[DialBackResult, _Mapping]]] = ...) -> None: ...
