"""The replicated key-value store, through the local node.

    async with kv.Store(db="blog", table="posts") as posts:
        await posts.put("7", b'{"title": "hello"}', ttl=3600)
        record = await posts.get("7")            # a Record, or None
        async with posts.watch("7") as changes:  # registered on the node once entered
            async for change in changes:         # Change(record, deleted) for every write under the prefix
                ...

Reads are served by the local replica and may be stale (`get` and `list` read the node's SQLite file
directly when this process may — same machine, same user — which costs tens of microseconds instead of
a gRPC round trip; otherwise they ask the node); a write returns once it is durable on this node,
then reaches the others by gossip and anti-entropy. Concurrent writes to a key resolve by the higher HLC
stamp (physical ms, logical counter), then the higher writer id. There is no compare-and-set, no lock and
no transaction across keys.
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..node.api.errors import InvalidArgument
from ..node.api.kvfile import KvReader, StoredRegister
from ..node.api.names import check_name, node_id_text
from ..node.api.proto import node_pb2
from .batching import Batcher
from .channel import NODE_ID, NodeUser, Stream
from .errors import NotFound, bad_request, of_status

__all__ = ["Change", "Record", "Store"]


@dataclass(frozen=True, slots=True)
class Record:
    """One key's register as the local replica holds it."""

    db: str
    table: str
    key: str
    value: bytes
    expires_at: float | None
    """Unix seconds after which the key reads as absent; None for never."""
    stamp: tuple[int, int]
    """The hybrid logical clock stamp of the write: (physical milliseconds, logical counter)."""
    writer: str
    """The id (N...) of the node that wrote it."""

    @classmethod
    def from_proto(cls, record: Any) -> Record:
        return cls(record.db, record.table, record.key, record.value, record.expires_at or None,
                   (record.physical_ms, record.logical), record.writer)

    @classmethod
    def from_entry(cls, entry: StoredRegister) -> Record:
        return cls(entry.db, entry.table, entry.key, entry.value or b"", entry.expire_at / 1000.0 or None,
                   (entry.physical_ms, entry.logical), node_id_text(entry.writer))


@dataclass(frozen=True, slots=True)
class Change:
    """A write seen by a watch: the new register, and whether it was a delete (then `value` is empty)."""

    record: Record
    deleted: bool

    @classmethod
    def from_proto(cls, change: Any) -> Change:
        return cls(Record.from_proto(change.record), change.deleted)


def _put_size(request: node_pb2.KvPutRequest) -> int:
    return len(request.value) + len(request.key)


class Store(NodeUser):
    """One table of one database. Keeps its connection to the node open until `close`."""

    def __init__(self, db: str = "default", table: str = "default",
                 data_dir: str | os.PathLike[str] | None = None) -> None:
        """BadRequest for a database or table name the node would refuse (or, empty, read as "default")."""
        try:
            check_name("database", db)
            check_name("table", table)
        except InvalidArgument as exc:
            raise bad_request(NODE_ID, str(exc)) from None
        super().__init__(data_dir)
        self.db = db
        self.table = table
        # Concurrent puts share KvPutMany calls (and the node's commits), several calls in flight.
        self._puts: Batcher[node_pb2.KvPutRequest, Any] = Batcher(self._put_many, _put_size)
        self._reader: KvReader | None = None
        self._reader_failed = False

    def _local(self) -> KvReader | None:
        """The read-only view of the node's file, while a node runs there and the file opens."""
        if self._reader_failed or not self._node.data_dir.socket.exists():
            return None
        if self._reader is None:
            try:
                self._reader = KvReader(self._node.data_dir.kv_db)
            except sqlite3.Error:
                self._reader_failed = True  # another user's node, or no file yet: ask the node
                return None
        return self._reader

    async def put(self, key: str, value: bytes | str, ttl: float | None = None) -> Record:
        """Write `value` (text is stored as UTF-8); with `ttl` seconds the key expires. Returns once the
        write is durable on the node (concurrent puts share calls, commits and signatures)."""
        data = value.encode() if isinstance(value, str) else value
        request = node_pb2.KvPutRequest(db=self.db, table=self.table, key=key, value=data, ttl_s=ttl or 0.0)
        return Record.from_proto(await self._puts.submit(request))

    async def _put_many(self, requests: builtins.list[node_pb2.KvPutRequest]) -> builtins.list[Any]:
        reply = await self._node.call(self._node.stub.KvPutMany, node_pb2.KvPutManyRequest(puts=requests))
        outcomes: builtins.list[Any] = []
        for request, result in zip(requests, reply.results, strict=True):
            if result.code:
                outcomes.append(of_status(NODE_ID, result.code, result.message))
            else:
                result.record.value = request.value  # the reply leaves out what we sent
                outcomes.append(result.record)
        return outcomes

    async def get(self, key: str) -> Record | None:
        """The key's record in the local replica, or None when it is absent or expired."""
        reader = self._local()
        if reader is not None:
            entry = reader.get(self.db, self.table, key, int(time.time() * 1000))
            return Record.from_entry(entry) if entry is not None else None
        request = node_pb2.KvGetRequest(db=self.db, table=self.table, key=key)
        try:
            reply = await self._node.call(self._node.stub.KvGet, request)
        except NotFound:
            return None
        return Record.from_proto(reply.record)

    async def delete(self, key: str) -> bool:
        """Delete the key (a tombstone that replicates); True if a value was visible here before."""
        request = node_pb2.KvDeleteRequest(db=self.db, table=self.table, key=key)
        reply = await self._node.call(self._node.stub.KvDelete, request)
        return bool(reply.existed)

    async def list(self, prefix: str = "", limit: int = 0, offset: int = 0, reverse: bool = False) -> list[Record]:
        """Records whose key starts with `prefix`, in key order (descending with `reverse`); limit 0 = all."""
        reader = self._local()
        if reader is not None:
            entries = reader.list(self.db, self.table, prefix, int(time.time() * 1000), limit, offset, reverse)
            return [Record.from_entry(e) for e in entries]
        request = node_pb2.KvListRequest(db=self.db, table=self.table, prefix=prefix, limit=limit,
                                         offset=offset, reverse=reverse)
        reply = await self._node.call(self._node.stub.KvList, request)
        return [Record.from_proto(r) for r in reply.records]

    def watch(self, prefix: str = "") -> Stream[Change]:
        """Every later write and delete under `prefix`, local or replicated, until the stream is closed."""
        request = node_pb2.KvWatchRequest(db=self.db, table=self.table, prefix=prefix)
        return self._node.stream(self._node.stub.KvWatch, request, Change.from_proto)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await super().close()

    async def databases(self) -> builtins.list[str]:
        """The databases that hold at least one key on this node."""
        reply = await self._node.call(self._node.stub.KvDatabases, node_pb2.KvDatabasesRequest())
        return list(reply.names)

    async def tables(self) -> builtins.list[str]:
        """The tables of this store's database."""
        reply = await self._node.call(self._node.stub.KvTables, node_pb2.KvTablesRequest(db=self.db))
        return list(reply.names)
