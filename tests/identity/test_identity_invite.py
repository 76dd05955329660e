"""Invite tokens: issued by the root or a certified issuer, printed as text, refused when altered or stale."""

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from identity_fixtures import DAY, NOW, REDEEMER, ChainBuilder
from micro.identity import (
    INVITE_SKEW,
    BadSignature,
    Chain,
    Expired,
    IdentityError,
    InvalidChain,
    Invite,
    KeyKind,
    Malformed,
    SigningKey,
)

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_invite_signed_by_the_root_verifies(root: SigningKey) -> None:
    invite = Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    invite.verify(root.public, NOW + 60)
    assert invite.issuer == root.public
    assert len(invite.nonce) == 16


def test_invite_signed_by_a_certified_issuer_verifies(root: SigningKey, build_chain: ChainBuilder) -> None:
    node_chain, keys = build_chain(3)
    admin_chain = Chain(node_chain.certs[:2])
    invite = Invite.issue(keys[1], admin_chain, root.public, NOW, 600, redeemer=REDEEMER)
    Invite.from_token(invite.to_token()).verify(root.public, NOW + 60)


def test_token_is_url_safe_text_that_round_trips(root: SigningKey, build_chain: ChainBuilder) -> None:
    node_chain, keys = build_chain(2)
    invite = Invite.issue(keys[0], Chain(node_chain.certs[:1]), root.public, NOW, 600, ["gateway"],
                          redeemer=REDEEMER)
    token = invite.to_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert Invite.from_token(token) == invite
    assert Invite.from_token(f"  {token}\n") == invite
    assert Invite.from_token(token).roles == ("gateway",)


def test_each_invite_has_a_fresh_nonce(root: SigningKey) -> None:
    first = Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    second = Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    assert first.nonce != second.nonce


def test_expired_invite_names_its_expiry_time(root: SigningKey) -> None:
    expiry = int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp())
    invite = Invite.issue(root, Chain(), root.public, expiry - 600, 600, redeemer=REDEEMER)
    with pytest.raises(Expired, match=r"^invite token expired at 2026-11-20T10:00:00Z$"):
        invite.verify(root.public, expiry + 3600)


def test_altered_invite_reports_a_bad_signature(root: SigningKey) -> None:
    invite = Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    stretched = replace(invite, expires_at=NOW + DAY)
    with pytest.raises(BadSignature, match=r"^invite token signature does not verify \(altered or corrupt\)$"):
        Invite.from_token(stretched.to_token()).verify(root.public, NOW)


def test_every_changed_token_character_is_refused_with_a_one_line_error(
    root: SigningKey, build_chain: ChainBuilder
) -> None:
    node_chain, keys = build_chain(2)
    invite = Invite.issue(keys[0], Chain(node_chain.certs[:1]), root.public, NOW, 600, redeemer=REDEEMER)
    token = invite.to_token()
    for i, char in enumerate(token):
        changed = token[:i] + _ALPHABET[(_ALPHABET.index(char) + 1) % 64] + token[i + 1 :]
        with pytest.raises(IdentityError) as caught:
            Invite.from_token(changed).verify(root.public, NOW)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "   ", "hello world", "A", "AAAAA", "!!!!", "====", "eyJhbGciOiJIUzI1NiJ9", "A" * 100_000]
)
def test_garbage_token_is_malformed(text: str) -> None:
    with pytest.raises(Malformed):
        Invite.from_token(text)


def test_invite_for_another_mesh_is_refused(root: SigningKey) -> None:
    other = SigningKey.generate(KeyKind.MESH)
    invite = Invite.issue(other, Chain(), other.public, NOW, 600, redeemer=REDEEMER)
    with pytest.raises(InvalidChain, match="not this mesh"):
        invite.verify(root.public, NOW)


def test_invite_from_a_key_without_the_issuer_role_is_refused(root: SigningKey, build_chain: ChainBuilder) -> None:
    node_chain, keys = build_chain(2)
    invite = Invite.issue(keys[-1], node_chain, root.public, NOW, 600, redeemer=REDEEMER)
    with pytest.raises(InvalidChain, match="cannot issue"):
        invite.verify(root.public, NOW)


def test_invite_whose_chain_certifies_someone_else_is_refused(root: SigningKey, build_chain: ChainBuilder) -> None:
    admin_chain = Chain(build_chain(2)[0].certs[:1])
    outsider = SigningKey.generate(KeyKind.ACCOUNT)
    invite = Invite.issue(outsider, admin_chain, root.public, NOW, 600, redeemer=REDEEMER)
    with pytest.raises(InvalidChain, match="not certified by its chain"):
        invite.verify(root.public, NOW)


def test_invite_signed_by_a_non_root_key_with_an_empty_chain_is_refused(root: SigningKey) -> None:
    outsider = SigningKey.generate(KeyKind.ACCOUNT)
    invite = Invite.issue(outsider, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    with pytest.raises(InvalidChain):
        invite.verify(root.public, NOW)


def test_invite_with_an_expired_issuer_chain_is_refused(root: SigningKey, build_chain: ChainBuilder) -> None:
    node_chain, keys = build_chain(2)
    later = NOW + 2 * DAY  # the admin's certificate expired at NOW + DAY
    invite = Invite.issue(keys[0], Chain(node_chain.certs[:1]), root.public, later, 600, redeemer=REDEEMER)
    with pytest.raises(Expired, match="certificate 1 of 1"):
        invite.verify(root.public, later)


INVITE_VALIDITY = [
    # (what, seconds from issue, valid) for an invite made with a TTL of one second
    ("at its expiry", 1, True),
    ("INVITE_SKEW (30 s) past its expiry", 1 + 30, True),
    ("31 s past its expiry", 1 + 31, False),
    ("an hour past its expiry", 3601, False),
    ("30 s before it was issued", -30, True),
    ("31 s before it was issued", -31, False),
]


@pytest.mark.parametrize(("what", "offset", "valid"), INVITE_VALIDITY, ids=[row[0] for row in INVITE_VALIDITY])
def test_an_invite_allows_30_seconds_of_clock_skew_and_no_more(root: SigningKey, what: str, offset: int,
                                                                valid: bool) -> None:
    assert INVITE_SKEW == 30
    invite = Invite.issue(root, Chain(), root.public, NOW, 1, redeemer=REDEEMER)
    if valid:
        invite.verify(root.public, NOW + offset)
    else:
        with pytest.raises(Expired):
            invite.verify(root.public, NOW + offset)


def test_an_invite_names_the_node_that_redeems_it(root: SigningKey) -> None:
    invite = Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=REDEEMER)
    assert Invite.from_token(invite.to_token()).redeemer == REDEEMER


def test_an_invite_is_redeemed_at_a_node_not_at_another_kind_of_key(root: SigningKey) -> None:
    with pytest.raises(Malformed, match="redeemed at a node"):
        Invite.issue(root, Chain(), root.public, NOW, 600, redeemer=root.public)
