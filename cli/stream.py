"""`micro stream publish|consume|info`: durable event streams through the local node, at least once.

`publish` appends a JSON value (the argument, or stdin with `-`) to a topic and prints where it went (the
origin node's partition and the offset). `consume` prints one JSON object per event, `{"topic", "origin",
"offset", "published_at", "attempt", "headers", "data"}` (`data_base64` for a payload that is not UTF-8
JSON, as `micro subscribe` prints), and acks each event once printed; with `--no-auto-ack` nothing is
acked, so the events come again after the ack wait. `info` shows a topic's partitions and groups.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
from collections.abc import Iterator
from typing import Any

import click

from ..node.api.errors import InvalidArgument
from ..node.api.proto import node_pb2
from ..node.api.subjects import check_topic
from ..sdk.events import Event, consume_start
from .common import connect, data_dir_option, echo, echo_changes, echo_json, echo_table, parse_duration
from .pubsub import parse_headers, read_payload

__all__ = ["stream"]


def parse_since(text: str) -> float:
    """Epoch seconds from `--since`: a number of epoch seconds, an ISO-8601 time (UTC unless it names its
    offset), or a duration ago (30s, 10m, 1h, 2d)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.datetime.now(datetime.UTC).timestamp() - parse_duration(text)
        except click.BadParameter:
            raise InvalidArgument(f"--since {text!r} is not epoch seconds, an ISO-8601 time or a duration "
                                  "(30s, 10m, 1h)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


@click.group()
def stream() -> None:
    """Durable event streams: publish, consume in groups, replay (at least once)."""


@stream.command()
@data_dir_option
@click.argument("topic")
@click.argument("value", metavar="JSON")
@click.option("--header", "headers", multiple=True, metavar="NAME=VALUE", help="An event header (repeatable).")
@click.option("--json", "as_json", is_flag=True, help='Print {"origin", "offset", "replicas"}.')
def publish(data_dir: str | None, topic: str, value: str, headers: tuple[str, ...], as_json: bool) -> None:
    """Append a JSON value (or `-`: the JSON on stdin) to TOPIC once it is replicated."""
    check_topic(topic)
    data = read_payload(value, "event")
    with connect(data_dir) as client:
        reply = client.stream_publish(topic, data, parse_headers(headers))
    if as_json:
        echo_json(reply)
    else:
        echo(f"published {topic} at offset {reply['offset']} of {reply['origin']} "
                   f"({reply['replicas']} replica{'' if reply['replicas'] == 1 else 's'})")


@stream.command()
@data_dir_option
@click.argument("topic")
@click.option("--group", default="", help="The consumer group (none: a private consumer that commits nothing).")
@click.option("--from-start", is_flag=True, help="Start where the group has no position: at the first event kept.")
@click.option("--offset", type=click.IntRange(min=1), default=None, help="... or at this offset of each partition.")
@click.option("--since", default=None, metavar="TIME",
              help="... or at the first event since TIME: epoch seconds, ISO-8601, or a duration ago (10m).")
@click.option("--no-auto-ack", "no_ack", is_flag=True, help="Do not ack: the events come again after the ack wait.")
@click.option("--ack-wait", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Seconds before an unacked event comes again [node default: 30].")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Exit after this many events.")
def consume(data_dir: str | None, topic: str, group: str, from_start: bool, offset: int | None,
            since: str | None, no_ack: bool, ack_wait: float | None, count: int | None) -> None:
    """Print each event of TOPIC as one JSON line (acked once printed), until Ctrl-C or --count."""
    start = consume_start(topic, group, from_start=from_start, offset=offset,
                          since=parse_since(since) if since is not None else None, ack_wait=ack_wait,
                          max_in_flight=count)

    with connect(data_dir) as client, contextlib.closing(client.stream_consume(start)) as consumer:
        def printed(events: Iterator[node_pb2.StreamEvent]) -> Iterator[node_pb2.StreamEvent]:
            """The events; each is acked when the next is asked for, that is once it has been printed."""
            for event in events:
                yield event
                if not no_ack:
                    consumer.ack(event.origin, event.offset)

        echo_changes(printed(itertools.islice(consumer, count)),
                     lambda event: json.dumps(Event.from_proto(event).to_object(), sort_keys=True))


def _short(node_id: str) -> str:
    return node_id[:12]


@stream.command()
@data_dir_option
@click.argument("topic")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(data_dir: str | None, topic: str, as_json: bool) -> None:
    """Show TOPIC's partitions (origin logs) and the groups consuming it with their lag."""
    check_topic(topic)
    with connect(data_dir) as client:
        reply: dict[str, Any] = client.stream_info(topic)
    if as_json:
        echo_json(reply)
        return
    partitions = reply.get("partitions", [])
    groups = reply.get("groups", [])
    if not partitions and not groups:
        echo(f"no events on {topic}")
        return
    echo_table(("ORIGIN", "FIRST", "HEAD", "REPLICAS", "ALIVE"),
               [(p["origin"], str(p["first"]), str(p["head"]), ",".join(map(_short, p["replicas"])) or "-",
                 "yes" if p["origin_alive"] else "no") for p in partitions])
    if groups:
        click.echo()
        echo_table(("GROUP", "CONSUMERS", "COMMITTED", "LAG"),
                   [(g["name"], str(len(g["consumers"])),
                     ",".join(f"{_short(o)}:{n}" for o, n in sorted(g["committed"].items())) or "-", str(g["lag"]))
                    for g in groups])
