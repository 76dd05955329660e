"""Access tokens and the challenge that gets one: what a node issues, and what every node refuses."""

from dataclasses import replace

import cbor2
import pytest
from auth_fixtures import MESH, NODE, OTHER_NODE, OTHER_ROOT, ROOT, account, key, node_chain
from identity_fixtures import DAY, NOW
from micro.identity import (
    BadSignature,
    Chain,
    Expired,
    IdentityError,
    InvalidChain,
    KeyKind,
    Malformed,
    PublicKey,
    SigningKey,
)
from micro.identity.records import Revocation, Revocations
from micro.identity.tokens import (
    CHALLENGE_TTL,
    MAX_TOKEN_TTL,
    NONCE_SIZE,
    TOKEN_SKEW,
    AccessToken,
    Challenges,
    answer_challenge,
    check_challenge,
)

ISSUER = key(KeyKind.ACCOUNT, 32)
"""The account that certifies `NODE` in the two-certificate chain."""
ALICE, BOB = key(KeyKind.ACCOUNT, 33), key(KeyKind.ACCOUNT, 34)
ALICE_ACCOUNT = account(ALICE, ["editor"])
CHAIN = node_chain(NODE, issuer=ISSUER)
TTL = 600
TOKEN = AccessToken.issue(NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW, TTL)


def test_a_token_round_trips_as_bytes_and_as_text() -> None:
    assert AccessToken.decode(TOKEN.encode()) == TOKEN
    assert AccessToken.from_text(f" {TOKEN.to_text()}\n") == TOKEN
    assert (TOKEN.account, TOKEN.scopes, TOKEN.expires_at) == (ALICE.public, ("editor",), NOW + TTL)


def test_a_token_issued_by_a_node_certified_by_the_root_verifies() -> None:
    token = AccessToken.issue(NODE, node_chain(NODE), MESH, ALICE_ACCOUNT, NOW, TTL)
    token.verify_signed(MESH, NOW)
    token.check_live(NOW, Revocations())


def crafted(**changes: object) -> bytes:
    """The encoding of `TOKEN` with its claims changed and signed again by its node."""
    claims = cbor2.loads(TOKEN.signed_bytes())
    claims.update(changes)
    signed = cbor2.dumps(claims, canonical=True)
    return cbor2.dumps([cbor2.dumps([signed, NODE.sign(signed)], canonical=True), CHAIN.encode()], canonical=True)


CRAFTED = [
    # (what, encoding, message fragment)
    ("a node as the token's account", crafted(sub_kind="N"), "node's claim about an account"),
    ("an account as the token's issuer", crafted(iss_kind="A"), "node's claim about an account"),
    ("the mesh root as the token's issuer", crafted(iss_kind="M"), "node's claim about an account"),
    ("scopes out of order", crafted(scopes=["secrets", "editor"]), "canonical order"),
    ("a scope repeated", crafted(scopes=["editor", "editor"]), "canonical order"),
    ("the public scope", crafted(scopes=[""]), "scope"),
    ("an expiry before the issue time", crafted(exp=NOW - 1), "validity period"),
    ("a certificate's type", crafted(typ="cert"), "type"),
]


@pytest.mark.parametrize(("what", "data", "fragment"), CRAFTED, ids=[case[0] for case in CRAFTED])
def test_a_signed_token_with_a_malformed_claim_does_not_decode(what: str, data: bytes, fragment: str) -> None:
    with pytest.raises(Malformed, match=fragment):
        AccessToken.decode(data)


def _resigned(token: AccessToken, signer: SigningKey) -> AccessToken:
    return replace(token, signature=signer.sign(token.signed_bytes()))


FORGED = [
    # (what, token, error, fragment), checked by verify_signed at NOW
    ("signed by a key not on the chain, naming the certified node", _resigned(TOKEN, OTHER_NODE), BadSignature,
     "does not verify"),
    ("issued by a node the chain does not certify", AccessToken.issue(OTHER_NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW, TTL),
     InvalidChain, "not the node its chain certifies"),
    ("scopes added", replace(TOKEN, scopes=("admin", "editor")), BadSignature, "does not verify"),
    ("expiry moved", replace(TOKEN, expires_at=NOW + DAY), BadSignature, "does not verify"),
    ("another account's key", replace(TOKEN, account=BOB.public), BadSignature, "does not verify"),
    ("for another mesh", AccessToken.issue(NODE, CHAIN, OTHER_ROOT.public, ALICE_ACCOUNT, NOW, TTL), InvalidChain,
     "another mesh"),
    ("its issuer certified in another mesh",
     AccessToken.issue(NODE, node_chain(NODE, mesh_root=OTHER_ROOT, mesh=OTHER_ROOT.public), MESH, ALICE_ACCOUNT,
                       NOW, TTL), InvalidChain, "belongs to mesh"),
    ("its issuer certified by another mesh's root for this mesh",
     AccessToken.issue(NODE, node_chain(NODE, mesh_root=OTHER_ROOT), MESH, ALICE_ACCOUNT, NOW, TTL), InvalidChain,
     "not the mesh root"),
    ("an issuer chain leading to another node", AccessToken.issue(NODE, node_chain(OTHER_NODE), MESH, ALICE_ACCOUNT,
                                                                  NOW, TTL), InvalidChain, "not the node"),
    ("no issuer chain", AccessToken.issue(NODE, Chain(), MESH, ALICE_ACCOUNT, NOW, TTL), InvalidChain,
     "certifies no key"),
]


