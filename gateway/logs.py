"""Where the gateway records what it did not expect: one structured record per failure, never the loose
lines of a traceback.

A `Log` takes an event name and fields, as the node's logger does (`micro.node.log.Logger`, JSON lines on
stderr): a node serving the gateway hands its own over through its backend (`backend.LoggingBackend`).
A standalone gateway logs to Python's `logging` as `micro.gateway`, one line a record (the event, then
its fields as JSON), the fields also on the record as `event` and `fields` for handlers that want them.
An exception becomes fields (`failure_fields`): its type and message and the frames it passed through,
innermost last, each `file:line function`.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from typing import Any, Protocol

__all__ = ["Log", "PythonLog", "failure_fields"]

_FRAMES = 8  # the innermost frames are the ones that say what broke
_MESSAGE = 500  # characters of an exception's message kept (some quote their whole input)


class Log(Protocol):
    def error(self, event: str, **fields: Any) -> None: ...

    def warning(self, event: str, **fields: Any) -> None: ...


class PythonLog:
    """A `Log` over Python's `logging`: the standalone gateway's."""

    def __init__(self, name: str = "micro.gateway") -> None:
        self._logger = logging.getLogger(name)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        text = json.dumps(fields, separators=(",", ":"), default=str)
        self._logger.log(level, "%s %s", event, text, extra={"event": event, "fields": fields})


def failure_fields(exc: BaseException | None) -> dict[str, Any]:
    """An exception as record fields: `error` (type and message) and `frames`."""
    if exc is None:
        return {}
    frames = traceback.extract_tb(exc.__traceback__)[-_FRAMES:]
    return {
        "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:_MESSAGE]}",
        "frames": [f"{os.path.basename(frame.filename)}:{frame.lineno} {frame.name}" for frame in frames],
    }
