"""Fuzzing the decoders: on any input they return a value or raise an `IdentityError`, nothing else.

Inputs are raw bytes, well-formed CBOR of arbitrary shape, and valid encodings with a few bytes changed,
truncated or extended. Whatever decodes must re-encode to the very same bytes (one encoding per value),
and a changed encoding never verifies as anything but the original.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from identity_fixtures import NOW, REDEEMER
from identity_strategies import b64, changed_text, decodes_canonically, inputs
from micro.identity import (
    Certificate,
    Chain,
    IdentityError,
    Invite,
    KeyKind,
    Keyring,
    PublicKey,
    SigningKey,
)

FUZZ = settings(max_examples=1500, deadline=None)

# Fixed seeds keep failures reproducible from hypothesis' printed example alone.
ROOT = SigningKey.from_seed(KeyKind.MESH, bytes(32))
ADMIN = SigningKey.from_seed(KeyKind.ACCOUNT, b"\x01" * 32)
NODE = SigningKey.from_seed(KeyKind.NODE, b"\x02" * 32)
ADMIN_CERT = Certificate.issue(ROOT, ADMIN.public, ROOT.public, ["issuer"], NOW, 3600)
NODE_CERT = Certificate.issue(ADMIN, NODE.public, ROOT.public, [], NOW, 3600)
CHAIN = Chain((ADMIN_CERT, NODE_CERT))
INVITE = Invite.issue(ADMIN, Chain((ADMIN_CERT,)), ROOT.public, NOW, 600, redeemer=REDEEMER)
RING = Keyring(b"\x03" * 32, [b"\x04" * 32])

@FUZZ
@given(inputs(NODE_CERT.encode()))
def test_certificate_decode_raises_only_identity_errors(data: bytes) -> None:
    decodes_canonically(Certificate.decode, "encode", data)


@FUZZ
@given(inputs(CHAIN.encode()))
def test_chain_decode_and_verify_raise_only_identity_errors(data: bytes) -> None:
    chain = decodes_canonically(Chain.decode, "encode", data)
    if chain is None:
        return
    try:
        chain.verify(ROOT.public, NOW)
    except IdentityError:
        return
    assert chain == CHAIN or chain == Chain((ADMIN_CERT,))


@FUZZ
@given(inputs(INVITE.encode()))
def test_invite_decode_raises_only_identity_errors(data: bytes) -> None:
    decodes_canonically(Invite.decode, "encode", data)


@FUZZ
@given(st.text(max_size=2000) | inputs(INVITE.encode()).map(b64) | changed_text(INVITE.to_token()))
def test_invite_from_token_and_verify_raise_only_identity_errors(text: str) -> None:
    try:
        invite = Invite.from_token(text)
        assert invite.to_token() == text.strip()
        invite.verify(ROOT.public, NOW)
    except IdentityError:
        return
    assert invite == INVITE


@FUZZ
@given(inputs(RING.encrypt(b"alive")))
def test_keyring_decrypt_raises_only_identity_errors(data: bytes) -> None:
    try:
        plaintext = RING.decrypt(data)
    except IdentityError:
        return
    assert plaintext == b"alive"


@FUZZ
@given(inputs(RING.to_bytes()))
def test_keyring_from_bytes_raises_only_identity_errors(data: bytes) -> None:
    decodes_canonically(Keyring.from_bytes, "to_bytes", data)


@FUZZ
@given(st.text(max_size=80) | changed_text(ROOT.public.id) | changed_text(NODE.public.id))
def test_public_key_from_id_raises_only_identity_errors(text: str) -> None:
    decodes_canonically(PublicKey.from_id, "__str__", text)
