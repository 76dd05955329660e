"""Errors a new user or an attacker meets, through real processes: each is one `error:` line that says what
to do and exit 1, never an exception's name or a traceback: arguments that are not UTF-8, values over the
local API's limit, empty database and table names, requests over the gateway's body limit, a plot path
that cannot be written, a node socket this user may not open, and a node that stops under a running
`micro subscribe`, `micro stream consume` or `micro kv watch`."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kv_harness import Watcher, one_error
from micro.node.api.client import NodeClient
from micro.node.api.limits import MAX_BODY
from node_harness import MICRO, Cluster, NodeProcess

_names = itertools.count()
NOT_UTF8 = b"\xffkey"


def _micro(node: NodeProcess, *args: str | bytes, stdin: bytes | None = None
           ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], input=stdin, capture_output=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("args", [
    ["kv", "put", NOT_UTF8, "v"],
    ["kv", "get", NOT_UTF8],
    ["kv", "list", "--prefix", NOT_UTF8],
    ["config", "get", NOT_UTF8],
    ["kill", NOT_UTF8],
], ids=["kv put", "kv get", "kv list", "config get", "kill"])
def test_an_argument_that_is_not_utf8_is_one_line_that_asks_for_utf8(node: NodeProcess, args: list[str | bytes]
                                                                     ) -> None:
    line = one_error(_micro(node, *args))

    assert line.startswith("error: \\udcffkey is not UTF-8 text: give names, keys, topics and paths in UTF-8")


@pytest.mark.parametrize(("args", "size"), [
    (["kv", "put", "big", "-"], 10 << 20),
    (["publish", "cli.big", "-"], 5 << 20),
    (["stream", "publish", "cli.big", "-"], 5 << 20),
], ids=["kv put 10 MiB", "publish 5 MiB", "stream publish 5 MiB"])
def test_a_value_over_the_local_api_limit_is_one_line_that_says_what_to_do(node: NodeProcess, args: list[str],
                                                                           size: int) -> None:
    line = one_error(_micro(node, *args, stdin=b'"' + b"x" * (size - 2) + b'"'))

    assert line.startswith("error: the request is ")
    assert "bytes, over the" in line and "store large data elsewhere" in line


@pytest.mark.parametrize("option", ["--db", "--table"])
@pytest.mark.parametrize("command", [["put", "k", "v"], ["get", "k"], ["list"], ["del", "k"]],
                         ids=["put", "get", "list", "del"])
def test_an_empty_database_or_table_name_is_refused_not_read_as_default(node: NodeProcess, command: list[str],
                                                                        option: str) -> None:
    kind = "database" if option == "--db" else "table"

    assert one_error(_micro(node, "kv", *command, option, "")).startswith(f"error: invalid {kind} name ''")


def test_a_call_request_over_the_gateway_body_limit_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    result = subprocess.run([MICRO, "call", "any", "Any.Call", "-", "--data-dir", str(tmp_path)],
                            input=b'"' + b"x" * (MAX_BODY - 1) + b'"', capture_output=True, timeout=60,
                            check=False)

    assert one_error(result) == (f"error: the request is {MAX_BODY + 1} bytes; at most {MAX_BODY} (1 MiB) may be "
                                 "sent, as through the gateway")


def test_a_plot_path_in_a_missing_directory_is_one_line_before_the_run(tmp_path: Path) -> None:
    plot = tmp_path / "missing" / "x.png"
    result = subprocess.run([MICRO, "sim", "--nodes", "2", "--duration", "1", "--plot", str(plot)],
                            capture_output=True, timeout=60, check=False)

    assert one_error(result) == (f"error: Invalid value for --plot: there is no directory {plot.parent} to write "
                                 f"{plot} in")


def test_a_node_socket_this_user_may_not_open_is_permission_denied(node: NodeProcess) -> None:
    socket_path = node.data_dir / "node.sock"
    argv = [MICRO, "node", "status", "--data-dir", str(node.data_dir)]
    if os.geteuid() == 0:
        # Root opens any socket: ask as another user, as a user of the machine other than the node's would.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to run the CLI as another user")
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if subprocess.run([*as_nobody, MICRO, "--help"], capture_output=True, timeout=60, check=False).returncode:
            pytest.skip(f"another user (uid 65534) cannot run {MICRO}: the checkout is not readable to others")
        result = subprocess.run([*as_nobody, *argv], capture_output=True, timeout=60, check=False)
    else:
        socket_path.chmod(0)
        try:
            result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        finally:
            socket_path.chmod(0o600)

    assert one_error(result).startswith(f"error: permission denied on {socket_path}: run this as the user that "
                                        "started the node")


@pytest.fixture
def lone_node() -> Iterator[NodeProcess]:
    """A node of the test's own, to stop."""
    with Cluster.temporary("ms-") as cluster:
        yield cluster.add(1)[0]


_STREAMS: dict[str, tuple[list[str], Callable[[NodeClient, str], object]]] = {
    "subscribe": (["subscribe"], lambda client, topic: client.publish(topic, b"1")),
    "stream consume": (["stream", "consume", "--from-start"],
                       lambda client, topic: client.stream_publish(topic, b"1")),
    "kv watch": (["kv", "watch", "--prefix"], lambda client, prefix: client.kv_put(prefix, b"v")),
}
"""Each streaming command (its last argument a topic or prefix to come), and a write that makes it print."""


def _stopped_under(node: NodeProcess, command: str, sig: int) -> tuple[int, list[str]]:
    """Run a streaming command until it prints, then stop the node with `sig`: the command's exit status
    and stderr lines."""
    args, write = _STREAMS[command]
    name = f"cli.stop{next(_names)}"
    with Watcher([MICRO, *args, name, "--data-dir", str(node.data_dir)]) as watcher, node.client() as client:
        watcher.first_line_while(lambda: write(client, name))
        node.kill(sig)
        _, stderr = watcher.proc.communicate(timeout=30)
    return watcher.proc.returncode, stderr.decode().splitlines()


@pytest.mark.parametrize("command", _STREAMS)
def test_a_node_stopping_under_a_stream_is_one_line_and_exit_1(lone_node: NodeProcess, command: str) -> None:
    status, stderr = _stopped_under(lone_node, command, signal.SIGTERM)

    assert status == 1
    assert stderr == [f"error: the node stopped ({lone_node.data_dir}); start it again with `micro node start`"]


def test_a_node_killed_under_a_watch_is_reported_stopped(lone_node: NodeProcess) -> None:
    status, stderr = _stopped_under(lone_node, "kv watch", signal.SIGKILL)

    assert status == 1
    assert stderr == [f"error: the node stopped ({lone_node.data_dir}); start it again with `micro node start`"]
