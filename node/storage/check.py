"""The node's stores checked before SQLite opens them: a node never starts empty over data it had.

SQLite opens a missing or zero-length file as a new, empty database, and reads a write-ahead log only up
to its first damaged frame, without an error either way. A node started so would serve an empty or older
KV replica and event log as if nothing were lost. So before either store is opened, `check_stores`
requires that in a data dir that has held a mesh (it has `mesh.cbor`) `kv.db` and `streams.db` exist
and are not empty, and that each store's write-ahead log passes `wal.check`. Anything else stops the
node with one line saying what is wrong and what to do.

`micro node start --accept-store-loss kv,streams` starts on purpose with the named stores as they can
be read: a missing or empty one starts empty (the `-wal` and `-shm` files of the lost file go with it),
and a damaged log keeps the transactions before the damage (SQLite reads those and the log is
checkpointed into the file, so what followed the damage is gone for good, and the next start finds a
sound log). The mesh fills them again where it can: the KV replica by anti-entropy, this node's
partitions from their replicas (`streams/recovery.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from ..api.datadir import STORES, DataDir
from ..api.errors import NodeError
from . import wal

__all__ = ["check_stores", "unreadable"]

_WHAT = {"kv": "KV database", "streams": "event-stream log"}


def unreadable(name: str, path: Path, reason: object) -> NodeError:
    """The error that stops the node when SQLite cannot read the store `name` at `path`."""
    return NodeError(
        f"{path} is not a readable {_WHAT[name]} ({reason}); the node will not start with an empty store in "
        f"its place: restore it from a backup, or move it aside and start with --accept-store-loss {name} to "
        "start it empty on purpose",
        "FAILED_PRECONDITION",
    )


def _lost(path: Path) -> str | None:
    """What is wrong with a store file that must hold data, or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    return "is empty (0 bytes)" if size == 0 else None


def _sidecars(path: Path) -> tuple[Path, Path]:
    """The store's write-ahead log and shared-memory index."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _keep_before_damage(path: Path) -> None:
    """Let SQLite read the log up to its damage and checkpoint that into the file, the log emptied."""
    try:
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise NodeError(f"{path} cannot be read to keep what precedes the damage of its log ({exc})",
                        "FAILED_PRECONDITION") from None


def check_stores(data_dir: DataDir, accept_loss: Collection[str]) -> list[str]:
    """Raise a one-line `NodeError` (FAILED_PRECONDITION) for the first store that lost data, unless its
    name is in `accept_loss`; what was accepted instead, a sentence each (for the log)."""
    accepted: list[str] = []
    for name in STORES:
        path = data_dir.store(name)
        log, index = _sidecars(path)
        problem = _lost(path) if data_dir.held_mesh else None
        if problem is not None:
            if name not in accept_loss:
                raise NodeError(
                    f"{path} {problem}, but this data dir has held a mesh: the node will not start with an empty "
                    f"{_WHAT[name]} in its place; restore {path.name} (with {log.name}, if there is one) from a "
                    f"backup, or start with --accept-store-loss {name} to start it empty on purpose",
                    "FAILED_PRECONDITION")
            for sidecar in (log, index):
                sidecar.unlink(missing_ok=True)
            accepted.append(f"{path} {problem}: the {_WHAT[name]} starts empty")
            continue
        damage = wal.check(log)
        if damage is not None:
            if name not in accept_loss:
                raise NodeError(
                    f"{log} is damaged ({damage}): SQLite would drop the transactions after the damage "
                    f"without a word; restore {path.name} and {log.name} from a backup, or start with "
                    f"--accept-store-loss {name} to keep what precedes the damage",
                    "FAILED_PRECONDITION")
            _keep_before_damage(path)
            accepted.append(f"{log} is damaged ({damage}): the {_WHAT[name]} keeps what precedes it")
    return accepted
