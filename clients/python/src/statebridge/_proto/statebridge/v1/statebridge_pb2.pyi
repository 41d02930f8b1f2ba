from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
WATCH_EVENT_TYPE_DELETED: WatchEventType
WATCH_EVENT_TYPE_INITIAL: WatchEventType
WATCH_EVENT_TYPE_RESYNC: WatchEventType
WATCH_EVENT_TYPE_UNSPECIFIED: WatchEventType
WATCH_EVENT_TYPE_VALUE_CHANGE: WatchEventType

class CleanupSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CleanupSessionResponse(_message.Message):
    __slots__ = ["deleted"]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: bool = ...) -> None: ...

class DeleteVariableRequest(_message.Message):
    __slots__ = ["identifier", "session_id", "source"]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    session_id: str
    source: str
    def __init__(self, session_id: _Optional[str] = ..., identifier: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class DeleteVariableResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ["applied", "code", "failures", "message", "revision"]
    class AppliedEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    applied: _containers.ScalarMap[str, int]
    code: str
    failures: _containers.RepeatedCompositeFieldContainer[IdentifierFailure]
    message: str
    revision: int
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., failures: _Optional[_Iterable[_Union[IdentifierFailure, _Mapping]]] = ..., applied: _Optional[_Mapping[str, int]] = ..., revision: _Optional[int] = ...) -> None: ...

class ExportSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ExportSessionResponse(_message.Message):
    __slots__ = ["exported_at_ms", "metadata_json", "revision", "session_id", "variables"]
    EXPORTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    exported_at_ms: int
    metadata_json: str
    revision: int
    session_id: str
    variables: _containers.RepeatedCompositeFieldContainer[Variable]
    def __init__(self, session_id: _Optional[str] = ..., revision: _Optional[int] = ..., metadata_json: _Optional[str] = ..., variables: _Optional[_Iterable[_Union[Variable, _Mapping]]] = ..., exported_at_ms: _Optional[int] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class GetVariableRequest(_message.Message):
    __slots__ = ["identifier", "session_id"]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., identifier: _Optional[str] = ...) -> None: ...

class GetVariableResponse(_message.Message):
    __slots__ = ["variable"]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    variable: Variable
    def __init__(self, variable: _Optional[_Union[Variable, _Mapping]] = ...) -> None: ...

class GetVariablesRequest(_message.Message):
    __slots__ = ["identifiers", "session_id"]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    identifiers: _containers.RepeatedScalarFieldContainer[str]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[str]] = ...) -> None: ...

