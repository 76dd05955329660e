"""The key-value part of the local API, and where the replica's events reach storage and watches.

A write goes: the core stamps a register (`kv_draft`, which validates and raises before anything is
written) and signs the registers of one request together (`kv_sign`: one signature over their Merkle
root, so replicas check one signature per request, not per register), the store commits them (group commit, see `store.py`), the core installs and
gossips it (`kv_publish`), and only then is the client answered. Installing emits `KvChanged`, which
feeds watches; its register is already in the file, so it is not saved a second time. Registers from
other writers arrive only as `KvChanged` and are saved in the background. Reads are served from the
core's in-memory replica.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple

from ...identity.records import AUTH_DB
from ...mesh import KvChanged, KvEntry, KvPurged, KvWriterKnown, MeshError
from ...mesh.events import Event
from ..api.errors import NodeError, NotFound, PermissionDenied
from ..api.names import check_name, node_id_text
from ..api.proto import node_pb2
from ..runtime import Runtime
from .changefeed import ChangeFeed, Subscription
from .store import KvStore

__all__ = ["DEFAULT_NAME", "KvService", "Write", "record"]

DEFAULT_NAME = "default"


class Write(NamedTuple):
    """One register to write: `value` None deletes, `ttl` None never expires."""

    db: str
    table: str
    key: str
    value: bytes | None
    ttl: float | None = None


def record(entry: KvEntry, with_value: bool = True) -> node_pb2.KvRecord:
    """The API's view of a register."""
    return node_pb2.KvRecord(
        db=entry.db,
        table=entry.table,
        key=entry.key,
        value=entry.value if with_value and entry.value is not None else b"",
        expires_at=entry.expire_at / 1000.0,
        physical_ms=entry.physical_ms,
        logical=entry.logical,
        writer=node_id_text(entry.writer),
    )


def _names(request: Any) -> tuple[str, str]:
    """The request's database and table, defaulted and checked (a bad name is an error, not a miss)."""
    db, table = request.db or DEFAULT_NAME, request.table or DEFAULT_NAME
    check_name("database", db)
    check_name("table", table)
    if db == AUTH_DB:
        raise PermissionDenied(f"database {AUTH_DB!r} holds the mesh's auth records; use `micro auth`")
    return db, table


