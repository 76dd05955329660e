"""`micro publish` and `micro subscribe`: pubsub through the local node, at most once.

`publish` sends a JSON value (the argument, or stdin with `-`) as compact JSON; JSON no client could read
back (NaN, 1e999999, nesting too deep: see `node.api.strict_json`) is refused. `subscribe` prints one JSON
object per message, `{"topic", "headers", "publisher", "published_at", "data"}`, with `data_base64` in
place of `data` for a payload that is not such JSON (the gateway's event streams print the same).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys

import click

from ..node.api.errors import InvalidArgument
from ..node.api.strict_json import decode
from ..node.api.subjects import check_pattern, check_topic
from ..sdk.pubsub import Message, encode
from .common import connect, data_dir_option, echo_changes

__all__ = ["parse_headers", "publish", "read_payload", "subscribe"]


def parse_headers(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--header NAME=VALUE` options as a dict."""
    headers = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise InvalidArgument(f"a header is NAME=VALUE, not {pair!r}")
        headers[name] = value
    return headers


def read_payload(value: str, what: str = "message") -> bytes:
    """The compact JSON of a JSON argument, or of stdin when it is `-`: JSON every subscriber can decode
    (`decode`: UTF-8, finite numbers, not nested too deeply)."""
    # os.fsencode gives back the argument's bytes, even ones that are not UTF-8 (then `decode` says so).
    raw = sys.stdin.buffer.read() if value == "-" else os.fsencode(value)
    try:
        return encode(decode(raw))
    except ValueError as exc:
        raise InvalidArgument(f"the {what} is not valid JSON: {exc}") from None


@click.command()
@data_dir_option
@click.argument("topic")
@click.argument("value", metavar="JSON")
@click.option("--header", "headers", multiple=True, metavar="NAME=VALUE", help="A message header (repeatable).")
@click.option("--json", "as_json", is_flag=True, help='Print {"nodes": N}.')
def publish(data_dir: str | None, topic: str, value: str, headers: tuple[str, ...], as_json: bool) -> None:
    """Publish a JSON value (or `-`: the JSON on stdin) on TOPIC, to every matching subscriber now."""
    check_topic(topic)
    data = read_payload(value)
    with connect(data_dir) as client:
        nodes = client.publish(topic, data, parse_headers(headers))
    if as_json:
        click.echo(json.dumps({"nodes": nodes}))
    else:
        click.echo(f"published to {nodes} node{'' if nodes == 1 else 's'}")


@click.command()
@data_dir_option
@click.argument("topic")
@click.option("--group", default="", help="A queue group: each message reaches one of its subscribers.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Exit after this many messages.")
def subscribe(data_dir: str | None, topic: str, group: str, count: int | None) -> None:
    """Print each message on TOPIC (`*`: one token, a final `>`: the rest) as one JSON line, until Ctrl-C."""
    check_pattern(topic)
    with connect(data_dir) as client, contextlib.closing(client.subscribe(topic, group)) as messages:
        echo_changes(itertools.islice(messages, count),
                     lambda message: json.dumps(Message.from_proto(message).to_object(), sort_keys=True))
