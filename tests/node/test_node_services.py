"""Services across a mesh of real nodes: the gossiped registry, calls routed through any node and
forwarded over peer links, and the gateway a node serves in-process.

Three nodes A, B, C on 127.0.0.1 (B serves the gateway, called with the mesh admin's token); services are
real SDK processes started next to a node with MICRO_DATA_DIR. The module's mesh runs helloworld and the faulty test service next to C;
tests that kill or stop something form a mesh of their own.
"""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from micro.gateway import LocalApiBackend
from micro.node.api.proto import node_pb2
from node_harness import PATIENCE, Cluster, NodeProcess, admin_token, wait_until
from service_process import FAULTY, HELLOWORLD, call, free_port, instances, running, stop, stub


@dataclass
class Mesh:
    a: NodeProcess
    b: NodeProcess
    c: NodeProcess
    gateway: str  # http://host:port of B's gateway
    marks: Path  # where the faulty service marks started and cancelled calls
    bearer: dict[str, str]  # the Authorization header of the mesh admin's token


def _form(cluster: Cluster) -> Mesh:
    """A, B (with a gateway) and C joined into A's mesh."""
    port = free_port()
    a, b, c = (cluster.add_unstarted() for _ in range(3))
    a.spawn()
    b.spawn("--gateway", f"127.0.0.1:{port}")
    c.spawn()
    for node in (a, b, c):
        node.wait_ready()
    b.join(a)
    c.join(a)
    cluster.wait_states([a, b, c], {n.address: "alive" for n in (a, b, c)})
    return Mesh(a, b, c, f"http://127.0.0.1:{port}", cluster.base, {"Authorization": f"Bearer {admin_token(a)}"})


def _seen_everywhere(mesh: Mesh, service: str, count: int) -> None:
    for node in (mesh.a, mesh.b, mesh.c):
        wait_until(lambda node=node: len(instances(node, service)) == count, PATIENCE,
                   f"{node.name} to list {count} instance(s) of {service}")


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json",
                                                                      **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as failed:
        return failed.code, json.loads(failed.read())


_ENDPOINT = node_pb2.Endpoint(name="Thing.Do", method="/Thing/Do", codec="json")


def _register(node: NodeProcess, request: node_pb2.RegisterRequest) -> node_pb2.RegisterReply:
    with stub(node) as api:
        reply: node_pb2.RegisterReply = api.Register(request, timeout=5)
    return reply


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    with tempfile.TemporaryDirectory(prefix="ms-") as base:
        cluster = Cluster(Path(base))
        try:
            formed = _form(cluster)
            with running(formed.c, HELLOWORLD, "helloworld"), \
                    running(formed.c, FAULTY, "faulty", {"FAULTY_MARKS": base}):
                _seen_everywhere(formed, "helloworld", 1)
                _seen_everywhere(formed, "faulty", 1)
                yield formed
        finally:
            cluster.close()


# ---- the module's mesh ------------------------------------------------------------------------------


def test_a_call_through_node_a_reaches_helloworld_next_to_c(mesh: Mesh) -> None:
    reply, instance = call(mesh.a, "helloworld", "Helloworld.Call", {"name": "a"})

    assert reply == {"msg": "Hello a"}
    assert instance in {i.id for i in instances(mesh.c, "helloworld")}


def test_the_gateway_on_b_answers_a_call_to_helloworld_next_to_c(mesh: Mesh) -> None:
    assert _post(f"{mesh.gateway}/helloworld/Helloworld/Call", {"name": "a"}, mesh.bearer) == (200, {"msg": "Hello a"})


def test_the_gateway_on_b_lists_the_mesh_registry(mesh: Mesh) -> None:
    request = urllib.request.Request(f"{mesh.gateway}/services", headers=mesh.bearer)
    with urllib.request.urlopen(request, timeout=10) as reply:
        services = {s["name"]: s for s in json.loads(reply.read())["services"]}

    assert [i["node"] for i in services["helloworld"]["instances"]] == [mesh.c.status()["id"]]


