"""Configuration: JSON values at dotted paths, replicated like any key (it is the KV database "config").

    async with config.Config() as cfg:
        await cfg.set("blog.db.password", "s3cret", secret=True)
        await cfg.set("blog.page_size", 20)
        await cfg.get("blog")                      # {"db": {"password": "[secret]"}, "page_size": 20}
        await cfg.get("blog", secrets=True)        # the password in clear

`get` of a path returns the value there, or the subtree under it merged into one object. Secrets are
stored encrypted with the mesh's config key and read back as "[secret]" unless asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..node.api.proto import node_pb2
from .channel import NODE_ID, NodeUser, Stream
from .errors import bad_request

__all__ = ["Config", "ConfigChange"]


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A leaf that changed: its path and new value (None when `deleted`)."""

    path: str
    value: Any
    deleted: bool

    @classmethod
    def from_proto(cls, change: Any) -> ConfigChange:
        value = json.loads(change.json) if change.json and not change.deleted else None
        return cls(change.path, value, change.deleted)


class Config(NodeUser):
    """The mesh's configuration as the local node holds it. Keeps its connection open until `close`."""

    async def get(self, path: str = "", secrets: bool = False) -> Any:
        """The value at `path` or the subtree under it; raises `NotFound` when there is nothing."""
        request = node_pb2.ConfigGetRequest(path=path, reveal_secrets=secrets)
        reply = await self._node.call(self._node.stub.ConfigGet, request)
        return json.loads(reply.json)

    async def set(self, path: str, value: Any, secret: bool = False) -> None:
        """Store `value` (anything `json.dumps` takes) at `path`; with `secret` it is stored encrypted."""
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise bad_request(NODE_ID, f"config values must be JSON: {exc}") from None
        await self._node.call(self._node.stub.ConfigSet, node_pb2.ConfigSetRequest(path=path, json=text, secret=secret))

    async def delete(self, path: str) -> bool:
        """Delete `path` and everything under it; True if anything was there."""
        reply = await self._node.call(self._node.stub.ConfigDelete, node_pb2.ConfigDeleteRequest(path=path))
        return bool(reply.existed)

    def watch(self, path: str = "") -> Stream[ConfigChange]:
        """Every later change at or under `path`, until the stream is closed."""
        return self._node.stream(self._node.stub.ConfigWatch, node_pb2.ConfigWatchRequest(path=path),
                                 ConfigChange.from_proto)
