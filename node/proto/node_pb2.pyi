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
    __slots__ = ("chain", "sealed_keyring", "mesh", "members", "sealed_config_key")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    SEALED_KEYRING_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    SEALED_CONFIG_KEY_FIELD_NUMBER: _ClassVar[int]
    chain: bytes
    sealed_keyring: bytes
    mesh: bytes
    members: _containers.RepeatedScalarFieldContainer[str]
    sealed_config_key: bytes
    def __init__(self, chain: _Optional[bytes] = ..., sealed_keyring: _Optional[bytes] = ..., mesh: _Optional[bytes] = ..., members: _Optional[_Iterable[str]] = ..., sealed_config_key: _Optional[bytes] = ...) -> None: ...

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
