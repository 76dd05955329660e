"""`micro kv`: the replicated key-value store, through the local node.

Values are bytes: `put` takes them from the argument or, with `-`, from stdin read as bytes; `get` writes
them to stdout unchanged. With `--json` a value is shown as UTF-8 text when it is valid UTF-8 and as
base64 otherwise, and `encoding` says which.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import sys
from typing import Any

import click

from ..node.api.names import check_name
from .common import Duration, connect, data_dir_option, echo, echo_changes, echo_json, echo_table, utc_time

__all__ = ["kv"]

_PREVIEW = 40
# --limit and --offset travel as uint32.
_COUNT = click.IntRange(min=0, max=2**32 - 1)


def _checked_name(ctx: click.Context, param: click.Parameter, name: str) -> str:
    """A database or table name, checked here: the node would read an empty one as "default"."""
    check_name("database" if param.name == "db" else "table", name)
    return name


def _table_options(f: Any) -> Any:
    f = click.option("--table", default="default", show_default=True, callback=_checked_name,
                     help="Table within the database.")(f)
    f = click.option("--db", default="default", show_default=True, callback=_checked_name, help="Database.")(f)
    return data_dir_option(f)


def _text(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _record_json(record: dict[str, Any]) -> dict[str, Any]:
    value: bytes = record["value"]
    text = _text(value)
    return {
        "db": record["db"],
        "table": record["table"],
        "key": record["key"],
        "value": text if text is not None else base64.b64encode(value).decode("ascii"),
        "encoding": "utf-8" if text is not None else "base64",
        "expires_at": record["expires_at"] or None,
        "stamp": {"physical_ms": record["physical_ms"], "logical": record["logical"]},
        "writer": record["writer"],
    }


def _preview(value: bytes) -> str:
    text = _text(value)
    if text is None or not text.isprintable():
        return f"<{len(value)} bytes>"
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def _change_line(as_json: bool, change: dict[str, Any]) -> str:
    if as_json:
        return json.dumps({"deleted": change["deleted"], **_record_json(change)}, sort_keys=True)
    if change["deleted"]:
        return f"del {change['key']}"
    return f"put {change['key']} {_preview(change['value'])}"


@click.group()
def kv() -> None:
    """The replicated key-value store (reads are local and may be stale)."""


@kv.command()
@_table_options
@click.argument("key")
@click.argument("value", required=False)
@click.option("--ttl", type=Duration(), default=None, help="Expire the key after this long (30s, 5m, 1h).")
def put(data_dir: str | None, db: str, table: str, key: str, value: str | None, ttl: float | None) -> None:
    """Set KEY to VALUE, or to the bytes on stdin with VALUE `-` (or no VALUE, when stdin is not a terminal)."""
    if value is None and sys.stdin.isatty():
        raise click.UsageError("give a VALUE, or `-` to read the value from stdin")
    # os.fsencode gives back the exact bytes of the argument, even ones that are not valid UTF-8.
    data = sys.stdin.buffer.read() if value in (None, "-") else os.fsencode(value)
    with connect(data_dir) as client:
        record = client.kv_put(key, data, db=db, table=table, ttl_s=ttl or 0.0)
    expiry = f", expires {utc_time(record['expires_at'])}" if record["expires_at"] else ""
    echo(f"stored {key} in {db}/{table} ({len(data)} bytes{expiry})")


@kv.command()
@_table_options
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def get(data_dir: str | None, db: str, table: str, key: str, as_json: bool) -> None:
    """Write KEY's value to stdout as it is stored (raw bytes, no newline added)."""
    with connect(data_dir) as client:
        record = client.kv_get(key, db=db, table=table)
    if as_json:
        echo_json(_record_json(record))
        return
    sys.stdout.buffer.write(record["value"])
    sys.stdout.buffer.flush()


@kv.command("del")
@_table_options
@click.argument("key")
def delete(data_dir: str | None, db: str, table: str, key: str) -> None:
    """Delete KEY (the delete replicates like a write)."""
    with connect(data_dir) as client:
        existed = client.kv_delete(key, db=db, table=table)
    echo(f"deleted {key}" if existed else f"{key} was not set")


@kv.command("list")
@_table_options
@click.option("--prefix", default="", help="Only keys that start with this.")
@click.option("--limit", type=_COUNT, default=0, help="At most this many keys (0: all).")
@click.option("--offset", type=_COUNT, default=0, help="Skip this many keys first.")
@click.option("--reverse", is_flag=True, help="Descending key order.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of records.")
def list_cmd(data_dir: str | None, db: str, table: str, prefix: str, limit: int, offset: int, reverse: bool,
             as_json: bool) -> None:
    """List keys in key order, with their values."""
    with connect(data_dir) as client:
        records = client.kv_list(db=db, table=table, prefix=prefix, limit=limit, offset=offset,
                                 reverse=reverse)
    if as_json:
        echo_json([_record_json(r) for r in records])
        return
    echo_table(("KEY", "VALUE", "SIZE", "EXPIRES", "WRITER"),
               [(r["key"], _preview(r["value"]), str(len(r["value"])), utc_time(r["expires_at"]), r["writer"][:12])
                for r in records])


@kv.command()
@_table_options
@click.option("--prefix", default="", help="Only keys that start with this.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
def watch(data_dir: str | None, db: str, table: str, prefix: str, as_json: bool) -> None:
    """Print every write and delete under the prefix, local or replicated, until Ctrl-C."""
    with connect(data_dir) as client:
        echo_changes(client.kv_watch(db, table, prefix), functools.partial(_change_line, as_json))
