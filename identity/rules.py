"""Access rules, as Micro v3 has them: which account may do what to which resource.

A resource is `type:name:endpoint` (`service:blog:Posts.Save`, `topic:orders.eu`, `kv:app:users`,
`config:blog.db`, `node:N…:invite`); types are those of `RESOURCE_TYPES`. A rule names a resource pattern,
a scope, an access and a priority. A pattern segment is exact, `*` (anything), or ends in `*` (anything
that starts with what comes before it); a pattern with fewer segments than a resource covers everything
under it (`service:blog` is `service:blog:*`). The scope is `""` for the public (no account needed), `*`
for any account, or a named scope the account must hold.

`decide` takes the rules that apply to the resource and the caller, and the highest priority among them
decides; at equal priority a deny wins over a grant (a mistake then fails closed). No rule: denied.
Pure values and a function: every node checks the same records the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import Malformed

__all__ = ["ANY_ACCOUNT", "MAX_PRIORITY", "PUBLIC", "RECOVERY_PRIORITY", "RESOURCE_TYPES", "Access", "Decision", "Rule", "decide", "matches"]

PUBLIC = ""
"""The scope of a rule that applies to everyone, with or without an account."""
ANY_ACCOUNT = "*"
"""The scope of a rule that applies to every account."""
RESOURCE_TYPES = ("service", "topic", "stream", "kv", "config", "node")
_MAX_PATTERN = 1024
_NAME_ONLY = frozenset({"topic", "stream", "config"})
MAX_PRIORITY = (1 << 31) - 1
"""The highest priority a rule may have, but for a grant at `RECOVERY_PRIORITY`."""
RECOVERY_PRIORITY = 1 << 31
"""Above every deny (none can have it): the priority of the rule `micro auth recover` signs."""


class Access(enum.Enum):
    GRANT = "grant"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Rule:
    """`access` to the resources `resource` matches, for callers holding `scope`, at `priority`."""

    id: str
    resource: str
    scope: str
    access: Access
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > 256 or not self.id.isprintable():
            raise Malformed("a rule id is 1-256 printable characters")
        segments = _split(self.resource)
        if not self.resource or len(self.resource) > _MAX_PATTERN or "" in segments or (
                segments[0] not in _NAME_ONLY and len(self.resource.split(":")) > 3):
            raise Malformed(f"rule resource {self.resource!r} is not type[:name[:endpoint]]")
        if segments[0] != "*" and segments[0] not in RESOURCE_TYPES:
            raise Malformed(f"rule resource type {segments[0]!r} is not one of {', '.join(RESOURCE_TYPES)} or *")
        if any("*" in segment[:-1] for segment in segments):
            raise Malformed(f"rule resource {self.resource!r}: '*' may only end a segment")
        if self.scope != self.scope.strip() or not self.scope.isprintable() or len(self.scope) > 256:
            raise Malformed(f"rule scope {self.scope!r} is not a scope name, '*' or '' (public)")
        if not isinstance(self.access, Access):
            raise Malformed("rule access is grant or deny")
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            raise Malformed("rule priority is an integer")
        if abs(self.priority) > MAX_PRIORITY and not (self.priority == RECOVERY_PRIORITY and self.access is Access.GRANT):
            raise Malformed(f"rule priority is between {-MAX_PRIORITY} and {MAX_PRIORITY}")

    def applies(self, resource: str, scopes: frozenset[str] | None) -> bool:
        """Whether the rule speaks to a caller holding `scopes` (None: no account) about `resource`."""
        if self.scope == PUBLIC:
            held = True
        elif scopes is None:
            held = False
        else:
            held = self.scope == ANY_ACCOUNT or self.scope in scopes
        return held and matches(self.resource, resource)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the caller may, and the rule that said so (None when no rule applied)."""

    allowed: bool
    rule: Rule | None


def _split(text: str) -> list[str]:
    """`text`'s segments: a topic, stream or config path is one name whatever it holds (a topic may hold
    ':'), so `topic:chat` never covers topic `chat:admin` as if it were a name and an endpoint."""
    kind = text.split(":", 1)[0]
    return text.split(":", 1 if kind in _NAME_ONLY else 2)


def matches(pattern: str, resource: str) -> bool:
    """Whether the rule pattern `pattern` covers `resource` (both `type:name:endpoint`)."""
    wanted = _split(resource)
    for index, segment in enumerate(_split(pattern)):
        if segment == "*":
            continue
        if index >= len(wanted):
            return False
        if segment.endswith("*"):
            if not wanted[index].startswith(segment[:-1]):
                return False
        elif wanted[index] != segment:
            return False
    return True


def decide(rules: Iterable[Rule], resource: str, scopes: frozenset[str] | None) -> Decision:
    """The decision for a caller holding `scopes` (None: no account) on `resource` under `rules`."""
    best: Rule | None = None
    for rule in rules:
        if not rule.applies(resource, scopes):
            continue
        if best is None or rule.priority > best.priority or (
            rule.priority == best.priority and rule.access is Access.DENY and best.access is Access.GRANT
        ):
            best = rule
    return Decision(best is not None and best.access is Access.GRANT, best)
