"""Names every process checks the same way: key-value databases and tables, key ranges, node ids.

Topics and subscription patterns have their own module (`subjects.py`).
"""

from __future__ import annotations

import functools
import re

from ...identity.keys import KeyKind, PublicKey
from .errors import InvalidArgument

__all__ = ["check_name", "node_id_text", "prefix_end"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def check_name(kind: str, name: str) -> None:
    """Raise InvalidArgument unless `name` is a valid database or table name (`kind` says which)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"invalid {kind} name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (None: no bound)."""
    while prefix and prefix[-1] == "\U0010ffff":
        prefix = prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


@functools.lru_cache(maxsize=4096)
def node_id_text(raw: bytes) -> str:
    """The printed id (N...) of a raw node key; hex if it is not a valid key. Cached: every KV record
    carries its writer's id, and writers are few."""
    try:
        return PublicKey(KeyKind.NODE, raw).id
    except Exception:  # noqa: BLE001 - ids from the core are 32 bytes; this only guards logging
        return raw.hex()
