"""Control characters in keys, names, versions and schemas never reach the terminal raw, through a real
node: every table, confirmation and error line of the CLI shows them escaped (`\\x1b`, `\\r`, `\\n`)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from kv_harness import Watcher, one_error
from micro.node.api.proto import node_pb2, node_pb2_grpc
from node_harness import MICRO, Cluster, NodeProcess

HOSTILE = "evil\x1b]0;owned\x07\x1b[2J\r\nkey"
"""Sets the window title, clears the screen and breaks the line, if printed raw."""
ESCAPED = "evil\\x1b]0;owned\\x07\\x1b[2J\\r\\nkey"


def _micro(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], capture_output=True, text=True,
                          timeout=30, check=False)


def _ok(node: NodeProcess, *args: str) -> str:
    result = _micro(node, *args)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    return result.stdout


def test_kv_put_and_del_confirm_the_key_escaped(node: NodeProcess, table: str) -> None:
    stored = _ok(node, "kv", "put", HOSTILE, "v", "--table", table)
    deleted = _ok(node, "kv", "del", HOSTILE, "--table", table)

    assert stored == f"stored {ESCAPED} in default/{table} (1 bytes)\n"
    assert deleted == f"deleted {ESCAPED}\n"


def test_kv_list_shows_the_key_escaped_in_its_table(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", HOSTILE, "v", "--table", table)

    rows = _ok(node, "kv", "list", "--table", table).splitlines()

    assert len(rows) == 2
    assert rows[1].split()[:2] == [ESCAPED, "v"]


def test_kv_list_json_keeps_the_key_exact(node: NodeProcess, table: str) -> None:
    _ok(node, "kv", "put", HOSTILE, "v", "--table", table)

    assert [r["key"] for r in json.loads(_ok(node, "kv", "list", "--table", table, "--json"))] == [HOSTILE]


def test_kv_watch_prints_the_key_escaped(node: NodeProcess, table: str) -> None:
    argv = [MICRO, "kv", "watch", "--table", table, "--data-dir", str(node.data_dir)]
    with Watcher(argv) as watcher:
        line = watcher.first_line_while(lambda: _ok(node, "kv", "put", HOSTILE, "v", "--table", table))

    assert line == f"put {ESCAPED} v"


def test_an_error_quoting_a_name_shows_it_on_one_line_escaped(node: NodeProcess) -> None:
    line = one_error(_micro(node, "describe", "x" + HOSTILE))

    # Line breaks in a message become spaces, as the node makes its own messages one line.
    shown = "xevil\\x1b]0;owned\\x07\\x1b[2J key"
    assert line == f"error: {shown}: service {shown} not found (404 NOT_FOUND)"


@pytest.fixture(scope="module")
def hostile_service(node: NodeProcess) -> Iterator[str]:
    """A service registered straight through the local API (as any program may) with control characters
    where the node does not check: its version and the field names of its request schema."""
    schema = {"type": "object", "properties": {HOSTILE: {"type": "string"}}}
    request = node_pb2.RegisterRequest(
        service="hostile", version=HOSTILE, address="127.0.0.1:9", ttl_s=600,
        endpoints=[node_pb2.Endpoint(name="Hostile.Call", method="/Hostile/Call", codec="json",
                                     request_schema=json.dumps(schema), response_schema='{"type": "object"}')])
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
        stub = node_pb2_grpc.NodeStub(channel)
        registered = stub.Register(request, timeout=10)
        yield "hostile"
        stub.Deregister(node_pb2.DeregisterRequest(id=registered.id), timeout=10)


def test_services_shows_a_version_with_control_characters_escaped(node: NodeProcess, hostile_service: str) -> None:
    rows = [row.split() for row in _ok(node, "services").splitlines()]

    assert [row[1] for row in rows if row[0] == hostile_service] == [ESCAPED]


def test_describe_shows_control_characters_in_the_schema_escaped(node: NodeProcess, hostile_service: str) -> None:
    lines = _ok(node, "describe", hostile_service).splitlines()

    assert f"  request    {{{ESCAPED}: string}}" in lines
    assert any(f"version {ESCAPED}" in line for line in lines)


def test_node_status_shows_a_data_dir_with_control_characters_escaped() -> None:
    with tempfile.TemporaryDirectory(prefix="mx-") as base, Cluster.temporary("mx-") as cluster:
        node = NodeProcess(Path(base) / "n\x1b[7m", "n")
        cluster.nodes.append(node)
        node.start()

        status = _ok(node, "node", "status")

    assert "data dir    " + str(node.data_dir).replace("\x1b", "\\x1b") in status.splitlines()
