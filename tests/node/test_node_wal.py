"""The write-ahead log check on real logs written by SQLite, sound and damaged, and the stores' check
that uses it (missing, empty and damaged stores refused unless their loss is accepted)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError
from micro.node.storage import wal
from micro.node.storage.check import check_stores

PAGE = 4096
FRAME = 24 + PAGE


def written(tmp_path: Path, rows: int, then: int = 0) -> Path:
    """A database and its write-ahead log as SQLite leaves them when its process dies: `rows`
    transactions of one row each (one page each: a 2,000-byte value), and with `then`, a checkpoint
    and `then` more, which restart the log over the older frames. Returns the copy of the database."""
    source = tmp_path / "source" / "store.db"
    source.parent.mkdir()
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("CREATE TABLE t (n INTEGER, value BLOB)")
        for n in range(rows):
            conn.execute("INSERT INTO t VALUES (?, ?)", (n, bytes(2000)))
        if then:
            conn.execute("PRAGMA wal_checkpoint(RESTART)")
            for n in range(rows, rows + then):
                conn.execute("INSERT INTO t VALUES (?, ?)", (n, bytes(2000)))
        # Copied while the connection is open: closing it would checkpoint and delete the log.
        copy = tmp_path / "store.db"
        shutil.copy(source, copy)
        shutil.copy(log_of(source), log_of(copy))
    return copy


def log_of(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def rows_read(db: Path) -> int:
    """The rows SQLite reads from the database with its log, as a node opening it would."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def frames(log: Path) -> int:
    return (log.stat().st_size - 32) // FRAME


def stale_frames(log: Path) -> int:
    """Frames whose salts are not the log header's (left from before the log restarted)."""
    data = log.read_bytes()
    salts = data[16:24]
    return sum(data[frame_at(i) + 8:frame_at(i) + 16] != salts for i in range(1, frames(log) + 1))


def flip(log: Path, at: int) -> None:
    data = bytearray(log.read_bytes())
    data[at] ^= 0xFF
    log.write_bytes(bytes(data))


def frame_at(index: int) -> int:
    """Where frame `index` (from 1) starts."""
    return 32 + (index - 1) * FRAME


def test_a_log_as_sqlite_writes_it_is_sound(tmp_path: Path) -> None:
    db = written(tmp_path, rows=20)
    assert frames(log_of(db)) > 20
    assert wal.check(log_of(db)) is None
    assert rows_read(db) == 20


def test_an_absent_or_empty_log_is_sound(tmp_path: Path) -> None:
    assert wal.check(tmp_path / "none.db-wal") is None
    (tmp_path / "empty.db-wal").write_bytes(b"")
    assert wal.check(tmp_path / "empty.db-wal") is None


def test_a_damaged_frame_is_found_where_sqlite_silently_drops_the_rest(tmp_path: Path) -> None:
    db = written(tmp_path, rows=20)
    middle = frames(log_of(db)) // 2
    flip(log_of(db), frame_at(middle) + 24 + 100)  # a byte of its page

    assert wal.check(log_of(db)) == f"frame {middle} has the log's salts but fails its checksum"
    # Why the check exists: SQLite reads the log up to that frame, without an error.
    assert 0 < rows_read(db) < 20


def test_a_frame_whose_salts_were_damaged_makes_the_frames_after_it_damage(tmp_path: Path) -> None:
    db = written(tmp_path, rows=20)
    flip(log_of(db), frame_at(5) + 8)  # its first salt

    assert wal.check(log_of(db)) == "frame 6 has the log's salts after frame 5, which has not"


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda data: b"garbage " * 4 + data[32:], "it does not begin as a write-ahead log"),
    (lambda data: data[:20], "its header is cut short at 20 bytes"),
    (lambda data: data[:12] + struct.pack(">I", 7) + data[16:], "its header fails its checksum"),
    (lambda data: data[:8] + struct.pack(">I", 1000) + data[12:], "its page size 1000 is not one SQLite uses"),
])
def test_a_damaged_header_is_damage(tmp_path: Path, damage: object, reason: str) -> None:
    db = written(tmp_path, rows=3)
    log_of(db).write_bytes(damage(log_of(db).read_bytes()))  # type: ignore[operator]

    assert wal.check(log_of(db)) == reason


