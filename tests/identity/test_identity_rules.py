"""Access rules: which rule speaks to a caller about a resource, and which decides."""

import pytest
from micro.identity.errors import Malformed
from micro.identity.rules import (
    ANY_ACCOUNT,
    MAX_PRIORITY,
    PUBLIC,
    RECOVERY_PRIORITY,
    Access,
    Rule,
    decide,
    matches,
)

GRANT, DENY = Access.GRANT, Access.DENY

MATCHES = [
    # (pattern, resource, matches)
    ("*", "service:blog:Posts.Save", True),
    ("service", "service:blog:Posts.Save", True),
    ("service:blog", "service:blog:Posts.Save", True),
    ("service:blog:*", "service:blog:Posts.Save", True),
    ("service:blog:Posts.*", "service:blog:Posts.Save", True),
    ("service:blog:Posts.Save", "service:blog:Posts.Save", True),
    ("service:*:Posts.Save", "service:blog:Posts.Save", True),
    ("service:blog:Posts.Delete", "service:blog:Posts.Save", False),
    ("service:blog", "service:blogger:Posts.Save", False),
    ("service:blog*", "service:blogger:Posts.Save", True),
    ("topic", "service:blog:Posts.Save", False),
    ("topic:orders.*", "topic:orders.eu", True),
    ("topic:orders.*", "topic:ordersx", False),
    ("topic:chat", "topic:chat:admin", False),  # a topic may hold ':': it is one name, not name and endpoint
    ("topic:chat:admin", "topic:chat:admin", True),
    ("topic:chat*", "topic:chat:admin", True),
    ("stream:chat", "stream:chat:admin", False),
    ("kv:app:users", "kv:app:users", True),
    ("kv:app:users", "kv:app", False),
    ("config:blog.db", "config:blog.db.password", False),
    ("config:blog.db*", "config:blog.db.password", True),
]


@pytest.mark.parametrize(("pattern", "resource", "expected"), MATCHES)
def test_a_pattern_covers_exact_segments_stars_and_prefixes(pattern: str, resource: str, expected: bool) -> None:
    assert matches(pattern, resource) is expected


ADMIN = Rule("admin", "*", "admin", GRANT)
ACCOUNTS_CALL = Rule("call", "service", ANY_ACCOUNT, GRANT)
PUBLIC_INDEX = Rule("index", "service:blog:Posts.Query", PUBLIC, GRANT)
NO_DELETES = Rule("no-deletes", "service:blog:Posts.Delete", ANY_ACCOUNT, DENY, priority=10)
EDITORS = Rule("editors", "service:blog:Posts.Delete", "editor", GRANT, priority=20)
TIE_GRANT = Rule("tie-grant", "topic", ANY_ACCOUNT, GRANT, priority=5)
TIE_DENY = Rule("tie-deny", "topic:secret*", ANY_ACCOUNT, DENY, priority=5)
RULES = [ADMIN, ACCOUNTS_CALL, PUBLIC_INDEX, NO_DELETES, EDITORS, TIE_GRANT, TIE_DENY]

DECISIONS = [
    # (what, resource, scopes (None: no account), allowed, deciding rule)
    ("the public is denied what no public rule grants", "service:blog:Posts.Save", None, False, None),
    ("the public may what a public rule grants", "service:blog:Posts.Query", None, True, PUBLIC_INDEX),
    ("any account may call services", "service:blog:Posts.Save", frozenset(), True, ACCOUNTS_CALL),
    ("a higher-priority deny beats the grant", "service:blog:Posts.Delete", frozenset(), False, NO_DELETES),
    ("a still higher grant for a scope beats the deny", "service:blog:Posts.Delete", frozenset({"editor"}),
     True, EDITORS),
    ("a scope the caller lacks does not apply", "kv:app:users", frozenset({"editor"}), False, None),
    ("admin may do everything else", "kv:app:users", frozenset({"admin"}), True, ADMIN),
    ("at equal priority a deny wins", "topic:secrets", frozenset({"admin"}), False, TIE_DENY),
    ("the grant at that priority still holds elsewhere", "topic:orders.eu", frozenset(), True, TIE_GRANT),
]


@pytest.mark.parametrize(("what", "resource", "scopes", "allowed", "rule"), DECISIONS,
                         ids=[case[0] for case in DECISIONS])
def test_the_highest_priority_rule_that_applies_decides(what: str, resource: str, scopes: frozenset[str] | None,
                                                        allowed: bool, rule: Rule | None) -> None:
    decision = decide(RULES, resource, scopes)
    assert (decision.allowed, decision.rule) == (allowed, rule)


def test_no_rules_deny_everyone() -> None:
    assert not decide([], "service:blog:Posts.Query", frozenset({"admin"})).allowed


@pytest.mark.parametrize(("resource", "scope", "fragment"), [
    ("", "*", "type"),
    ("service::x", "*", "type"),
    ("a:b:c:d", "*", "type"),
    ("services:blog", "*", "one of"),
    ("service:b*g", "*", "may only end"),
    ("service", " admin", "scope"),
    ("service", "ad\nmin", "scope"),
])
def test_malformed_rules_are_refused_saying_what_is_wrong(resource: str, scope: str, fragment: str) -> None:
    with pytest.raises(Malformed, match=fragment):
        Rule("r", resource, scope, GRANT)


def test_no_deny_can_have_the_recovery_priority() -> None:
    with pytest.raises(Malformed, match="priority"):
        Rule("lock", "*", PUBLIC, DENY, RECOVERY_PRIORITY)
    with pytest.raises(Malformed, match="priority"):
        Rule("lock", "*", PUBLIC, DENY, MAX_PRIORITY + 1)


def test_the_recovery_grant_beats_a_deny_at_the_highest_priority() -> None:
    rules = [Rule("lock", "*", ANY_ACCOUNT, DENY, MAX_PRIORITY), Rule("lock-public", "*", PUBLIC, DENY, MAX_PRIORITY),
             Rule("recover", "*", "admin", GRANT, RECOVERY_PRIORITY)]
    assert decide(rules, "node:N:auth", frozenset({"admin"})).allowed
    assert not decide(rules, "node:N:auth", frozenset({"editor"})).allowed
