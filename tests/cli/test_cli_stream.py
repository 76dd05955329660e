"""`micro stream publish|consume|info` against a real node: the round trip, replays, acks and their absence,
the info table, and errors as one line."""

from __future__ import annotations

import datetime
import itertools
import json
import subprocess
from typing import Any

from kv_harness import Watcher, one_error
from node_harness import MICRO, PATIENCE, NodeProcess, wait_until

_topics = itertools.count()


def _topic() -> str:
    return f"cli.s{next(_topics)}"


def _micro(node: NodeProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], input=stdin, capture_output=True,
                          text=True, timeout=30, check=False)


def _ok(node: NodeProcess, *args: str, stdin: str | None = None) -> str:
    result = _micro(node, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _consume(node: NodeProcess, topic: str, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _ok(node, "stream", "consume", topic, *args).splitlines()]


def _published(node: NodeProcess, topic: str, *values: str) -> list[dict[str, Any]]:
    return [json.loads(_ok(node, "stream", "publish", topic, value, "--json")) for value in values]


def test_publish_prints_the_origin_and_offset(node: NodeProcess) -> None:
    topic = _topic()
    first = _ok(node, "stream", "publish", topic, '{"n": 1}')
    second = json.loads(_ok(node, "stream", "publish", topic, "-", "--json", stdin='["from", "stdin"]'))

    origin = node.status()["id"]
    assert first == f"published {topic} at offset 1 of {origin} (0 replicas)\n"
    assert second == {"origin": origin, "offset": 2, "replicas": 0}


def test_consume_in_a_group_prints_each_event_acks_it_and_the_group_moves_on(node: NodeProcess) -> None:
    topic = _topic()
    _published(node, topic, '{"n": 1}', '"two"')

    first = _consume(node, topic, "--group", "g", "--from-start", "--count", "2")
    _published(node, topic, "3")
    then = _consume(node, topic, "--group", "g", "--from-start", "--count", "1")

    origin = node.status()["id"]
    assert [(e["offset"], e["data"]) for e in first] == [(1, {"n": 1}), (2, "two")]
    assert set(first[0]) == {"topic", "origin", "offset", "published_at", "attempt", "headers", "data"}
    assert (first[0]["topic"], first[0]["origin"], first[0]["attempt"]) == (topic, origin, 1)
    assert [(e["offset"], e["data"]) for e in then] == [(3, 3)]


def test_from_start_offset_and_since_replay_for_a_private_consumer(node: NodeProcess) -> None:
    topic = _topic()
    _published(node, topic, "1", "2")
    later = datetime.datetime.now(datetime.UTC).isoformat()
    _published(node, topic, "3")

    assert [e["data"] for e in _consume(node, topic, "--from-start", "--count", "3")] == [1, 2, 3]
    assert [e["data"] for e in _consume(node, topic, "--offset", "2", "--count", "2")] == [2, 3]
    assert [e["data"] for e in _consume(node, topic, "--since", later, "--count", "1")] == [3]


def test_without_acks_an_event_comes_again_after_the_ack_wait(node: NodeProcess) -> None:
    topic = _topic()
    _published(node, topic, '"again"')

    events = _consume(node, topic, "--group", "unacked", "--from-start", "--no-auto-ack", "--ack-wait", "1",
                      "--count", "2")

    assert [(e["offset"], e["attempt"]) for e in events] == [(1, 1), (1, 2)]


def test_info_shows_the_partition_and_the_groups_lag(node: NodeProcess) -> None:
    topic = _topic()
    _published(node, topic, "1", "2", "3")
    _consume(node, topic, "--group", "readers", "--from-start", "--count", "1")
    origin = node.status()["id"]

    def info() -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(_ok(node, "stream", "info", topic, "--json"))
        return reply

    wait_until(lambda: info()["groups"][0]["committed"] == {origin: 1}, PATIENCE,
               "the group's offset to be committed")
    table = _ok(node, "stream", "info", topic)

    assert info()["partitions"] == [{"origin": origin, "first": 1, "head": 3, "replicas": [],
                                     "origin_alive": True}]
    assert info()["groups"] == [{"name": "readers", "consumers": [], "committed": {origin: 1}, "lag": 2}]
    lines = table.splitlines()
    assert lines[0].split() == ["ORIGIN", "FIRST", "HEAD", "REPLICAS", "ALIVE"]
    assert lines[1].split() == [origin, "1", "3", "-", "yes"]
    assert lines[3].split() == ["GROUP", "CONSUMERS", "COMMITTED", "LAG"]
    assert lines[4].split() == ["readers", "0", f"{origin[:12]}:1", "2"]


def test_info_of_a_topic_with_no_events(node: NodeProcess) -> None:
    topic = _topic()

    assert _ok(node, "stream", "info", topic) == f"no events on {topic}\n"


def test_ctrl_c_ends_consume_with_exit_0_and_no_message(node: NodeProcess) -> None:
    topic = _topic()
    with Watcher([MICRO, "stream", "consume", topic, "--data-dir", str(node.data_dir)]) as watcher:
        line = watcher.first_line_while(lambda: _micro(node, "stream", "publish", topic, '"x"'))

        assert json.loads(line)["data"] == "x"
        assert watcher.interrupt() == (0, "")


def test_errors_are_one_line_and_exit_1(node: NodeProcess, tmp_path: Any) -> None:
    topic = _topic()

    assert "not valid JSON" in one_error(_micro(node, "stream", "publish", topic, "{nope"))
    assert "wildcards are for subscriptions" in one_error(_micro(node, "stream", "publish", "cli.*", "1"))
    assert "choose one of from_start, offset and since" in one_error(
        _micro(node, "stream", "consume", topic, "--from-start", "--offset", "2"))
    assert "is not epoch seconds, an ISO-8601 time" in one_error(
        _micro(node, "stream", "consume", topic, "--since", "yesterday"))
    assert "invalid consumer group" in one_error(_micro(node, "stream", "consume", topic, "--group", "a b"))
    assert "invalid topic" in one_error(_micro(node, "stream", "info", "cli..x"))
    no_node = subprocess.run([MICRO, "stream", "info", topic, "--data-dir", str(tmp_path)], capture_output=True,
                             text=True, timeout=30, check=False)
    assert "no node running" in one_error(no_node)
