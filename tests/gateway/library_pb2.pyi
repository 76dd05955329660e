import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KIND_UNSPECIFIED: _ClassVar[Kind]
    NOVEL: _ClassVar[Kind]
    ESSAY: _ClassVar[Kind]
KIND_UNSPECIFIED: Kind
NOVEL: Kind
ESSAY: Kind

class Author(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Book(_message.Message):
    __slots__ = ("title", "pages", "isbn", "available", "price", "tags", "kind", "author", "attrs", "published")
    class AttrsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    ISBN_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    title: str
    pages: int
    isbn: int
    available: bool
    price: float
    tags: _containers.RepeatedScalarFieldContainer[str]
    kind: Kind
    author: Author
    attrs: _containers.ScalarMap[str, str]
    published: _timestamp_pb2.Timestamp
    def __init__(self, title: _Optional[str] = ..., pages: _Optional[int] = ..., isbn: _Optional[int] = ..., available: _Optional[bool] = ..., price: _Optional[float] = ..., tags: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[Kind, str]] = ..., author: _Optional[_Union[Author, _Mapping]] = ..., attrs: _Optional[_Mapping[str, str]] = ..., published: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("count", "tag")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    count: int
    tag: str
    def __init__(self, count: _Optional[int] = ..., tag: _Optional[str] = ...) -> None: ...
