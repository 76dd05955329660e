"""helloworld: the smallest Micro service, with dict (JSON) handlers.

    Helloworld.Call    {"name": "Alice"}            -> {"msg": "Hello Alice"}
    Helloworld.Stream  {"name": "Alice", "count": 3} -> {"msg": "Hello Alice (1 of 3)"}, ... (server-streaming;
                                                        for accounts holding the scope `greeter`)

Run it next to a node: `python main.py` (the node of MICRO_DATA_DIR, else ~/.micro), or `micro run .`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict

from micro.sdk import Context, Service, errors, requires

# Streams are bounded so that one request cannot keep an instance busy forever.
MAX_COUNT = 100


class CallRequest(TypedDict):
    name: str


class StreamRequest(TypedDict):
    name: str
    count: int


class Greeting(TypedDict):
    msg: str


class Helloworld:
    async def call(self, request: CallRequest, ctx: Context) -> Greeting:
        return {"msg": "Hello " + request["name"]}

    # A stream costs up to MAX_COUNT messages: only accounts trusted with the scope `greeter` get one.
    @requires("greeter")
    async def stream(self, request: StreamRequest, ctx: Context) -> AsyncIterator[Greeting]:
        count = request["count"]
        if not 0 <= count <= MAX_COUNT:
            raise errors.bad_request(ctx.service.name, f"count must be between 0 and {MAX_COUNT}")
        for n in range(1, count + 1):
            yield {"msg": f"Hello {request['name']} ({n} of {count})"}


service = Service("helloworld", version="1.0.0")
service.handle(Helloworld())

if __name__ == "__main__":
    service.run()
