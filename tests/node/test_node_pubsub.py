"""Pubsub through real node processes on 127.0.0.1, over each node's local API (gRPC on its unix socket).

The tests share one three-node mesh; each uses its own topics, so they do not see each other's messages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import grpc
import pytest
from micro.node.client import LOCAL_CHANNEL_OPTIONS
from micro.node.proto import node_pb2, node_pb2_grpc
from node_harness import NodeProcess, wait_until

DELIVER = 10.0


class Subscription:
    """One `Subscribe` stream read on a thread; `next()` waits for a message."""

    def __init__(self, node: NodeProcess, topic: str, group: str = "", queue_limit: int = 0,
                 read: bool = True) -> None:
        self._channel = grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS)
        self._call = node_pb2_grpc.NodeStub(self._channel).Subscribe(
            node_pb2.SubscribeRequest(topic=topic, group=group, queue_limit=queue_limit))
        # The node sends the headers once the subscription is registered.
        self._call.initial_metadata()
        self.messages: queue.Queue[node_pb2.PubsubMessage] = queue.Queue()
        self.dropped = 0
        if read:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for batch in self._call:
                self.dropped = batch.dropped
                for message in batch.messages:
                    self.messages.put(message)
        except grpc.RpcError:
            pass

    def next(self, timeout: float = DELIVER) -> node_pb2.PubsubMessage:
        return self.messages.get(timeout=timeout)

    def drain(self, settle: float = 0.5) -> list[node_pb2.PubsubMessage]:
        """Every message that arrives until none came for `settle` seconds."""
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=settle))
            except queue.Empty:
                return out

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()


class Api:
    """The local API of one node, for publishing."""

    def __init__(self, node: NodeProcess) -> None:
        self._channel = grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS)
        self.stub = node_pb2_grpc.NodeStub(self._channel)

    def publish(self, topic: str, data: bytes = b"", **headers: str) -> int:
        return int(self.stub.Publish(node_pb2.PublishRequest(topic=topic, data=data, headers=headers),
                                     timeout=5).nodes)

    def close(self) -> None:
        self._channel.close()


@pytest.fixture(scope="module")
def apis(trio: list[NodeProcess]) -> Iterator[list[Api]]:
    opened = [Api(node) for node in trio]
    yield opened
    for api in opened:
        api.close()


def counter(node: NodeProcess, name: str) -> int:
    return int(node.status()["counters"].get(f"pubsub.{name}", 0))


def wait_remote(node: NodeProcess, count: int) -> None:
    """Until `node` knows at least `count` subscription records of other nodes."""
    wait_until(lambda: counter(node, "remote_subscriptions") >= count, DELIVER,
               f"{node.name} to see {count} remote subscriptions")


def test_a_subscriber_gets_what_is_published_on_its_own_node(trio: list[NodeProcess], apis: list[Api]) -> None:
    sub = Subscription(trio[0], "local.greeting")
    try:
        assert apis[0].publish("local.greeting", b"hello", lang="en") == 1
        message = sub.next()
        assert (message.topic, message.data, dict(message.headers)) == ("local.greeting", b"hello", {"lang": "en"})
        assert message.publisher == trio[0].status()["id"]
        assert message.published_at > 0
    finally:
        sub.close()