class KvService:
    """Writes through the store to the core, reads from the core, and the change feed."""

    def __init__(self, runtime: Runtime, store: KvStore) -> None:
        self.runtime = runtime
        self.store = store
        self.feed = ChangeFeed()
        # Registers this node committed and is installing right now: already in the file.
        self._installing: set[KvEntry] = set()
        # Registers from other writers installed this turn of the loop, saved together at its end.
        self._arrived: list[KvEntry] = []

    # ---- writes ---------------------------------------------------------------------------------

    async def write(self, writes: Sequence[Write]) -> list[KvEntry]:
        """Stamp every write (all are validated before any is stored), commit them in one transaction,
        then install and gossip them."""
        core, now = self.runtime.core, self.runtime.now()
        entries = core.kv_sign([core.kv_draft(w.db, w.table, w.key, w.value, w.ttl, now) for w in writes])
        await self._commit_and_publish(entries)
        return entries

    async def _commit_and_publish(self, entries: list[KvEntry]) -> None:
        if not entries:
            return
        await self.store.commit(entries)
        self._installing.update(entries)
        try:
            self.runtime.kv_publish(entries)
        finally:
            self._installing.clear()

    async def put(self, request: node_pb2.KvPutRequest) -> node_pb2.KvPutReply:
        db, table = _names(request)
        ttl = request.ttl_s if request.ttl_s else None
        (entry,) = await self.write([Write(db, table, request.key, bytes(request.value), ttl)])
        return node_pb2.KvPutReply(record=record(entry))

    async def put_many(self, request: node_pb2.KvPutManyRequest) -> node_pb2.KvPutManyReply:
        """Each put checked on its own: a refused one is answered with its error, the rest commit together."""
        core, now = self.runtime.core, self.runtime.now()
        results: list[node_pb2.KvPutResult] = []
        drafts: list[KvEntry] = []
        for put in request.puts:
            try:
                db, table = _names(put)
                drafts.append(core.kv_draft(db, table, put.key, bytes(put.value), put.ttl_s or None, now))
            except (MeshError, NodeError) as exc:
                results.append(node_pb2.KvPutResult(code=exc.code, message=str(exc)))
                continue
            results.append(node_pb2.KvPutResult())
        entries = core.kv_sign(drafts)
        await self._commit_and_publish(entries)
        written = iter(entries)
        for result in results:
            if not result.code:  # without the value: the caller sent it, and it may be large
                result.record.CopyFrom(record(next(written), with_value=False))
        return node_pb2.KvPutManyReply(results=results)

    async def delete(self, request: node_pb2.KvDeleteRequest) -> node_pb2.KvDeleteReply:
        db, table = _names(request)
        existed = self.lookup(db, table, request.key) is not None
        await self.write([Write(db, table, request.key, None)])
        return node_pb2.KvDeleteReply(existed=existed)

    # ---- reads ----------------------------------------------------------------------------------

    def lookup(self, db: str, table: str, key: str) -> KvEntry | None:
        """The visible register at a key (None when absent, deleted or expired)."""
        return self.runtime.core.kv_get(db, table, key, self.runtime.now())

    def get(self, request: node_pb2.KvGetRequest) -> node_pb2.KvGetReply:
        db, table = _names(request)
        entry = self.lookup(db, table, request.key)
        if entry is None:
            raise NotFound(f"key {request.key!r} not found in {db}/{table}")
        return node_pb2.KvGetReply(record=record(entry))

    def visible(self, db: str, table: str, prefix: str, limit: int = 0, offset: int = 0,
                reverse: bool = False) -> list[KvEntry]:
        """Visible registers of a table under `prefix`, in key order."""
        return self.runtime.core.kv_list(db, table, prefix, self.runtime.now(), limit, offset, reverse)

    def list(self, request: node_pb2.KvListRequest) -> node_pb2.KvListReply:
        db, table = _names(request)
        entries = self.visible(db, table, request.prefix, request.limit, request.offset, request.reverse)
        return node_pb2.KvListReply(records=[record(e, not request.keys_only) for e in entries])

    def databases(self) -> node_pb2.KvNames:
        return node_pb2.KvNames(names=self.runtime.core.kv_databases(self.runtime.now()))

    def tables(self, request: node_pb2.KvTablesRequest) -> node_pb2.KvNames:
        db = request.db or DEFAULT_NAME
        check_name("database", db)
        return node_pb2.KvNames(names=self.runtime.core.kv_tables(db, self.runtime.now()))

    # ---- watches --------------------------------------------------------------------------------

    def subscribe(self, db: str, table: str, prefix: str) -> Subscription:
        return self.feed.subscribe(db, table, prefix)

    async def watch(self, request: node_pb2.KvWatchRequest, context: Any) -> AsyncIterator[node_pb2.KvChange]:
        db, table = _names(request)
        with self.subscribe(db, table, request.prefix) as changes:
            # Headers tell the client the watch is registered (see NodeClient._stream).
            await context.send_initial_metadata(())
            async for entry in changes:
                yield node_pb2.KvChange(record=record(entry), deleted=entry.value is None)

    def counters(self) -> dict[str, int]:
        """The store's and the feed's counters, prefixed "kv." (for Status)."""
        stats = self.store.stats
        return {
            "kv.store_commits": stats.commits,
            "kv.store_durable_commits": stats.durable_commits,
            "kv.store_operations": stats.operations,
            "kv.store_vacuums": stats.vacuums,
            "kv.watchers": len(self.feed),
        }

    async def clear(self) -> None:
        """Forget every register, those installed but not yet saved too (the node joined another mesh)."""
        self._arrived.clear()
        await self.store.clear()

    async def close(self) -> None:
        """Save what arrived, commit what is queued and close the store."""
        self._save_arrived()
        await self.store.close()

    # ---- events of the replica ------------------------------------------------------------------

    def _save_arrived(self) -> None:
        arrived, self._arrived = self._arrived, []
        if arrived:
            # Watchers hear of a register once it is in the file too, so a read after the change (the
            # SDK reads the file) sees it.
            self.store.save(arrived, then=lambda: self._feed_all(arrived))

    def _feed_all(self, entries: Sequence[KvEntry]) -> None:
        for entry in entries:
            self.feed.publish(entry)

    def on_event(self, event: Event) -> None:
        """Persist what the replica installed or collected, and feed watches."""
        if isinstance(event, KvChanged):
            entry = event.entry
            if entry in self._installing:
                self.feed.publish(entry)
            else:
                if not self._arrived:
                    asyncio.get_running_loop().call_soon(self._save_arrived)
                self._arrived.append(entry)
        elif isinstance(event, KvPurged):
            self._save_arrived()  # a register is purged after it was saved, never before
            self.store.purge(event.entries)
            # A register that expired leaves without a delete; watchers hear of it when it is collected.
            for entry in event.entries:
                if entry.value is not None:
                    self.feed.publish(dataclasses.replace(entry, value=None))
        elif isinstance(event, KvWriterKnown):
            self.store.save_writer(event.writer)
