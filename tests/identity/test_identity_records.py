"""Auth records: who may sign them (the root, or an admin with its chain), and what an attacker cannot do.

Each case is one record, built the way an attacker would build it, and what `Record.verify` says.
"""

from dataclasses import replace

import cbor2
import pytest
from auth_fixtures import (
    ADMIN_KEY,
    BY_ADMIN,
    BY_ROOT,
    BY_SUB_ADMIN,
    BY_USER,
    MESH,
    NODE,
    OTHER_NODE,
    OTHER_ROOT,
    ROOT,
    RULE,
    SUB_ADMIN_KEY,
    USER_KEY,
    Signer,
    account,
    key,
)
from identity_fixtures import NOW
from micro.identity import (
    CLOCK_SKEW,
    BadSignature,
    Expired,
    IdentityError,
    InvalidChain,
    KeyKind,
    Malformed,
    SigningKey,
)
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

EXPIRES = NOW - 1000
BY_EXPIRING_ADMIN = BY_ROOT.admit(key(KeyKind.ACCOUNT, 20), at=EXPIRES - 1000, expires_at=EXPIRES)
"""An admin whose account expired before `NOW`."""


def resigned(record: Record, signer_key: SigningKey) -> Record:
    """`record` as signed by `signer_key` (any kind of key), chain kept: what a forger can produce."""
    unsigned = replace(record, issuer=signer_key.public)
    return replace(unsigned, signature=signer_key.sign(unsigned.signed_bytes()))


VALID = [
    # (what, record), verified at NOW
    ("the mesh root signs with no chain", BY_ROOT.sign(RULE)),
    ("an admin the root created signs with its account record", BY_ADMIN.sign(RULE)),
    ("an admin created by an admin signs with both account records", BY_SUB_ADMIN.sign(RULE)),
    ("a record issued CLOCK_SKEW ahead of the verifier's clock", BY_ROOT.sign(RULE, at=NOW + CLOCK_SKEW)),
    ("an admin signs up to CLOCK_SKEW after its account expired", BY_EXPIRING_ADMIN.sign(RULE, at=EXPIRES + CLOCK_SKEW)),
    ("a record stays valid after its signer's account expired", BY_EXPIRING_ADMIN.sign(RULE, at=EXPIRES)),
]


@pytest.mark.parametrize(("what", "record"), VALID, ids=[case[0] for case in VALID])
def test_a_record_chained_to_the_root_through_admins_verifies(what: str, record: Record) -> None:
    record.verify(MESH, NOW)
    assert Record.decode(record.encode()) == record


def _skipping(signer: Signer) -> Signer:
    return Signer(signer.key, signer.chain[1:])


REFUSED = [
    # (what, record, error, message fragment)
    ("an account without the admin scope cannot sign", BY_USER.sign(RULE), InvalidChain, "lacks scope 'admin'"),
    ("an admin made by an account without the admin scope cannot sign",
     BY_USER.admit(SUB_ADMIN_KEY).sign(RULE), InvalidChain, "lacks scope 'admin'"),
    ("a node key cannot sign", resigned(BY_ROOT.sign(RULE), NODE), InvalidChain, "does not chain"),
    ("an account key signing without a chain does not chain to the root",
     resigned(BY_ROOT.sign(RULE), ADMIN_KEY), InvalidChain, "does not chain"),
    ("a chain that skips the admin's own account record",
     Signer(SUB_ADMIN_KEY, BY_ADMIN.chain).sign(RULE), InvalidChain, "does not chain"),
    ("a chain that skips the link the root signed", _skipping(BY_SUB_ADMIN).sign(RULE), InvalidChain,
     "does not chain"),
    ("a chain link signed by another mesh's root", Signer(OTHER_ROOT).admit(ADMIN_KEY).sign(RULE), InvalidChain,
     "does not chain"),
    ("a chain link of another mesh, signed by this root", BY_ROOT.admit(ADMIN_KEY, mesh=OTHER_ROOT.public)
     .sign(RULE), InvalidChain, "for mesh"),
    ("an admin whose account had expired when it signed",
     BY_EXPIRING_ADMIN.sign(RULE, at=EXPIRES + CLOCK_SKEW + 1), Expired, "not valid when it signed"),
    ("an admin account record issued after the record it vouches for",
     BY_ROOT.admit(ADMIN_KEY, at=NOW + CLOCK_SKEW + 1).sign(RULE), Expired, "not valid when it signed"),
    ("a record for another mesh, signed by this root", BY_ROOT.sign(RULE, mesh=OTHER_ROOT.public), InvalidChain,
     "for mesh"),
    ("a record of another mesh", Signer(OTHER_ROOT).sign(RULE, mesh=OTHER_ROOT.public), InvalidChain, "for mesh"),
    ("a record issued beyond CLOCK_SKEW in the future", BY_ROOT.sign(RULE, at=NOW + CLOCK_SKEW + 1), Expired,
     "future"),
]


