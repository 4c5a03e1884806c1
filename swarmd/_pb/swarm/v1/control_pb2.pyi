from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DaemonState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DAEMON_STATE_UNSPECIFIED: _ClassVar[DaemonState]
    DAEMON_STATE_STARTING: _ClassVar[DaemonState]
    DAEMON_STATE_RUNNING: _ClassVar[DaemonState]
    DAEMON_STATE_STOPPING: _ClassVar[DaemonState]

class MeshState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESH_STATE_UNSPECIFIED: _ClassVar[MeshState]
    MESH_STATE_DISABLED: _ClassVar[MeshState]
    MESH_STATE_UNAVAILABLE: _ClassVar[MeshState]
    MESH_STATE_STARTING: _ClassVar[MeshState]
    MESH_STATE_ALONE: _ClassVar[MeshState]
    MESH_STATE_CONNECTED: _ClassVar[MeshState]
    MESH_STATE_LEFT: _ClassVar[MeshState]

class TrainingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_STATE_UNSPECIFIED: _ClassVar[TrainingState]
    TRAINING_STATE_DISABLED: _ClassVar[TrainingState]
    TRAINING_STATE_UNAVAILABLE: _ClassVar[TrainingState]
    TRAINING_STATE_STARTING: _ClassVar[TrainingState]
    TRAINING_STATE_READY: _ClassVar[TrainingState]
    TRAINING_STATE_BUSY: _ClassVar[TrainingState]
    TRAINING_STATE_RESTARTING: _ClassVar[TrainingState]
    TRAINING_STATE_FAILED: _ClassVar[TrainingState]

class ChainState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHAIN_STATE_UNSPECIFIED: _ClassVar[ChainState]
    CHAIN_STATE_DISABLED: _ClassVar[ChainState]
    CHAIN_STATE_UNAVAILABLE: _ClassVar[ChainState]
    CHAIN_STATE_CONNECTING: _ClassVar[ChainState]
    CHAIN_STATE_OK: _ClassVar[ChainState]
    CHAIN_STATE_UNREACHABLE: _ClassVar[ChainState]
    CHAIN_STATE_ERROR: _ClassVar[ChainState]

class RoundPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_PHASE_UNSPECIFIED: _ClassVar[RoundPhase]
    ROUND_PHASE_IDLE: _ClassVar[RoundPhase]
    ROUND_PHASE_GENERATING: _ClassVar[RoundPhase]
    ROUND_PHASE_PUBLISHING: _ClassVar[RoundPhase]
    ROUND_PHASE_COLLECTING: _ClassVar[RoundPhase]
    ROUND_PHASE_TRAINING: _ClassVar[RoundPhase]
    ROUND_PHASE_CHECKPOINTING: _ClassVar[RoundPhase]
    ROUND_PHASE_DONE: _ClassVar[RoundPhase]
    ROUND_PHASE_WAITING_TRAINER: _ClassVar[RoundPhase]
    ROUND_PHASE_RELAYING: _ClassVar[RoundPhase]
    ROUND_PHASE_PAUSED: _ClassVar[RoundPhase]

