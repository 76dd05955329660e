"""Registering an instance with its node: the call-link socket it may name (`link_socket`)."""

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

LINKS = Path("/data/links")


def _register(link_socket: str) -> node_pb2.ServiceInstance:
    async def register() -> node_pb2.ServiceInstance:
        logger = Logger(io.StringIO())
        registry = Registry(Runtime(NetTransport(logger), logger, lambda: None), "Nself", "127.0.0.1:1", LINKS)
        endpoint = node_pb2.Endpoint(name="Thing.Do", method="/Thing/Do", codec="json")
        registry.register(node_pb2.RegisterRequest(service="thing", address="127.0.0.1:9", endpoints=[endpoint],
                                                   call_link=True, link_socket=link_socket))
        [instance] = registry.instances("thing")
        await registry.close()
        return instance

    return asyncio.run(register())


def test_an_instance_may_serve_its_link_on_a_socket_in_the_nodes_links_directory() -> None:
    path = str(LINKS / "0123456789abcdef.sock")
    assert _register(path).link_socket == path


def test_an_instance_without_a_socket_is_called_on_its_grpc_server() -> None:
    assert _register("").link_socket == ""


@pytest.mark.parametrize("path", ["/tmp/0123456789abcdef.sock", str(LINKS / ".." / "0123456789abcdef.sock"),
                                  str(LINKS / "node.sock"), "0123456789abcdef.sock",
                                  str(LINKS / "sub" / "0123456789abcdef.sock")])
def test_a_socket_anywhere_else_is_refused(path: str) -> None:
    with pytest.raises(InvalidArgument, match="link_socket"):
        _register(path)
