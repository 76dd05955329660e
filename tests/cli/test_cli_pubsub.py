"""`micro publish` and `micro subscribe` against a real node: the round trip, the JSON shapes, errors."""

from __future__ import annotations

import itertools
import json
import subprocess

from kv_harness import Watcher, one_error
from node_harness import MICRO, PATIENCE, NodeProcess, wait_until

_topics = itertools.count()


def _topic() -> str:
    return f"cli.t{next(_topics)}"


def _micro(node: NodeProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], input=stdin, capture_output=True,
                          text=True, timeout=30, check=False)


def _publish_until_heard(node: NodeProcess, topic: str, value: str) -> None:
    """Publish until a subscriber has it: the subscribing process registers some time after it starts."""
    def heard() -> bool:
        result = _micro(node, "publish", topic, value, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) == {"nodes": 1}

    wait_until(heard, PATIENCE, f"a subscriber of {topic}")


def test_subscribe_prints_each_message_as_json_and_exits_after_count(node: NodeProcess) -> None:
    topic = _topic()
    argv = [MICRO, "subscribe", topic.replace("cli.", "*."), "--count", "2", "--data-dir", str(node.data_dir)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as subscriber:
        _publish_until_heard(node, topic, '{"n": 1}')
        published = _micro(node, "publish", topic, "-", stdin='["from", "stdin"]')
        stdout, stderr = subscriber.communicate(timeout=PATIENCE)

    assert published.stdout == "published to 1 node\n"
    assert (subscriber.returncode, stderr) == (0, "")
    first, second = map(json.loads, stdout.splitlines())
    assert first["data"] == {"n": 1} and second["data"] == ["from", "stdin"]
    assert first["topic"] == topic
    assert first["publisher"] == node.status()["id"]
    assert set(first) == {"topic", "headers", "publisher", "published_at", "data"}


def test_publish_to_a_topic_nobody_subscribes_reaches_no_node(node: NodeProcess) -> None:
    result = _micro(node, "publish", _topic(), "1")

    assert (result.returncode, result.stdout) == (0, "published to 0 nodes\n")


def test_ctrl_c_ends_subscribe_with_exit_0_and_no_message(node: NodeProcess) -> None:
    topic = _topic()
    with Watcher([MICRO, "subscribe", topic, "--data-dir", str(node.data_dir)]) as watcher:
        line = watcher.first_line_while(lambda: _micro(node, "publish", topic, '"x"'))

        assert json.loads(line)["data"] == "x"
        assert watcher.interrupt() == (0, "")


def test_publish_of_invalid_json_is_one_line_and_exit_1(node: NodeProcess) -> None:
    assert "not valid JSON" in one_error(_micro(node, "publish", _topic(), "{nope"))


def test_publish_on_a_wildcard_topic_is_one_line_and_exit_1(node: NodeProcess) -> None:
    assert "wildcards are for subscriptions" in one_error(_micro(node, "publish", "cli.*", "1"))


def test_subscribe_to_a_bad_pattern_is_one_line_and_exit_1(node: NodeProcess) -> None:
    assert "'>' must be the last token" in one_error(_micro(node, "subscribe", "cli.>.x"))


def _subscriptions(node: NodeProcess) -> int:
    return sum(v for k, v in node.status()["counters"].items() if k.endswith("pubsub.subscriptions"))


def test_subscribers_in_a_group_share_the_messages(node: NodeProcess) -> None:
    topic = _topic()
    before = _subscriptions(node)
    argv = [MICRO, "subscribe", topic, "--group", "g", "--count", "1", "--data-dir", str(node.data_dir)]
    with (subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as first,
          subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as second):
        wait_until(lambda: _subscriptions(node) == before + 2, PATIENCE, "both subscribers to register")
        for n in (1, 2):
            assert _micro(node, "publish", topic, str(n)).stdout == "published to 1 node\n"
        outputs = [first.communicate(timeout=PATIENCE)[0], second.communicate(timeout=PATIENCE)[0]]

    # Plain subscribers would both print 1; the group's members get one message each.
    assert sorted(json.loads(output)["data"] for output in outputs) == [1, 2]
