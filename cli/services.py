"""`micro services`, `micro describe`, `micro call`, and dynamic commands from the registry.

    micro call helloworld Helloworld.Call '{"name": "Alice"}'
    micro helloworld call --name Alice          # the same call; flags typed from the request's schema
    micro helloworld --help                     # the endpoints; `micro helloworld call --help`: the fields

A command name the CLI does not know is looked up as a service in the registry of the running node
(`service_command`, asked by the `micro` group); without a node, or without such a service, it is the
usual "No such command". Its subcommands are the endpoints, named by their method in dashed lower case
(`Greeter.SayHello` is `say-hello`), and also found by the full endpoint name. Requests are checked and
encoded as the gateway does (`gateway.transcode`): JSON endpoints against their JSON Schema, protobuf
endpoints through the descriptors the service registered, and replies come back as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from ..gateway.routes import camel
from ..gateway.transcode import Codec, JsonCodec, ProtoCodec, load_descriptors
from ..node.api.client import NodeClient
from ..node.api.errors import InvalidArgument, NodeError, NotRunning
from ..node.api.limits import MAX_BODY
from ..node.api.strict_json import decode, loads
from ..sdk.errors import MicroError, from_details, internal, of_status
from .common import Duration, connect, data_dir_option, echo, echo_json, echo_table

__all__ = ["call", "describe", "service_command", "services"]

_DEFAULT_TIMEOUT = "30s"
_REF = "#/components/schemas/"


@dataclass(frozen=True)
class _Endpoint:
    """One endpoint of a described service, with its codec (None, and why, if it cannot be called)."""

    fields: dict[str, Any]
    codec: Codec | None
    problem: MicroError | None

    @property
    def name(self) -> str:
        return str(self.fields["name"])

    @property
    def streaming(self) -> bool:
        return bool(self.fields["server_streaming"])


def _codec(service: str, endpoint: dict[str, Any], descriptor_set: bytes) -> Codec:
    if endpoint["codec"] == "proto":
        return ProtoCodec(service, load_descriptors(descriptor_set), endpoint["request_type"],
                          endpoint["response_type"])
    return JsonCodec(service, endpoint["request_schema"], endpoint["response_schema"])


def _describe(client: NodeClient, service: str) -> tuple[list[dict[str, Any]], list[_Endpoint]]:
    """The instances of `service` and its endpoints (the first instance naming one wins)."""
    instances, descriptor_set = client.describe(service)
    if not instances:
        raise of_status(service, "NOT_FOUND", f"service {service} not found")
    seen: dict[str, dict[str, Any]] = {}
    for instance in instances:
        for endpoint in instance["endpoints"]:
            seen.setdefault(endpoint["name"], endpoint)
    endpoints = []
    for fields in seen.values():
        try:
            endpoints.append(_Endpoint(fields, _codec(service, fields, descriptor_set), None))
        except MicroError as problem:
            endpoints.append(_Endpoint(fields, None, problem))
    return instances, endpoints


def _check_size(size: int) -> None:
    """Refuse a request over the gateway's limit on bodies: a service gets the same requests either way."""
    if size > MAX_BODY:
        raise InvalidArgument(f"the request is {size} bytes; at most {MAX_BODY} (1 MiB) may be sent, as "
                              "through the gateway")


@contextlib.contextmanager
def _service_errors(service: str) -> Iterator[None]:
    """Failures of a service's description or call as one line: `helloworld: no name (404 NOT_FOUND)`."""
    try:
        yield
        return
    except NotRunning:
        raise
    except NodeError as exc:
        error = from_details(service, exc.code, exc.message)
    except MicroError as exc:
        error = exc
    raise NodeError(f"{error.id}: {error.detail} ({error.code} {error.status})", error.status) from None


def _invoke(client: NodeClient, service: str, endpoint: _Endpoint, request: Any, raw: bytes | None,
            timeout: float) -> None:
    """Call the endpoint and print each reply as one line of JSON."""
    if endpoint.codec is None:
        assert endpoint.problem is not None
        raise endpoint.problem
    codec = endpoint.codec
    try:
        # Refused here as the service would refuse it, under the service's name.
        body = codec.encode(request, raw)
    except MicroError as error:
        error.id = service
        raise
    _check_size(len(body))
    replies = (client.call_stream(service, endpoint.name, body, timeout) if endpoint.streaming
               else [client.call(service, endpoint.name, body, timeout)])
    for reply in replies:
        try:
            value = decode(codec.decode(reply))
        except ValueError as exc:
            raise internal(service, f"the reply is not JSON: {exc}") from None
        click.echo(json.dumps(value))


# ---- micro services / describe / call ------------------------------------------------------------------