@pytest.mark.parametrize(("what", "record", "error", "fragment"), REFUSED, ids=[case[0] for case in REFUSED])
def test_a_record_without_authority_is_refused(what: str, record: Record, error: type[IdentityError],
                                                fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        record.verify(MESH, NOW)


ADMIN_RECORD = BY_ADMIN.sign(account(USER_KEY, ["editor"]))
RULE_RECORD = BY_ADMIN.sign(RULE)
ALTERED = [
    # (what, altered record)
    ("scopes added to an account", replace(ADMIN_RECORD, body=replace(ADMIN_RECORD.body, scopes=("admin", "editor")))),
    ("an account renamed", replace(ADMIN_RECORD, body=replace(ADMIN_RECORD.body, name="root"))),
    ("an account's expiry moved", replace(ADMIN_RECORD, body=replace(ADMIN_RECORD.body, expires_at=NOW + 60))),
    ("a rule's priority raised", replace(RULE_RECORD, body=replace(RULE, priority=11))),
    ("a rule's resource changed", replace(RULE_RECORD, body=replace(RULE, resource="service:blog"))),
    ("the issue time moved", replace(RULE_RECORD, issued_at=NOW + 1)),
    ("the admin scope added to a non-admin's own chain link",
     replace(BY_USER.sign(RULE), chain=(BY_USER.chain[0], replace(BY_USER.chain[1], body=account(USER_KEY, ["admin"]))))),
]


@pytest.mark.parametrize(("what", "record"), ALTERED, ids=[case[0] for case in ALTERED])
def test_altered_claims_do_not_verify(what: str, record: Record) -> None:
    with pytest.raises(BadSignature):
        record.verify(MESH, NOW)
    # Through the wire form too: the altered claims survive encoding and still fail.
    with pytest.raises(BadSignature):
        Record.decode(record.encode()).verify(MESH, NOW)


def test_records_are_issued_only_by_the_mesh_root_or_an_account() -> None:
    with pytest.raises(Malformed, match="mesh root or an admin"):
        Record.issue(NODE, (), MESH, RULE, NOW)


def test_a_revocation_dated_after_its_issue_is_refused() -> None:
    with pytest.raises(Malformed, match="after the record is issued"):
        Record.issue(ROOT, (), MESH, Revocation(NODE.public, NOW + 1), NOW)
    future = Record(Revocation(NODE.public, NOW + 1), ROOT.public, MESH, NOW, b"")
    signed = replace(future, signature=ROOT.sign(future.signed_bytes()))
    with pytest.raises(Malformed, match="after the record was issued"):
        Record.decode(signed.encode())


def test_a_record_naming_a_node_as_issuer_does_not_decode() -> None:
    with pytest.raises(Malformed, match="neither the mesh root nor an account"):
        Record.decode(resigned(BY_ROOT.sign(RULE), NODE).encode())


BODIES = [
    ("account", account(USER_KEY, ["editor", "admin"], expires_at=NOW + 60), ACCOUNTS, USER_KEY.public.id),
    ("rule", RULE, RULES, RULE.id),
    ("revocation", Revocation(NODE.public, NOW), REVOCATIONS, NODE.public.id),
    ("removal", Removal(RULES, RULE.id), RULES, RULE.id),
    ("seal", Seal(NODE.public, OTHER_NODE.public, b"\x07" * 80), SEALS,
     f"{OTHER_NODE.public.id}/{NODE.public.id}"),
]


@pytest.mark.parametrize(("what", "body", "table", "record_key"), BODIES, ids=[case[0] for case in BODIES])
def test_every_record_type_round_trips_and_names_its_table_and_key(what: str, body: object, table: str,
                                                                    record_key: str) -> None:
    record = BY_SUB_ADMIN.sign(body)  # type: ignore[arg-type]
    decoded = Record.decode(record.encode())
    assert decoded == record
    assert (decoded.table, decoded.key) == (table, record_key)
    decoded.verify(MESH, NOW)


def test_the_mesh_root_cannot_be_revoked() -> None:
    with pytest.raises(Malformed, match="cannot be revoked"):
        Revocation(ROOT.public, NOW)


def crafted(record: Record, chain: tuple[Record, ...] = (), **changes: object) -> bytes:
    """The encoding of `record` with its claims changed, signed again by the mesh root, with `chain`."""
    claims = cbor2.loads(record.signed_bytes())
    claims.update(changes)
    signed = cbor2.dumps(claims, canonical=True)
    return cbor2.dumps([signed, ROOT.sign(signed), [[link.signed_bytes(), link.signature] for link in chain]],
                       canonical=True)


USER_RECORD = BY_ROOT.sign(account(USER_KEY, ["admin", "editor"]))
CRAFTED = [
    # (what, encoding, message fragment)
    ("a revocation of the mesh root", crafted(BY_ROOT.sign(Revocation(NODE.public, NOW)), sub=ROOT.public.raw,
                                               sub_kind="M"), "cannot be revoked"),
    ("a node as the issuer", crafted(BY_ROOT.sign(RULE), iss=NODE.public.raw, iss_kind="N"),
     "neither the mesh root nor an account"),
    ("an account's scopes out of order", crafted(USER_RECORD, scopes=["editor", "admin"]), "canonical order"),
    ("an account's scope repeated", crafted(USER_RECORD, scopes=["admin", "admin", "editor"]), "canonical order"),
    ("a rule on the issuer's chain", crafted(BY_ROOT.sign(RULE), chain=(BY_ROOT.sign(RULE),)),
     "only account records"),
    ("a field too many", crafted(BY_ROOT.sign(RULE), note="hi"), "fields"),
    ("a priority that is a boolean", crafted(BY_ROOT.sign(RULE), priority=True), "priority"),
    ("a revocation time that is a boolean", crafted(BY_ROOT.sign(Revocation(NODE.public, NOW)), at=False),
     "bad field|unix time"),
]


@pytest.mark.parametrize(("what", "data", "fragment"), CRAFTED, ids=[case[0] for case in CRAFTED])
def test_a_signed_record_with_a_malformed_claim_does_not_decode(what: str, data: bytes, fragment: str) -> None:
    with pytest.raises(Malformed, match=fragment):
        Record.decode(data)


REVOKED_AT = NOW + 100
DEAD = [
    # (what, issued at, dead)
    ("issued before the revocation time", REVOKED_AT - 1, True),
    ("issued at the revocation time", REVOKED_AT, True),
    ("issued after the revocation time", REVOKED_AT + 1, False),
]


@pytest.mark.parametrize(("what", "issued_at", "dead"), DEAD, ids=[case[0] for case in DEAD])
def test_a_revocation_kills_what_was_issued_at_or_before_its_time(what: str, issued_at: int, dead: bool) -> None:
    revocations = Revocations()
    revocations.add(Revocation(NODE.public, REVOKED_AT))
    assert revocations.dead(NODE.public, issued_at) is dead
    assert not revocations.dead(OTHER_NODE.public, issued_at)


CUT_OFF = [
    # (what, register stamped at, refused)
    ("written before the revocation time", REVOKED_AT - 1, False),
    ("written at the revocation time", REVOKED_AT, True),
    ("written after the revocation time", REVOKED_AT + 1, True),
]


@pytest.mark.parametrize(("what", "written_at", "refused"), CUT_OFF, ids=[case[0] for case in CUT_OFF])
def test_a_revoked_node_is_cut_off_for_what_it_writes_from_its_revocation_time(what: str, written_at: int,
                                                                               refused: bool) -> None:
    revocations = Revocations()
    revocations.add(Revocation(NODE.public, REVOKED_AT))
    assert revocations.cut_off(NODE.public, written_at) is refused
    assert not revocations.cut_off(OTHER_NODE.public, written_at)


def test_a_later_revocation_of_the_same_key_moves_its_time_and_an_earlier_one_does_not() -> None:
    revocations = Revocations()
    for at in (REVOKED_AT, REVOKED_AT + 50, REVOKED_AT - 50):
        revocations.add(Revocation(NODE.public, at))
    assert revocations.revoked_at(NODE.public) == REVOKED_AT + 50


REVOKED = [
    # (what, record, key revoked at REVOKED_AT)
    ("a record its admin signed before being revoked", BY_ADMIN.sign(RULE, at=REVOKED_AT), ADMIN_KEY),
    ("a record its admin signed after being revoked, with the old account record",
     BY_ADMIN.sign(RULE, at=REVOKED_AT + 1), ADMIN_KEY),
    ("a record signed through an admin revoked higher up the chain", BY_SUB_ADMIN.sign(RULE, at=REVOKED_AT + 1),
     ADMIN_KEY),
    ("an account record issued before the account was revoked", BY_ROOT.sign(account(USER_KEY), at=REVOKED_AT),
     USER_KEY),
]


@pytest.mark.parametrize(("what", "record", "revoked"), REVOKED, ids=[case[0] for case in REVOKED])
def test_a_record_a_revocation_kills_does_not_verify(what: str, record: Record, revoked: SigningKey) -> None:
    revocations = Revocations()
    revocations.add(Revocation(revoked.public, REVOKED_AT))
    record.verify(MESH, REVOKED_AT + 1)
    with pytest.raises(InvalidChain, match="revoked"):
        record.verify(MESH, REVOKED_AT + 1, revocations)


def test_an_admin_account_recreated_after_its_revocation_signs_again() -> None:
    revocations = Revocations()
    revocations.add(Revocation(ADMIN_KEY.public, REVOKED_AT))
    BY_ROOT.admit(ADMIN_KEY, at=REVOKED_AT + 1).sign(RULE, at=REVOKED_AT + 2).verify(MESH, REVOKED_AT + 2,
                                                                                      revocations)
