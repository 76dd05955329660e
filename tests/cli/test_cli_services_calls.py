"""`micro services`, `micro describe`, `micro call` and dynamic commands against helloworld run under a
real node."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kv_harness import one_error
from services_harness import EXAMPLES, GatewayNode, gateway_node


@pytest.fixture(scope="module")
def mesh() -> Iterator[GatewayNode]:
    for node in gateway_node():
        node.run(EXAMPLES / "helloworld", "helloworld")
        yield node


def test_services_lists_the_instance_with_its_node(mesh: GatewayNode) -> None:
    shown = json.loads(mesh.ok("services", "--json"))
    status = mesh.node.status()

    (hello,) = [s for s in shown if s["service"] == "helloworld"]
    (instance,) = hello["instances"]
    assert instance["version"] == "1.0.0"
    assert (instance["node"], instance["node_address"]) == (status["id"], status["address"])
    assert instance["address"].startswith(f"unix:{mesh.node.data_dir / 'instances'}/")


def test_services_table_has_a_row_per_instance(mesh: GatewayNode) -> None:
    lines = mesh.ok("services").splitlines()

    assert lines[0].split() == ["SERVICE", "VERSION", "INSTANCE", "ADDRESS", "NODE"]
    assert [line.split()[:2] for line in lines[1:]] == [["helloworld", "1.0.0"]]


def test_describe_shows_endpoints_with_schemas(mesh: GatewayNode) -> None:
    shown = json.loads(mesh.ok("describe", "helloworld", "--json"))

    endpoints = {e["name"]: e for e in shown["endpoints"]}
    assert set(endpoints) == {"Helloworld.Call", "Helloworld.Stream"}
    assert endpoints["Helloworld.Call"]["request"]["properties"] == {"name": {"type": "string"}}
    assert endpoints["Helloworld.Call"]["response"]["properties"] == {"msg": {"type": "string"}}
    assert endpoints["Helloworld.Stream"]["server_streaming"] is True


def test_describe_for_people_lists_request_fields(mesh: GatewayNode) -> None:
    out = mesh.ok("describe", "helloworld")

    assert "Helloworld.Call\n  request    {name: string}\n  response   {msg: string}\n" in out


def test_call_prints_the_json_reply(mesh: GatewayNode) -> None:
    out = mesh.ok("call", "helloworld", "Helloworld.Call", '{"name":"a"}')

    assert json.loads(out) == {"msg": "Hello a"}


def test_call_reads_the_request_from_stdin(mesh: GatewayNode) -> None:
    out = mesh.ok("call", "helloworld", "Helloworld.Call", "-", stdin='{"name": "b"}')

    assert json.loads(out) == {"msg": "Hello b"}


def test_call_of_a_streaming_endpoint_prints_a_line_per_reply(mesh: GatewayNode) -> None:
    out = mesh.ok("call", "helloworld", "Helloworld.Stream", '{"name": "a", "count": 2}')

    assert [json.loads(line) for line in out.splitlines()] == [{"msg": "Hello a (1 of 2)"},
                                                               {"msg": "Hello a (2 of 2)"}]


def test_call_with_a_field_of_the_wrong_type_is_one_error(mesh: GatewayNode) -> None:
    error = one_error(mesh.micro("call", "helloworld", "Helloworld.Call", '{"name": 5}'))

    assert error == "error: helloworld: invalid field name: 5 is not of type 'string' (400 INVALID_ARGUMENT)"


def test_call_of_an_unknown_endpoint_is_one_error(mesh: GatewayNode) -> None:
    error = one_error(mesh.micro("call", "helloworld", "Helloworld.Nope"))

    assert error.startswith("error: helloworld: no endpoint Helloworld.Nope (endpoints: Helloworld.Call, ")
    assert error.endswith("(404 NOT_FOUND)")


def test_call_of_an_unknown_service_is_one_error(mesh: GatewayNode) -> None:
    error = one_error(mesh.micro("call", "nobody", "Nobody.Call"))

    assert error.startswith("error: nobody: ") and error.endswith("(404 NOT_FOUND)")


def test_call_with_malformed_json_is_one_error(mesh: GatewayNode) -> None:
    error = one_error(mesh.micro("call", "helloworld", "Helloworld.Call", "{name"))

    assert error.startswith("error: the request is not JSON: ")


def test_dynamic_command_calls_the_endpoint_with_typed_flags(mesh: GatewayNode) -> None:
    assert json.loads(mesh.ok("helloworld", "call", "--name", "Alice")) == {"msg": "Hello Alice"}


def test_dynamic_command_takes_integer_flags(mesh: GatewayNode) -> None:
    out = mesh.ok("helloworld", "stream", "--name", "Bo", "--count", "1")

    assert json.loads(out) == {"msg": "Hello Bo (1 of 1)"}


def test_dynamic_command_accepts_the_full_endpoint_name(mesh: GatewayNode) -> None:
    assert json.loads(mesh.ok("helloworld", "Helloworld.Call", "--name", "C")) == {"msg": "Hello C"}


def test_dynamic_help_lists_the_endpoints(mesh: GatewayNode) -> None:
    out = mesh.ok("helloworld", "--help")

    commands = out.split("Commands:")[1].split()
    assert commands[:2] == ["call", "Helloworld.Call"]
    assert "stream" in commands


def test_dynamic_endpoint_help_lists_the_fields(mesh: GatewayNode) -> None:
    out = mesh.ok("helloworld", "stream", "--help")

    assert "--name TEXT" in out and "--count INTEGER" in out


def test_dynamic_command_with_a_wrongly_typed_flag_is_one_error(mesh: GatewayNode) -> None:
    error = one_error(mesh.micro("helloworld", "stream", "--name", "a", "--count", "many"))

    assert "'many' is not a valid integer" in error


def test_an_unknown_command_is_still_no_such_command(mesh: GatewayNode) -> None:
    assert one_error(mesh.micro("nobody")).startswith("error: No such command 'nobody'.")
