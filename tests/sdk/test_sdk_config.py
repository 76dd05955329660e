"""`micro.sdk.config.Config` against a real node: JSON values at dotted paths, subtrees, secrets, watch.

Every test works under a root path of its own (the `table` fixture's unique name), since they share a node.
"""

from __future__ import annotations

import asyncio

import pytest
from micro.sdk import config, errors
from node_harness import NodeProcess

pytestmark = pytest.mark.asyncio


async def test_set_values_read_back_as_python_values(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg:
        await cfg.set(f"{table}.size", 20)
        await cfg.set(f"{table}.tags", ["a", "b"])

        assert await cfg.get(f"{table}.size") == 20
        assert await cfg.get(f"{table}.tags") == ["a", "b"]


async def test_get_of_a_parent_merges_the_subtree(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg:
        await cfg.set(f"{table}.db.host", "db.local")
        await cfg.set(f"{table}.db.port", 5432)

        assert await cfg.get(table) == {"db": {"host": "db.local", "port": 5432}}


async def test_secrets_read_as_a_placeholder_unless_asked_for(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg:
        await cfg.set(f"{table}.password", "s3cret", secret=True)

        assert await cfg.get(table) == {"password": "[secret]"}
        assert await cfg.get(table, secrets=True) == {"password": "s3cret"}


async def test_delete_removes_the_subtree_and_get_then_raises_not_found(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg:
        await cfg.set(f"{table}.a.b", 1)

        assert await cfg.delete(f"{table}.a") is True
        assert await cfg.delete(f"{table}.a") is False
        with pytest.raises(errors.NotFound) as raised:
            await cfg.get(f"{table}.a")

    assert raised.value.code == 404


async def test_a_value_json_cannot_hold_is_a_bad_request_before_any_call(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg:
        with pytest.raises(errors.BadRequest, match="JSON"):
            await cfg.set(f"{table}.x", {1, 2})
        with pytest.raises(errors.NotFound):
            await cfg.get(f"{table}.x")


async def test_watch_reports_each_changed_leaf(node: NodeProcess, table: str) -> None:
    async with config.Config(node.data_dir) as cfg, cfg.watch(table) as changes:
        await cfg.set(f"{table}.level", "debug")
        await cfg.delete(f"{table}.level")

        set_change = await asyncio.wait_for(anext(changes), 10)
        deleted = await asyncio.wait_for(anext(changes), 10)

    assert set_change == config.ConfigChange(f"{table}.level", "debug", deleted=False)
    assert deleted == config.ConfigChange(f"{table}.level", None, deleted=True)
