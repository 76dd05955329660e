"""`micro new NAME`: a working service to start from.

    NAME/main.py          the service: dict handlers of class Name, endpoint Name.Call
    NAME/NAME.proto       the API as a protobuf contract (documentation; main.py needs no generated code)
    NAME/test_main.py     pytest: starts the instance in-process and calls it as a node would
    NAME/README.md        run it (`micro run NAME`), call it (CLI, Python, curl through a gateway)

NAME is the last part of the path given, so `micro new services/demo` makes services/demo/ for the service
"demo". Names are lower case: letters, digits and dashes, starting with a letter (a service name, a
directory and, in CamelCase, a class: `my-svc` is class `MySvc`, endpoint `MySvc.Call`).
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

from ..node.api.errors import InvalidArgument, NodeError
from .common import echo

__all__ = ["new", "scaffold"]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}\Z")

_MAIN = Template('''\
"""$name: a Micro service with dict (JSON) handlers.

    $Class.Call  {"name": "Alice"}  ->  {"msg": "Hello Alice"}

Run it next to a node with `micro run $name` (or `python main.py`); $name.proto describes the same API.
"""

from __future__ import annotations

from typing import TypedDict

from micro.sdk import Context, Service, errors


class CallRequest(TypedDict):
    name: str


class CallResponse(TypedDict):
    msg: str


class $Class:
    async def call(self, request: CallRequest, ctx: Context) -> CallResponse:
        # The request was checked against CallRequest's schema before this runs.
        if not request["name"]:
            raise errors.bad_request(ctx.service.name, "name must not be empty")
        return {"msg": "Hello " + request["name"]}


service = Service("$name", version="0.1.0")
service.handle($Class())

if __name__ == "__main__":
    service.run()
''')

_PROTO = Template('''\
// The API of $name. main.py serves it with dict handlers, so nothing is generated from this file;
// it is the contract for callers (the JSON field names are the proto field names).
syntax = "proto3";

package $package;

service $Class {
  rpc Call(CallRequest) returns (CallResponse);
}

message CallRequest {
  string name = 1;
}

message CallResponse {
  string msg = 1;
}
''')

_TEST = Template('''\
"""$name's handler, served in-process and called over gRPC the way a node calls it (no node needed)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from typing import Any

import grpc
from micro.sdk import Service

from main import $Class, service


async def _call(request: Any) -> tuple[grpc.StatusCode, Any]:
    # An instance starts once, so each test serves the handler on an instance of its own, on a unix socket
    # in a data dir of its own (a short path: a socket's path is at most 107 bytes).
    with tempfile.TemporaryDirectory(prefix="t-") as data_dir:
        instance = Service(service.name, data_dir=data_dir)
        instance.handle($Class())
        await instance.start()
        try:
            async with grpc.aio.insecure_channel(instance.address) as channel:
                try:
                    reply = await channel.unary_unary("/$Class/Call")(json.dumps(request).encode())
                except grpc.aio.AioRpcError as exc:
                    return exc.code(), json.loads(exc.details() or "{}")
                return grpc.StatusCode.OK, json.loads(reply)
        finally:
            await instance.stop(0)


def test_call_greets_by_name() -> None:
    assert asyncio.run(_call({"name": "Alice"})) == (grpc.StatusCode.OK, {"msg": "Hello Alice"})


def test_call_refuses_an_empty_name() -> None:
    status, error = asyncio.run(_call({"name": ""}))

    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert error["code"] == 400 and error["id"] == "$name"
''')

_README = Template('''\
# $name

A Micro service made by `micro new $name`.

| file | what |
|---|---|
| `main.py` | the service: class `$Class`, endpoint `$Class.Call` |
| `$name.proto` | its API as a protobuf contract (documentation) |
| `test_main.py` | tests of the handler, in-process: `pytest` |

## Run

With a node running (`micro node start`), let the node supervise it (restarted on crash):

```sh
micro run $name
micro status
micro logs $name -f
micro kill $name
```

## Call

```sh
micro call $name $Class.Call '{"name": "x"}'
micro $name call --name x
```

Through a node started with `--gateway 127.0.0.1:8080`:

```sh
curl -H 'Content-Type: application/json' 127.0.0.1:8080/$name/$Class/Call -d '{"name": "x"}'
```

From Python:

```python
from micro.sdk import Client

async with Client() as client:
    print(await client.call("$name", "$Class.Call", {"name": "x"}))
```
''')


def scaffold(target: Path) -> list[Path]:
    """Write a new service into the directory `target` (named for the service); the files written."""
    name = target.name
    if not _NAME.match(name):
        raise InvalidArgument(f"{name!r} is not a service name: use lower-case letters, digits and dashes, "
                              "starting with a letter (e.g. greeter, my-service)")
    if target.exists():
        raise NodeError(f"{target} already exists; choose another name or remove it", "ALREADY_EXISTS")
    fields = {"name": name, "Class": "".join(part.capitalize() for part in name.split("-")),
              "package": name.replace("-", "_")}
    files = {"main.py": _MAIN, f"{name}.proto": _PROTO, "test_main.py": _TEST, "README.md": _README}
    target.mkdir(parents=True)
    written = []
    for filename, template in files.items():
        path = target / filename
        path.write_text(template.substitute(fields))
        written.append(path)
    return written


@click.command()
@click.argument("name", type=click.Path(path_type=Path))
def new(name: Path) -> None:
    """Create a new service in directory NAME: handler, proto, test and README."""
    for path in scaffold(name):
        echo(f"created {path}")
    echo("")
    echo(f"run it next to a node:  micro run {name}")
