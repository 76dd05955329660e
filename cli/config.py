"""`micro config`: JSON values at dotted paths, replicated to every node (the KV database "config").

`get` prints the value at a path, or the subtree under it merged into one object. Secrets are stored
encrypted and shown as "[secret]" unless `--secret` asks for them in clear.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import click

from ..node.api.strict_json import decode
from .common import connect, data_dir_option, echo, echo_changes, echo_json

__all__ = ["config"]


def _parse(text: str) -> str:
    """`text` if it is one JSON value (returned unchanged), else a usage error that shows how to quote."""
    try:
        decode(os.fsencode(text))
    except ValueError as exc:
        raise click.UsageError(
            f"VALUE is not valid JSON ({exc}); to store text, quote it as a JSON string: '\"{text}\"'"
        ) from None
    return text


def _change_line(as_json: bool, change: dict[str, Any]) -> str:
    if as_json:
        return json.dumps(change, sort_keys=True)
    if change["deleted"]:
        return f"del {change['path']}"
    return f"set {change['path']} {json.dumps(change['value'])}"


@click.group()
def config() -> None:
    """Configuration shared by the mesh: JSON at dotted paths."""


@config.command()
@data_dir_option
@click.argument("path", default="")
@click.option("--secret", is_flag=True, help="Show secrets in clear.")
def get(data_dir: str | None, path: str, secret: bool) -> None:
    """Print the JSON at PATH, or the subtree under it (the whole tree without PATH)."""
    with connect(data_dir) as client:
        value = client.config_get(path, secret)
    echo_json(value)


@config.command("set")
@data_dir_option
@click.argument("path")
@click.argument("value")
@click.option("--secret", is_flag=True, help="Store the value encrypted; `get` shows it only with --secret.")
def set_cmd(data_dir: str | None, path: str, value: str, secret: bool) -> None:
    """Set PATH to VALUE, a JSON value: 20, true, '"text"', '{"a": 1}'."""
    text = _parse(value)
    with connect(data_dir) as client:
        client.config_set(path, text, secret)
    echo(f"set {path}" + (" (secret)" if secret else ""))


@config.command("del")
@data_dir_option
@click.argument("path")
def delete(data_dir: str | None, path: str) -> None:
    """Delete PATH and everything under it."""
    with connect(data_dir) as client:
        existed = client.config_delete(path)
    echo(f"deleted {path}" if existed else f"nothing at {path}")


@config.command()
@data_dir_option
@click.argument("path", default="")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
def watch(data_dir: str | None, path: str, as_json: bool) -> None:
    """Print every change at or under PATH until Ctrl-C."""
    with connect(data_dir) as client:
        echo_changes(client.config_watch(path), functools.partial(_change_line, as_json))
