from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("id", "mesh_id", "address", "generation", "uptime_s", "members", "counters", "profile", "data_dir", "transport_failures")
    class MembersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    MESH_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    id: str
    mesh_id: str
    address: str
    generation: int
    uptime_s: float
    members: _containers.ScalarMap[str, int]
    counters: _containers.ScalarMap[str, int]
    profile: str
    data_dir: str
    transport_failures: int
    def __init__(self, id: _Optional[str] = ..., mesh_id: _Optional[str] = ..., address: _Optional[str] = ..., generation: _Optional[int] = ..., uptime_s: _Optional[float] = ..., members: _Optional[_Mapping[str, int]] = ..., counters: _Optional[_Mapping[str, int]] = ..., profile: _Optional[str] = ..., data_dir: _Optional[str] = ..., transport_failures: _Optional[int] = ...) -> None: ...

class MembersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Member(_message.Message):
    __slots__ = ("id", "address", "state", "incarnation", "generation", "self")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SELF_FIELD_NUMBER: _ClassVar[int]
    id: str
    address: str
    state: str
    incarnation: int
    generation: int
    self: bool
    def __init__(self_, id: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[str] = ..., incarnation: _Optional[int] = ..., generation: _Optional[int] = ..., self: _Optional[bool] = ...) -> None: ...

