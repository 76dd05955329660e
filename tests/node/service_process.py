"""Services as real SDK processes next to a node, and the node's services API as plain calls.

A service is started the way its README says (`python main.py` with MICRO_DATA_DIR naming its node's data
dir) and is ready once its node lists a new instance of it. Calls and listings go through the node's
local API with grpc's synchronous stubs, so tests see `CallReply.instance` and the gRPC status as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from micro.node.api.proto import node_pb2, node_pb2_grpc
from node_harness import PATIENCE, NodeProcess, wait_until

ROOT = Path(__file__).resolve().parents[2]
HELLOWORLD = ROOT / "examples" / "helloworld" / "main.py"
FAULTY = Path(__file__).with_name("faulty_service.py")


@contextlib.contextmanager
def stub(node: NodeProcess) -> Iterator[node_pb2_grpc.NodeStub]:
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
        yield node_pb2_grpc.NodeStub(channel)


def instances(node: NodeProcess, service: str = "") -> list[node_pb2.ServiceInstance]:
    with stub(node) as api:
        return list(api.Services(node_pb2.ServicesRequest(service=service), timeout=5).instances)


def call(node: NodeProcess, service: str, endpoint: str, body: Mapping[str, Any] | None = None,
         timeout: float = 5.0, metadata: Mapping[str, str] | None = None) -> tuple[Any, str]:
    """A call routed by `node`: the decoded JSON reply and the instance that answered."""
    request = node_pb2.CallRequest(service=service, endpoint=endpoint, body=json.dumps(body or {}).encode(),
                                   metadata=dict(metadata or {}))
    with stub(node) as api:
        reply = api.Call(request, timeout=timeout)
    return json.loads(reply.body), reply.instance


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running(node: NodeProcess, script: Path, service: str, env: Mapping[str, str] | None = None,
            ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`script` run next to `node` until its node lists a new instance of `service`; yields the process
    and that instance's id, and kills the process on the way out if the test has not stopped it."""
    before = {i.id for i in instances(node, service)}
    environment = {**os.environ, **(env or {}), "MICRO_DATA_DIR": str(node.data_dir)}
    with open(node.data_dir.parent / f"{service}.stderr", "ab") as stderr:
        process = subprocess.Popen([sys.executable, str(script)], env=environment, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=True)
    try:
        new = wait_until(lambda: process.poll() is not None or {i.id for i in instances(node, service)} - before,
                         PATIENCE, f"{service} to register")
        assert process.poll() is None, f"{service} exited with {process.returncode}"
        yield process, new.pop()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    process.wait(timeout=10)
