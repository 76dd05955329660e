"""The registry reads other nodes' `svc/` records from gossip: whatever a record holds, reading it never
raises; it either adds an instance or is counted as dropped. Driven through a real `Runtime` that has no
core yet (the catalogue needs none)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.mesh import OwnedStateChanged
from micro.node.calls.registry import KEY_PREFIX, Registry
from micro.node.log import Logger
from micro.node.runtime import Runtime
from micro.node.transport import NetTransport

_OWNER = bytes(range(32))
_ENDPOINT = ["Thing.Do", "/Thing/Do", "json", "", "", "{}", "{}", False]
_RECORD = ["thing", "1.0", "127.0.0.1:9", [_ENDPOINT], {"zone": "a"}, b""]

_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=40,
)


def _registry_reading(values: list[bytes]) -> Registry:
    async def read() -> Registry:
        logger = Logger(io.StringIO())
        registry = Registry(Runtime(NetTransport(logger), logger, lambda: None), "Nself", "127.0.0.1:1",
                            Path("/nowhere/instances"))
        for n, value in enumerate(values):
            registry.on_owned(OwnedStateChanged(_OWNER, f"{KEY_PREFIX}thing-{n}", value))
        return registry

    return asyncio.run(read())


def test_a_well_formed_record_becomes_an_instance_of_its_owner() -> None:
    registry = _registry_reading([cbor2.dumps(_RECORD)])

    [instance] = registry.instances("thing")
    assert (instance.id, instance.address, instance.endpoints[0].method) == ("thing-0", "127.0.0.1:9", "/Thing/Do")
    assert dict(instance.metadata) == {"zone": "a"}
    assert registry.dropped == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64) | _cbor_values.map(cbor2.dumps), max_size=4))
def test_any_record_is_read_or_counted_as_dropped_never_raised(values: list[bytes]) -> None:
    registry = _registry_reading(values)

    assert len(registry.instances()) + registry.dropped == len(values)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5), _cbor_values)
def test_a_record_with_one_field_replaced_is_read_or_dropped(field: int, value: object) -> None:
    record = list(_RECORD)
    record[field] = value
    registry = _registry_reading([cbor2.dumps(record)])

    assert len(registry.instances()) + registry.dropped == 1
