"""Payloads no client can decode as JSON, through a real node: `micro subscribe` and `micro stream consume`
print them as `data_base64` and go on with the messages after them, and `micro publish` does not send
such JSON in the first place."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
from typing import Any

import pytest
from kv_harness import one_error
from node_harness import MICRO, NodeProcess, wait_until

_topics = itertools.count()
UNDECODABLE = {
    "nested 100,000 deep": b"[" * 100_000,
    "a number out of range": b"1e999999",
    "an integer of 5,000 digits": b"9" * 5000,
    "NaN": b"NaN",
    "not UTF-8": b'"\xff"',
}
"""Payloads a node passes on as the bytes they are: json.loads raises RecursionError on the first, reads
the second and fourth as inf and nan (which print as no JSON), and ValueError on the others."""
GOOD = {"after": "the bad ones"}


def _topic() -> str:
    return f"cli.u{next(_topics)}"


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _payloads(printed: list[dict[str, Any]]) -> list[Any]:
    """What each printed message or event carried: its JSON, or its bytes when shown as base64."""
    return [base64.b64decode(p["data_base64"]) if "data_base64" in p else p["data"] for p in printed]


def test_subscribe_prints_undecodable_messages_as_base64_and_goes_on(node: NodeProcess) -> None:
    topic = _topic()
    count = 1 + len(UNDECODABLE) + 1
    argv = [MICRO, "subscribe", topic, "--count", str(count), "--data-dir", str(node.data_dir)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as subscriber, \
            node.client() as client:
        # The subscription is registered some time after the process starts: the first message that
        # reaches a node is the one printed first.
        wait_until(lambda: client.publish(topic, b'"ready"') == 1, 15, "the subscriber to register")
        for payload in UNDECODABLE.values():
            client.publish(topic, payload)
        client.publish(topic, json.dumps(GOOD).encode())
        stdout, stderr = subscriber.communicate(timeout=15)

    assert (subscriber.returncode, stderr) == (0, "")
    assert _payloads(_lines(stdout)) == ["ready", *UNDECODABLE.values(), GOOD]


def test_stream_consume_prints_undecodable_events_as_base64_and_goes_on(node: NodeProcess) -> None:
    topic = _topic()
    with node.client() as client:
        for payload in [*UNDECODABLE.values(), json.dumps(GOOD).encode()]:
            client.stream_publish(topic, payload)

    argv = [MICRO, "stream", "consume", topic, "--from-start", "--count", str(len(UNDECODABLE) + 1),
            "--data-dir", str(node.data_dir)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    assert (result.returncode, result.stderr) == (0, "")
    assert _payloads(_lines(result.stdout)) == [*UNDECODABLE.values(), GOOD]


@pytest.mark.parametrize("value", ["1e999999", "NaN", "[" * 100_000, "9" * 5000],
                         ids=["out of range", "NaN", "nested 100,000 deep", "5,000 digits"])
@pytest.mark.parametrize("command", [["publish"], ["stream", "publish"]], ids=["publish", "stream publish"])
def test_publishing_json_no_client_could_decode_is_one_line_and_exit_1(node: NodeProcess, command: list[str],
                                                                       value: str) -> None:
    result = subprocess.run([MICRO, *command, _topic(), "-", "--data-dir", str(node.data_dir)], input=value,
                            capture_output=True, text=True, timeout=30, check=False)

    assert "is not valid JSON" in one_error(result)