@pytest.mark.parametrize(("what", "token", "error", "fragment"), FORGED, ids=[case[0] for case in FORGED])
def test_a_forged_or_misdirected_token_is_refused(what: str, token: AccessToken, error: type[IdentityError],
                                                  fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        token.verify_signed(MESH, NOW)
    with pytest.raises(error, match=fragment):
        AccessToken.from_text(token.to_text()).verify_signed(MESH, NOW)


VALIDITY = [
    # (what, checked at, live)
    ("at its issue time", NOW, True),
    ("TOKEN_SKEW before its issue time", NOW - TOKEN_SKEW, True),
    ("earlier than TOKEN_SKEW before its issue time", NOW - TOKEN_SKEW - 1, False),
    ("at its expiry", NOW + TTL, True),
    ("TOKEN_SKEW after its expiry", NOW + TTL + TOKEN_SKEW, True),
    ("a second later", NOW + TTL + TOKEN_SKEW + 1, False),
]


@pytest.mark.parametrize(("what", "now", "live"), VALIDITY, ids=[case[0] for case in VALIDITY])
def test_a_token_is_live_within_its_validity_and_TOKEN_SKEW(what: str, now: int, live: bool) -> None:
    if live:
        TOKEN.check_live(now, Revocations())
    else:
        with pytest.raises(Expired):
            TOKEN.check_live(now, Revocations())


RECERTIFIED = NOW + 50
REVOKED = [
    # (what, token, key revoked at NOW + 10, live)
    ("its account revoked after it was issued", TOKEN, ALICE, False),
    ("its account revoked at its issue time", AccessToken.issue(NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW + 10, TTL),
     ALICE, False),
    ("its account revoked before it was issued (the account was re-created)",
     AccessToken.issue(NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW + 11, TTL), ALICE, True),
    ("its issuing node revoked after it was issued", TOKEN, NODE, False),
    ("its issuing node revoked before it was issued, on the node's old certificate",
     AccessToken.issue(NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW + 20, TTL), NODE, False),
    ("its issuing node revoked, then certified again before it was issued",
     AccessToken.issue(NODE, node_chain(NODE, issuer=ISSUER, at=RECERTIFIED), MESH, ALICE_ACCOUNT, RECERTIFIED, TTL),
     NODE, True),
    ("the account certifying its node revoked after it was issued", TOKEN, ISSUER, False),
    ("the account certifying its node revoked before it was issued, on the old certificates",
     AccessToken.issue(NODE, CHAIN, MESH, ALICE_ACCOUNT, NOW + 20, TTL), ISSUER, False),
    ("the account certifying its node revoked, then certified again, on the node's old certificate",
     AccessToken.issue(NODE, Chain((node_chain(NODE, issuer=ISSUER, at=RECERTIFIED).certs[0], CHAIN.certs[1])), MESH,
                       ALICE_ACCOUNT, RECERTIFIED, TTL), ISSUER, False),
    ("the account certifying its node revoked, then certified again with the node",
     AccessToken.issue(NODE, node_chain(NODE, issuer=ISSUER, at=RECERTIFIED), MESH, ALICE_ACCOUNT, RECERTIFIED, TTL),
     ISSUER, True),
    ("another key revoked", TOKEN, BOB, True),
]


@pytest.mark.parametrize(("what", "token", "revoked", "live"), REVOKED, ids=[case[0] for case in REVOKED])
def test_a_revocation_kills_the_tokens_issued_under_the_revoked_key(what: str, token: AccessToken,
                                                                   revoked: SigningKey, live: bool) -> None:
    revocations = Revocations()
    revocations.add(Revocation(revoked.public, NOW + 10))
    now = token.issued_at
    token.verify_signed(MESH, now)
    if live:
        token.check_live(now, revocations)
    else:
        with pytest.raises(InvalidChain, match="revoked"):
            token.check_live(now, revocations)


def test_a_token_never_outlives_its_account() -> None:
    token = AccessToken.issue(NODE, CHAIN, MESH, account(ALICE, expires_at=NOW + 100), NOW, TTL)
    assert token.expires_at == NOW + 100


@pytest.mark.parametrize("expires_at", [NOW, NOW - 1], ids=["expiring now", "expired"])
def test_an_expired_account_gets_no_token(expires_at: int) -> None:
    with pytest.raises(Expired, match="has expired"):
        AccessToken.issue(NODE, CHAIN, MESH, account(ALICE, expires_at=expires_at), NOW, TTL)


NOT_ISSUED = [
    # (what, issuing key, ttl)
    ("by an account key", ALICE, TTL),
    ("by the mesh root", ROOT, TTL),
    ("for no time", NODE, 0),
    ("for longer than MAX_TOKEN_TTL", NODE, MAX_TOKEN_TTL + 1),
]


@pytest.mark.parametrize(("what", "issuer", "ttl"), NOT_ISSUED, ids=[case[0] for case in NOT_ISSUED])
def test_only_a_node_issues_tokens_and_for_a_bounded_time(what: str, issuer: SigningKey, ttl: int) -> None:
    with pytest.raises(Malformed):
        AccessToken.issue(issuer, CHAIN, MESH, ALICE_ACCOUNT, NOW, ttl)


# --- challenges --------------------------------------------------------------------------------------------

NONCE = bytes(range(NONCE_SIZE))
OTHER_NONCE = bytes(NONCE_SIZE)
ANSWER = answer_challenge(ALICE, MESH, NODE.public, NONCE)


def test_a_correct_answer_to_a_challenge_verifies() -> None:
    check_challenge(ALICE.public, MESH, NODE.public, NONCE, ANSWER)


WRONG_ANSWERS = [
    # (what, account, mesh, node, nonce, answer) checked
    ("an answer checked for another node", ALICE.public, MESH, OTHER_NODE.public, NONCE, ANSWER),
    ("an answer checked for another mesh", ALICE.public, OTHER_ROOT.public, NODE.public, NONCE, ANSWER),
    ("an answer checked for another nonce", ALICE.public, MESH, NODE.public, OTHER_NONCE, ANSWER),
    ("an answer checked for another account", BOB.public, MESH, NODE.public, NONCE, ANSWER),
    ("another account's answer, naming this account",
     ALICE.public, MESH, NODE.public, NONCE, BOB.sign(answer_challenge(ALICE, MESH, NODE.public, NONCE))),
    ("a signature of the bare nonce", ALICE.public, MESH, NODE.public, NONCE, ALICE.sign(NONCE)),
    ("no signature", ALICE.public, MESH, NODE.public, NONCE, b""),
]


@pytest.mark.parametrize(("what", "account_key", "mesh", "node", "nonce", "answer"), WRONG_ANSWERS,
                         ids=[case[0] for case in WRONG_ANSWERS])
def test_an_answer_for_another_challenge_fails(what: str, account_key: PublicKey, mesh: PublicKey, node: PublicKey,
                                               nonce: bytes, answer: bytes) -> None:
    with pytest.raises(BadSignature):
        check_challenge(account_key, mesh, node, nonce, answer)


def test_a_nonce_can_be_answered_once() -> None:
    book = Challenges()
    book.issue(NONCE, NOW)
    book.redeem(NONCE, NOW + 1)
    with pytest.raises(Expired, match="already answered"):
        book.redeem(NONCE, NOW + 2)


def test_a_nonce_never_issued_cannot_be_answered() -> None:
    book = Challenges()
    book.issue(NONCE, NOW)
    with pytest.raises(Expired, match="unknown"):
        book.redeem(OTHER_NONCE, NOW)
    book.redeem(NONCE, NOW)


@pytest.mark.parametrize(("answered", "ok"), [(NOW + CHALLENGE_TTL, True), (NOW + CHALLENGE_TTL + 1, False)],
                         ids=["at the TTL", "a second later"])
def test_a_nonce_expires_after_CHALLENGE_TTL(answered: int, ok: bool) -> None:
    book = Challenges()
    book.issue(NONCE, NOW)
    if ok:
        book.redeem(NONCE, answered)
    else:
        with pytest.raises(Expired, match="expired"):
            book.redeem(NONCE, answered)
    assert len(book) == 0


def test_the_pending_book_is_bounded_and_forgets_the_oldest() -> None:
    book = Challenges(limit=3)
    nonces = [bytes([n]) * NONCE_SIZE for n in range(5)]
    for n, nonce in enumerate(nonces):
        book.issue(nonce, NOW + n)
    assert len(book) == 3
    for forgotten in nonces[:2]:
        with pytest.raises(Expired):
            book.redeem(forgotten, NOW + 5)
    for kept in nonces[2:]:
        book.redeem(kept, NOW + 5)


@pytest.mark.parametrize("size", [0, NONCE_SIZE - 1, NONCE_SIZE + 1])
def test_a_nonce_is_NONCE_SIZE_bytes(size: int) -> None:
    with pytest.raises(Malformed):
        Challenges().issue(bytes(size), NOW)
