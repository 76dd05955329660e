"""Calls across nodes: helloworld runs next to node C; the CLI on node A and the gateway on node B reach it."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from node_harness import PATIENCE, Cluster, admin_token, wait_until
from services_harness import EXAMPLES, GatewayNode, free_port


def _sees_helloworld(node: GatewayNode) -> bool:
    return "helloworld" in node.ok("services")


@pytest.fixture(scope="module")
def trio() -> Iterator[list[GatewayNode]]:
    with tempfile.TemporaryDirectory(prefix="mm-") as base:
        cluster = Cluster(Path(base))
        try:
            nodes = [cluster.add_unstarted() for _ in range(3)]
            gateways = [f"127.0.0.1:{free_port()}" for _ in nodes]
            for node, gateway in zip(nodes, gateways, strict=True):
                node.start("--gateway", gateway)
            for node in nodes[1:]:
                node.join(nodes[0])
            cluster.wait_states(nodes, {n.address: "alive" for n in nodes})
            token = admin_token(nodes[0])
            mesh = [GatewayNode(node, gateway, token) for node, gateway in zip(nodes, gateways, strict=True)]
            mesh[2].run(EXAMPLES / "helloworld", "helloworld")
            for other in mesh[:2]:
                wait_until(functools.partial(_sees_helloworld, other), PATIENCE,
                           f"{other.node.name} to see helloworld")
            yield mesh
        finally:
            cluster.close()


def test_call_on_a_node_reaches_a_service_next_to_another(trio: list[GatewayNode]) -> None:
    out = trio[0].ok("call", "helloworld", "Helloworld.Call", '{"name":"a"}')

    assert json.loads(out) == {"msg": "Hello a"}


def test_dynamic_command_on_a_node_reaches_a_service_next_to_another(trio: list[GatewayNode]) -> None:
    assert json.loads(trio[0].ok("helloworld", "call", "--name", "a")) == {"msg": "Hello a"}


def test_gateway_on_a_node_reaches_a_service_next_to_another(trio: list[GatewayNode]) -> None:
    assert trio[1].post("/helloworld/Helloworld/Call", {"name": "a"}) == (200, {"msg": "Hello a"})
