"""Structured logs: one JSON object per line on stderr (`ts`, `level`, `event`, then the fields).

Machines read these lines (tests, log shippers), so every value is made JSON-safe here: bytes become
hex, anything else unknown becomes its `str`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

__all__ = ["Logger"]

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


class Logger:
    """Writes JSON lines to a stream at or above a minimum level."""

    def __init__(self, stream: IO[str] | None = None, level: str = "info") -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._min = _LEVELS.get(level, 20)

    def log(self, level: str, event: str, **fields: Any) -> None:
        if _LEVELS.get(level, 20) < self._min:
            return
        record = {"ts": round(time.time(), 6), "level": level, "event": event}
        record.update({k: _safe(v) for k, v in fields.items()})
        try:
            self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            # A closed or broken stderr must not take the node down with it.
            pass

    def debug(self, event: str, **fields: Any) -> None:
        self.log("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log("error", event, **fields)
