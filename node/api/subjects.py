"""Pubsub topics and subscription patterns, as in NATS.

A topic is one or more non-empty tokens joined by dots (`orders.eu.created`); tokens are letters, digits
and `_ - : $`. A subscription pattern is a topic in which a token may be `*` (exactly one token) and the
last token may be `>` (one or more tokens). `Patterns` indexes many patterns by token, so matching a topic
costs the topic's length times the branching of wildcards, not the number of subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable

from .errors import InvalidArgument

__all__ = ["MAX_GROUP", "MAX_TOPIC", "Patterns", "check_group", "check_pattern", "check_topic", "matches"]

MAX_TOPIC = 255
"""Characters in a topic or pattern at most."""
MAX_GROUP = 64
"""Characters in a queue group's or consumer group's name at most."""

_TOKEN = re.compile(r"[A-Za-z0-9_\-:$]+")
_REMEMBERED = 4096
"""Valid topics remembered, and topics whose matches each `Patterns` remembers; more start afresh."""
_VALID_TOPICS: set[str] = set()
_GROUP = re.compile(r"[A-Za-z0-9_\-:$]+(\.[A-Za-z0-9_\-:$]+)*\Z")


def _tokens(text: object, what: str) -> list[str]:
    if not isinstance(text, str) or not text:
        raise InvalidArgument(f"a {what} is a non-empty string of dot-separated tokens")
    if len(text) > MAX_TOPIC:
        raise InvalidArgument(f"{what} {text[:40]!r}... is longer than {MAX_TOPIC} characters")
    tokens = text.split(".")
    if "" in tokens:
        raise InvalidArgument(f"invalid {what} {text!r}: empty token")
    return tokens


def check_topic(topic: object) -> str:
    """`topic` if it is a valid topic to publish on (no wildcards), else InvalidArgument. Topics that
    passed are remembered (a publisher checks the same few topics over and over)."""
    if type(topic) is str and topic in _VALID_TOPICS:
        return topic
    for token in _tokens(topic, "topic"):
        if token in ("*", ">"):
            raise InvalidArgument(f"invalid topic {topic!r}: wildcards are for subscriptions, not publishing")
        if not _TOKEN.fullmatch(token):
            raise InvalidArgument(f"invalid topic {topic!r}: token {token!r} has characters other than "
                                  "letters, digits and _ - : $")
    assert isinstance(topic, str)
    if len(_VALID_TOPICS) >= _REMEMBERED:
        _VALID_TOPICS.clear()
    _VALID_TOPICS.add(topic)
    return topic


def check_pattern(pattern: object) -> str:
    """`pattern` if it is a valid subscription pattern, else InvalidArgument."""
    tokens = _tokens(pattern, "topic")
    for i, token in enumerate(tokens):
        if token == ">":
            if i != len(tokens) - 1:
                raise InvalidArgument(f"invalid topic {pattern!r}: '>' must be the last token")
        elif token != "*" and not _TOKEN.fullmatch(token):
            raise InvalidArgument(f"invalid topic {pattern!r}: token {token!r} has characters other than "
                                  "letters, digits and _ - : $ (or is not a whole-token wildcard)")
    assert isinstance(pattern, str)
    return pattern


def check_group(group: object, kind: str) -> str:
    """`group` if it is "" or a valid group name (tokens as in a topic), else InvalidArgument naming the
    `kind` of group ("queue group", "consumer group")."""
    if not isinstance(group, str) or len(group) > MAX_GROUP or (group and not _GROUP.match(group)):
        raise InvalidArgument(f"invalid {kind} {str(group)[:80]!r}: a group is at most {MAX_GROUP} "
                              "letters, digits, _ - : $ in dot-separated tokens")
    return group


def matches(pattern: str, topic: str) -> bool:
    """Whether the (valid) `pattern` matches the (valid) `topic`."""
    want, have = pattern.split("."), topic.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


class _Level:
    __slots__ = ("children", "here", "rest")

    def __init__(self) -> None:
        self.children: dict[str, _Level] = {}
        self.here: dict[Hashable, None] = {}
        """Values whose pattern ends at this level."""
        self.rest: dict[Hashable, None] = {}
        """Values whose pattern continues here with `>`."""


class Patterns:
    """Values filed under subscription patterns; `match(topic)` returns the values of every pattern that
    matches. A value may be filed under several patterns and is returned once."""

    def __init__(self) -> None:
        self._root = _Level()
        self._count = 0
        self._matches: dict[str, tuple[Hashable, ...]] = {}
        """`match` results by topic, until a pattern is added or removed."""

    def __len__(self) -> int:
        return self._count

    def add(self, pattern: str, value: Hashable) -> None:
        level = self._root
        tokens = pattern.split(".")
        for token in tokens[:-1]:
            level = level.children.setdefault(token, _Level())
        last = tokens[-1]
        if last == ">":
            target = level.rest
        else:
            target = level.children.setdefault(last, _Level()).here
        if value not in target:
            target[value] = None
            self._count += 1
            self._matches.clear()

    def remove(self, pattern: str, value: Hashable) -> None:
        """Unfile `value` from `pattern` (nothing if it was not there); empty branches are pruned."""
        path: list[tuple[_Level, str]] = []
        level = self._root
        tokens = pattern.split(".")
        for token in tokens[:-1]:
            child = level.children.get(token)
            if child is None:
                return
            path.append((level, token))
            level = child
        last = tokens[-1]
        if last == ">":
            target = level.rest
        else:
            child = level.children.get(last)
            if child is None:
                return
            path.append((level, last))
            target = child.here
        if value not in target:
            return
        del target[value]
        self._count -= 1
        self._matches.clear()
        for parent, token in reversed(path):
            child = parent.children[token]
            if child.children or child.here or child.rest:
                break
            del parent.children[token]

    def match(self, topic: str) -> tuple[Hashable, ...]:
        """The values of every pattern matching `topic`, each once (remembered until the patterns change)."""
        matched = self._matches.get(topic)
        if matched is None:
            found: dict[Hashable, None] = {}
            self._walk(self._root, topic.split("."), 0, found)
            if len(self._matches) >= _REMEMBERED:
                self._matches.clear()
            matched = self._matches[topic] = tuple(found)
        return matched

    def _walk(self, level: _Level, tokens: list[str], i: int, found: dict[Hashable, None]) -> None:
        if i < len(tokens):
            found.update(level.rest)
        if i == len(tokens):
            found.update(level.here)
            return
        for key in (tokens[i], "*"):
            child = level.children.get(key)
            if child is not None:
                self._walk(child, tokens, i + 1, found)

    def values(self) -> Iterable[Hashable]:
        """Every value filed (once per pattern it is under)."""
        stack = [self._root]
        while stack:
            level = stack.pop()
            yield from level.rest
            yield from level.here
            stack.extend(level.children.values())
