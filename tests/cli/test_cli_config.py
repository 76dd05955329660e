"""`micro config` against a real node: JSON values at dotted paths, merged reads, secrets, errors, watch.

Every test works under a root path of its own (the `table` fixture's unique name), since they share a node.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from kv_harness import Watcher, first_line_while, one_error
from node_harness import MICRO, NodeProcess, micro


def _ok(node: NodeProcess, *args: str) -> str:
    result = micro(*args, data_dir=node.data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_set_then_get_prints_the_json_value(node: NodeProcess, table: str) -> None:
    _ok(node, "config", "set", f"{table}.page_size", "20")

    assert json.loads(_ok(node, "config", "get", f"{table}.page_size")) == 20


def test_get_of_a_parent_path_merges_the_subtree(node: NodeProcess, table: str) -> None:
    _ok(node, "config", "set", f"{table}.db.host", '"db.local"')
    _ok(node, "config", "set", f"{table}.db.port", "5432")
    _ok(node, "config", "set", f"{table}.debug", "true")

    shown = _ok(node, "config", "get", table)

    assert json.loads(shown) == {"db": {"host": "db.local", "port": 5432}, "debug": True}
    assert shown.startswith("{\n  "), "pretty-printed for people"


def test_invalid_json_is_refused_with_a_hint_to_quote_text_and_nothing_is_set(node: NodeProcess,
                                                                                table: str) -> None:
    error = one_error(micro("config", "set", f"{table}.name", "hello", data_dir=node.data_dir))

    assert "not valid JSON" in error and "'\"hello\"'" in error
    one_error(micro("config", "get", f"{table}.name", data_dir=node.data_dir))


def test_secret_is_hidden_unless_asked_for(node: NodeProcess, table: str) -> None:
    _ok(node, "config", "set", f"{table}.password", '"s3cret"', "--secret")

    assert json.loads(_ok(node, "config", "get", table)) == {"password": "[secret]"}
    assert json.loads(_ok(node, "config", "get", f"{table}.password", "--secret")) == "s3cret"


def test_del_removes_the_path_and_everything_under_it(node: NodeProcess, table: str) -> None:
    _ok(node, "config", "set", f"{table}.a.x", "1")
    _ok(node, "config", "set", f"{table}.a.y", "2")
    _ok(node, "config", "set", f"{table}.b", "3")

    assert _ok(node, "config", "del", f"{table}.a") == f"deleted {table}.a\n"
    assert json.loads(_ok(node, "config", "get", table)) == {"b": 3}


def test_get_of_an_empty_path_is_one_error_line(node: NodeProcess, table: str) -> None:
    error = one_error(micro("config", "get", f"{table}.nothing", data_dir=node.data_dir))

    assert f"{table}.nothing" in error


def test_watch_prints_one_line_per_change(node: NodeProcess, table: str) -> None:
    argv = [MICRO, "config", "watch", table, "--data-dir", str(node.data_dir)]
    # A new value each time: setting the value a path already holds changes nothing, so is not reported.
    levels = itertools.count()

    line = first_line_while(argv, lambda: _ok(node, "config", "set", f"{table}.level", str(next(levels))))

    assert re.fullmatch(rf"set {table}\.level \d+", line), line


def test_ctrl_c_ends_a_watch_with_exit_0_and_no_message(node: NodeProcess, table: str) -> None:
    levels = itertools.count()
    with Watcher([MICRO, "config", "watch", table, "--data-dir", str(node.data_dir)]) as watcher:
        watcher.first_line_while(lambda: _ok(node, "config", "set", f"{table}.level", str(next(levels))))

        assert watcher.interrupt() == (0, "")


def test_without_a_running_node_config_says_so_in_one_line(tmp_path: Path) -> None:
    error = one_error(micro("config", "get", "a", data_dir=tmp_path))

    assert error == f"error: no node running at {tmp_path} (start one with `micro node start`)"
