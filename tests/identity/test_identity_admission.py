"""Admission: who a member certifies when presented an invite, with which roles, for how long."""

from dataclasses import replace

import pytest
from identity_fixtures import DAY, NOW, REDEEMER
from micro.identity import (
    BadSignature,
    Certificate,
    Chain,
    Expired,
    InvalidChain,
    Invite,
    KeyKind,
    SigningKey,
)
from micro.identity.admission import Admission, ChainTooDeep, WrongMesh, admit
from micro.identity.claims import MAX_CHAIN_DEPTH

CERT_TTL = 365 * DAY
ROOT = SigningKey.generate(KeyKind.MESH)
OTHER_ROOT = SigningKey.generate(KeyKind.MESH)


def _member_chain(depth: int, roles: tuple[str, ...] = ("node", "issuer"), ttl: int = 30 * DAY
                  ) -> tuple[Chain, SigningKey]:
    """root -> ... -> a member `depth` certificates down, each able to issue; the member's key last."""
    issuer, certs = ROOT, []
    for level in range(depth):
        subject = SigningKey.generate(KeyKind.NODE)
        certs.append(Certificate.issue(issuer, subject.public, ROOT.public,
                                       roles if level == depth - 1 else ("node", "issuer"), NOW, ttl))
        issuer = subject
    return Chain(tuple(certs)), issuer


def _invite(issuer: SigningKey = ROOT, chain: Chain | None = None, mesh: SigningKey = ROOT, ttl: int = 600,
            roles: tuple[str, ...] = ()) -> Invite:
    return Invite.issue(issuer, chain or Chain(), mesh.public, NOW, ttl, roles, redeemer=REDEEMER)


ROOT_ADMITS = [
    # (what, invite, admitted)
    ("the root's invite: default role, a full-length certificate", _invite(), Admission(("node",), CERT_TTL)),
    ("roles the invite names", _invite(roles=("node", "issuer")), Admission(("node", "issuer"), CERT_TTL)),
]


@pytest.mark.parametrize(("what", "invite", "admitted"), ROOT_ADMITS, ids=[c[0] for c in ROOT_ADMITS])
def test_the_root_admits_a_valid_invite(what: str, invite: Invite, admitted: Admission) -> None:
    assert admit(invite, ROOT.public, NOW + 60, Chain(), True, CERT_TTL) == admitted


def test_a_member_certifies_no_longer_than_its_own_chain_lasts() -> None:
    chain, member = _member_chain(1, ttl=10 * DAY)
    invite = _invite(member, chain)
    granted = admit(invite, ROOT.public, NOW + 60, chain, False, CERT_TTL)
    assert granted.ttl == 10 * DAY - 60


def test_the_issuer_role_is_dropped_where_the_new_certificate_could_not_issue() -> None:
    chain, member = _member_chain(MAX_CHAIN_DEPTH - 1)
    invite = _invite(member, chain, roles=("node", "issuer"))
    granted = admit(invite, ROOT.public, NOW + 60, chain, False, CERT_TTL)
    assert granted.roles == ("node",)


REFUSALS = [
    # (what, invite, now, base chain, by root, error, message fragment)
    ("an invite of another mesh", _invite(OTHER_ROOT, mesh=OTHER_ROOT), NOW, Chain(), True, WrongMesh,
     "another mesh"),
    ("an expired invite", _invite(ttl=60), NOW + 3600, Chain(), True, Expired, "expired"),
    ("an altered invite", replace(_invite(), roles=("node", "issuer")), NOW, Chain(), True, BadSignature,
     "does not verify"),
    ("a member at the maximum chain depth", _invite(), NOW, _member_chain(MAX_CHAIN_DEPTH)[0], False,
     ChainTooDeep, "maximum chain depth"),
    ("a member without the issuer role", _invite(), NOW, _member_chain(1, roles=("node",))[0], False,
     InvalidChain, "cannot issue"),
]


@pytest.mark.parametrize(("what", "invite", "now", "base", "by_root", "error", "fragment"), REFUSALS,
                         ids=[c[0] for c in REFUSALS])
def test_admission_refuses(what: str, invite: Invite, now: int, base: Chain, by_root: bool,
                           error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        admit(invite, ROOT.public, now, base, by_root, CERT_TTL)


def test_a_chain_too_deep_to_certify_is_a_failed_precondition_not_a_denial() -> None:
    assert ChainTooDeep.code == "FAILED_PRECONDITION"
    assert WrongMesh.code == "PERMISSION_DENIED"
