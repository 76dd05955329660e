"""Registering an instance with its node: the unix sockets it may name, its gRPC server's (`address`
`unix:PATH`) and its call link's (`link_socket`), both in the node's `instances/` directory."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from micro.node.api.errors import InvalidArgument
from micro.node.api.proto import node_pb2
from micro.node.calls.registry import Registry
from micro.node.log import Logger
from micro.node.runtime import Runtime
from micro.node.transport import NetTransport

INSTANCES = Path("/data/instances")
ELSEWHERE = ["/tmp/0123456789ab.sock", str(INSTANCES / ".." / "0123456789ab.sock"), str(INSTANCES / "node.sock"),
             "0123456789ab.sock", str(INSTANCES / "sub" / "0123456789ab.sock")]


def _register(link_socket: str = "", address: str = "127.0.0.1:9") -> node_pb2.ServiceInstance:
    async def register() -> node_pb2.ServiceInstance:
        logger = Logger(io.StringIO())
        registry = Registry(Runtime(NetTransport(logger), logger, lambda: None), "Nself", "127.0.0.1:1", INSTANCES)
        endpoint = node_pb2.Endpoint(name="Thing.Do", method="/Thing/Do", codec="json")
        registry.register(node_pb2.RegisterRequest(service="thing", address=address, endpoints=[endpoint],
                                                   call_link=True, link_socket=link_socket))
        [instance] = registry.instances("thing")
        await registry.close()
        return instance

    return asyncio.run(register())


def test_an_instance_may_serve_on_a_socket_in_the_nodes_instances_directory() -> None:
    address = f"unix:{INSTANCES / '0123456789ab.sock'}"
    assert _register(address=address).address == address


def test_an_instance_may_serve_its_link_on_a_socket_in_the_nodes_instances_directory() -> None:
    path = str(INSTANCES / "0123456789ab.link.sock")
    assert _register(path).link_socket == path


def test_an_instance_without_a_link_socket_is_called_on_its_grpc_server() -> None:
    assert _register("").link_socket == ""


def test_an_explicit_tcp_address_is_accepted() -> None:
    assert _register(address="127.0.0.1:9").address == "127.0.0.1:9"


@pytest.mark.parametrize("path", [*ELSEWHERE, str(INSTANCES / "0123456789ab.link.sock")])
def test_a_grpc_socket_anywhere_else_is_refused(path: str) -> None:
    with pytest.raises(InvalidArgument, match="instance address"):
        _register(address=f"unix:{path}")


@pytest.mark.parametrize("path", [*(p.replace(".sock", ".link.sock") for p in ELSEWHERE),
                                  str(INSTANCES / "0123456789ab.sock")])
def test_a_link_socket_anywhere_else_is_refused(path: str) -> None:
    with pytest.raises(InvalidArgument, match="link_socket"):
        _register(path)
