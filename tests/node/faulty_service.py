"""A test service run as a real process next to a node: endpoints that fail, sleep and echo.

    Faulty.Fail   {}                      -> raises RuntimeError("boom") (INTERNAL, 500 at the gateway)
    Faulty.Sleep  {"seconds": s, "tag": t} -> {} after s seconds; the file FAULTY_MARKS/started-<t> is
                                             written as it starts, FAULTY_MARKS/cancelled-<t> if the call
                                             is cancelled first
    Faulty.Echo   {}                      -> {"caller": ctx.caller, "metadata": ctx.metadata}

Its TTL is FAULTY_TTL seconds (default 10), so a test can see a killed instance expire quickly.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from micro.sdk import Context, Service


class Faulty:
    async def fail(self, request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    async def sleep(self, request: dict[str, Any]) -> dict[str, Any]:
        Path(os.environ["FAULTY_MARKS"], f"started-{request['tag']}").touch()
        try:
            await asyncio.sleep(float(request["seconds"]))
        except asyncio.CancelledError:
            Path(os.environ["FAULTY_MARKS"], f"cancelled-{request['tag']}").touch()
            raise
        return {}

    async def echo(self, request: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"caller": ctx.caller, "metadata": dict(ctx.metadata)}


service = Service("faulty", version="1.0.0", ttl_s=float(os.environ.get("FAULTY_TTL", "10")))
service.handle(Faulty())

if __name__ == "__main__":
    service.run()