def test_frames_of_a_previous_salt_after_the_valid_ones_are_normal(tmp_path: Path) -> None:
    db = written(tmp_path, rows=20, then=2)
    # The restarted log's few frames come first; most of the file is left from before the checkpoint.
    assert stale_frames(log_of(db)) > 15
    assert wal.check(log_of(db)) is None
    assert rows_read(db) == 22


def test_a_last_frame_cut_short_is_normal(tmp_path: Path) -> None:
    db = written(tmp_path, rows=5)
    with open(log_of(db), "r+b") as log:
        log.truncate(log_of(db).stat().st_size - 1000)

    assert wal.check(log_of(db)) is None


# ---- the stores of a data dir ----------------------------------------------------------------------

def data_dir(tmp_path: Path, held_mesh: bool = True) -> DataDir:
    """A data dir with sound stores (`kv.db` with its log, `streams.db`), and mesh.cbor if `held_mesh`."""
    dd = DataDir(tmp_path / "data")
    dd.path.mkdir()
    shutil.copy(written(tmp_path, rows=10), dd.kv_db)
    shutil.copy(log_of(tmp_path / "store.db"), log_of(dd.kv_db))
    with contextlib.closing(sqlite3.connect(dd.streams_db)) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
    if held_mesh:
        dd.mesh_file.write_bytes(b"a mesh")
    return dd


def test_sound_stores_and_a_fresh_data_dir_pass(tmp_path: Path) -> None:
    assert check_stores(data_dir(tmp_path), ()) == []
    assert check_stores(DataDir(tmp_path / "fresh"), ()) == []


@pytest.mark.parametrize(("store", "what", "lose", "problem"), [
    ("kv", "KV database", lambda dd: dd.kv_db.unlink(), "is missing"),
    ("streams", "event-stream log", lambda dd: dd.streams_db.write_bytes(b""), "is empty (0 bytes)"),
])
def test_a_lost_store_of_a_data_dir_that_held_a_mesh_is_refused_unless_accepted(
        tmp_path: Path, store: str, what: str, lose: object, problem: str) -> None:
    dd = data_dir(tmp_path)
    lose(dd)  # type: ignore[operator]

    with pytest.raises(NodeError) as refused:
        check_stores(dd, ())
    assert refused.value.code == "FAILED_PRECONDITION"
    assert refused.value.message.startswith(f"{dd.store(store)} {problem}, but this data dir has held a mesh")
    assert f"--accept-store-loss {store}" in refused.value.message
    assert check_stores(dd, (store,)) == [f"{dd.store(store)} {problem}: the {what} starts empty"]
    assert not log_of(dd.store(store)).exists()


def test_a_missing_store_of_a_data_dir_that_held_no_mesh_is_a_new_one(tmp_path: Path) -> None:
    dd = data_dir(tmp_path, held_mesh=False)
    dd.kv_db.unlink()
    log_of(dd.kv_db).unlink()

    assert check_stores(dd, ()) == []


def test_a_damaged_log_is_refused_unless_accepted_then_keeps_what_precedes_the_damage(tmp_path: Path) -> None:
    dd = data_dir(tmp_path)
    middle = frames(log_of(dd.kv_db)) // 2
    flip(log_of(dd.kv_db), frame_at(middle) + 24 + 100)

    with pytest.raises(NodeError, match=r"kv\.db-wal is damaged \(frame .* fails its checksum\).*"
                                        r"--accept-store-loss kv to keep what precedes the damage"):
        check_stores(dd, ("streams",))
    [accepted] = check_stores(dd, ("kv",))
    assert "the KV database keeps what precedes it" in accepted
    # The log was folded into the file up to the damage: the next start finds no damage.
    assert wal.check(log_of(dd.kv_db)) is None
    assert 0 < rows_read(dd.kv_db) < 10
    assert check_stores(dd, ()) == []
