"""What a handler knows about the call it serves: metadata, deadline, caller, and its own service.

    async def call(self, request: dict, ctx: Context) -> dict:
        ctx.metadata          # {"x-request-id": "..."}: the call's metadata (text keys only)
        ctx.deadline          # seconds left before the caller gives up, or None for no deadline
        ctx.caller            # the id (N...) of the node the call came from; "" when unknown
        await ctx.service.kv.put("k", b"v")   # the service's own KV database and the mesh config

Nodes forward a call's metadata, deadline and calling node to the instance as gRPC metadata and deadline;
the calling node's id travels under the metadata key `micro-caller`. A protobuf servicer receives a
Context in place of grpc's `ServicerContext`: everything grpc's context offers (`abort`, `set_code`,
`peer`, ...) is reached through it too.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import grpc

from ..node.api.calllink import CALLER_KEY

if TYPE_CHECKING:
    from .service import Service

__all__ = ["CALLER_KEY", "Context"]


class Context:
    """One call as its handler sees it."""

    def __init__(self, grpc_context: grpc.aio.ServicerContext, service: Service, endpoint: str) -> None:
        self.grpc = grpc_context
        self.service = service
        self.endpoint = endpoint
        """The endpoint being served, e.g. "Helloworld.Call"."""

    @cached_property
    def metadata(self) -> dict[str, str]:
        """The call's metadata; binary (`-bin`) entries are left out."""
        return {key: value for key, value in self.grpc.invocation_metadata() or ()
                if isinstance(value, str)}

    @property
    def deadline(self) -> float | None:
        """Seconds left before the call's deadline (read live), or None when the caller set none."""
        remaining: float | None = self.grpc.time_remaining()
        return remaining

    @property
    def caller(self) -> str:
        return self.metadata.get(CALLER_KEY, "")

    def __getattr__(self, name: str) -> Any:
        # Only reached for names Context does not define: servicer code written against grpc's context.
        if name == "grpc":
            raise AttributeError(name)
        return getattr(self.grpc, name)