class PeerLiveness(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PEER_LIVENESS_UNSPECIFIED: _ClassVar[PeerLiveness]
    PEER_LIVENESS_LIVE: _ClassVar[PeerLiveness]
    PEER_LIVENESS_STALE: _ClassVar[PeerLiveness]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_LIFECYCLE: _ClassVar[EventKind]
    EVENT_KIND_PEER: _ClassVar[EventKind]
    EVENT_KIND_ROUND: _ClassVar[EventKind]
    EVENT_KIND_ROLLOUT: _ClassVar[EventKind]
    EVENT_KIND_REJECTION: _ClassVar[EventKind]
    EVENT_KIND_TRAINING: _ClassVar[EventKind]
    EVENT_KIND_CHAIN: _ClassVar[EventKind]
    EVENT_KIND_GAP: _ClassVar[EventKind]
DAEMON_STATE_UNSPECIFIED: DaemonState
DAEMON_STATE_STARTING: DaemonState
DAEMON_STATE_RUNNING: DaemonState
DAEMON_STATE_STOPPING: DaemonState
MESH_STATE_UNSPECIFIED: MeshState
MESH_STATE_DISABLED: MeshState
MESH_STATE_UNAVAILABLE: MeshState
MESH_STATE_STARTING: MeshState
MESH_STATE_ALONE: MeshState
MESH_STATE_CONNECTED: MeshState
MESH_STATE_LEFT: MeshState
TRAINING_STATE_UNSPECIFIED: TrainingState
TRAINING_STATE_DISABLED: TrainingState
TRAINING_STATE_UNAVAILABLE: TrainingState
TRAINING_STATE_STARTING: TrainingState
TRAINING_STATE_READY: TrainingState
TRAINING_STATE_BUSY: TrainingState
TRAINING_STATE_RESTARTING: TrainingState
TRAINING_STATE_FAILED: TrainingState
CHAIN_STATE_UNSPECIFIED: ChainState
CHAIN_STATE_DISABLED: ChainState
CHAIN_STATE_UNAVAILABLE: ChainState
CHAIN_STATE_CONNECTING: ChainState
CHAIN_STATE_OK: ChainState
CHAIN_STATE_UNREACHABLE: ChainState
CHAIN_STATE_ERROR: ChainState
ROUND_PHASE_UNSPECIFIED: RoundPhase
ROUND_PHASE_IDLE: RoundPhase
ROUND_PHASE_GENERATING: RoundPhase
ROUND_PHASE_PUBLISHING: RoundPhase
ROUND_PHASE_COLLECTING: RoundPhase
ROUND_PHASE_TRAINING: RoundPhase
ROUND_PHASE_CHECKPOINTING: RoundPhase
ROUND_PHASE_DONE: RoundPhase
ROUND_PHASE_WAITING_TRAINER: RoundPhase
ROUND_PHASE_RELAYING: RoundPhase
ROUND_PHASE_PAUSED: RoundPhase
PEER_LIVENESS_UNSPECIFIED: PeerLiveness
PEER_LIVENESS_LIVE: PeerLiveness
PEER_LIVENESS_STALE: PeerLiveness
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_LIFECYCLE: EventKind
EVENT_KIND_PEER: EventKind
EVENT_KIND_ROUND: EventKind
EVENT_KIND_ROLLOUT: EventKind
EVENT_KIND_REJECTION: EventKind
EVENT_KIND_TRAINING: EventKind
EVENT_KIND_CHAIN: EventKind
EVENT_KIND_GAP: EventKind

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Status(_message.Message):
    __slots__ = ("peer_id", "name", "version", "uptime_s", "swarm_id", "data_dir", "state", "roles", "mesh", "round", "training", "chain", "pid", "dashboard_url", "api_version", "daemon_state", "training_paused", "wire_version_min", "wire_version_max")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    SWARM_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_URL_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    DAEMON_STATE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_PAUSED_FIELD_NUMBER: _ClassVar[int]
    WIRE_VERSION_MIN_FIELD_NUMBER: _ClassVar[int]
    WIRE_VERSION_MAX_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    name: str
    version: str
    uptime_s: float
    swarm_id: str
    data_dir: str
    state: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    mesh: MeshStatus
    round: RoundStatus
    training: TrainingStatus
    chain: ChainStatus
    pid: int
    dashboard_url: str
    api_version: str
    daemon_state: DaemonState
    training_paused: bool
    wire_version_min: int
    wire_version_max: int
    def __init__(self, peer_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., uptime_s: _Optional[float] = ..., swarm_id: _Optional[str] = ..., data_dir: _Optional[str] = ..., state: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., mesh: _Optional[_Union[MeshStatus, _Mapping]] = ..., round: _Optional[_Union[RoundStatus, _Mapping]] = ..., training: _Optional[_Union[TrainingStatus, _Mapping]] = ..., chain: _Optional[_Union[ChainStatus, _Mapping]] = ..., pid: _Optional[int] = ..., dashboard_url: _Optional[str] = ..., api_version: _Optional[str] = ..., daemon_state: _Optional[_Union[DaemonState, str]] = ..., training_paused: _Optional[bool] = ..., wire_version_min: _Optional[int] = ..., wire_version_max: _Optional[int] = ...) -> None: ...

class MeshStatus(_message.Message):
    __slots__ = ("state", "listen_addrs", "connected_peers", "live_peers", "stale_peers", "mesh_peers", "messages_in", "messages_out", "rejected", "pull_fetches", "bootnodes", "announced_addrs", "observed_addrs", "reachability", "reachability_detail", "mesh_state")
    class MeshPeersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RejectedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    LISTEN_ADDRS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_PEERS_FIELD_NUMBER: _ClassVar[int]
    LIVE_PEERS_FIELD_NUMBER: _ClassVar[int]
    STALE_PEERS_FIELD_NUMBER: _ClassVar[int]
    MESH_PEERS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_IN_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_OUT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    PULL_FETCHES_FIELD_NUMBER: _ClassVar[int]
    BOOTNODES_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCED_ADDRS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_ADDRS_FIELD_NUMBER: _ClassVar[int]
    REACHABILITY_FIELD_NUMBER: _ClassVar[int]
    REACHABILITY_DETAIL_FIELD_NUMBER: _ClassVar[int]
    MESH_STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    listen_addrs: _containers.RepeatedScalarFieldContainer[str]
    connected_peers: int
    live_peers: int
    stale_peers: int
    mesh_peers: _containers.ScalarMap[str, int]
    messages_in: int
    messages_out: int
    rejected: _containers.ScalarMap[str, int]
    pull_fetches: int
    bootnodes: _containers.RepeatedScalarFieldContainer[str]
    announced_addrs: _containers.RepeatedScalarFieldContainer[str]
    observed_addrs: _containers.RepeatedScalarFieldContainer[str]
    reachability: str
    reachability_detail: str
    mesh_state: MeshState
    def __init__(self, state: _Optional[str] = ..., listen_addrs: _Optional[_Iterable[str]] = ..., connected_peers: _Optional[int] = ..., live_peers: _Optional[int] = ..., stale_peers: _Optional[int] = ..., mesh_peers: _Optional[_Mapping[str, int]] = ..., messages_in: _Optional[int] = ..., messages_out: _Optional[int] = ..., rejected: _Optional[_Mapping[str, int]] = ..., pull_fetches: _Optional[int] = ..., bootnodes: _Optional[_Iterable[str]] = ..., announced_addrs: _Optional[_Iterable[str]] = ..., observed_addrs: _Optional[_Iterable[str]] = ..., reachability: _Optional[str] = ..., reachability_detail: _Optional[str] = ..., mesh_state: _Optional[_Union[MeshState, str]] = ...) -> None: ...

class RoundStatus(_message.Message):
    __slots__ = ("round", "stage", "stage_count", "phase", "source", "environment", "rounds_completed", "last_reward", "has_last_reward", "seconds_in_phase", "round_phase")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    LAST_REWARD_FIELD_NUMBER: _ClassVar[int]
    HAS_LAST_REWARD_FIELD_NUMBER: _ClassVar[int]
    SECONDS_IN_PHASE_FIELD_NUMBER: _ClassVar[int]
    ROUND_PHASE_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    stage_count: int
    phase: str
    source: str
    environment: str
    rounds_completed: int
    last_reward: float
    has_last_reward: bool
    seconds_in_phase: float
    round_phase: RoundPhase
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., stage_count: _Optional[int] = ..., phase: _Optional[str] = ..., source: _Optional[str] = ..., environment: _Optional[str] = ..., rounds_completed: _Optional[int] = ..., last_reward: _Optional[float] = ..., has_last_reward: _Optional[bool] = ..., seconds_in_phase: _Optional[float] = ..., round_phase: _Optional[_Union[RoundPhase, str]] = ...) -> None: ...

