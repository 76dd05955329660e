"""Pubsub reads two things from other nodes: `sub/` records from gossip and sealed `Peer.Publish` frames.
Whatever they hold, reading them never raises: a record is indexed or counted as dropped, a frame is
delivered or counted as dropped. Driven through a real `Runtime` that has no core yet (neither needs one)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.identity.keyring import Keyring
from micro.mesh import OwnedStateChanged
from micro.node.api.proto import node_pb2
from micro.node.log import Logger
from micro.node.pubsub.service import KEY_PREFIX, Pubsub
from micro.node.runtime import Runtime
from micro.node.transport import NetTransport

_OWNER = bytes(range(32))
_RECORD = ["orders.*.created", "billing", 2]
_KEYRING = Keyring.generate()
_T = TypeVar("_T")

_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=40,
)


def _with_pubsub(use: Callable[[Pubsub], Awaitable[_T]]) -> _T:
    async def run() -> _T:
        logger = Logger(io.StringIO())
        transport = NetTransport(logger)
        pubsub = Pubsub(Runtime(transport, logger, lambda: None), transport, "Nself", lambda: _KEYRING, logger)
        try:
            return await use(pubsub)
        finally:
            await pubsub.close()

    return asyncio.run(run())


def _reading(values: list[bytes]) -> dict[str, int]:
    async def read(pubsub: Pubsub) -> dict[str, int]:
        for n, value in enumerate(values):
            pubsub.on_owned(OwnedStateChanged(_OWNER, f"{KEY_PREFIX}{n}", value))
        return pubsub.counters()

    return _with_pubsub(read)


def test_a_well_formed_record_becomes_a_remote_subscription() -> None:
    counters = _reading([cbor2.dumps(_RECORD)])

    assert counters["pubsub.remote_subscriptions"] == 1
    assert counters["pubsub.dropped_records"] == 0


def test_a_deleted_record_is_forgotten() -> None:
    async def read(pubsub: Pubsub) -> int:
        pubsub.on_owned(OwnedStateChanged(_OWNER, f"{KEY_PREFIX}a", cbor2.dumps(_RECORD)))
        pubsub.on_owned(OwnedStateChanged(_OWNER, f"{KEY_PREFIX}a", None))
        return pubsub.counters()["pubsub.remote_subscriptions"]

    assert _with_pubsub(read) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64) | _cbor_values.map(cbor2.dumps), max_size=4))
def test_any_record_is_indexed_or_counted_as_dropped_never_raised(values: list[bytes]) -> None:
    counters = _reading(values)

    assert counters["pubsub.remote_subscriptions"] + counters["pubsub.dropped_records"] == len(values)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2), _cbor_values)
def test_a_record_with_one_field_replaced_is_indexed_or_dropped(field: int, value: object) -> None:
    record = list(_RECORD)
    record[field] = value
    counters = _reading([cbor2.dumps(record)])

    assert counters["pubsub.remote_subscriptions"] + counters["pubsub.dropped_records"] == 1


def _serving(frames: list[node_pb2.Frame]) -> dict[str, int]:
    async def serve(pubsub: Pubsub) -> dict[str, int]:
        async def stream() -> AsyncIterator[node_pb2.Frame]:
            for frame in frames:
                yield frame

        await pubsub.serve_peer(stream())
        return pubsub.counters()

    return _with_pubsub(serve)


def _plain(data: bytes) -> node_pb2.Frame:
    return node_pb2.Frame(data=data)


def _sealed(data: bytes) -> node_pb2.Frame:
    return node_pb2.Frame(data=_KEYRING.encrypt(data))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=256).map(_plain) | st.binary(max_size=256).map(_sealed), max_size=4))
def test_any_peer_frame_is_delivered_or_counted_as_dropped_never_raised(frames: list[node_pb2.Frame]) -> None:
    counters = _serving(frames)

    opened = len(frames) - counters["pubsub.dropped_frames"]
    assert 0 <= opened <= len(frames)
    # Nobody subscribes here: whatever opened matched no one.
    assert counters["pubsub.unmatched"] == counters["pubsub.received_peer"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.lists(st.text(max_size=10), max_size=3), st.booleans())
def test_a_sealed_message_with_any_topic_and_groups_is_received(topic: str, groups: list[str], plain: bool) -> None:
    item = node_pb2.PeerPublish(message=node_pb2.PubsubMessage(topic=topic, data=b"x"), plain=plain, groups=groups)
    counters = _serving([_sealed(node_pb2.PeerPublishBatch(messages=[item]).SerializeToString())])

    assert (counters["pubsub.received_peer"], counters["pubsub.dropped_frames"]) == (1, 0)