@click.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def services(data_dir: str | None, as_json: bool) -> None:
    """List the services in the mesh and where their instances run."""
    with connect(data_dir) as client:
        instances = client.services()
    instances.sort(key=lambda i: (i["service"], i["version"], i["id"]))
    if as_json:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for i in instances:
            grouped.setdefault(i["service"], []).append(
                {k: i[k] for k in ("id", "version", "address", "node", "node_address", "metadata")})
        echo_json([{"service": name, "instances": rows} for name, rows in grouped.items()])
        return
    echo_table(("SERVICE", "VERSION", "INSTANCE", "ADDRESS", "NODE"),
               [(i["service"], i["version"], i["id"], i["address"], f"{i['node']} ({i['node_address']})")
                for i in instances])


def _type_name(schema: dict[str, Any]) -> str:
    """A schema as a short type for people: "string", "array of integer", "Post" (a message), "object"."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(_REF).rsplit(".", 1)[-1]
    if "enum" in schema:
        return "|".join(str(v) for v in schema["enum"])
    kinds = schema.get("type", "object")
    kind = kinds if isinstance(kinds, str) else "integer" if "integer" in kinds else str(kinds[0])
    if kind == "array":
        return "array of " + _type_name(schema.get("items", {}))
    return kind


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", ()))
    parts = [f"{key}: {_type_name(prop)}{'' if key in required or not required else '?'}"
             for key, prop in schema.get("properties", {}).items()]
    return "{" + ", ".join(parts) + "}" if "properties" in schema else _type_name(schema)


def _endpoint_view(endpoint: _Endpoint) -> dict[str, Any]:
    codec = endpoint.codec
    return {
        "name": endpoint.name,
        "codec": endpoint.fields["codec"],
        "server_streaming": endpoint.streaming,
        "request_type": endpoint.fields["request_type"],
        "response_type": endpoint.fields["response_type"],
        "request": codec.request_schema if codec is not None else None,
        "response": codec.response_schema if codec is not None else None,
        "definitions": codec.definitions if codec is not None else {},
        "problem": endpoint.problem.detail if endpoint.problem is not None else None,
    }


@click.command("describe")
@data_dir_option
@click.argument("service")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def describe(data_dir: str | None, service: str, as_json: bool) -> None:
    """Show a service's instances and endpoints with their request and response schemas."""
    with connect(data_dir) as client, _service_errors(service):
        instances, endpoints = _describe(client, service)
    views = [_endpoint_view(e) for e in endpoints]
    if as_json:
        echo_json({"service": service, "instances": [{k: v for k, v in i.items() if k != "endpoints"}
                                                      for i in instances], "endpoints": views})
        return
    echo(f"service    {service}")
    for i in instances:
        echo(f"instance   {i['id']}  version {i['version']}  at {i['address']}  node {i['node']}")
    for view in views:
        echo("")
        echo(view["name"] + ("  (server-streaming)" if view["server_streaming"] else ""))
        if view["problem"] is not None:
            echo(f"  cannot be called: {view['problem']}")
            continue
        echo(f"  request    {_fields(view['request'])}")
        echo(f"  response   {_fields(view['response'])}")
        for name, schema in view["definitions"].items():
            # The messages the request and response refer to; the two themselves are shown above.
            if name not in (view["request_type"], view["response_type"]):
                echo(f"  {name.rsplit('.', 1)[-1]:<10} {_fields(schema)}")


def _find(service: str, endpoints: list[_Endpoint], name: str) -> _Endpoint:
    """The endpoint named exactly, else case-insensitively; NOT_FOUND listing the endpoints."""
    for match in (lambda e: e.name == name, lambda e: e.name.lower() == name.lower()):
        found = next((e for e in endpoints if match(e)), None)
        if found is not None:
            return found
    known = ", ".join(e.name for e in endpoints) or "none"
    raise of_status(service, "NOT_FOUND", f"no endpoint {name} (endpoints: {known})")


@click.command("call")
@data_dir_option
@click.argument("service")
@click.argument("endpoint")
@click.argument("request", required=False, default="{}", metavar="[JSON|-]")
@click.option("--timeout", type=Duration(), default=_DEFAULT_TIMEOUT, show_default=True,
              help="How long the call may take.")
def call(data_dir: str | None, service: str, endpoint: str, request: str, timeout: float) -> None:
    """Call ENDPOINT (e.g. Helloworld.Call) of SERVICE with a JSON request (- reads it from stdin)."""
    # os.fsencode gives back the argument's bytes, even ones that are not UTF-8 (then `decode` says so).
    raw = sys.stdin.buffer.read() if request == "-" else os.fsencode(request)
    _check_size(len(raw))
    try:
        value = decode(raw or b"{}")
    except ValueError as exc:
        raise InvalidArgument(f"the request is not JSON: {exc}") from None
    with connect(data_dir) as client, _service_errors(service):
        _, endpoints = _describe(client, service)
        _invoke(client, service, _find(service, endpoints, endpoint), value, raw or None, timeout)