class TrainingStatus(_message.Message):
    __slots__ = ("state", "model", "device", "dtype", "step", "policy_version", "last_reward_mean", "last_loss", "last_step_s", "tokens_per_s", "worker_restarts", "micro_batch", "last_error", "worker_pid", "worker_rss_bytes", "gen_batch", "detail", "trainable_params", "last_checkpoint", "last_metrics", "training_state", "evaluation")
    class LastMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_REWARD_MEAN_FIELD_NUMBER: _ClassVar[int]
    LAST_LOSS_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_S_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    WORKER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    WORKER_RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    GEN_BATCH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    LAST_METRICS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_STATE_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    state: str
    model: str
    device: str
    dtype: str
    step: int
    policy_version: int
    last_reward_mean: float
    last_loss: float
    last_step_s: float
    tokens_per_s: float
    worker_restarts: int
    micro_batch: int
    last_error: str
    worker_pid: int
    worker_rss_bytes: int
    gen_batch: int
    detail: str
    trainable_params: int
    last_checkpoint: str
    last_metrics: _containers.ScalarMap[str, float]
    training_state: TrainingState
    evaluation: Evaluation
    def __init__(self, state: _Optional[str] = ..., model: _Optional[str] = ..., device: _Optional[str] = ..., dtype: _Optional[str] = ..., step: _Optional[int] = ..., policy_version: _Optional[int] = ..., last_reward_mean: _Optional[float] = ..., last_loss: _Optional[float] = ..., last_step_s: _Optional[float] = ..., tokens_per_s: _Optional[float] = ..., worker_restarts: _Optional[int] = ..., micro_batch: _Optional[int] = ..., last_error: _Optional[str] = ..., worker_pid: _Optional[int] = ..., worker_rss_bytes: _Optional[int] = ..., gen_batch: _Optional[int] = ..., detail: _Optional[str] = ..., trainable_params: _Optional[int] = ..., last_checkpoint: _Optional[str] = ..., last_metrics: _Optional[_Mapping[str, float]] = ..., training_state: _Optional[_Union[TrainingState, str]] = ..., evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("round", "policy_version", "accuracy", "mean_reward", "examples", "per_task", "seconds")
    class PerTaskEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TaskEvaluation
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TaskEvaluation, _Mapping]] = ...) -> None: ...
    ROUND_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    PER_TASK_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    round: int
    policy_version: int
    accuracy: float
    mean_reward: float
    examples: int
    per_task: _containers.MessageMap[str, TaskEvaluation]
    seconds: float
    def __init__(self, round: _Optional[int] = ..., policy_version: _Optional[int] = ..., accuracy: _Optional[float] = ..., mean_reward: _Optional[float] = ..., examples: _Optional[int] = ..., per_task: _Optional[_Mapping[str, TaskEvaluation]] = ..., seconds: _Optional[float] = ...) -> None: ...

