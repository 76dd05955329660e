"""`micro kv` against a real node: values byte for byte, listing, deletes, TTL, JSON shapes, watch, errors."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from kv_harness import Watcher, first_line_while, one_error
from node_harness import MICRO, PATIENCE, NodeProcess, wait_until

BINARY = bytes(range(256)) * 4


def _micro(node: NodeProcess, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], input=stdin, capture_output=True,
                          timeout=30, check=False)


def _ok(node: NodeProcess, *args: str, stdin: bytes | None = None) -> bytes:
    result = _micro(node, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _keys(node: NodeProcess, table: str, *args: str) -> list[str]:
    return [r["key"] for r in json.loads(_ok(node, "kv", "list", "--table", table, "--json", *args))]


def test_put_then_get_prints_the_value_unchanged(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "greeting", "hello world", "--table", table)

    assert _ok(node, "kv", "get", "greeting", "--table", table) == b"hello world"


def test_binary_value_from_stdin_round_trips_byte_for_byte(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "blob", "-", "--table", table, stdin=BINARY)

    assert _ok(node, "kv", "get", "blob", "--table", table) == BINARY


def test_value_argument_that_is_not_utf8_is_stored_byte_for_byte(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "raw", os.fsdecode(b"\xff\xfeok"), "--table", table)

    assert _ok(node, "kv", "get", "raw", "--table", table) == b"\xff\xfeok"


def test_get_json_shows_text_as_utf8_with_its_stamp_and_writer(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "k", "héllo", "--table", table)

    shown = json.loads(_ok(node, "kv", "get", "k", "--table", table, "--json"))

    assert shown["value"] == "héllo" and shown["encoding"] == "utf-8"
    assert (shown["db"], shown["table"], shown["key"]) == ("default", table, "k")
    assert shown["expires_at"] is None
    assert shown["stamp"]["physical_ms"] == pytest.approx(time.time() * 1000, abs=60_000)
    assert shown["stamp"]["logical"] >= 0
    assert shown["writer"] == node.status()["id"]


def test_get_json_shows_binary_as_base64(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "blob", "-", "--table", table, stdin=BINARY)

    shown = json.loads(_ok(node, "kv", "get", "blob", "--table", table, "--json"))

    assert shown["encoding"] == "base64"
    assert base64.b64decode(shown["value"]) == BINARY


def test_same_key_in_another_database_or_table_is_another_key(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "k", "in default", "--table", table)
    _ok(node, "kv", "put", "k", "in other db", "--db", "other", "--table", table)

    assert _ok(node, "kv", "get", "k", "--table", table) == b"in default"
    assert _ok(node, "kv", "get", "k", "--db", "other", "--table", table) == b"in other db"
    assert _micro(node, "kv", "get", "k", "--table", table + "x").returncode == 1


def test_list_filters_by_prefix_in_key_order(node: NodeProcess, table: str) -> None:
    for key in ("user/b", "post/1", "user/a", "user/c"):
        _ok(node, "kv", "put", key, "v", "--table", table)

    assert _keys(node, table, "--prefix", "user/") == ["user/a", "user/b", "user/c"]


def test_list_pages_with_limit_and_offset_and_reverses(node: NodeProcess, table: str) -> None:
    for i in range(6):
        _ok(node, "kv", "put", f"k{i}", "v", "--table", table)

    assert _keys(node, table, "--limit", "2", "--offset", "3") == ["k3", "k4"]
    assert _keys(node, table, "--reverse", "--limit", "3") == ["k5", "k4", "k3"]


def test_list_for_people_is_a_table_with_a_value_preview(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "text", "short value", "--table", table)
    _ok(node, "kv", "put", "blob", "-", "--table", table, stdin=BINARY)

    lines = _ok(node, "kv", "list", "--table", table).decode().splitlines()

    assert lines[0].split() == ["KEY", "VALUE", "SIZE", "EXPIRES", "WRITER"]
    assert lines[1].split()[:3] == ["blob", f"<{len(BINARY)}", "bytes>"]
    assert lines[2].startswith("text") and "short value" in lines[2]


def test_del_removes_the_key(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "gone", "v", "--table", table)

    assert _ok(node, "kv", "del", "gone", "--table", table) == b"deleted gone\n"
    one_error(_micro(node, "kv", "get", "gone", "--table", table))
    assert _keys(node, table) == []


def test_del_of_a_key_never_set_says_so_and_succeeds(node: NodeProcess, table: str) -> None:
    assert _ok(node, "kv", "del", "never", "--table", table) == b"never was not set\n"


def test_ttl_sets_the_expiry_shown_by_get_json(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "k", "v", "--ttl", "1h", "--table", table)

    shown = json.loads(_ok(node, "kv", "get", "k", "--table", table, "--json"))

    assert shown["expires_at"] == pytest.approx(time.time() + 3600, abs=60)


def test_key_put_with_ttl_expires(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "brief", "v", "--ttl", "1s", "--table", table)

    wait_until(lambda: _micro(node, "kv", "get", "brief", "--table", table).returncode == 1, PATIENCE,
               "the key to expire")
    assert _keys(node, table) == []


def test_list_json_records_have_the_get_json_shape(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", "k", "v", "--ttl", "1h", "--table", table)

    listed = json.loads(_ok(node, "kv", "list", "--table", table, "--json"))

    assert listed == [json.loads(_ok(node, "kv", "get", "k", "--table", table, "--json"))]
    assert set(listed[0]) == {"db", "table", "key", "value", "encoding", "expires_at", "stamp", "writer"}


def _watch_line(node: NodeProcess, table: str, *extra: str) -> str:
    def write() -> None:
        _ok(node, "kv", "put", "w/seen", "value 1", "--table", table)
        _ok(node, "kv", "put", "other", "not under the prefix", "--table", table)

    argv = [MICRO, "kv", "watch", "--table", table, "--prefix", "w/", *extra, "--data-dir", str(node.data_dir)]
    return first_line_while(argv, write)


def test_watch_prints_one_line_per_change_under_the_prefix(node: NodeProcess, table: str) -> None:
    assert _watch_line(node, table) == "put w/seen value 1"


def test_watch_json_prints_one_record_object_per_line(node: NodeProcess, table: str) -> None:
    change = json.loads(_watch_line(node, table, "--json"))

    assert change["deleted"] is False
    assert (change["key"], change["value"], change["encoding"]) == ("w/seen", "value 1", "utf-8")


def test_ctrl_c_ends_a_watch_with_exit_0_and_no_message(node: NodeProcess, table: str) -> None:
    argv = [MICRO, "kv", "watch", "--table", table, "--data-dir", str(node.data_dir)]
    with Watcher(argv) as watcher:
        watcher.first_line_while(lambda: _ok(node, "kv", "put", "k", "v", "--table", table))

        assert watcher.interrupt() == (0, "")


def test_key_over_one_kib_is_refused_and_nothing_is_written(node: NodeProcess, table: str) -> None:
    error = one_error(_micro(node, "kv", "put", "k" * 1025, "v", "--table", table))

    assert "key" in error and "1024" in error
    assert _keys(node, table) == []


def test_bad_database_name_is_refused(node: NodeProcess, table: str) -> None:
    error = one_error(_micro(node, "kv", "put", "k", "v", "--db", "no spaces!", "--table", table))

    assert "database name" in error


def test_value_over_the_limit_is_refused_and_nothing_is_written(node: NodeProcess, table: str) -> None:
    error = one_error(_micro(node, "kv", "put", "big", "-", "--table", table, stdin=b"x" * (1024 * 1024 + 1)))

    assert "limit" in error
    assert _keys(node, table) == []


def test_bad_ttl_is_one_line_and_nothing_is_written(node: NodeProcess, table: str) -> None:
    error = one_error(_micro(node, "kv", "put", "k", "v", "--ttl", "soon", "--table", table))

    assert "duration" in error
    assert _keys(node, table) == []


def test_limit_beyond_what_the_api_carries_is_one_error_line(node: NodeProcess) -> None:
    error = one_error(_micro(node, "kv", "list", "--limit", str(2**32)))

    assert "--limit" in error


@pytest.mark.parametrize("command", [["kv", "put", "k", "v"], ["kv", "get", "k"], ["kv", "del", "k"],
                                     ["kv", "list"], ["kv", "watch"]])
def test_without_a_running_node_every_kv_command_says_so_in_one_line(tmp_path: Path, command: list[str]) -> None:
    result = subprocess.run([MICRO, *command, "--data-dir", str(tmp_path)], capture_output=True, timeout=30,
                            check=False)

    assert one_error(result) == f"error: no node running at {tmp_path} (start one with `micro node start`)"

