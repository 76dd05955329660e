"""A Service next to a real node, and `micro.sdk.Client` calling it through the node: registration,
heartbeats, deregistration on SIGTERM, JSON and protobuf calls, streams, errors.

One node per module (`--no-mdns --profile local` on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import grpc
import pytest
import pytest_asyncio
from google.protobuf import descriptor_pb2
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.sdk import Client, Service, errors
from node_harness import PATIENCE, Cluster, NodeProcess, until, wait_until
from service_harness import generated_greeter, greeter_servicer
from service_process import FAULTY, running

pytestmark = pytest.mark.asyncio

HELLOWORLD = Path(__file__).resolve().parents[2] / "examples" / "helloworld" / "main.py"


def _services(node: NodeProcess, service: str = "") -> list[node_pb2.ServiceInstance]:
    """The instances the node knows, of one service or of all."""
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
        reply = node_pb2_grpc.NodeStub(channel).Services(node_pb2.ServicesRequest(service=service), timeout=5)
    return list(reply.instances)


def _describe(node: NodeProcess, service: str) -> node_pb2.DescribeReply:
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
        return node_pb2_grpc.NodeStub(channel).Describe(node_pb2.DescribeRequest(service=service), timeout=5)


@contextlib.contextmanager
def _helloworld_next_to(node: NodeProcess) -> Iterator[subprocess.Popen[bytes]]:
    """examples/helloworld/main.py run as its README says, next to `node`, once it has registered;
    killed on the way out if the test has not stopped it."""
    env = {**os.environ, "MICRO_DATA_DIR": str(node.data_dir)}
    with open(node.data_dir.parent / "helloworld.stderr", "ab") as stderr:
        process = subprocess.Popen([sys.executable, str(HELLOWORLD)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=True)
    try:
        wait_until(lambda: _services(node, "helloworld") or process.poll() is not None, PATIENCE,
                   "helloworld to register")
        assert process.poll() is None, f"helloworld exited with {process.returncode}"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=10)


@pytest.fixture(scope="module")
def helloworld(node: NodeProcess) -> Iterator[NodeProcess]:
    """The node, with helloworld running next to it for the whole module."""
    with _helloworld_next_to(node):
        yield node


@pytest_asyncio.fixture
async def client(node: NodeProcess) -> AsyncIterator[Client]:
    async with Client(node.data_dir) as calls:
        yield calls


async def test_a_running_service_is_registered_with_its_endpoints_and_schemas(helloworld: NodeProcess) -> None:
    [instance] = _services(helloworld, "helloworld")
    endpoints = {e.name: e for e in instance.endpoints}

    assert (instance.service, instance.version, instance.node) == ("helloworld", "1.0.0", helloworld.status()["id"])
    assert instance.address.startswith(f"unix:{helloworld.data_dir / 'instances'}/")
    assert sorted(endpoints) == ["Helloworld.Call", "Helloworld.Stream"]
    assert (endpoints["Helloworld.Call"].method, endpoints["Helloworld.Call"].codec) == ("/Helloworld/Call", "json")
    assert '"name"' in endpoints["Helloworld.Call"].request_schema
    assert endpoints["Helloworld.Stream"].server_streaming
    assert instance.descriptor_hash == b""


async def test_a_client_calls_a_json_endpoint_through_the_node(helloworld: NodeProcess, client: Client) -> None:
    assert await client.call("helloworld", "Helloworld.Call", {"name": "a"}, timeout=5) == {"msg": "Hello a"}


async def test_a_client_reads_a_server_stream_through_the_node(helloworld: NodeProcess, client: Client) -> None:
    async with client.stream("helloworld", "Helloworld.Stream", {"name": "a", "count": 3}, timeout=5) as replies:
        greetings = [reply["msg"] async for reply in replies]

    assert greetings == ["Hello a (1 of 3)", "Hello a (2 of 3)", "Hello a (3 of 3)"]


async def test_a_field_of_the_wrong_type_reaches_the_client_as_the_services_bad_request(
        helloworld: NodeProcess, client: Client) -> None:
    with pytest.raises(errors.BadRequest) as failed:
        await client.call("helloworld", "Helloworld.Call", {"name": 5}, timeout=5)

    assert (failed.value.id, failed.value.code, failed.value.status) == ("helloworld", 400, "INVALID_ARGUMENT")
    assert "name" in failed.value.detail


async def test_an_unknown_service_is_not_found(client: Client) -> None:
    with pytest.raises(errors.NotFound):
        await client.call("no-such-service", "Nothing.Here", {}, timeout=5)


async def test_sigterm_deregisters_the_instance_at_once_and_exits_0(node: NodeProcess) -> None:
    # A service run as a process, with a TTL (an hour) that outlasts any wait here: only deregistering can
    # take its instance off the node.
    with running(node, FAULTY, "faulty", {"FAULTY_TTL": "3600"}) as (process, instance):
        assert _stop(process) == 0

    wait_until(lambda: instance not in {i.id for i in _services(node, "faulty")}, PATIENCE,
               "the instance to leave")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    with generated_greeter(tmp_path_factory.mktemp("proto")) as modules:
        yield modules


@pytest_asyncio.fixture
async def greeter(node: NodeProcess, generated: tuple[ModuleType, ModuleType]) -> AsyncIterator[Service]:
    """A protobuf Greeter served in this process next to the node (ttl 4 s, heartbeats every 0.5 s)."""
    pb, pb_grpc = generated
    service = Service("greeter", data_dir=node.data_dir, ttl_s=4.0, heartbeat_s=0.5)
    service.add_servicer(pb_grpc.add_GreeterServicer_to_server, greeter_servicer(pb, pb_grpc))
    serving = asyncio.create_task(service.serve())
    await until(lambda: service.id or serving.done(), PATIENCE, "greeter to register")
    assert service.id, serving.exception()
    try:
        yield service
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


async def test_a_client_calls_a_protobuf_endpoint_with_messages(
        greeter: Service, generated: tuple[ModuleType, ModuleType], client: Client, node: NodeProcess) -> None:
    pb = generated[0]
    reply = await client.call("greeter", "Greeter.SayHello", pb.HelloRequest(name={"first": "Ada"}),
                              response_type=pb.HelloReply, timeout=5)

    # The node names itself as the caller of the instance.
    assert reply == pb.HelloReply(msg=f"Hello Ada  from {node.status()['id']}")


async def test_the_registration_carries_the_descriptor_set_of_the_servicer(greeter: Service,
                                                                            node: NodeProcess) -> None:
    described = _describe(node, "greeter")
    files = descriptor_pb2.FileDescriptorSet.FromString(described.descriptor_set)

    assert [f.name for f in files.file][-1] == "sdktest_greeter.proto"
    assert {e.request_type for e in described.instances[0].endpoints} == {
        "micro.sdktest.v1.HelloRequest", "micro.sdktest.v1.CountdownRequest"}


async def test_heartbeats_keep_an_instance_registered_past_its_ttl(greeter: Service,
                                                                   node: NodeProcess) -> None:
    # A registration of the same TTL made after the greeter's and never renewed: once the node has expired
    # it, the greeter's TTL has run out too, and only its heartbeats can have kept it.
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
        witness = node_pb2_grpc.NodeStub(channel).Register(node_pb2.RegisterRequest(
            service="witness", address="127.0.0.1:9", ttl_s=greeter.ttl_s,
            endpoints=[node_pb2.Endpoint(name="Witness.Do", method="/Witness/Do", codec="json")]), timeout=5)
    assert [i.id for i in _services(node, "witness")] == [witness.id]
    await until(lambda: not _services(node, "witness"), PATIENCE, "the node to expire the witness")

    assert [i.id for i in _services(node, "greeter")] == [greeter.id]


async def test_a_service_registers_again_after_its_node_restarts() -> None:
    # A node of its own: restarting the module's node would disturb the other tests.
    with tempfile.TemporaryDirectory(prefix="ms-") as base:
        cluster = Cluster(Path(base))
        try:
            [node] = cluster.add(1)
            with _helloworld_next_to(node) as process:
                node.kill()
                node.start()
                wait_until(lambda: _services(node, "helloworld"), PATIENCE,
                           "helloworld to register with the new node")
                assert _stop(process) == 0
        finally:
            cluster.close()


async def test_a_client_with_no_node_running_is_unavailable(tmp_path: Path) -> None:
    async with Client(tmp_path) as client:
        with pytest.raises(errors.Unavailable, match="no node running"):
            await client.call("helloworld", "Helloworld.Call", {"name": "a"}, retries=1)
