"""Certificates and chains: what `Chain.verify` accepts and what it refuses."""

from dataclasses import replace

import pytest
from identity_fixtures import DAY, NOW, ChainBuilder
from micro.identity import (
    MAX_CHAIN_DEPTH,
    BadSignature,
    Certificate,
    Chain,
    Expired,
    IdentityError,
    InvalidChain,
    KeyKind,
    Malformed,
    SigningKey,
)


@pytest.mark.parametrize("depth", range(1, MAX_CHAIN_DEPTH + 1))
def test_chain_of_depth_1_to_4_verifies_and_returns_the_leaf(
    root: SigningKey, build_chain: ChainBuilder, depth: int
) -> None:
    chain, keys = build_chain(depth)
    leaf = chain.verify(root.public, NOW + 60)
    assert leaf.subject == keys[-1].public
    assert leaf == chain.leaf


def test_certificate_encoding_round_trips(root: SigningKey) -> None:
    node = SigningKey.generate(KeyKind.NODE)
    cert = Certificate.issue(root, node.public, root.public, ["issuer", "gateway"], NOW, DAY)
    assert cert.expires_at == NOW + DAY
    assert Certificate.decode(cert.encode()) == cert


def test_chain_encoding_round_trips(build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(4)
    assert Chain.decode(chain.encode()) == chain
    assert Chain.decode(Chain().encode()) == Chain()


def test_chain_signed_by_another_root_is_refused(build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(2)
    other_root = SigningKey.generate(KeyKind.MESH)
    with pytest.raises(InvalidChain, match="belongs to mesh"):
        chain.verify(other_root.public, NOW)


def test_first_certificate_must_be_signed_by_the_root(root: SigningKey) -> None:
    impostor = SigningKey.generate(KeyKind.MESH)
    node = SigningKey.generate(KeyKind.NODE)
    cert = Certificate.issue(impostor, node.public, root.public, [], NOW, DAY)
    with pytest.raises(InvalidChain, match="not the mesh root"):
        Chain((cert,)).verify(root.public, NOW)


def test_broken_link_is_refused(root: SigningKey, build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(2)
    stranger = SigningKey.generate(KeyKind.ACCOUNT)
    node = SigningKey.generate(KeyKind.NODE)
    unlinked = Certificate.issue(stranger, node.public, root.public, [], NOW, DAY)
    with pytest.raises(InvalidChain, match="not the subject of the certificate before it"):
        Chain((chain.certs[0], unlinked)).verify(root.public, NOW)


def test_issuer_without_the_issuer_role_cannot_extend_the_chain(root: SigningKey) -> None:
    admin = SigningKey.generate(KeyKind.ACCOUNT)
    node = SigningKey.generate(KeyKind.NODE)
    chain = Chain((Certificate.issue(root, admin.public, root.public, ["gateway"], NOW, DAY),))
    chain = chain.extend(Certificate.issue(admin, node.public, root.public, [], NOW, DAY))
    with pytest.raises(InvalidChain, match="lacks role 'issuer'"):
        chain.verify(root.public, NOW)


def test_certificate_naming_another_mesh_is_refused_even_if_root_signed(root: SigningKey) -> None:
    node = SigningKey.generate(KeyKind.NODE)
    other_mesh = SigningKey.generate(KeyKind.MESH).public
    chain = Chain((Certificate.issue(root, node.public, other_mesh, [], NOW, DAY),))
    with pytest.raises(InvalidChain, match="belongs to mesh"):
        chain.verify(root.public, NOW)


def test_expired_certificate_is_refused_with_its_expiry_time(build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(2)
    with pytest.raises(Expired, match=r"expired at 2027-01-16T08:00:00Z"):
        chain.verify(chain.certs[0].mesh, NOW + 2 * DAY)


def test_clock_skew_of_300_seconds_is_tolerated_on_both_ends(root: SigningKey, build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(1)
    chain.verify(root.public, NOW + DAY + 300)
    chain.verify(root.public, NOW - 300)
    with pytest.raises(Expired):
        chain.verify(root.public, NOW + DAY + 301)
    with pytest.raises(Expired, match="not valid until"):
        chain.verify(root.public, NOW - 301)


def test_chain_of_depth_5_is_refused_by_verify_and_by_decode(root: SigningKey) -> None:
    certs, issuer = [], root
    for _ in range(MAX_CHAIN_DEPTH + 1):
        subject = SigningKey.generate(KeyKind.ACCOUNT)
        certs.append(Certificate.issue(issuer, subject.public, root.public, ["issuer"], NOW, DAY))
        issuer = subject
    too_deep = Chain(tuple(certs))
    with pytest.raises(InvalidChain, match="limit is 4"):
        too_deep.verify(root.public, NOW)
    with pytest.raises(Malformed, match="limit is 4"):
        Chain.decode(too_deep.encode())
    with pytest.raises(InvalidChain):
        Chain(tuple(certs[:4])).extend(certs[4])


def test_extend_refuses_a_certificate_not_issued_by_the_leaf(root: SigningKey, build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(1)
    other = Certificate.issue(root, SigningKey.generate(KeyKind.NODE).public, root.public, [], NOW, DAY)
    with pytest.raises(InvalidChain, match="cannot follow"):
        chain.extend(other)


def test_replaced_signature_is_refused(root: SigningKey, build_chain: ChainBuilder) -> None:
    chain, _ = build_chain(2)
    forged = replace(chain.certs[1], roles=("issuer",))  # keeps the signature over the old roles
    with pytest.raises(BadSignature, match=r"certificate 2 of 2 .* does not verify \(altered or corrupt\)"):
        Chain((chain.certs[0], forged)).verify(root.public, NOW)


def test_every_single_altered_byte_of_an_encoded_chain_is_refused(
    root: SigningKey, build_chain: ChainBuilder
) -> None:
    encoded = build_chain(2)[0].encode()
    for i in range(len(encoded)):
        altered = encoded[:i] + bytes([encoded[i] ^ 0x01]) + encoded[i + 1 :]
        with pytest.raises(IdentityError):
            Chain.decode(altered).verify(root.public, NOW)


def test_empty_chain_certifies_no_key_but_lets_the_root_issue(root: SigningKey) -> None:
    with pytest.raises(InvalidChain):
        Chain().verify(root.public, NOW)
    with pytest.raises(InvalidChain):
        _ = Chain().leaf
    assert Chain().verify_issuer(root.public, NOW) == root.public


def test_verify_issuer_needs_the_issuer_role_on_the_leaf(root: SigningKey, build_chain: ChainBuilder) -> None:
    node_chain, _ = build_chain(2)
    with pytest.raises(InvalidChain, match="cannot issue"):
        node_chain.verify_issuer(root.public, NOW)
    admin_chain = Chain(node_chain.certs[:1])
    assert admin_chain.verify_issuer(root.public, NOW) == admin_chain.leaf.subject


@pytest.mark.parametrize(
    "roles, ttl", [(["issuer"], 0), (["issuer"], -5), ([""], DAY), (["x" * 33], DAY), (["r"] * 9, DAY)]
)
def test_issue_refuses_bad_roles_and_periods(root: SigningKey, roles: list[str], ttl: int) -> None:
    with pytest.raises(Malformed):
        Certificate.issue(root, SigningKey.generate(KeyKind.NODE).public, root.public, roles, NOW, ttl)
