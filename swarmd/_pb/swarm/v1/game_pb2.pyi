from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskRef(_message.Message):
    __slots__ = ("dataset", "config_json", "seed", "index")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    config_json: str
    seed: int
    index: int
    def __init__(self, dataset: _Optional[str] = ..., config_json: _Optional[str] = ..., seed: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class RolloutItem(_message.Message):
    __slots__ = ("ref", "question", "completions", "claimed_rewards", "completion_logprobs", "completion_token_ids")
    REF_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_REWARDS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    question: str
    completions: _containers.RepeatedScalarFieldContainer[str]
    claimed_rewards: _containers.RepeatedScalarFieldContainer[float]
    completion_logprobs: _containers.RepeatedScalarFieldContainer[float]
    completion_token_ids: _containers.RepeatedCompositeFieldContainer[TokenIds]
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., question: _Optional[str] = ..., completions: _Optional[_Iterable[str]] = ..., claimed_rewards: _Optional[_Iterable[float]] = ..., completion_logprobs: _Optional[_Iterable[float]] = ..., completion_token_ids: _Optional[_Iterable[_Union[TokenIds, _Mapping]]] = ...) -> None: ...

class TokenIds(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, ids: _Optional[_Iterable[int]] = ...) -> None: ...

class RolloutBatch(_message.Message):
    __slots__ = ("round", "stage", "environment", "policy_version", "model", "items")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    environment: str
    policy_version: int
    model: str
    items: _containers.RepeatedCompositeFieldContainer[RolloutItem]
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., environment: _Optional[str] = ..., policy_version: _Optional[int] = ..., model: _Optional[str] = ..., items: _Optional[_Iterable[_Union[RolloutItem, _Mapping]]] = ...) -> None: ...

class DebateItem(_message.Message):
    __slots__ = ("ref", "question", "completions", "candidates")
    REF_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    ref: TaskRef
    question: str
    completions: _containers.RepeatedScalarFieldContainer[str]
    candidates: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ref: _Optional[_Union[TaskRef, _Mapping]] = ..., question: _Optional[str] = ..., completions: _Optional[_Iterable[str]] = ..., candidates: _Optional[_Iterable[str]] = ...) -> None: ...

class DebateBatch(_message.Message):
    __slots__ = ("round", "stage", "policy_version", "model", "items")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    policy_version: int
    model: str
    items: _containers.RepeatedCompositeFieldContainer[DebateItem]
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., policy_version: _Optional[int] = ..., model: _Optional[str] = ..., items: _Optional[_Iterable[_Union[DebateItem, _Mapping]]] = ...) -> None: ...

class RoundAnnouncement(_message.Message):
    __slots__ = ("round", "stage", "stage_count", "environment", "started_at", "deadline", "seq", "participants")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    round: int
    stage: int
    stage_count: int
    environment: str
    started_at: float
    deadline: float
    seq: int
    participants: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, round: _Optional[int] = ..., stage: _Optional[int] = ..., stage_count: _Optional[int] = ..., environment: _Optional[str] = ..., started_at: _Optional[float] = ..., deadline: _Optional[float] = ..., seq: _Optional[int] = ..., participants: _Optional[_Iterable[str]] = ...) -> None: ...
