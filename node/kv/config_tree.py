"""Configuration on the KV store: database "config", table "default", a leaf per dotted path.

A leaf's key is its dotted path (segments of letters, digits, `_` and `-`) and its value is JSON text of
a scalar or an array. Objects are never stored whole: setting an object at a path writes one leaf per
scalar or array inside it and deletes the leaves under the path that the object no longer has, so two
nodes that set different leaves of one subtree both keep their change. Reading a path returns its leaf,
or the leaves under it merged into one nested object. Setting a leaf deletes a leaf at any ancestor path
(`a` = 1 cannot stand beside `a.b` = 2); if concurrent writes on two nodes still leave both, the subtree
wins when reading.

Secrets are sealed with the mesh config key (SecretBox, through `identity.Keyring`): the stored value
is the JSON object `{"secret": "<base64 of the box>"}`, which no ordinary leaf can be, since objects
are always flattened. They read as "[secret]" unless the caller asks to reveal them. The config key is
32 random bytes made with the mesh and handed to each joining node sealed to its key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import nacl.utils

from ...identity.errors import IdentityError
from ...identity.keyring import Keyring
from ...mesh import KvEntry
from ..api.errors import InvalidArgument, NodeError, NotFound, PermissionDenied
from ..api.proto import node_pb2
from .service import KvService, Write

__all__ = ["CONFIG_DB", "CONFIG_KEY_SIZE", "CONFIG_TABLE", "SECRET_SHOWN", "ConfigService", "flatten",
           "nest", "new_config_key"]

CONFIG_DB = "config"
CONFIG_TABLE = "default"
CONFIG_KEY_SIZE = 32
SECRET_SHOWN = "[secret]"
_SECRET = "secret"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+\Z")


def new_config_key() -> bytes:
    """A fresh mesh config key."""
    return nacl.utils.random(CONFIG_KEY_SIZE)


def _check_path(path: str, allow_root: bool = False) -> str:
    if not path:
        if allow_root:
            return path
        raise InvalidArgument("a config path is needed (dotted segments, e.g. db.host)")
    for segment in path.split("."):
        if not _SEGMENT.match(segment):
            raise InvalidArgument(f"invalid config path {path!r}: each dotted segment is letters, digits, "
                                  "'_' or '-'")
    return path


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(text: str, path: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"invalid JSON for config {path}: {exc}") from None


def flatten(path: str, value: Any) -> dict[str, Any]:
    """The leaves an object set at `path` stands for (a scalar or array is the one leaf at `path`)."""
    if not isinstance(value, dict):
        return {path: value}
    leaves: dict[str, Any] = {}
    for name, child in value.items():
        if not _SEGMENT.match(name):
            # A dot in a key would silently become a level of nesting.
            raise InvalidArgument(f"invalid config path: key {name!r} under {path or 'the root'} must be "
                                  "letters, digits, '_' or '-'")
        leaves.update(flatten(f"{path}.{name}" if path else name, child))
    return leaves


def nest(base: str, leaves: dict[str, Any]) -> Any:
    """The value at `base` from leaves at or under it: the leaf itself, or the nested object under it.

    Where a leaf and a subtree share a path (concurrent writes elsewhere), the subtree wins.
    """
    if set(leaves) == {base}:
        return leaves[base]
    tree: dict[str, Any] = {}
    for key in sorted(leaves):
        if key == base:
            continue
        parts = (key[len(base) + 1:] if base else key).split(".")
        node = tree
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = leaves[key]
    return tree


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


May = Callable[[str], bool]
"""Whether the caller may read or write the leaf at a key (the node's access rules on `config:KEY`)."""


def _ANY(key: str) -> bool:
    return True


def _allowed(may: May, keys: list[str]) -> None:
    for key in keys:
        if not may(key):
            raise PermissionDenied(f"the change touches config:{key}, which the caller may not write")


def _within(path: str, key: str) -> bool:
    return not path or key == path or key.startswith(path + ".")


class ConfigService:
    """The config part of the local API, over the KV service."""

    def __init__(self, kv: KvService, key: bytes | None) -> None:
        self.kv = kv
        self._box: Keyring | None = None
        self.key = key
        # A set reads the leaves under its path, then writes; two sets of one node must not interleave
        # there, or the later one would not replace what the earlier one wrote.
        self._writing = asyncio.Lock()

    @property
    def key(self) -> bytes | None:
        return self._key

    @key.setter
    def key(self, key: bytes | None) -> None:
        """Adopt the mesh config key (None: this node has none and cannot seal or open secrets)."""
        self._key = key
        self._box = Keyring(key) if key is not None else None

    def _require_box(self, doing: str) -> Keyring:
        if self._box is None:
            raise NodeError(f"this node has no mesh config key, so it cannot {doing} (its data dir predates "
                            "config secrets: join the mesh again to receive the key)", "FAILED_PRECONDITION")
        return self._box

    # ---- leaves ---------------------------------------------------------------------------------

    def _leaves(self, path: str) -> list[KvEntry]:
        """The leaves at or under `path` (every leaf for the empty path)."""
        return [e for e in self.kv.visible(CONFIG_DB, CONFIG_TABLE, path) if _within(path, e.key)]

    def _seal(self, value: Any) -> bytes:
        box = self._require_box("store a secret")
        sealed = base64.b64encode(box.encrypt(_dumps(value).encode())).decode("ascii")
        return _dumps({_SECRET: sealed}).encode()

    def _shown(self, entry: KvEntry, reveal: bool) -> Any:
        """A leaf's value as readers see it: secrets as "[secret]", or opened when `reveal`."""
        try:
            value = json.loads(entry.value or b"null")
        except ValueError:
            # Written through the plain KV API rather than config: show the bytes as text.
            return (entry.value or b"").decode("utf-8", "replace")
        if not (isinstance(value, dict) and set(value) == {_SECRET}):
            return value
        if not reveal:
            return SECRET_SHOWN
        box = self._require_box("reveal secrets")
        try:
            return json.loads(box.decrypt(base64.b64decode(value[_SECRET], validate=True)))
        except (IdentityError, ValueError) as exc:
            raise NodeError(f"cannot open the secret at {entry.key}: {exc}", "FAILED_PRECONDITION") from None

    # ---- the API --------------------------------------------------------------------------------

    def get(self, request: node_pb2.ConfigGetRequest, may: May = _ANY) -> node_pb2.ConfigGetReply:
        """The value at a path, or the subtree under it; leaves the caller may not read (`may`) left out."""
        path = _check_path(request.path, allow_root=True)
        leaves = {e.key: self._shown(e, request.reveal_secrets) for e in self._leaves(path) if may(e.key)}
        if not leaves and path:
            raise NotFound(f"nothing in config at {path}")
        return node_pb2.ConfigGetReply(json=_dumps(nest(path, leaves)))

    async def set(self, request: node_pb2.ConfigSetRequest, may: May = _ANY) -> node_pb2.ConfigSetReply:
        """Replace the subtree at a path (and any leaf above it); refused unless the caller may write
        every leaf that changes (`may`)."""
        path = _check_path(request.path)
        leaves = flatten(path, _parse(request.json, path))
        stored = {key: self._seal(v) if request.secret else _dumps(v).encode() for key, v in leaves.items()}
        async with self._writing:
            held = {e.key: e.value for e in self._leaves(path)}
            writes = [Write(CONFIG_DB, CONFIG_TABLE, key, data) for key, data in stored.items()
                      if held.get(key) != data]
            writes += [Write(CONFIG_DB, CONFIG_TABLE, key, None) for key in held if key not in stored]
            writes += [Write(CONFIG_DB, CONFIG_TABLE, key, None) for key in _ancestors(path)
                       if self.kv.lookup(CONFIG_DB, CONFIG_TABLE, key) is not None]
            _allowed(may, [w.key for w in writes])
            await self.kv.write(writes)
        return node_pb2.ConfigSetReply()

    async def delete(self, request: node_pb2.ConfigDeleteRequest, may: May = _ANY) -> node_pb2.ConfigDeleteReply:
        path = _check_path(request.path)
        async with self._writing:
            held = self._leaves(path)
            _allowed(may, [e.key for e in held])
            await self.kv.write([Write(CONFIG_DB, CONFIG_TABLE, e.key, None) for e in held])
        return node_pb2.ConfigDeleteReply(existed=bool(held))

    async def watch(self, request: node_pb2.ConfigWatchRequest, context: Any, may: May = _ANY
                    ) -> AsyncIterator[node_pb2.ConfigChange]:
        path = _check_path(request.path, allow_root=True)
        with self.kv.subscribe(CONFIG_DB, CONFIG_TABLE, path) as changes:
            await context.send_initial_metadata(())
            async for entry in changes:
                if not _within(path, entry.key) or not may(entry.key):
                    continue
                if entry.value is None:
                    yield node_pb2.ConfigChange(path=entry.key, deleted=True)
                else:
                    yield node_pb2.ConfigChange(path=entry.key, json=_dumps(self._shown(entry, False)))