class TaskEvaluation(_message.Message):
    __slots__ = ("accuracy", "mean_reward", "examples")
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    MEAN_REWARD_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    accuracy: float
    mean_reward: float
    examples: int
    def __init__(self, accuracy: _Optional[float] = ..., mean_reward: _Optional[float] = ..., examples: _Optional[int] = ...) -> None: ...

class ChainStatus(_message.Message):
    __slots__ = ("state", "rpc_url", "chain_id", "contract", "address", "balance_wei", "registered", "pending_submissions", "failed_submissions", "last_error", "submitted", "round", "stage", "stage_count", "block", "stage_manager", "recent_failures", "unfinal_submissions", "rollbacks", "last_rollback", "chain_state")
    STATE_FIELD_NUMBER: _ClassVar[int]
    RPC_URL_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    PENDING_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    FAILED_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    STAGE_MANAGER_FIELD_NUMBER: _ClassVar[int]
    RECENT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    UNFINAL_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ROLLBACKS_FIELD_NUMBER: _ClassVar[int]
    LAST_ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    CHAIN_STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    rpc_url: str
    chain_id: int
    contract: str
    address: str
    balance_wei: str
    registered: bool
    pending_submissions: int
    failed_submissions: int
    last_error: str
    submitted: int
    round: int
    stage: int
    stage_count: int
    block: int
    stage_manager: bool
    recent_failures: _containers.RepeatedScalarFieldContainer[str]
    unfinal_submissions: int
    rollbacks: int
    last_rollback: str
    chain_state: ChainState
    def __init__(self, state: _Optional[str] = ..., rpc_url: _Optional[str] = ..., chain_id: _Optional[int] = ..., contract: _Optional[str] = ..., address: _Optional[str] = ..., balance_wei: _Optional[str] = ..., registered: _Optional[bool] = ..., pending_submissions: _Optional[int] = ..., failed_submissions: _Optional[int] = ..., last_error: _Optional[str] = ..., submitted: _Optional[int] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., stage_count: _Optional[int] = ..., block: _Optional[int] = ..., stage_manager: _Optional[bool] = ..., recent_failures: _Optional[_Iterable[str]] = ..., unfinal_submissions: _Optional[int] = ..., rollbacks: _Optional[int] = ..., last_rollback: _Optional[str] = ..., chain_state: _Optional[_Union[ChainState, str]] = ...) -> None: ...

