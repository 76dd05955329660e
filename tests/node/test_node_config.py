"""Configuration through real node processes: merged reads, leaf writes, secrets, watches."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from micro.node.api.errors import NodeError
from micro.node.api.proto import node_pb2, node_pb2_grpc
from node_harness import PATIENCE, Cluster, NodeProcess, Watcher, kv_rows, or_none, wait_each, wait_until

REPLICATE = PATIENCE


def config(node: NodeProcess, path: str, reveal: bool = False) -> Any:
    """The value at `path` on `node`, or None when nothing is there."""
    with node.client() as client:
        return or_none(lambda: client.config_get(path, reveal_secrets=reveal))


def set_config(node: NodeProcess, path: str, value_json: str, secret: bool = False) -> None:
    with node.client() as client:
        client.config_set(path, value_json, secret=secret)


def test_an_object_set_on_one_node_reads_merged_on_another(trio: list[NodeProcess]) -> None:
    a, _, c = trio
    set_config(a, "merged.db", '{"host": "db.local", "port": 5432, "auth": {"user": "app"}}')
    expected = {"db": {"host": "db.local", "port": 5432, "auth": {"user": "app"}}}

    wait_until(lambda: config(c, "merged") == expected, REPLICATE, "c to read the merged tree")
    assert config(c, "merged.db.auth.user") == "app"


def test_setting_a_leaf_changes_only_that_leaf(trio: list[NodeProcess]) -> None:
    a, b, _ = trio
    set_config(a, "leaf.db", '{"host": "h", "port": 1}')
    wait_until(lambda: config(b, "leaf.db") == {"host": "h", "port": 1}, REPLICATE, "b to read the tree")

    set_config(b, "leaf.db.port", "2")
    wait_each(trio, lambda node: config(node, "leaf.db") == {"host": "h", "port": 2}, REPLICATE,
              "to read the new leaf beside the old one")


def test_setting_an_object_replaces_what_was_under_its_path(trio: list[NodeProcess]) -> None:
    a = trio[0]
    set_config(a, "replaced", '{"old": 1, "kept": {"x": [1, 2]}}')
    set_config(a, "replaced", '{"kept": {"x": [3]}, "new": true}')
    assert config(a, "replaced") == {"kept": {"x": [3]}, "new": True}


def test_concurrent_sets_of_one_path_on_one_node_leave_one_of_the_objects(trio: list[NodeProcess]) -> None:
    a = trio[0]
    objects = ['{"x": 1}', '{"y": 2}']

    async def both() -> None:
        async with grpc.aio.insecure_channel(f"unix:{a.data_dir / 'node.sock'}") as channel:
            stub = node_pb2_grpc.NodeStub(channel)
            await asyncio.gather(*(stub.ConfigSet(node_pb2.ConfigSetRequest(path="race", json=value), timeout=10)
                                   for value in objects))

    for _ in range(5):
        asyncio.run(both())
        assert config(a, "race") in ({"x": 1}, {"y": 2})


def test_setting_below_a_scalar_replaces_the_scalar(trio: list[NodeProcess]) -> None:
    a = trio[0]
    set_config(a, "scalar", '"plain"')
    set_config(a, "scalar.child", "1")
    assert config(a, "scalar") == {"child": 1}


@pytest.mark.parametrize(("path", "value_json"), [
    ("bad.json", "{not json"),
    ("bad.json", "NaN"),
    ("bad path", "1"),
    ("bad.json", '{"no spaces in keys": 1}'),
    ("", "{}"),
])
def test_invalid_json_or_paths_are_refused_and_nothing_is_written(trio: list[NodeProcess], path: str,
                                                                  value_json: str) -> None:
    a = trio[0]
    before = config(a, "")
    with pytest.raises(NodeError) as caught:
        set_config(a, path, value_json)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "\n" not in caught.value.message
    assert config(a, "") == before
    assert kv_rows(a, "config", prefix="bad") == 0


def test_a_secret_reads_as_secret_unless_revealed_and_other_members_reveal_it(trio: list[NodeProcess]) -> None:
    a, _, c = trio
    set_config(a, "vault.db", '{"user": "app"}')
    set_config(a, "vault.db.password", '"hunter2"', secret=True)

    wait_until(lambda: config(c, "vault.db") == {"user": "app", "password": "[secret]"}, REPLICATE,
               "c to read the secret as hidden")
    assert config(c, "vault.db", reveal=True) == {"user": "app", "password": "hunter2"}
    with c.client() as client:
        stored = client.kv_get("vault.db.password", db="config")["value"]
    assert b"hunter2" not in stored


def test_delete_removes_the_path_and_everything_under_it(trio: list[NodeProcess]) -> None:
    a, _, c = trio
    set_config(a, "gone", '{"a": 1, "b": {"c": 2}}')
    set_config(a, "gone-not", "3")
    wait_until(lambda: config(c, "gone") is not None, REPLICATE, "c to read the tree")
    with c.client() as client:
        assert client.config_delete("gone") is True
        assert client.config_delete("gone") is False

    wait_until(lambda: config(a, "gone") is None, REPLICATE, "a to lose the tree")
    assert config(a, "gone-not") == 3


def test_a_config_watch_sees_changes_at_and_under_its_path(trio: list[NodeProcess]) -> None:
    a, _, c = trio
    watcher = Watcher(c, lambda client: client.config_watch("watched"))
    try:
        set_config(a, "watched-sibling", "0")
        set_config(a, "watched.level", '"debug"')
        assert watcher.next(REPLICATE) == {"path": "watched.level", "value": "debug", "deleted": False}
        set_config(a, "watched.token", '"t"', secret=True)
        assert watcher.next(REPLICATE) == {"path": "watched.token", "value": "[secret]", "deleted": False}
        with a.client() as client:
            client.config_delete("watched.level")
        assert watcher.next(REPLICATE) == {"path": "watched.level", "value": None, "deleted": True}
    finally:
        watcher.close()


def test_reading_an_absent_path_is_not_found(trio: list[NodeProcess]) -> None:
    with trio[0].client() as client, pytest.raises(NodeError) as caught:
        client.config_get("nothing.here")
    assert caught.value.code == "NOT_FOUND"


def test_a_node_that_joins_later_receives_the_config_key(cluster: Cluster) -> None:
    a, late = cluster.add(2)
    set_config(a, "early.secret", '"s3"', secret=True)
    late.join(a)

    wait_until(lambda: config(late, "early", reveal=True) == {"secret": "s3"}, REPLICATE,
               "the joiner to reveal a secret set before it joined")
    assert (late.data_dir / "config.key").read_bytes() == (a.data_dir / "config.key").read_bytes()
