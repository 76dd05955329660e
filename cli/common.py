"""What every `micro` command shares: finding the node, reading durations, printing tables and JSON.

Everything printed for people goes through `shown`: keys, names, versions, addresses and messages come
from other users and other nodes, and a terminal must never receive their control characters (an ESC
sequence can rewrite the screen or the window title). JSON output escapes them itself.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from ..node.api.client import NodeClient
from ..node.api.datadir import ENV_DATA_DIR, DataDir

__all__ = ["Duration", "connect", "data_dir_option", "echo", "echo_changes", "echo_json", "echo_table",
           "parse_duration", "shown", "utc_time"]

_T = TypeVar("_T")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 30s, 10m, 1h, 2d or 1h30m; a bare number is seconds."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION_PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise click.BadParameter(
                f"{text!r} is not a duration (use a number with a unit: 30s, 10m, 1h, 2d)"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not (math.isfinite(seconds) and seconds > 0):
        raise click.BadParameter(f"{text!r} is not a positive duration")
    return seconds


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


def data_dir_option(f: Any) -> Any:
    return click.option(
        "--data-dir",
        "data_dir",
        envvar=ENV_DATA_DIR,
        default=None,
        metavar="DIR",
        help="The node's data directory [env MICRO_DATA_DIR; default ~/.micro].",
    )(f)


def connect(data_dir: str | None) -> NodeClient:
    return NodeClient(DataDir.resolve(data_dir))


def utc_time(at: float) -> str:
    """A unix time as `2025-01-31 12:00:00Z`, or `-` for 0 (none)."""
    if not at:
        return "-"
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def shown(text: str) -> str:
    """`text` with every character that is not printable (controls, `\\r`, newlines, tabs, bidi
    overrides, lone surrogates of undecodable bytes) written as its Python escape: `\\x1b`, `\\n`,
    `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def echo(line: str) -> None:
    """Print a line for people, escaped (`shown`)."""
    click.echo(shown(line))


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, the headers first; cells escaped (`shown`)."""
    cells = [[shown(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    for row in (headers, *cells):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def echo_changes(changes: Iterable[_T], line: Callable[[_T], str]) -> None:
    """One escaped line per change until the stream ends or Ctrl-C, which is how a watch is meant to end
    (exit 0)."""
    try:
        for change in changes:
            echo(line(change))
    except KeyboardInterrupt:
        pass