class MembersReply(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class InviteRequest(_message.Message):
    __slots__ = ("ttl_s",)
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    ttl_s: float
    def __init__(self, ttl_s: _Optional[float] = ...) -> None: ...

class InviteReply(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: float
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class JoinMeshRequest(_message.Message):
    __slots__ = ("address", "token")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    address: str
    token: str
    def __init__(self, address: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class JoinMeshReply(_message.Message):
    __slots__ = ("mesh_id", "contacted")
    MESH_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACTED_FIELD_NUMBER: _ClassVar[int]
    mesh_id: str
    contacted: int
    def __init__(self, mesh_id: _Optional[str] = ..., contacted: _Optional[int] = ...) -> None: ...

class LeaveRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LeaveReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LinkFrame(_message.Message):
    __slots__ = ("id", "payload", "timeout_s", "cancel", "code", "details", "trailing")
    class TrailingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TRAILING_FIELD_NUMBER: _ClassVar[int]
    id: int
    payload: bytes
    timeout_s: float
    cancel: bool
    code: int
    details: str
    trailing: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[int] = ..., payload: _Optional[bytes] = ..., timeout_s: _Optional[float] = ..., cancel: _Optional[bool] = ..., code: _Optional[int] = ..., details: _Optional[str] = ..., trailing: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LinkBatch(_message.Message):
    __slots__ = ("frames",)
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    frames: _containers.RepeatedCompositeFieldContainer[LinkFrame]
    def __init__(self, frames: _Optional[_Iterable[_Union[LinkFrame, _Mapping]]] = ...) -> None: ...

class InstanceCall(_message.Message):
    __slots__ = ("method", "body", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    method: str
    body: bytes
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, method: _Optional[str] = ..., body: _Optional[bytes] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("data", "source")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    source: str
    def __init__(self, data: _Optional[bytes] = ..., source: _Optional[str] = ...) -> None: ...

class JoinRequest(_message.Message):
    __slots__ = ("token", "public_key", "address")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    token: str
    public_key: bytes
    address: str
    def __init__(self, token: _Optional[str] = ..., public_key: _Optional[bytes] = ..., address: _Optional[str] = ...) -> None: ...

class JoinReply(_message.Message):
    __slots__ = ("chain", "sealed_keyring", "mesh", "members", "sealed_config_key", "auth_records")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    SEALED_KEYRING_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    SEALED_CONFIG_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTH_RECORDS_FIELD_NUMBER: _ClassVar[int]
    chain: bytes
    sealed_keyring: bytes
    mesh: bytes
    members: _containers.RepeatedScalarFieldContainer[str]
    sealed_config_key: bytes
    auth_records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, chain: _Optional[bytes] = ..., sealed_keyring: _Optional[bytes] = ..., mesh: _Optional[bytes] = ..., members: _Optional[_Iterable[str]] = ..., sealed_config_key: _Optional[bytes] = ..., auth_records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RedeemInviteRequest(_message.Message):
    __slots__ = ("token", "joiner")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    JOINER_FIELD_NUMBER: _ClassVar[int]
    token: str
    joiner: bytes
    def __init__(self, token: _Optional[str] = ..., joiner: _Optional[bytes] = ...) -> None: ...

class RedeemInviteReply(_message.Message):
    __slots__ = ("nonce", "joiner")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    JOINER_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    joiner: bytes
    def __init__(self, nonce: _Optional[bytes] = ..., joiner: _Optional[bytes] = ...) -> None: ...

class KvRecord(_message.Message):
    __slots__ = ("db", "table", "key", "value", "expires_at", "physical_ms", "logical", "writer")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_MS_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    key: str
    value: bytes
    expires_at: float
    physical_ms: int
    logical: int
    writer: str
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[bytes] = ..., expires_at: _Optional[float] = ..., physical_ms: _Optional[int] = ..., logical: _Optional[int] = ..., writer: _Optional[str] = ...) -> None: ...

class KvPutRequest(_message.Message):
    __slots__ = ("db", "table", "key", "value", "ttl_s")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    key: str
    value: bytes
    ttl_s: float
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[bytes] = ..., ttl_s: _Optional[float] = ...) -> None: ...

class KvPutReply(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: KvRecord
    def __init__(self, record: _Optional[_Union[KvRecord, _Mapping]] = ...) -> None: ...

class KvPutManyRequest(_message.Message):
    __slots__ = ("puts",)
    PUTS_FIELD_NUMBER: _ClassVar[int]
    puts: _containers.RepeatedCompositeFieldContainer[KvPutRequest]
    def __init__(self, puts: _Optional[_Iterable[_Union[KvPutRequest, _Mapping]]] = ...) -> None: ...

class KvPutResult(_message.Message):
    __slots__ = ("record", "code", "message")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    record: KvRecord
    code: str
    message: str
    def __init__(self, record: _Optional[_Union[KvRecord, _Mapping]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class KvPutManyReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[KvPutResult]
    def __init__(self, results: _Optional[_Iterable[_Union[KvPutResult, _Mapping]]] = ...) -> None: ...

class KvGetRequest(_message.Message):
    __slots__ = ("db", "table", "key")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    key: str
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class KvGetReply(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: KvRecord
    def __init__(self, record: _Optional[_Union[KvRecord, _Mapping]] = ...) -> None: ...

class KvDeleteRequest(_message.Message):
    __slots__ = ("db", "table", "key")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    key: str
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class KvDeleteReply(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class KvListRequest(_message.Message):
    __slots__ = ("db", "table", "prefix", "limit", "offset", "reverse", "keys_only")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    KEYS_ONLY_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    prefix: str
    limit: int
    offset: int
    reverse: bool
    keys_only: bool
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., prefix: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., reverse: _Optional[bool] = ..., keys_only: _Optional[bool] = ...) -> None: ...

class KvListReply(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[KvRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[KvRecord, _Mapping]]] = ...) -> None: ...

class KvWatchRequest(_message.Message):
    __slots__ = ("db", "table", "prefix")
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    db: str
    table: str
    prefix: str
    def __init__(self, db: _Optional[str] = ..., table: _Optional[str] = ..., prefix: _Optional[str] = ...) -> None: ...

class KvChange(_message.Message):
    __slots__ = ("record", "deleted")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    record: KvRecord
    deleted: bool
    def __init__(self, record: _Optional[_Union[KvRecord, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class KvDatabasesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KvTablesRequest(_message.Message):
    __slots__ = ("db",)
    DB_FIELD_NUMBER: _ClassVar[int]
    db: str
    def __init__(self, db: _Optional[str] = ...) -> None: ...

class KvNames(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfigGetRequest(_message.Message):
    __slots__ = ("path", "reveal_secrets")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REVEAL_SECRETS_FIELD_NUMBER: _ClassVar[int]
    path: str
    reveal_secrets: bool
    def __init__(self, path: _Optional[str] = ..., reveal_secrets: _Optional[bool] = ...) -> None: ...

class ConfigGetReply(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class ConfigSetRequest(_message.Message):
    __slots__ = ("path", "json", "secret")
    PATH_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    path: str
    json: str
    secret: bool
    def __init__(self, path: _Optional[str] = ..., json: _Optional[str] = ..., secret: _Optional[bool] = ...) -> None: ...

class ConfigSetReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigDeleteRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ConfigDeleteReply(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class ConfigWatchRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("path", "json", "deleted")
    PATH_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    path: str
    json: str
    deleted: bool
    def __init__(self, path: _Optional[str] = ..., json: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("name", "method", "codec", "request_type", "response_type", "request_schema", "response_schema", "server_streaming")
    NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SERVER_STREAMING_FIELD_NUMBER: _ClassVar[int]
    name: str
    method: str
    codec: str
    request_type: str
    response_type: str
    request_schema: str
    response_schema: str
    server_streaming: bool
    def __init__(self, name: _Optional[str] = ..., method: _Optional[str] = ..., codec: _Optional[str] = ..., request_type: _Optional[str] = ..., response_type: _Optional[str] = ..., request_schema: _Optional[str] = ..., response_schema: _Optional[str] = ..., server_streaming: _Optional[bool] = ...) -> None: ...

class ServiceInstance(_message.Message):
    __slots__ = ("id", "service", "version", "address", "node", "node_address", "endpoints", "metadata", "descriptor_hash", "call_link", "link_socket")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    NODE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_HASH_FIELD_NUMBER: _ClassVar[int]
    CALL_LINK_FIELD_NUMBER: _ClassVar[int]
    LINK_SOCKET_FIELD_NUMBER: _ClassVar[int]
    id: str
    service: str
    version: str
    address: str
    node: str
    node_address: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    metadata: _containers.ScalarMap[str, str]
    descriptor_hash: bytes
    call_link: bool
    link_socket: str
    def __init__(self, id: _Optional[str] = ..., service: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ..., node: _Optional[str] = ..., node_address: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., descriptor_hash: _Optional[bytes] = ..., call_link: _Optional[bool] = ..., link_socket: _Optional[str] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("service", "version", "address", "endpoints", "metadata", "descriptor_set", "ttl_s", "call_link", "link_socket")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_SET_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    CALL_LINK_FIELD_NUMBER: _ClassVar[int]
    LINK_SOCKET_FIELD_NUMBER: _ClassVar[int]
    service: str
    version: str
    address: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    metadata: _containers.ScalarMap[str, str]
    descriptor_set: bytes
    ttl_s: float
    call_link: bool
    link_socket: str
    def __init__(self, service: _Optional[str] = ..., version: _Optional[str] = ..., address: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., descriptor_set: _Optional[bytes] = ..., ttl_s: _Optional[float] = ..., call_link: _Optional[bool] = ..., link_socket: _Optional[str] = ...) -> None: ...

class RegisterReply(_message.Message):
    __slots__ = ("id", "heartbeat_s")
    ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_S_FIELD_NUMBER: _ClassVar[int]
    id: str
    heartbeat_s: float
    def __init__(self, id: _Optional[str] = ..., heartbeat_s: _Optional[float] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class HeartbeatReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeregisterReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServicesRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class ServicesReply(_message.Message):
    __slots__ = ("instances",)
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[ServiceInstance]
    def __init__(self, instances: _Optional[_Iterable[_Union[ServiceInstance, _Mapping]]] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class DescribeReply(_message.Message):
    __slots__ = ("instances", "descriptor_set")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_SET_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[ServiceInstance]
    descriptor_set: bytes
    def __init__(self, instances: _Optional[_Iterable[_Union[ServiceInstance, _Mapping]]] = ..., descriptor_set: _Optional[bytes] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("service", "endpoint", "body", "metadata", "timeout_s", "caller", "instance", "credential")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    service: str
    endpoint: str
    body: bytes
    metadata: _containers.ScalarMap[str, str]
    timeout_s: float
    caller: str
    instance: str
    credential: Credential
    def __init__(self, service: _Optional[str] = ..., endpoint: _Optional[str] = ..., body: _Optional[bytes] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timeout_s: _Optional[float] = ..., caller: _Optional[str] = ..., instance: _Optional[str] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("token", "anonymous")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    token: str
    anonymous: bool
    def __init__(self, token: _Optional[str] = ..., anonymous: _Optional[bool] = ...) -> None: ...

class CallReply(_message.Message):
    __slots__ = ("body", "instance")
    BODY_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    instance: str
    def __init__(self, body: _Optional[bytes] = ..., instance: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("path", "name", "args", "env")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunReply(_message.Message):
    __slots__ = ("name", "pid")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    name: str
    pid: int
    def __init__(self, name: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class ProcessesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Process(_message.Message):
    __slots__ = ("name", "path", "pid", "state", "restarts", "started_at", "last_exit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_EXIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    pid: int
    state: str
    restarts: int
    started_at: float
    last_exit: int
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., pid: _Optional[int] = ..., state: _Optional[str] = ..., restarts: _Optional[int] = ..., started_at: _Optional[float] = ..., last_exit: _Optional[int] = ...) -> None: ...

class ProcessesReply(_message.Message):
    __slots__ = ("processes",)
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(self, processes: _Optional[_Iterable[_Union[Process, _Mapping]]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("name", "follow", "tail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    follow: bool
    tail: int
    def __init__(self, name: _Optional[str] = ..., follow: _Optional[bool] = ..., tail: _Optional[int] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("line", "stream", "at")
    LINE_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    line: str
    stream: str
    at: float
    def __init__(self, line: _Optional[str] = ..., stream: _Optional[str] = ..., at: _Optional[float] = ...) -> None: ...

class KillRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class KillReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("topic", "data", "headers", "credential")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    topic: str
    data: bytes
    headers: _containers.ScalarMap[str, str]
    credential: Credential
    def __init__(self, topic: _Optional[str] = ..., data: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class PublishReply(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: int
    def __init__(self, nodes: _Optional[int] = ...) -> None: ...

class PublishManyRequest(_message.Message):
    __slots__ = ("messages", "failures_only", "sender", "sequence")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_ONLY_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[PublishRequest]
    failures_only: bool
    sender: bytes
    sequence: int
    def __init__(self, messages: _Optional[_Iterable[_Union[PublishRequest, _Mapping]]] = ..., failures_only: _Optional[bool] = ..., sender: _Optional[bytes] = ..., sequence: _Optional[int] = ...) -> None: ...

class PublishResult(_message.Message):
    __slots__ = ("nodes", "code", "message", "index")
    NODES_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    nodes: int
    code: str
    message: str
    index: int
    def __init__(self, nodes: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class PublishManyReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PublishResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PublishResult, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("topic", "group", "queue_limit", "credential")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    topic: str
    group: str
    queue_limit: int
    credential: Credential
    def __init__(self, topic: _Optional[str] = ..., group: _Optional[str] = ..., queue_limit: _Optional[int] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class PubsubMessage(_message.Message):
    __slots__ = ("topic", "data", "headers", "publisher", "published_at")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    data: bytes
    headers: _containers.ScalarMap[str, str]
    publisher: str
    published_at: float
    def __init__(self, topic: _Optional[str] = ..., data: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., publisher: _Optional[str] = ..., published_at: _Optional[float] = ...) -> None: ...

class PubsubBatch(_message.Message):
    __slots__ = ("messages", "dropped")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[PubsubMessage]
    dropped: int
    def __init__(self, messages: _Optional[_Iterable[_Union[PubsubMessage, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...

class PeerPublish(_message.Message):
    __slots__ = ("message", "plain", "groups")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLAIN_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    message: PubsubMessage
    plain: bool
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, message: _Optional[_Union[PubsubMessage, _Mapping]] = ..., plain: _Optional[bool] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class PeerPublishBatch(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[PeerPublish]
    def __init__(self, messages: _Optional[_Iterable[_Union[PeerPublish, _Mapping]]] = ...) -> None: ...

class StreamEvent(_message.Message):
    __slots__ = ("topic", "origin", "offset", "published_at", "data", "headers", "attempt")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    origin: str
    offset: int
    published_at: float
    data: bytes
    headers: _containers.ScalarMap[str, str]
    attempt: int
    def __init__(self, topic: _Optional[str] = ..., origin: _Optional[str] = ..., offset: _Optional[int] = ..., published_at: _Optional[float] = ..., data: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., attempt: _Optional[int] = ...) -> None: ...

class StreamPublishRequest(_message.Message):
    __slots__ = ("topic", "data", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    data: bytes
    headers: _containers.ScalarMap[str, str]
    def __init__(self, topic: _Optional[str] = ..., data: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamPublishReply(_message.Message):
    __slots__ = ("origin", "offset", "replicas")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    origin: str
    offset: int
    replicas: int
    def __init__(self, origin: _Optional[str] = ..., offset: _Optional[int] = ..., replicas: _Optional[int] = ...) -> None: ...

class StreamPublishManyRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StreamPublishRequest]
    def __init__(self, events: _Optional[_Iterable[_Union[StreamPublishRequest, _Mapping]]] = ...) -> None: ...

class StreamPublishResult(_message.Message):
    __slots__ = ("origin", "offset", "replicas", "code", "message")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    origin: str
    offset: int
    replicas: int
    code: str
    message: str
    def __init__(self, origin: _Optional[str] = ..., offset: _Optional[int] = ..., replicas: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StreamPublishManyReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StreamPublishResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StreamPublishResult, _Mapping]]] = ...) -> None: ...

class StreamConsumeStart(_message.Message):
    __slots__ = ("topic", "group", "from_start", "offset", "since", "new_only", "ack_wait_s", "max_retries", "auto_ack", "max_in_flight")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    FROM_START_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    NEW_ONLY_FIELD_NUMBER: _ClassVar[int]
    ACK_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    AUTO_ACK_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    group: str
    from_start: bool
    offset: int
    since: float
    new_only: bool
    ack_wait_s: float
    max_retries: int
    auto_ack: bool
    max_in_flight: int
    def __init__(self, topic: _Optional[str] = ..., group: _Optional[str] = ..., from_start: _Optional[bool] = ..., offset: _Optional[int] = ..., since: _Optional[float] = ..., new_only: _Optional[bool] = ..., ack_wait_s: _Optional[float] = ..., max_retries: _Optional[int] = ..., auto_ack: _Optional[bool] = ..., max_in_flight: _Optional[int] = ...) -> None: ...

class StreamAck(_message.Message):
    __slots__ = ("origin", "offset", "nack")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    origin: str
    offset: int
    nack: bool
    def __init__(self, origin: _Optional[str] = ..., offset: _Optional[int] = ..., nack: _Optional[bool] = ...) -> None: ...

class StreamConsumeInput(_message.Message):
    __slots__ = ("start", "ack")
    START_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    start: StreamConsumeStart
    ack: StreamAck
    def __init__(self, start: _Optional[_Union[StreamConsumeStart, _Mapping]] = ..., ack: _Optional[_Union[StreamAck, _Mapping]] = ...) -> None: ...

class StreamEventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StreamEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[StreamEvent, _Mapping]]] = ...) -> None: ...

class StreamInfoRequest(_message.Message):
    __slots__ = ("topic",)
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    topic: str
    def __init__(self, topic: _Optional[str] = ...) -> None: ...

class StreamPartition(_message.Message):
    __slots__ = ("origin", "first", "head", "replicas", "origin_alive")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_ALIVE_FIELD_NUMBER: _ClassVar[int]
    origin: str
    first: int
    head: int
    replicas: _containers.RepeatedScalarFieldContainer[str]
    origin_alive: bool
    def __init__(self, origin: _Optional[str] = ..., first: _Optional[int] = ..., head: _Optional[int] = ..., replicas: _Optional[_Iterable[str]] = ..., origin_alive: _Optional[bool] = ...) -> None: ...

class StreamGroup(_message.Message):
    __slots__ = ("name", "consumers", "committed", "lag")
    class CommittedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONSUMERS_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    consumers: _containers.RepeatedScalarFieldContainer[str]
    committed: _containers.ScalarMap[str, int]
    lag: int
    def __init__(self, name: _Optional[str] = ..., consumers: _Optional[_Iterable[str]] = ..., committed: _Optional[_Mapping[str, int]] = ..., lag: _Optional[int] = ...) -> None: ...

class StreamInfoReply(_message.Message):
    __slots__ = ("partitions", "groups")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[StreamPartition]
    groups: _containers.RepeatedCompositeFieldContainer[StreamGroup]
    def __init__(self, partitions: _Optional[_Iterable[_Union[StreamPartition, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[StreamGroup, _Mapping]]] = ...) -> None: ...

class StreamReplicate(_message.Message):
    __slots__ = ("topic", "origin", "events", "prev_published_at")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PREV_PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    origin: str
    events: _containers.RepeatedCompositeFieldContainer[StreamEvent]
    prev_published_at: float
    def __init__(self, topic: _Optional[str] = ..., origin: _Optional[str] = ..., events: _Optional[_Iterable[_Union[StreamEvent, _Mapping]]] = ..., prev_published_at: _Optional[float] = ...) -> None: ...

class StreamReplicated(_message.Message):
    __slots__ = ("head", "conflict")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    head: int
    conflict: int
    def __init__(self, head: _Optional[int] = ..., conflict: _Optional[int] = ...) -> None: ...

class StreamHeadsRequest(_message.Message):
    __slots__ = ("origin",)
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    origin: str
    def __init__(self, origin: _Optional[str] = ...) -> None: ...

class StreamHead(_message.Message):
    __slots__ = ("topic", "first", "head")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    topic: str
    first: int
    head: int
    def __init__(self, topic: _Optional[str] = ..., first: _Optional[int] = ..., head: _Optional[int] = ...) -> None: ...

class StreamHeads(_message.Message):
    __slots__ = ("heads",)
    HEADS_FIELD_NUMBER: _ClassVar[int]
    heads: _containers.RepeatedCompositeFieldContainer[StreamHead]
    def __init__(self, heads: _Optional[_Iterable[_Union[StreamHead, _Mapping]]] = ...) -> None: ...

class StreamRead(_message.Message):
    __slots__ = ("topic", "origin", "from_offset", "since", "limit")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FROM_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    origin: str
    from_offset: int
    since: float
    limit: int
    def __init__(self, topic: _Optional[str] = ..., origin: _Optional[str] = ..., from_offset: _Optional[int] = ..., since: _Optional[float] = ..., limit: _Optional[int] = ...) -> None: ...

class StreamEvents(_message.Message):
    __slots__ = ("events", "first", "head")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StreamEvent]
    first: int
    head: int
    def __init__(self, events: _Optional[_Iterable[_Union[StreamEvent, _Mapping]]] = ..., first: _Optional[int] = ..., head: _Optional[int] = ...) -> None: ...

class AuthChallengeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuthChallengeReply(_message.Message):
    __slots__ = ("nonce", "node_id", "mesh_id")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MESH_ID_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    node_id: str
    mesh_id: str
    def __init__(self, nonce: _Optional[bytes] = ..., node_id: _Optional[str] = ..., mesh_id: _Optional[str] = ...) -> None: ...

class AuthTokenRequest(_message.Message):
    __slots__ = ("account_id", "nonce", "signature", "ttl_s")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    nonce: bytes
    signature: bytes
    ttl_s: float
    def __init__(self, account_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., ttl_s: _Optional[float] = ...) -> None: ...

class AuthTokenReply(_message.Message):
    __slots__ = ("token", "expires_at", "account_id", "name", "scopes")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: float
    account_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[float] = ..., account_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class AuthSubmitRequest(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AuthSubmitReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuthRecordsRequest(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class AuthRecordsReply(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("credential", "resource")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    resource: str
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ..., resource: _Optional[str] = ...) -> None: ...

class AuthorizeReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIReply(_message.Message):
    __slots__ = ("account_id", "name", "scopes", "node_id", "mesh_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MESH_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    node_id: str
    mesh_id: str
    def __init__(self, account_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., node_id: _Optional[str] = ..., mesh_id: _Optional[str] = ...) -> None: ...
