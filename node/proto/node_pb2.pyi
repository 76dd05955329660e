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
    __slots__ = ("chain", "sealed_keyring", "mesh", "members")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    SEALED_KEYRING_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    chain: bytes
    sealed_keyring: bytes
    mesh: bytes
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chain: _Optional[bytes] = ..., sealed_keyring: _Optional[bytes] = ..., mesh: _Optional[bytes] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...