class ListPeersRequest(_message.Message):
    __slots__ = ("include_stale",)
    INCLUDE_STALE_FIELD_NUMBER: _ClassVar[int]
    include_stale: bool
    def __init__(self, include_stale: _Optional[bool] = ...) -> None: ...

class Peer(_message.Message):
    __slots__ = ("peer_id", "name", "version", "addrs", "connected", "liveness", "last_seen_s_ago", "rtt_ms", "round", "stage", "model", "capabilities", "roles", "rejected", "messages_in", "peer_liveness")
    class RejectedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADDRS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_S_AGO_FIELD_NUMBER: _ClassVar[int]
    RTT_MS_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_IN_FIELD_NUMBER: _ClassVar[int]
    PEER_LIVENESS_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    name: str
    version: str
    addrs: _containers.RepeatedScalarFieldContainer[str]
    connected: bool
    liveness: str
    last_seen_s_ago: float
    rtt_ms: float
    round: int
    stage: int
    model: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    roles: _containers.RepeatedScalarFieldContainer[str]
    rejected: _containers.ScalarMap[str, int]
    messages_in: int
    peer_liveness: PeerLiveness
    def __init__(self, peer_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., addrs: _Optional[_Iterable[str]] = ..., connected: _Optional[bool] = ..., liveness: _Optional[str] = ..., last_seen_s_ago: _Optional[float] = ..., rtt_ms: _Optional[float] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., model: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., roles: _Optional[_Iterable[str]] = ..., rejected: _Optional[_Mapping[str, int]] = ..., messages_in: _Optional[int] = ..., peer_liveness: _Optional[_Union[PeerLiveness, str]] = ...) -> None: ...

class ListPeersResponse(_message.Message):
    __slots__ = ("peers", "self_peer_id")
    PEERS_FIELD_NUMBER: _ClassVar[int]
    SELF_PEER_ID_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[Peer]
    self_peer_id: str
    def __init__(self, peers: _Optional[_Iterable[_Union[Peer, _Mapping]]] = ..., self_peer_id: _Optional[str] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("multiaddrs",)
    MULTIADDRS_FIELD_NUMBER: _ClassVar[int]
    multiaddrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, multiaddrs: _Optional[_Iterable[str]] = ...) -> None: ...

