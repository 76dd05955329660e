"""What a handler knows about the call it serves: metadata, deadline, caller, account, and its own service.

    async def call(self, request: dict, ctx: Context) -> dict:
        ctx.metadata          # {"x-request-id": "..."}: the call's metadata (text keys only)
        ctx.deadline          # seconds left before the caller gives up, or None for no deadline
        ctx.caller            # the id (N...) of the node the call came from; "" when unknown
        ctx.account           # Account(id="A...", name="ann", scopes=("blog.write",)), or None
        await ctx.service.kv.put("k", b"v")   # the service's own KV database and the mesh config

Nodes forward a call's metadata, deadline and calling node to the instance as gRPC metadata and deadline;
the calling node's id travels under the metadata key `micro-caller`. The node that admits a call into the
mesh (the one whose gateway or local API it entered) checks it against the mesh's rules and names the
account it is made for under `micro-account-id`, `-name` and `-scopes`, dropping any a client sent:
`ctx.account` reads them. A call through a node's local API by its socket's owner (the CLI, a service's
`Client`) is the node's admin's: id "", scopes `admin` and `secrets`. A call the rules let the public make
has no account. An instance serving on a TCP `address` can be called around its node, with any metadata:
its `ctx.account` is only as true as its callers. A protobuf servicer receives a
Context in place of grpc's `ServicerContext`: everything grpc's context offers (`abort`, `set_code`,
`peer`, ...) is reached through it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import grpc

from ..node.api.calllink import ACCOUNT_PREFIX, CALLER_KEY

if TYPE_CHECKING:
    from .service import Service

__all__ = ["CALLER_KEY", "Account", "Context"]

_ACCOUNT_KEYS = tuple(ACCOUNT_PREFIX + field for field in ("id", "name", "scopes"))


@dataclass(frozen=True)
class Account:
    """The account a call is made for, as the node that admitted the call names it."""

    id: str
    """Its key's id (A…); "" for the node's admin calling through the node's socket."""
    name: str
    scopes: tuple[str, ...]


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

    @cached_property
    def account(self) -> Account | None:
        """The caller's account, or None for a call without one (the public's, or one from no node)."""
        account_id, name, scopes = (self.metadata.get(key) for key in _ACCOUNT_KEYS)
        if account_id is None and name is None and scopes is None:
            return None
        return Account(account_id or "", name or "", tuple(filter(None, (scopes or "").split(","))))

    def __getattr__(self, name: str) -> Any:
        # Only reached for names Context does not define: servicer code written against grpc's context.
        if name == "grpc":
            raise AttributeError(name)
        return getattr(self.grpc, name)