def test_the_gateway_on_b_streams_a_server_stream_from_c_as_events(mesh: Mesh) -> None:
    request = urllib.request.Request(f"{mesh.gateway}/helloworld/Helloworld/Stream",
                                     json.dumps({"name": "e", "count": 2}).encode(),
                                     {"Content-Type": "application/json", **mesh.bearer})
    with urllib.request.urlopen(request, timeout=10) as reply:
        events = [json.loads(line[len(b"data: "):]) for line in reply.read().splitlines()
                  if line.startswith(b"data: ")]

    assert events == [{"msg": "Hello e (1 of 2)"}, {"msg": "Hello e (2 of 2)"}]


def test_every_node_lists_the_instance_with_the_node_it_runs_next_to(mesh: Mesh) -> None:
    c_id, c_address = mesh.c.status()["id"], mesh.c.address
    for node in (mesh.a, mesh.b):
        [instance] = instances(node, "helloworld")
        assert (instance.node, instance.node_address) == (c_id, c_address)
        assert sorted(e.name for e in instance.endpoints) == ["Helloworld.Call", "Helloworld.Stream"]


def test_a_forwarded_call_carries_the_callers_metadata_and_the_calling_node(mesh: Mesh) -> None:
    reply, _ = call(mesh.a, "faulty", "Faulty.Echo", metadata={"x-request-id": "r1"})

    assert reply["caller"] == mesh.a.status()["id"]
    assert reply["metadata"]["x-request-id"] == "r1"


