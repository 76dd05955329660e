"""Fuzzing the auth record and access token decoders, and `accept`: a value or an `IdentityError`, nothing else.

Whatever decodes re-encodes to the very same bytes, and a changed encoding never verifies (nor is
accepted) as anything but one of the valid encodings it was made from; a challenge answer is taken only
when it is the account's signature of the node's nonce. 12,000 cases in all.
"""

from typing import Any

import cbor2
from auth_fixtures import (
    BY_ADMIN,
    BY_ROOT,
    BY_SUB_ADMIN,
    MESH,
    NODE,
    OTHER_NODE,
    ROOT,
    RULE,
    USER_KEY,
    account,
    key,
    node_chain,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from identity_fixtures import DAY, NOW
from identity_strategies import b64, canonical, changed_text, decodes_canonically, inputs, reshaped
from micro.identity import IdentityError, KeyKind
from micro.identity.authstate import accept
from micro.identity.keys import PublicKey
from micro.identity.records import (
    ACCOUNTS,
    REVOCATIONS,
    RULES,
    SEALS,
    Record,
    Removal,
    Revocation,
    Revocations,
    Seal,
)
from micro.identity.tokens import NONCE_SIZE, AccessToken, Challenges, answer_challenge, check_challenge


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None)


RECORDS = (
    BY_SUB_ADMIN.sign(account(USER_KEY, ["admin", "editor"], expires_at=NOW + DAY)),
    BY_ADMIN.sign(RULE),
    BY_ROOT.sign(Revocation(OTHER_NODE.public, NOW)),
    BY_ADMIN.sign(Removal(RULES, RULE.id)),
    BY_ROOT.sign(Seal(NODE.public, OTHER_NODE.public, b"\x07" * 80)),
)
ENCODINGS = {record.encode(): record for record in RECORDS}
REVOKED = Revocations({key(KeyKind.ACCOUNT, 40).public: NOW})
"""A revocation that kills none of `RECORDS`, so `verify` runs its revocation checks on every link."""
CHAIN = node_chain(NODE, issuer=key(KeyKind.ACCOUNT, 32))
TOKEN = AccessToken.issue(NODE, CHAIN, MESH, account(USER_KEY, ["editor", "secrets"]), NOW, 600)


@fuzz(3000)
@given(inputs(*ENCODINGS))
def test_record_decode_and_verify_raise_only_identity_errors(data: bytes) -> None:
    record = decodes_canonically(Record.decode, "encode", data)
    if record is None:
        return
    try:
        record.verify(MESH, NOW, REVOKED)
    except IdentityError:
        return
    assert ENCODINGS.get(data) == record


@st.composite
def reshaped_records(draw: st.DrawFn) -> bytes:
    """A record of the right shape with arbitrary fields, signed by its issuer, with its own chain."""
    record = draw(st.sampled_from(RECORDS))
    claims = canonical(draw(reshaped(cbor2.loads(record.signed_bytes()))))
    signer = ROOT if not record.chain else {BY_ADMIN.key.public: BY_ADMIN.key,
                                            BY_SUB_ADMIN.key.public: BY_SUB_ADMIN.key}[record.issuer]
    return canonical([claims, signer.sign(claims), [[link.signed_bytes(), link.signature] for link in record.chain]])


@fuzz(1500)
@given(reshaped_records())
def test_records_with_arbitrary_fields_decode_canonically_or_are_refused(data: bytes) -> None:
    record = decodes_canonically(Record.decode, "encode", data)
    if record is not None:
        try:
            record.verify(MESH, NOW, REVOKED)
        except IdentityError:
            pass


SLOTS = [(record.table, record.key) for record in RECORDS]


@fuzz(1500)
@given(inputs(*ENCODINGS),
       st.sampled_from(SLOTS) | st.tuples(st.sampled_from([ACCOUNTS, RULES, REVOCATIONS, SEALS]), st.text(max_size=60)),
       st.none() | st.sampled_from(list(ENCODINGS)) | st.binary(max_size=40))
def test_accept_raises_only_identity_errors_and_takes_no_changed_record(data: bytes, slot: tuple[str, str],
                                                                        held: bytes | None) -> None:
    try:
        record = accept(data, *slot, MESH, NOW, held)
    except IdentityError:
        return
    assert ENCODINGS.get(data) == record
    assert (record.table, record.key) == slot


def _check_token(token: AccessToken) -> None:
    token.verify_signed(MESH, NOW)
    token.check_live(NOW, REVOKED)


@fuzz(2000)
@given(inputs(TOKEN.encode()))
def test_token_decode_and_verify_raise_only_identity_errors(data: bytes) -> None:
    token = decodes_canonically(AccessToken.decode, "encode", data)
    if token is None:
        return
    try:
        _check_token(token)
    except IdentityError:
        return
    assert token == TOKEN


@st.composite
def reshaped_tokens(draw: st.DrawFn) -> bytes:
    """A token of the right shape with arbitrary fields, signed by the node its chain certifies."""
    claims = canonical(draw(reshaped(cbor2.loads(TOKEN.signed_bytes()))))
    return canonical([canonical([claims, NODE.sign(claims)]), CHAIN.encode()])


@fuzz(500)
@given(reshaped_tokens())
def test_tokens_with_arbitrary_fields_decode_canonically_or_are_refused(data: bytes) -> None:
    token = decodes_canonically(AccessToken.decode, "encode", data)
    if token is not None:
        try:
            _check_token(token)
        except IdentityError:
            pass


def _from_text(text: str) -> Any:
    token = AccessToken.from_text(text)
    assert token.to_text() == text.strip()
    return token


@fuzz(1500)
@given(st.text(max_size=2000) | inputs(TOKEN.encode()).map(b64) | changed_text(TOKEN.to_text()))
def test_token_from_text_and_verify_raise_only_identity_errors(text: str) -> None:
    try:
        _check_token(_from_text(text))
    except IdentityError:
        return
    assert text.strip() == TOKEN.to_text()


# ---- challenge answers: what a node reads from an AuthToken request ------------------------------------

_NONCE = b"\x05" * NONCE_SIZE
_ANSWER = answer_challenge(USER_KEY, MESH, NODE.public, _NONCE)


def _answer_checks(account_id: str, nonce: bytes, signature: bytes) -> bool:
    """What the node does with an answer, on a book holding `_NONCE`: True if it is taken."""
    book = Challenges()
    book.issue(_NONCE, NOW)
    try:
        account_key = PublicKey.from_id(account_id)
        book.redeem(nonce, NOW)
        check_challenge(account_key, MESH, NODE.public, nonce, signature)
    except IdentityError:
        return False
    return True


@fuzz(2000)
@given(st.one_of(st.text(max_size=60), st.just(USER_KEY.public.id)), st.one_of(st.binary(max_size=40), st.just(_NONCE)),
       st.one_of(st.binary(max_size=80), st.just(_ANSWER)))
def test_a_challenge_answer_is_taken_only_when_it_is_the_accounts_signature_of_the_nonce(
        account_id: str, nonce: bytes, signature: bytes) -> None:
    genuine = (account_id, nonce, signature) == (USER_KEY.public.id, _NONCE, _ANSWER)
    assert _answer_checks(account_id, nonce, signature) is genuine
