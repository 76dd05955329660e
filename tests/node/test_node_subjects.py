"""Pubsub topics and patterns: validation, matching, and the pattern index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.node.api.errors import InvalidArgument
from micro.node.api.subjects import Patterns, check_pattern, check_topic, matches

_token = st.sampled_from(["a", "b", "c"])
_topics = st.lists(_token, min_size=1, max_size=4).map(".".join)
_patterns = st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=4).flatmap(
    lambda tokens: st.sampled_from([".".join(tokens), ".".join([*tokens[:-1], ">"])]))


@pytest.mark.parametrize(("pattern", "topic", "expected"), [
    ("orders.eu", "orders.eu", True),
    ("orders.eu", "orders.us", False),
    ("orders.*", "orders.eu", True),
    ("orders.*", "orders.eu.created", False),
    ("orders.>", "orders.eu.created", True),
    ("orders.>", "orders", False),
    ("*.eu.*", "orders.eu.created", True),
    (">", "anything.at.all", True),
])
def test_wildcards_match_one_token_or_the_rest(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


@pytest.mark.parametrize("topic", ["", "a..b", ".a", "a.", "a.*", "a.>", "a b", "a/b", 7, "x" * 256])
def test_invalid_topics_to_publish_on_are_refused(topic: object) -> None:
    with pytest.raises(InvalidArgument):
        check_topic(topic)


@pytest.mark.parametrize("pattern", ["", "a..b", "a.>.b", ">.a", "a*", "a.b>", None])
def test_invalid_patterns_are_refused(pattern: object) -> None:
    with pytest.raises(InvalidArgument):
        check_pattern(pattern)


def test_valid_topics_and_patterns_are_returned_as_given() -> None:
    assert check_topic("orders.eu-1.created_at:$x") == "orders.eu-1.created_at:$x"
    assert check_pattern("orders.*.>") == "orders.*.>"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_patterns, st.integers(0, 5)), max_size=12), st.lists(st.integers(0, 11), max_size=6),
       _topics)
def test_the_index_matches_exactly_the_patterns_that_match(
        filed: list[tuple[str, int]], removed: list[int], topic: str) -> None:
    index = Patterns()
    for pattern, value in filed:
        index.add(pattern, value)
    for i in removed:
        if i < len(filed):
            index.remove(*filed[i])
    # A (pattern, value) pair is filed once however often it is added, and gone once removed.
    kept = set(filed) - {filed[i] for i in removed if i < len(filed)}
    assert sorted(index.match(topic)) == sorted({v for p, v in kept if matches(p, topic)})
    assert len(index) == len(kept)
