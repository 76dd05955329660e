"""The node's key-value file (`DATA_DIR/kv.db`) as other processes on its machine read it.

The node's store (`micro.node.kv.store`) writes the file; the SDK reads it read-only for local `get` and
`list`. Both use the queries below, so the file's layout is stated once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

from .names import prefix_end

__all__ = ["LOAD_ENTRIES", "VISIBLE", "KvReader", "StoredRegister"]

LOAD_ENTRIES = """SELECT db, tbl, key, value, expire_at, physical_ms, logical, writer, signature
    FROM entries"""
VISIBLE = "value IS NOT NULL AND (expire_at = 0 OR expire_at > ?)"
"""A register reads as present: not a tombstone, and not expired at the wall-clock ms bound to `?`."""


class StoredRegister(NamedTuple):
    """One row of `entries`, in `LOAD_ENTRIES` order (the fields of the mesh's `KvEntry`)."""

    db: str
    table: str
    key: str
    value: bytes | None
    expire_at: int
    physical_ms: int
    logical: int
    writer: bytes
    signature: bytes


class KvReader:
    """A read-only view of a node's `kv.db` for processes on the same machine (the SDK's local reads).

    The file is the node's durable copy of its replica: a write this node acknowledged is in it (it was
    committed first), registers from other nodes follow within a batch, so a read here is a local read
    of the replica that is at most milliseconds staler than the node's memory — and costs a B-tree
    look-up instead of a gRPC round trip. SQLite's WAL lets readers in other processes work beside the
    node's writer without blocking it. Raises sqlite3.Error if the file cannot be opened read-only.
    """

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("SELECT 1 FROM entries LIMIT 1")

    def get(self, db: str, table: str, key: str, now_ms: int) -> StoredRegister | None:
        row = self._conn.execute(
            f"{LOAD_ENTRIES} WHERE db = ? AND tbl = ? AND key = ? AND {VISIBLE}", (db, table, key, now_ms)
        ).fetchone()
        return StoredRegister(*row) if row is not None else None

    def list(self, db: str, table: str, prefix: str, now_ms: int, limit: int = 0, offset: int = 0,
             reverse: bool = False) -> list[StoredRegister]:
        end = prefix_end(prefix)
        sql = f"{LOAD_ENTRIES} WHERE db = ? AND tbl = ? AND key >= ? AND {VISIBLE}"
        args: list[Any] = [db, table, prefix, now_ms]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        sql += f" ORDER BY key {'DESC' if reverse else 'ASC'} LIMIT ? OFFSET ?"
        args += [limit or -1, offset]
        return [StoredRegister(*row) for row in self._conn.execute(sql, args)]

    def close(self) -> None:
        self._conn.close()