# ---- dynamic commands ----------------------------------------------------------------------------------


class _Json(click.ParamType):
    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return loads(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not JSON: {exc}", param, ctx)


_SCALARS: dict[str, click.ParamType] = {
    "integer": click.INT, "number": click.FLOAT, "boolean": click.BOOL, "string": click.STRING,
}


def _param_type(schema: dict[str, Any]) -> click.ParamType:
    if "enum" in schema:
        return click.Choice([str(v) for v in schema["enum"]])
    kinds = schema.get("type", "object")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    # proto JSON allows 64-bit integers as strings or numbers: take them as numbers on the command line.
    for kind in ("integer", "number", "boolean", "string"):
        if kind in kinds and "$ref" not in schema:
            return _SCALARS[kind]
    return _Json()


def _field_option(key: str, schema: dict[str, Any], dest: str, required: bool) -> click.Option:
    """An option for one request field: repeated for arrays, --x/--no-x for booleans, JSON for objects."""
    flag = "--" + key.replace("_", "-")
    array = schema.get("type") == "array"
    value_type = _param_type(schema.get("items", {}) if array else schema)
    kind = _type_name(schema) + (" as JSON" if isinstance(value_type, _Json) else "")
    note = f"{kind}{', required' if required else ''}"
    if array:
        return click.Option([flag, dest], multiple=True, type=value_type,
                            help=f"{note} (repeat the flag for each item)")
    if schema.get("type") == "boolean":
        return click.Option([f"{flag}/--no-{key.replace('_', '-')}", dest], default=None, help=note)
    return click.Option([flag, dest], type=value_type, default=None, help=note)


def _dashed(method: str) -> str:
    """`SayHello` -> `say-hello`: an endpoint's method as a subcommand name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", method).lower()


def _endpoint_command(service: str, endpoint: _Endpoint) -> click.Command:
    schema = endpoint.codec.request_schema if endpoint.codec is not None else {}
    required = set(schema.get("required", ()))
    keys = {f"field_{n}": key for n, key in enumerate(schema.get("properties", {}))}
    options: list[click.Parameter] = [
        _field_option(key, schema["properties"][key], dest, key in required) for dest, key in keys.items()]

    def invoke(data_dir: str | None, timeout: float, **values: Any) -> None:
        request = {keys[dest]: value for dest, value in values.items()
                   if dest in keys and value is not None and value != ()}
        with connect(data_dir) as client, _service_errors(service):
            _invoke(client, service, endpoint, request, None, timeout)

    options.append(click.Option(["--timeout"], type=Duration(), default=_DEFAULT_TIMEOUT, show_default=True,
                                help="How long the call may take."))
    return data_dir_option(click.Command(
        _dashed(endpoint.name.split(".", 1)[1]), params=options, callback=invoke,
        help=f"Call {service} {endpoint.name}" + (" (server-streaming: one JSON line per reply)."
                                                  if endpoint.streaming else "."),
        short_help=endpoint.name + (" (server-streaming)" if endpoint.streaming else "")))


class _ServiceGroup(click.Group):
    """One service as a command: its endpoints as subcommands."""

    def __init__(self, service: str, endpoints: list[_Endpoint]) -> None:
        super().__init__(service, help=f"Call the endpoints of {service} (from the registry).",
                         context_settings={"help_option_names": ["-h", "--help"]})
        self._endpoints = endpoints
        for endpoint in endpoints:
            command = _endpoint_command(service, endpoint)
            if command.name not in self.commands:
                self.add_command(command)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        # The full endpoint name, or the first endpoint whose method is the CamelCase of the name.
        for endpoint in self._endpoints:
            if cmd_name in (endpoint.name, endpoint.name.split(".", 1)[1]) or \
                    endpoint.name.split(".", 1)[1] == camel(cmd_name):
                return super().get_command(ctx, _dashed(endpoint.name.split(".", 1)[1]))
        return None


def _data_dir_in(args: list[str]) -> str | None:
    """The --data-dir value among a command's arguments (it may follow the endpoint), if given."""
    for n, arg in enumerate(args):
        if arg == "--data-dir" and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


def service_command(service: str, args: list[str]) -> click.Command | None:
    """The dynamic command of a service in the registry (`args`: the command line after its name, which
    may name the node with --data-dir); None without a node or such a service."""
    data_dir = _data_dir_in(args)
    try:
        with connect(data_dir) as client:
            _, endpoints = _describe(client, service)
    except (NodeError, MicroError):
        return None
    # --data-dir is accepted here too, for `micro SERVICE --help --data-dir D`.
    group: click.Command = data_dir_option(_ServiceGroup(service, endpoints))
    return group
