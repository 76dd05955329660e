"""Where an SDK instance listens: on a unix socket in its node's data dir (`instances/`, mode 0700) and on
no TCP port, so nothing but its node, and the node's user, reaches it.

The instance is examples/helloworld run by a real node (`micro run`, as the node's user), one at a time
on the module's node.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kv_harness import one_error
from node_harness import PATIENCE, NodeProcess, wait_until

HELLOWORLD = Path(__file__).resolve().parents[2] / "examples" / "helloworld"
_names = itertools.count()


@contextlib.contextmanager
def _run_by(node: NodeProcess) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """helloworld run by `node` until it has registered: its process name, its pid and its instance; the
    node stops it on the way out unless the test has."""
    name = f"hw{next(_names)}"
    with node.client() as client:
        pid = client.run(str(HELLOWORLD), name=name)["pid"]
    try:
        with node.client() as client:
            [instance] = wait_until(lambda: client.services("helloworld"), PATIENCE, "helloworld to register")
        yield name, pid, instance
    finally:
        with node.client() as client:
            if any(p["name"] == name and p["pid"] for p in client.processes()):
                client.kill(name)


def _listening_tcp(pid: int) -> list[str]:
    """The TCP sockets (v4 and v6) process `pid` listens on: the rows of its network namespace's tables in
    state LISTEN whose inode is one of its descriptors."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # a descriptor closed meanwhile
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    listening = []
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # st 0A: TCP_LISTEN
                listening.append(f"{table} {fields[1]}")
    return listening


def test_an_instance_run_by_its_node_listens_on_no_tcp_port(node: NodeProcess) -> None:
    with _run_by(node) as (_, pid, _instance):
        assert _listening_tcp(pid) == []


def test_its_socket_is_in_the_data_dir_in_a_directory_only_the_nodes_user_reaches(node: NodeProcess) -> None:
    with _run_by(node) as (_, _pid, instance):
        socket = Path(instance["address"].removeprefix("unix:"))
        directory = socket.parent.stat()

        assert instance["address"] == f"unix:{socket}"
        assert socket.parent == node.data_dir / "instances"
        assert stat.S_ISSOCK(socket.stat().st_mode)
        assert (stat.S_IMODE(directory.st_mode), directory.st_uid) == (0o700, node.data_dir.stat().st_uid)


def test_calls_through_the_node_reach_it(node: NodeProcess) -> None:
    body = json.dumps({"name": "a", "count": 2}).encode()
    with _run_by(node), node.client() as client:
        reply = json.loads(client.call("helloworld", "Helloworld.Call", body, timeout=PATIENCE))
        stream = [json.loads(r)["msg"] for r in client.call_stream("helloworld", "Helloworld.Stream", body, PATIENCE)]

    assert reply == {"msg": "Hello a"}
    assert stream == ["Hello a (1 of 2)", "Hello a (2 of 2)"]


def test_its_sockets_are_gone_once_it_stops(node: NodeProcess) -> None:
    with _run_by(node) as (name, _pid, instance):
        socket = Path(instance["address"].removeprefix("unix:"))
        theirs = f"{socket.name.removesuffix('.sock')}.*"  # its gRPC socket and its link socket
        assert len(list(socket.parent.glob(theirs))) == 2
        with node.client() as client:
            client.kill(name)  # SIGTERM: the service stops, then exits

    assert list(socket.parent.glob(theirs)) == []


def test_a_data_dir_too_long_for_the_instances_sockets_is_one_clear_error(own_data_dir: Path) -> None:
    # 80 bytes: the node's own socket would fit in sun_path (107 bytes), an instance's link socket not.
    data_dir = own_data_dir / ("x" * (80 - len(str(own_data_dir)) - 1))
    data_dir.mkdir()
    result = subprocess.run([sys.executable, str(HELLOWORLD / "main.py")], capture_output=True, text=True,
                            timeout=PATIENCE, check=False, env={**os.environ, "MICRO_DATA_DIR": str(data_dir)})

    assert one_error(result) == (f"error: data dir path {data_dir} is too long for the unix sockets in it "
                                 f"(80 bytes, at most 74); choose a shorter --data-dir or MICRO_DATA_DIR")
