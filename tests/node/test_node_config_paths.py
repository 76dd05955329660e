"""How config objects become leaves and leaves become objects (pure functions of node/config.py)."""

from __future__ import annotations

from typing import Any

import pytest
from micro.node.api.errors import InvalidArgument
from micro.node.kv.config_tree import flatten, nest


@pytest.mark.parametrize(("path", "value", "leaves"), [
    ("a", 1, {"a": 1}),
    ("a", [1, {"b": 2}], {"a": [1, {"b": 2}]}),
    ("a", {"b": 1, "c": {"d": None}}, {"a.b": 1, "a.c.d": None}),
    ("a", {}, {}),
    ("", {"x": {"y": "z"}}, {"x.y": "z"}),
])
def test_an_object_is_flattened_into_one_leaf_per_scalar_or_array(path: str, value: Any,
                                                                   leaves: dict[str, Any]) -> None:
    assert flatten(path, value) == leaves


def test_an_object_key_that_is_not_a_path_segment_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="invalid config path"):
        flatten("a", {"b.c": 1})


@pytest.mark.parametrize(("base", "leaves", "value"), [
    ("a", {"a": 1}, 1),
    ("a", {"a.b": 1, "a.c.d": 2}, {"b": 1, "c": {"d": 2}}),
    ("", {"a.b": 1, "x": True}, {"a": {"b": 1}, "x": True}),
    # A leaf and a subtree at one path (concurrent writes elsewhere): the subtree wins, either order.
    ("a", {"a": 1, "a.b": 2}, {"b": 2}),
    ("", {"a": 1, "a.b": 2}, {"a": {"b": 2}}),
    ("", {"a.b": 2, "a.b.c": 3}, {"a": {"b": {"c": 3}}}),
])
def test_leaves_nest_into_the_object_under_their_base(base: str, leaves: dict[str, Any], value: Any) -> None:
    assert nest(base, leaves) == value


def test_nest_undoes_flatten() -> None:
    value = {"db": {"host": "h", "ports": [1, 2], "auth": {"user": "u", "ttl": 3.5}}, "debug": False}
    assert nest("", flatten("", value)) == value