class JoinResult(_message.Message):
    __slots__ = ("multiaddr", "ok", "peer_id", "error")
    MULTIADDR_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    multiaddr: str
    ok: bool
    peer_id: str
    error: str
    def __init__(self, multiaddr: _Optional[str] = ..., ok: _Optional[bool] = ..., peer_id: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[JoinResult]
    def __init__(self, results: _Optional[_Iterable[_Union[JoinResult, _Mapping]]] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LeaveResponse(_message.Message):
    __slots__ = ("disconnected",)
    DISCONNECTED_FIELD_NUMBER: _ClassVar[int]
    disconnected: int
    def __init__(self, disconnected: _Optional[int] = ...) -> None: ...

class StartRoundRequest(_message.Message):
    __slots__ = ("round",)
    ROUND_FIELD_NUMBER: _ClassVar[int]
    round: int
    def __init__(self, round: _Optional[int] = ...) -> None: ...

class AdvanceRoundRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RoundResponse(_message.Message):
    __slots__ = ("round", "stage", "source")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    source: str
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("peer_id", "address", "tx_hash", "already_registered")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    ALREADY_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    address: str
    tx_hash: str
    already_registered: bool
    def __init__(self, peer_id: _Optional[str] = ..., address: _Optional[str] = ..., tx_hash: _Optional[str] = ..., already_registered: _Optional[bool] = ...) -> None: ...

class SubmitResultsRequest(_message.Message):
    __slots__ = ("round",)
    ROUND_FIELD_NUMBER: _ClassVar[int]
    round: int
    def __init__(self, round: _Optional[int] = ...) -> None: ...

class SubmitResultsResponse(_message.Message):
    __slots__ = ("queued", "pending", "round", "already_submitted")
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ALREADY_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    queued: int
    pending: int
    round: int
    already_submitted: int
    def __init__(self, queued: _Optional[int] = ..., pending: _Optional[int] = ..., round: _Optional[int] = ..., already_submitted: _Optional[int] = ...) -> None: ...

class GetLeaderboardRequest(_message.Message):
    __slots__ = ("query", "limit")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    query: str
    limit: int
    def __init__(self, query: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class LeaderboardEntry(_message.Message):
    __slots__ = ("peer_id", "name", "rounds", "verified_reward", "wins", "has_chain_totals", "chain_reward", "chain_wins")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_REWARD_FIELD_NUMBER: _ClassVar[int]
    WINS_FIELD_NUMBER: _ClassVar[int]
    HAS_CHAIN_TOTALS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_REWARD_FIELD_NUMBER: _ClassVar[int]
    CHAIN_WINS_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    name: str
    rounds: int
    verified_reward: float
    wins: int
    has_chain_totals: bool
    chain_reward: int
    chain_wins: int
    def __init__(self, peer_id: _Optional[str] = ..., name: _Optional[str] = ..., rounds: _Optional[int] = ..., verified_reward: _Optional[float] = ..., wins: _Optional[int] = ..., has_chain_totals: _Optional[bool] = ..., chain_reward: _Optional[int] = ..., chain_wins: _Optional[int] = ...) -> None: ...

class Leaderboard(_message.Message):
    __slots__ = ("entries", "chain_reward_scale")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CHAIN_REWARD_SCALE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LeaderboardEntry]
    chain_reward_scale: int
    def __init__(self, entries: _Optional[_Iterable[_Union[LeaderboardEntry, _Mapping]]] = ..., chain_reward_scale: _Optional[int] = ...) -> None: ...

class ExportAdapterRequest(_message.Message):
    __slots__ = ("directory",)
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    directory: str
    def __init__(self, directory: _Optional[str] = ...) -> None: ...

class ExportAdapterResponse(_message.Message):
    __slots__ = ("directory", "policy_version")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    directory: str
    policy_version: int
    def __init__(self, directory: _Optional[str] = ..., policy_version: _Optional[int] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("kinds", "since", "has_since", "replay")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    HAS_SINCE_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    since: int
    has_since: bool
    replay: int
    def __init__(self, kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ..., since: _Optional[int] = ..., has_since: _Optional[bool] = ..., replay: _Optional[int] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "time", "kind", "message", "lifecycle", "peer", "round", "rollout", "rejection", "training", "chain", "gap")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: float
    kind: EventKind
    message: str
    lifecycle: LifecycleEvent
    peer: PeerEvent
    round: RoundEvent
    rollout: RolloutEvent
    rejection: RejectionEvent
    training: TrainingEvent
    chain: ChainEvent
    gap: GapEvent
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[float] = ..., kind: _Optional[_Union[EventKind, str]] = ..., message: _Optional[str] = ..., lifecycle: _Optional[_Union[LifecycleEvent, _Mapping]] = ..., peer: _Optional[_Union[PeerEvent, _Mapping]] = ..., round: _Optional[_Union[RoundEvent, _Mapping]] = ..., rollout: _Optional[_Union[RolloutEvent, _Mapping]] = ..., rejection: _Optional[_Union[RejectionEvent, _Mapping]] = ..., training: _Optional[_Union[TrainingEvent, _Mapping]] = ..., chain: _Optional[_Union[ChainEvent, _Mapping]] = ..., gap: _Optional[_Union[GapEvent, _Mapping]] = ...) -> None: ...

class GapEvent(_message.Message):
    __slots__ = ("first_missed", "last_missed", "reason")
    FIRST_MISSED_FIELD_NUMBER: _ClassVar[int]
    LAST_MISSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    first_missed: int
    last_missed: int
    reason: str
    def __init__(self, first_missed: _Optional[int] = ..., last_missed: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class LifecycleEvent(_message.Message):
    __slots__ = ("phase", "subsystem", "elapsed_s")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    SUBSYSTEM_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    phase: str
    subsystem: str
    elapsed_s: float
    def __init__(self, phase: _Optional[str] = ..., subsystem: _Optional[str] = ..., elapsed_s: _Optional[float] = ...) -> None: ...

class PeerEvent(_message.Message):
    __slots__ = ("change", "peer_id", "name")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    change: str
    peer_id: str
    name: str
    def __init__(self, change: _Optional[str] = ..., peer_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RoundEvent(_message.Message):
    __slots__ = ("round", "stage", "phase", "reward", "local_groups", "external_groups", "external_peers", "winners")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    LOCAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PEERS_FIELD_NUMBER: _ClassVar[int]
    WINNERS_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    phase: str
    reward: float
    local_groups: int
    external_groups: int
    external_peers: _containers.RepeatedScalarFieldContainer[str]
    winners: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., phase: _Optional[str] = ..., reward: _Optional[float] = ..., local_groups: _Optional[int] = ..., external_groups: _Optional[int] = ..., external_peers: _Optional[_Iterable[str]] = ..., winners: _Optional[_Iterable[str]] = ...) -> None: ...

class RolloutEvent(_message.Message):
    __slots__ = ("peer_id", "round", "stage", "groups", "via")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    round: int
    stage: int
    groups: int
    via: str
    def __init__(self, peer_id: _Optional[str] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., groups: _Optional[int] = ..., via: _Optional[str] = ...) -> None: ...

class RejectionEvent(_message.Message):
    __slots__ = ("peer_id", "reason", "detail")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    reason: str
    detail: str
    def __init__(self, peer_id: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class TrainingEvent(_message.Message):
    __slots__ = ("step", "reward_mean", "loss", "kl", "step_s", "tokens_per_s", "state", "evaluation")
    STEP_FIELD_NUMBER: _ClassVar[int]
    REWARD_MEAN_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    KL_FIELD_NUMBER: _ClassVar[int]
    STEP_S_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    step: int
    reward_mean: float
    loss: float
    kl: float
    step_s: float
    tokens_per_s: float
    state: str
    evaluation: Evaluation
    def __init__(self, step: _Optional[int] = ..., reward_mean: _Optional[float] = ..., loss: _Optional[float] = ..., kl: _Optional[float] = ..., step_s: _Optional[float] = ..., tokens_per_s: _Optional[float] = ..., state: _Optional[str] = ..., evaluation: _Optional[_Union[Evaluation, _Mapping]] = ...) -> None: ...

class ChainEvent(_message.Message):
    __slots__ = ("change", "what", "round", "stage", "tx_hash", "error")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    change: str
    what: str
    round: int
    stage: int
    tx_hash: str
    error: str
    def __init__(self, change: _Optional[str] = ..., what: _Optional[str] = ..., round: _Optional[int] = ..., stage: _Optional[int] = ..., tx_hash: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class GetDiagnosticsRequest(_message.Message):
    __slots__ = ("log_lines",)
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    log_lines: int
    def __init__(self, log_lines: _Optional[int] = ...) -> None: ...

class Diagnostics(_message.Message):
    __slots__ = ("config_toml", "log_lines", "recent_events", "versions", "system", "log_file_tail", "status")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SystemEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONFIG_TOML_FIELD_NUMBER: _ClassVar[int]
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    RECENT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    LOG_FILE_TAIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    config_toml: str
    log_lines: _containers.RepeatedScalarFieldContainer[str]
    recent_events: _containers.RepeatedCompositeFieldContainer[Event]
    versions: _containers.ScalarMap[str, str]
    system: _containers.ScalarMap[str, str]
    log_file_tail: str
    status: Status
    def __init__(self, config_toml: _Optional[str] = ..., log_lines: _Optional[_Iterable[str]] = ..., recent_events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., versions: _Optional[_Mapping[str, str]] = ..., system: _Optional[_Mapping[str, str]] = ..., log_file_tail: _Optional[str] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class ListRoundsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class RoundRecord(_message.Message):
    __slots__ = ("round", "stage", "own_reward", "has_own_reward", "rewards", "winners", "local_groups", "external_groups", "external_peers", "rejections", "seconds", "finished_at", "train", "record_json")
    class RewardsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TrainEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OWN_REWARD_FIELD_NUMBER: _ClassVar[int]
    HAS_OWN_REWARD_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    WINNERS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PEERS_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    own_reward: float
    has_own_reward: bool
    rewards: _containers.ScalarMap[str, float]
    winners: _containers.RepeatedScalarFieldContainer[str]
    local_groups: int
    external_groups: int
    external_peers: _containers.RepeatedScalarFieldContainer[str]
    rejections: int
    seconds: float
    finished_at: float
    train: _containers.ScalarMap[str, float]
    record_json: str
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., own_reward: _Optional[float] = ..., has_own_reward: _Optional[bool] = ..., rewards: _Optional[_Mapping[str, float]] = ..., winners: _Optional[_Iterable[str]] = ..., local_groups: _Optional[int] = ..., external_groups: _Optional[int] = ..., external_peers: _Optional[_Iterable[str]] = ..., rejections: _Optional[int] = ..., seconds: _Optional[float] = ..., finished_at: _Optional[float] = ..., train: _Optional[_Mapping[str, float]] = ..., record_json: _Optional[str] = ...) -> None: ...

class ListRoundsResponse(_message.Message):
    __slots__ = ("rounds", "next_page_token", "total")
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    rounds: _containers.RepeatedCompositeFieldContainer[RoundRecord]
    next_page_token: str
    total: int
    def __init__(self, rounds: _Optional[_Iterable[_Union[RoundRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class GetTrainingHistoryRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class TrainingPoint(_message.Message):
    __slots__ = ("step", "round", "reward_mean", "loss", "kl", "tokens_per_s", "step_s", "stepped", "time")
    STEP_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    REWARD_MEAN_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    KL_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_S_FIELD_NUMBER: _ClassVar[int]
    STEP_S_FIELD_NUMBER: _ClassVar[int]
    STEPPED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    step: int
    round: int
    reward_mean: float
    loss: float
    kl: float
    tokens_per_s: float
    step_s: float
    stepped: bool
    time: float
    def __init__(self, step: _Optional[int] = ..., round: _Optional[int] = ..., reward_mean: _Optional[float] = ..., loss: _Optional[float] = ..., kl: _Optional[float] = ..., tokens_per_s: _Optional[float] = ..., step_s: _Optional[float] = ..., stepped: _Optional[bool] = ..., time: _Optional[float] = ...) -> None: ...

class TrainingHistory(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[TrainingPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[TrainingPoint, _Mapping]]] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigResponse(_message.Message):
    __slots__ = ("config_json", "redacted")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    redacted: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, config_json: _Optional[str] = ..., redacted: _Optional[_Iterable[str]] = ...) -> None: ...

class DownloadAdapterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AdapterChunk(_message.Message):
    __slots__ = ("path", "offset", "data", "mode", "file_done", "policy_version", "total_bytes", "done")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FILE_DONE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    path: str
    offset: int
    data: bytes
    mode: int
    file_done: bool
    policy_version: int
    total_bytes: int
    done: bool
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., mode: _Optional[int] = ..., file_done: _Optional[bool] = ..., policy_version: _Optional[int] = ..., total_bytes: _Optional[int] = ..., done: _Optional[bool] = ...) -> None: ...

class PauseTrainingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeTrainingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrainingControlResponse(_message.Message):
    __slots__ = ("paused", "unchanged")
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    unchanged: bool
    def __init__(self, paused: _Optional[bool] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckpointResponse(_message.Message):
    __slots__ = ("path", "policy_version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    policy_version: int
    def __init__(self, path: _Optional[str] = ..., policy_version: _Optional[int] = ...) -> None: ...