class GetVariablesResponse(_message.Message):
    __slots__ = ["missing", "variables"]
    class VariablesEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Variable
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Variable, _Mapping]] = ...) -> None: ...
    MISSING_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    variables: _containers.MessageMap[str, Variable]
    def __init__(self, variables: _Optional[_Mapping[str, Variable]] = ..., missing: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class IdentifierFailure(_message.Message):
    __slots__ = ["code", "identifier", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    identifier: str
    message: str
    def __init__(self, identifier: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ImportSessionRequest(_message.Message):
    __slots__ = ["metadata_json", "revision", "session_id", "variables"]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    metadata_json: str
    revision: int
    session_id: str
    variables: _containers.RepeatedCompositeFieldContainer[Variable]
    def __init__(self, session_id: _Optional[str] = ..., revision: _Optional[int] = ..., metadata_json: _Optional[str] = ..., variables: _Optional[_Iterable[_Union[Variable, _Mapping]]] = ...) -> None: ...

class ImportSessionResponse(_message.Message):
    __slots__ = ["imported", "revision"]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    imported: int
    revision: int
    def __init__(self, revision: _Optional[int] = ..., imported: _Optional[int] = ...) -> None: ...

class InitializeSessionRequest(_message.Message):
    __slots__ = ["metadata_json", "session_id", "ttl_seconds"]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    metadata_json: str
    session_id: str
    ttl_seconds: int
    def __init__(self, session_id: _Optional[str] = ..., metadata_json: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class InitializeSessionResponse(_message.Message):
    __slots__ = ["created", "session"]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    created: bool
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., created: bool = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "prefix"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    prefix: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., prefix: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ["next_page_token", "sessions"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListVariablesRequest(_message.Message):
    __slots__ = ["pattern", "session_id"]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    pattern: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., pattern: _Optional[str] = ...) -> None: ...

class ListVariablesResponse(_message.Message):
    __slots__ = ["variables"]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedCompositeFieldContainer[Variable]
    def __init__(self, variables: _Optional[_Iterable[_Union[Variable, _Mapping]]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ["distribution", "message", "persistence", "server_time_ms", "server_version", "store_kind"]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_KIND_FIELD_NUMBER: _ClassVar[int]
    distribution: bool
    message: str
    persistence: bool
    server_time_ms: int
    server_version: str
    store_kind: str
    def __init__(self, message: _Optional[str] = ..., server_time_ms: _Optional[int] = ..., server_version: _Optional[str] = ..., store_kind: _Optional[str] = ..., persistence: bool = ..., distribution: bool = ...) -> None: ...

class RegisterVariableRequest(_message.Message):
    __slots__ = ["constraints_json", "description", "initial_value", "metadata_json", "name", "session_id", "source", "type"]
    CONSTRAINTS_JSON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INITIAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    constraints_json: str
    description: str
    initial_value: Value
    metadata_json: str
    name: str
    session_id: str
    source: str
    type: str
    def __init__(self, session_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., initial_value: _Optional[_Union[Value, _Mapping]] = ..., constraints_json: _Optional[str] = ..., metadata_json: _Optional[str] = ..., description: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class RegisterVariableResponse(_message.Message):
    __slots__ = ["revision", "variable"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    revision: int
    variable: Variable
    def __init__(self, variable: _Optional[_Union[Variable, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ["created_at_ms", "expires_at_ms", "incarnation", "last_accessed_at_ms", "metadata_json", "revision", "session_id", "ttl_seconds", "variable_count"]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESSED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    created_at_ms: int
    expires_at_ms: int
    incarnation: str
    last_accessed_at_ms: int
    metadata_json: str
    revision: int
    session_id: str
    ttl_seconds: int
    variable_count: int
    def __init__(self, session_id: _Optional[str] = ..., revision: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., last_accessed_at_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., variable_count: _Optional[int] = ..., metadata_json: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class SetVariableRequest(_message.Message):
    __slots__ = ["expected_version", "identifier", "metadata_json", "session_id", "source", "value"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    identifier: str
    metadata_json: str
    session_id: str
    source: str
    value: Value
    def __init__(self, session_id: _Optional[str] = ..., identifier: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., metadata_json: _Optional[str] = ..., expected_version: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class SetVariableResponse(_message.Message):
    __slots__ = ["revision", "version"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    version: int
    def __init__(self, version: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class SetVariablesRequest(_message.Message):
    __slots__ = ["atomic", "metadata_json", "session_id", "source", "updates"]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    atomic: bool
    metadata_json: str
    session_id: str
    source: str
    updates: _containers.RepeatedCompositeFieldContainer[VariableUpdate]
    def __init__(self, session_id: _Optional[str] = ..., updates: _Optional[_Iterable[_Union[VariableUpdate, _Mapping]]] = ..., metadata_json: _Optional[str] = ..., atomic: bool = ..., source: _Optional[str] = ...) -> None: ...

class SetVariablesResponse(_message.Message):
    __slots__ = ["revision", "versions"]
    class VersionsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    revision: int
    versions: _containers.ScalarMap[str, int]
    def __init__(self, revision: _Optional[int] = ..., versions: _Optional[_Mapping[str, int]] = ...) -> None: ...

class TensorValue(_message.Message):
    __slots__ = ["data", "shape"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ["boolean_value", "choice_value", "embedding_value", "float_value", "integer_value", "module_value", "string_value", "tensor_value"]
    BOOLEAN_VALUE_FIELD_NUMBER: _ClassVar[int]
    CHOICE_VALUE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    MODULE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_VALUE_FIELD_NUMBER: _ClassVar[int]
    boolean_value: bool
    choice_value: str
    embedding_value: bytes
    float_value: float
    integer_value: int
    module_value: str
    string_value: str
    tensor_value: TensorValue
    def __init__(self, float_value: _Optional[float] = ..., integer_value: _Optional[int] = ..., string_value: _Optional[str] = ..., boolean_value: bool = ..., choice_value: _Optional[str] = ..., module_value: _Optional[str] = ..., embedding_value: _Optional[bytes] = ..., tensor_value: _Optional[_Union[TensorValue, _Mapping]] = ...) -> None: ...

class Variable(_message.Message):
    __slots__ = ["constraints_json", "created_at_ms", "id", "metadata_json", "name", "source", "type", "updated_at_ms", "value", "version"]
    CONSTRAINTS_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    constraints_json: str
    created_at_ms: int
    id: str
    metadata_json: str
    name: str
    source: str
    type: str
    updated_at_ms: int
    value: Value
    version: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., constraints_json: _Optional[str] = ..., metadata_json: _Optional[str] = ..., version: _Optional[int] = ..., created_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class VariableUpdate(_message.Message):
    __slots__ = ["identifier", "value"]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    value: Value
    def __init__(self, identifier: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class WatchCancel(_message.Message):
    __slots__ = ["watch_id"]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    watch_id: str
    def __init__(self, watch_id: _Optional[str] = ...) -> None: ...

class WatchCreate(_message.Message):
    __slots__ = ["from_revision", "heartbeat_interval_ms", "identifiers", "incarnation", "include_initial", "session_id", "share_events", "watch_id"]
    FROM_REVISION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INITIAL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    from_revision: int
    heartbeat_interval_ms: int
    identifiers: _containers.RepeatedScalarFieldContainer[str]
    incarnation: str
    include_initial: bool
    session_id: str
    share_events: bool
    watch_id: str
    def __init__(self, watch_id: _Optional[str] = ..., session_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[str]] = ..., include_initial: bool = ..., from_revision: _Optional[int] = ..., incarnation: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ..., share_events: bool = ...) -> None: ...

class WatchCreated(_message.Message):
    __slots__ = ["heartbeat_interval_ms", "ids", "incarnation", "revision"]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_ms: int
    ids: _containers.RepeatedScalarFieldContainer[str]
    incarnation: str
    revision: int
    def __init__(self, revision: _Optional[int] = ..., ids: _Optional[_Iterable[str]] = ..., incarnation: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class WatchEnded(_message.Message):
    __slots__ = ["error"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: ErrorDetail
    def __init__(self, error: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ["id", "identifier", "metadata_json", "name", "new_value", "old_value", "revision", "source", "timestamp_ms", "type", "variable_type", "version"]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    identifier: str
    metadata_json: str
    name: str
    new_value: Value
    old_value: Value
    revision: int
    source: str
    timestamp_ms: int
    type: WatchEventType
    variable_type: str
    version: int
    def __init__(self, type: _Optional[_Union[WatchEventType, str]] = ..., identifier: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., variable_type: _Optional[str] = ..., old_value: _Optional[_Union[Value, _Mapping]] = ..., new_value: _Optional[_Union[Value, _Mapping]] = ..., version: _Optional[int] = ..., revision: _Optional[int] = ..., source: _Optional[str] = ..., metadata_json: _Optional[str] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class WatchEvents(_message.Message):
    __slots__ = ["events", "revision"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WatchEvent]
    revision: int
    def __init__(self, revision: _Optional[int] = ..., events: _Optional[_Iterable[_Union[WatchEvent, _Mapping]]] = ...) -> None: ...

class WatchHeartbeat(_message.Message):
    __slots__ = ["incarnation", "interval_ms", "revision", "server_time_ms"]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    incarnation: str
    interval_ms: int
    revision: int
    server_time_ms: int
    def __init__(self, revision: _Optional[int] = ..., server_time_ms: _Optional[int] = ..., incarnation: _Optional[str] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class WatchStreamRequest(_message.Message):
    __slots__ = ["cancel", "create"]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    cancel: WatchCancel
    create: WatchCreate
    def __init__(self, create: _Optional[_Union[WatchCreate, _Mapping]] = ..., cancel: _Optional[_Union[WatchCancel, _Mapping]] = ...) -> None: ...

class WatchStreamResponse(_message.Message):
    __slots__ = ["also_watch_ids", "created", "ended", "events", "heartbeat", "watch_id"]
    ALSO_WATCH_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    WATCH_ID_FIELD_NUMBER: _ClassVar[int]
    also_watch_ids: _containers.RepeatedScalarFieldContainer[str]
    created: WatchCreated
    ended: WatchEnded
    events: WatchEvents
    heartbeat: WatchHeartbeat
    watch_id: str
    def __init__(self, watch_id: _Optional[str] = ..., events: _Optional[_Union[WatchEvents, _Mapping]] = ..., heartbeat: _Optional[_Union[WatchHeartbeat, _Mapping]] = ..., created: _Optional[_Union[WatchCreated, _Mapping]] = ..., ended: _Optional[_Union[WatchEnded, _Mapping]] = ..., also_watch_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchVariablesRequest(_message.Message):
    __slots__ = ["from_revision", "heartbeat_interval_ms", "identifiers", "incarnation", "include_initial", "session_id"]
    FROM_REVISION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INITIAL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    from_revision: int
    heartbeat_interval_ms: int
    identifiers: _containers.RepeatedScalarFieldContainer[str]
    incarnation: str
    include_initial: bool
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[str]] = ..., include_initial: bool = ..., from_revision: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class WatchVariablesResponse(_message.Message):
    __slots__ = ["created", "events", "heartbeat"]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    created: WatchCreated
    events: WatchEvents
    heartbeat: WatchHeartbeat
    def __init__(self, events: _Optional[_Union[WatchEvents, _Mapping]] = ..., heartbeat: _Optional[_Union[WatchHeartbeat, _Mapping]] = ..., created: _Optional[_Union[WatchCreated, _Mapping]] = ...) -> None: ...

class WatchEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
