"""Fixtures for the identity tests: a mesh root key and a builder of certificate chains under it."""

import pytest
from identity_fixtures import DAY, NOW, ChainBuilder
from micro.identity import Certificate, Chain, KeyKind, SigningKey


@pytest.fixture
def root() -> SigningKey:
    return SigningKey.generate(KeyKind.MESH)


@pytest.fixture
def build_chain(root: SigningKey) -> ChainBuilder:
    """`build_chain(depth)`: root -> admin -> ... -> node, every intermediate holding role "issuer".

    Returns the chain and the subjects' signing keys, leaf last. The leaf is a node key without roles.
    """

    def build(depth: int) -> tuple[Chain, list[SigningKey]]:
        keys = [SigningKey.generate(KeyKind.ACCOUNT) for _ in range(depth - 1)]
        keys.append(SigningKey.generate(KeyKind.NODE))
        certs = []
        issuer = root
        for i, subject in enumerate(keys):
            roles = ["issuer"] if i < depth - 1 else []
            certs.append(Certificate.issue(issuer, subject.public, root.public, roles, NOW, DAY))
            issuer = subject
        return Chain(tuple(certs)), keys

    return build