def test_an_unknown_service_is_not_found(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        call(mesh.a, "nobody", "Nothing.Here")

    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert "service nobody not found" in failed.value.details()


def test_an_unknown_endpoint_is_not_found_naming_it(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        call(mesh.a, "helloworld", "Helloworld.Missing")

    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Helloworld.Missing" in failed.value.details()


def test_an_unknown_service_is_404_through_the_gateway(mesh: Mesh) -> None:
    status, body = _post(f"{mesh.gateway}/nobody/Nothing/Here", {}, mesh.bearer)

    assert (status, body["status"]) == (404, "NOT_FOUND")


def test_a_handler_that_raises_is_500_with_the_services_error_body(mesh: Mesh) -> None:
    status, body = _post(f"{mesh.gateway}/faulty/Faulty/Fail", {}, mesh.bearer)

    assert status == 500
    assert (body["id"], body["detail"], body["status"]) == ("faulty", "boom", "INTERNAL")
    # The service keeps serving.
    assert call(mesh.a, "faulty", "Faulty.Echo")[0]["caller"]


def test_a_service_error_reaches_a_local_api_caller_with_its_status_details_and_trailer(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        call(mesh.a, "faulty", "Faulty.Fail")

    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert json.loads(failed.value.details())["detail"] == "boom"
    assert json.loads(dict(failed.value.trailing_metadata())["micro-error"])["id"] == "faulty"


def test_a_handler_past_the_deadline_is_504_through_the_gateway(mesh: Mesh) -> None:
    # The handler would answer 200 after its 5 s: only the deadline makes it a 504.
    status, body = _post(f"{mesh.gateway}/faulty/Faulty/Sleep", {"seconds": 5, "tag": "gw"},
                         {"Timeout": "0.5", **mesh.bearer})

    assert (status, body["status"]) == (504, "DEADLINE_EXCEEDED")


def test_the_deadline_of_a_call_reaches_the_handler_on_the_far_node(mesh: Mesh) -> None:
    # The deadline leaves the call ample time to reach C's handler first (milliseconds on an idle machine).
    with pytest.raises(grpc.RpcError) as failed:
        call(mesh.a, "faulty", "Faulty.Sleep", {"seconds": 60, "tag": "deadline"}, timeout=2.0)

    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (mesh.marks / "started-deadline").exists()
    wait_until(lambda: (mesh.marks / "cancelled-deadline").exists(), PATIENCE,
               "the handler on C to be cancelled")


def test_a_cancelled_call_cancels_the_handler_on_the_far_node(mesh: Mesh) -> None:
    request = node_pb2.CallRequest(service="faulty", endpoint="Faulty.Sleep",
                                   body=json.dumps({"seconds": 20, "tag": "cancel"}).encode())
    with stub(mesh.a) as api:
        pending = api.Call.future(request)  # no deadline: only the cancellation can end it early
        wait_until(lambda: (mesh.marks / "started-cancel").exists(), PATIENCE, "the handler on C to start")
        pending.cancel()

    wait_until(lambda: (mesh.marks / "cancelled-cancel").exists(), PATIENCE,
               "the handler on C to be cancelled")


def test_a_server_stream_is_forwarded_message_by_message(mesh: Mesh) -> None:
    request = node_pb2.CallRequest(service="helloworld", endpoint="Helloworld.Stream",
                                   body=json.dumps({"name": "s", "count": 3}).encode())
    with stub(mesh.a) as api:
        replies = [json.loads(r.body)["msg"] for r in api.CallStream(request, timeout=5)]

    assert replies == ["Hello s (1 of 3)", "Hello s (2 of 3)", "Hello s (3 of 3)"]


def test_the_local_api_backend_of_a_separate_gateway_calls_through_node_a(mesh: Mesh) -> None:
    async def through_a() -> tuple[bytes, list[str]]:
        backend = LocalApiBackend(mesh.a.data_dir)
        try:
            request = node_pb2.CallRequest(service="helloworld", endpoint="Helloworld.Call", body=b'{"name":"l"}')
            reply = await backend.call(request, 5.0)
            return reply.body, [i.service for i in (await backend.describe("helloworld")).instances]
        finally:
            await backend.close()

    body, described = asyncio.run(through_a())

    assert (json.loads(body), described) == ({"msg": "Hello l"}, ["helloworld"])


# ---- meshes of their own ----------------------------------------------------------------------------


@pytest.fixture
def own_mesh(cluster: Cluster) -> Mesh:
    return _form(cluster)


def test_calls_spread_over_instances_next_to_b_and_c(own_mesh: Mesh) -> None:
    with running(own_mesh.b, HELLOWORLD, "helloworld") as (_, on_b), \
            running(own_mesh.c, HELLOWORLD, "helloworld") as (_, on_c):
        _seen_everywhere(own_mesh, "helloworld", 2)
        answered = [call(own_mesh.a, "helloworld", "Helloworld.Call", {"name": "x"})[1] for _ in range(10)]

    assert answered.count(on_b) == answered.count(on_c) == 5


def test_calls_keep_succeeding_through_b_when_cs_node_is_killed(own_mesh: Mesh) -> None:
    with running(own_mesh.b, HELLOWORLD, "helloworld") as (_, on_b), \
            running(own_mesh.c, HELLOWORLD, "helloworld"):
        _seen_everywhere(own_mesh, "helloworld", 2)
        unreachable = own_mesh.a.status()["counters"]["services.unreachable"]
        own_mesh.c.kill(signal.SIGKILL)
        # Every call succeeds at once: the node moves on from C's instance within the call, and marks it
        # unhealthy, so only the first call that picks it pays for a retry.
        answered = [call(own_mesh.a, "helloworld", "Helloworld.Call", {"name": "x"}, timeout=5)[1]
                    for _ in range(6)]

        assert set(answered) == {on_b}
        assert own_mesh.a.status()["counters"]["services.unreachable"] - unreachable <= 1
        # Once C is declared dead, its instance leaves the catalogue.
        wait_until(lambda: [i.id for i in instances(own_mesh.a, "helloworld")] == [on_b], PATIENCE,
                   "C's instance to leave A's catalogue")


def test_a_stopped_service_leaves_every_node_at_once(own_mesh: Mesh) -> None:
    # Its TTL, an hour, outlasts any wait here: only deregistering can take it off the nodes.
    with running(own_mesh.c, FAULTY, "faulty", {"FAULTY_TTL": "3600"}) as (process, _):
        _seen_everywhere(own_mesh, "faulty", 1)
        stop(process, signal.SIGTERM)

        _seen_everywhere(own_mesh, "faulty", 0)


def test_a_killed_service_leaves_every_node_within_its_ttl(own_mesh: Mesh) -> None:
    with running(own_mesh.c, FAULTY, "faulty", {"FAULTY_TTL": "2"}) as (process, instance):
        _seen_everywhere(own_mesh, "faulty", 1)
        stop(process, signal.SIGKILL)
        # A registration of the same TTL made after the kill and never renewed: once C has expired it, the
        # killed instance's TTL, which ran from its last heartbeat before the kill, has run out too.
        witness = _register(own_mesh.c, node_pb2.RegisterRequest(service="witness", address="127.0.0.1:9",
                                                                   endpoints=[_ENDPOINT], ttl_s=2))
        assert [i.id for i in instances(own_mesh.c, "witness")] == [witness.id]
        wait_until(lambda: not instances(own_mesh.c, "witness"), PATIENCE, "C to expire the witness")

        assert instance not in {i.id for i in instances(own_mesh.c, "faulty")}
        _seen_everywhere(own_mesh, "faulty", 0)


# ---- the registry's checks and descriptors ----------------------------------------------------------

@pytest.mark.parametrize("request_", [
    node_pb2.RegisterRequest(service="", address="127.0.0.1:9", endpoints=[_ENDPOINT]),
    node_pb2.RegisterRequest(service="thing", address="nowhere", endpoints=[_ENDPOINT]),
    node_pb2.RegisterRequest(service="thing", address="127.0.0.1:9",
                             endpoints=[node_pb2.Endpoint(name="Do", method="/Thing/Do", codec="json")]),
    node_pb2.RegisterRequest(service="thing", address="127.0.0.1:9",
                             endpoints=[node_pb2.Endpoint(name="Thing.Do", method="/Thing/Do", codec="xml")]),
    node_pb2.RegisterRequest(service="thing", address="127.0.0.1:9", endpoints=[_ENDPOINT], ttl_s=-1),
], ids=["no name", "bad address", "endpoint name", "codec", "negative ttl"])
def test_a_bad_registration_is_an_invalid_argument(mesh: Mesh, request_: node_pb2.RegisterRequest) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        _register(mesh.a, request_)

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_heartbeat_for_an_unknown_instance_is_not_found(mesh: Mesh) -> None:
    with stub(mesh.a) as api, pytest.raises(grpc.RpcError) as failed:
        api.Heartbeat(node_pb2.HeartbeatRequest(id="thing-0"), timeout=5)

    assert failed.value.code() == grpc.StatusCode.NOT_FOUND


def test_describe_on_a_fetches_the_descriptor_set_registered_at_c(mesh: Mesh) -> None:
    files = descriptor_pb2.FileDescriptorSet()
    node_pb2.DESCRIPTOR.CopyToProto(files.file.add())
    proto = node_pb2.Endpoint(name="Node.Status", method="/micro.node.v1.Node/Status", codec="proto",
                              request_type="micro.node.v1.StatusRequest", response_type="micro.node.v1.StatusReply")
    registered = _register(mesh.c, node_pb2.RegisterRequest(
        service="described", address="127.0.0.1:9", endpoints=[proto], descriptor_set=files.SerializeToString()))
    try:
        wait_until(lambda: instances(mesh.a, "described"), PATIENCE, "A to list the instance")
        with stub(mesh.a) as api:
            described = api.Describe(node_pb2.DescribeRequest(service="described"), timeout=5)

        assert described.descriptor_set == files.SerializeToString()
        assert [i.id for i in described.instances] == [registered.id]
    finally:
        with stub(mesh.c) as api:
            api.Deregister(node_pb2.DeregisterRequest(id=registered.id), timeout=5)


def test_instances_registered_before_a_join_are_published_in_the_new_mesh(cluster: Cluster) -> None:
    joiner, member = cluster.add(2)
    with running(joiner, HELLOWORLD, "helloworld") as (_, instance):
        joiner.join(member)

        wait_until(lambda: [i.id for i in instances(member, "helloworld")] == [instance], PATIENCE,
                   "the member to list the joiner's instance")
        assert call(member, "helloworld", "Helloworld.Call", {"name": "j"})[0] == {"msg": "Hello j"}
