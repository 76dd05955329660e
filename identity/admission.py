"""Admission: whether a node presenting an invite becomes a member, and what certificate it gets.

A pure decision, taken by the member a joiner contacts (`micro node join`): the invite must be for this
mesh, signed on a chain to its root and within its validity; the issuer's chain must leave room for one
more certificate (`MAX_CHAIN_DEPTH`); the `issuer` role is granted only where the new certificate could
still issue; and the certificate never outlives the chain it extends (`cert_ttl` when the mesh root
signs, else up to the first expiry in the chain). Whether the invite is still unused is not this
member's to say: the invite's redeemer decides that (`redemption`), and the member certifies no one
before it agreed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .claims import ISSUER_ROLE, MAX_CHAIN_DEPTH, Chain, Invite
from .errors import InvalidChain
from .keys import PublicKey

__all__ = ["Admission", "ChainTooDeep", "WrongMesh", "admit"]

DEFAULT_ROLES = ("node",)


class WrongMesh(InvalidChain):
    """An invite (or a member) of another mesh."""


class ChainTooDeep(InvalidChain):
    """A member whose own chain is as long as chains may be: it cannot certify anyone."""

    code = "FAILED_PRECONDITION"


@dataclass(frozen=True, slots=True)
class Admission:
    """The certificate to issue: its roles and how long it lasts (seconds from now)."""

    roles: tuple[str, ...]
    ttl: int


def admit(invite: Invite, mesh: PublicKey, now: int, base: Chain, by_root: bool, cert_ttl: int) -> Admission:
    """Admit the node presenting `invite` into `mesh` at unix time `now`, certified by the mesh root
    (`by_root`, `base` empty) or by a member holding `base`. Raises an `IdentityError` saying why not."""
    if invite.mesh != mesh:
        raise WrongMesh(f"invite is for another mesh ({invite.mesh.id[:12]}…), not this node's mesh "
                        f"{mesh.id[:12]}…")
    invite.verify(mesh, now)
    if len(base) >= MAX_CHAIN_DEPTH:
        raise ChainTooDeep("this node's certificate is at the maximum chain depth and cannot admit members; "
                           "join through a node closer to the mesh root")
    if not by_root:
        base.verify_issuer(mesh, now)
    limit = now + cert_ttl if by_root else min(cert.expires_at for cert in base)
    can_issue = len(base) + 1 < MAX_CHAIN_DEPTH
    roles = tuple(r for r in (invite.roles or DEFAULT_ROLES) if r != ISSUER_ROLE or can_issue)
    return Admission(roles, max(1, min(cert_ttl, limit - now)))
