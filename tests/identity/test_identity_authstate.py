"""The auth state: what a replica stores (`accept`), what is in force (`AuthState.build`), and decisions.

`Replica` stands for one node's `auth` database: every write goes through `accept` as on a real replica,
and the state is built from what it holds, so the cases run the records the way the mesh does.
"""

from __future__ import annotations

import pytest
from auth_fixtures import (
    ADMIN_KEY,
    BY_ADMIN,
    BY_ROOT,
    BY_SUB_ADMIN,
    BY_USER,
    MESH,
    OTHER_ADMIN_KEY,
    OTHER_ROOT,
    RULE,
    USER_KEY,
    Signer,
    account,
)
from identity_fixtures import NOW
from micro.identity import IdentityError, InvalidChain, Malformed, PublicKey, SigningKey
from micro.identity.authstate import ADMIN, AuthState, Principal, accept, default_rules
from micro.identity.records import ACCOUNTS, ADMIN_SCOPE, REVOCATIONS, RULES, Record, Removal, Revocation
from micro.identity.rules import RECOVERY_PRIORITY, Access, Rule

LATER = NOW + 10_000
"""When the replicas store records and build their state: after every record of these tests."""


class Replica:
    """One node's `auth` database: table/key -> record bytes, written only through `accept`."""

    def __init__(self, *records: Record) -> None:
        self.values: dict[tuple[str, str], bytes] = {}
        for record in records:
            self.put(record)

    def put(self, record: Record) -> None:
        where = (record.table, record.key)
        accept(record.encode(), *where, MESH, LATER, self.values.get(where))
        self.values[where] = record.encode()

    def state(self) -> AuthState:
        return AuthState.build(MESH, (Record.decode(value) for value in self.values.values()), LATER)


def user(at: int = NOW, signer: Signer = BY_ADMIN) -> Record:
    return signer.sign(account(USER_KEY, ["editor"]), at=at)


# --- accept: what a replica stores ---------------------------------------------------------------------

HELD = user(at=NOW + 10)
ACCEPTED = [
    # (what, record, held)
    ("a record for an empty slot", HELD, None),
    ("a newer record in place of an older one", user(at=NOW + 11), HELD.encode()),
    ("a record issued at the same time as the one it replaces", user(at=NOW + 10, signer=BY_SUB_ADMIN),
     HELD.encode()),
    ("a record in place of bytes that do not decode", HELD, b"\x00garbage"),
    ("a removal newer than the account it takes out", BY_ADMIN.sign(Removal(ACCOUNTS, USER_KEY.public.id),
                                                                      at=NOW + 11), HELD.encode()),
]


@pytest.mark.parametrize(("what", "record", "held"), ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_a_replica_stores_a_valid_record_in_its_own_slot(what: str, record: Record, held: bytes | None) -> None:
    assert accept(record.encode(), record.table, record.key, MESH, LATER, held) == record


REFUSED = [
    # (what, value, table, key, held, error, fragment)
    ("a record under another table", HELD.encode(), RULES, HELD.key, None, Malformed, "stored under"),
    ("a record under another key", HELD.encode(), ACCOUNTS, ADMIN_KEY.public.id, None, Malformed, "stored under"),
    ("a rule record stored in the accounts table under an account's key",
     BY_ADMIN.sign(Rule(USER_KEY.public.id, "*", "*", Access.GRANT)).encode(), ACCOUNTS, USER_KEY.public.id, None,
     Malformed, "stored under"),
    ("a record older than the one it replaces (a replay)", user(at=NOW + 9).encode(), ACCOUNTS, HELD.key,
     HELD.encode(), InvalidChain, "older"),
    ("a removal older than the account it would take out",
     BY_ADMIN.sign(Removal(ACCOUNTS, USER_KEY.public.id), at=NOW + 9).encode(), ACCOUNTS, HELD.key, HELD.encode(),
     InvalidChain, "older"),
    ("a record signed by a non-admin", BY_USER.sign(RULE).encode(), RULES, RULE.id, None, InvalidChain, "lacks scope"),
    ("a record of another mesh", Signer(OTHER_ROOT).sign(RULE, mesh=OTHER_ROOT.public).encode(), RULES, RULE.id,
     None, InvalidChain, "for mesh"),
    ("bytes that are no record", b"\xa0", RULES, RULE.id, None, Malformed, "auth record"),
    ("a newer revocation that moves the revocation time back (a revival)",
     BY_ADMIN.sign(Revocation(USER_KEY.public, 0), at=NOW + 20).encode(), REVOCATIONS, USER_KEY.public.id,
     BY_ADMIN.sign(Revocation(USER_KEY.public, NOW + 10), at=NOW + 10).encode(), InvalidChain, "back"),
    ("a rule at the recovery priority signed by an admin",
     BY_ADMIN.sign(Rule("r", "*", "", Access.GRANT, RECOVERY_PRIORITY)).encode(), RULES, "r", None, InvalidChain,
     "only the mesh root"),
]


@pytest.mark.parametrize(("what", "value", "table", "key", "held", "error", "fragment"), REFUSED,
                         ids=[case[0] for case in REFUSED])
def test_a_replica_refuses_a_record_it_may_not_store(what: str, value: bytes, table: str, key: str,
                                                      held: bytes | None, error: type[IdentityError],
                                                      fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        accept(value, table, key, MESH, LATER, held)


def test_a_replica_stores_a_record_by_a_revoked_admin_so_replicas_converge() -> None:
    # Revocations are applied by `build`, on the same records everywhere: a replica that saw the
    # revocation first must still store what one that had not would.
    replica = Replica(BY_ROOT.sign(Revocation(ADMIN_KEY.public, NOW + 5), at=NOW + 5), BY_ADMIN.sign(RULE, at=NOW))
    assert (RULES, RULE.id) in replica.values
    assert replica.state().rules == ()


# --- build: revocations in issue order, then accounts and rules ------------------------------------------

def revoke(signer: Signer, target: PublicKey, at: int) -> Record:
    return signer.sign(Revocation(target, at), at=at)


def test_an_account_record_issued_at_the_revocation_time_is_dead() -> None:
    state = Replica(user(at=NOW + 5), revoke(BY_ROOT, USER_KEY.public, NOW + 5)).state()
    assert USER_KEY.public not in state.accounts


def test_an_account_record_issued_after_the_revocation_time_is_alive() -> None:
    state = Replica(user(at=NOW + 6), revoke(BY_ROOT, USER_KEY.public, NOW + 5)).state()
    assert state.account(USER_KEY.public, LATER) is not None


def test_a_new_account_record_after_the_revocation_brings_the_account_back() -> None:
    replica = Replica(user(at=NOW), revoke(BY_ROOT, USER_KEY.public, NOW + 5))
    assert replica.state().account(USER_KEY.public, LATER) is None
    replica.put(user(at=NOW + 6))
    assert replica.state().account(USER_KEY.public, LATER) is not None


def test_a_revoked_admin_takes_what_it_signed_before_with_it() -> None:
    state = Replica(BY_ADMIN.sign(RULE, at=NOW + 4), user(at=NOW + 4),
                    revoke(BY_ROOT, ADMIN_KEY.public, NOW + 5)).state()
    assert state.rules == ()
    assert USER_KEY.public not in state.accounts


def test_what_an_admin_signs_after_its_revocation_with_its_old_chain_is_dead() -> None:
    state = Replica(BY_ADMIN.sign(RULE, at=NOW + 6), revoke(BY_ROOT, ADMIN_KEY.public, NOW + 5)).state()
    assert state.rules == ()


def test_an_admin_recreated_after_its_revocation_signs_again() -> None:
    recreated = BY_ROOT.admit(ADMIN_KEY, at=NOW + 6)
    state = Replica(recreated.account_record, recreated.sign(RULE, at=NOW + 7),
                    revoke(BY_ROOT, ADMIN_KEY.public, NOW + 5)).state()
    assert state.rules == (RULE,)
    assert state.account(ADMIN_KEY.public, LATER) is not None


def test_a_revoked_admins_later_revocation_of_another_admin_does_not_count() -> None:
    other = BY_ROOT.admit(OTHER_ADMIN_KEY)
    # The later revocation first: applying them in the order given would let it count.
    state = Replica(revoke(BY_ADMIN, OTHER_ADMIN_KEY.public, NOW + 20), revoke(BY_ROOT, ADMIN_KEY.public, NOW + 10),
                    other.sign(RULE, at=NOW + 30)).state()
    assert state.revocations.revoked_at(ADMIN_KEY.public) == NOW + 10
    assert state.revocations.revoked_at(OTHER_ADMIN_KEY.public) is None
    assert state.rules == (RULE,)


@pytest.mark.parametrize("first", [ADMIN_KEY, OTHER_ADMIN_KEY], ids=["admin-first", "other-first"])
def test_of_two_admins_revoking_each_other_the_first_revocation_issued_wins(first: SigningKey) -> None:
    signers = {ADMIN_KEY: BY_ADMIN, OTHER_ADMIN_KEY: BY_ROOT.admit(OTHER_ADMIN_KEY)}
    second = OTHER_ADMIN_KEY if first is ADMIN_KEY else ADMIN_KEY
    state = Replica(revoke(signers[second], first.public, NOW + 20),
                    revoke(signers[first], second.public, NOW + 10)).state()
    assert state.revocations.revoked_at(second.public) == NOW + 10
    assert state.revocations.revoked_at(first.public) is None


def test_a_revocation_signed_by_a_non_admin_does_not_count() -> None:
    revocation = BY_USER.sign(Revocation(ADMIN_KEY.public, NOW + 5), at=NOW + 5)
    state = AuthState.build(MESH, [revocation, BY_ADMIN.sign(RULE)], LATER)
    assert len(state.revocations) == 0
    assert state.rules == (RULE,)


def test_a_revoked_admin_kills_the_accounts_its_own_admins_created() -> None:
    state = Replica(BY_ADMIN.account_record, BY_SUB_ADMIN.account_record, BY_SUB_ADMIN.sign(account(USER_KEY), at=NOW + 1),
                    revoke(BY_ROOT, ADMIN_KEY.public, NOW + 5)).state()
    assert state.accounts == {}


def test_a_removal_takes_an_account_out() -> None:
    replica = Replica(user(at=NOW))
    assert replica.state().account(USER_KEY.public, LATER) is not None
    replica.put(BY_ADMIN.sign(Removal(ACCOUNTS, USER_KEY.public.id), at=NOW + 1))
    assert USER_KEY.public not in replica.state().accounts


def test_a_removal_takes_a_rule_out() -> None:
    replica = Replica(BY_ADMIN.sign(RULE, at=NOW))
    replica.put(BY_ADMIN.sign(Removal(RULES, RULE.id), at=NOW + 1))
    assert replica.state().rules == ()


def test_an_account_past_its_expiry_is_not_active() -> None:
    expiring = BY_ADMIN.sign(account(USER_KEY, expires_at=NOW + 100))
    state = AuthState.build(MESH, [expiring], NOW)
    assert state.account(USER_KEY.public, NOW + 100) is not None
    assert state.account(USER_KEY.public, NOW + 100 + 10_000) is None


def test_records_of_another_mesh_are_left_out() -> None:
    state = AuthState.build(MESH, [Signer(OTHER_ROOT).sign(RULE, mesh=OTHER_ROOT.public)], LATER)
    assert state.rules == ()


# --- authorize -------------------------------------------------------------------------------------------

def principal(*scopes: str) -> Principal:
    return Principal(USER_KEY.public, "user", frozenset(scopes))


DEFAULT_STATE = AuthState.build(MESH, [BY_ROOT.sign(rule) for rule in default_rules()], LATER)
DEFAULTS = [
    # (what, principal (None: the public), resource, allowed)
    ("the local admin may do everything", ADMIN, "kv:app:users", True),
    ("an admin account may invite nodes", principal(ADMIN_SCOPE), "node:N:invite", True),
    ("any account may call a service", principal(), "service:blog:Posts.Save", True),
    ("an account may not read the key-value store", principal("editor"), "kv:app:users", False),
    ("an account may not publish", principal(), "topic:orders", False),
    ("the public may not call a service", None, "service:blog:Posts.Query", False),
    ("the public may not read config", None, "config:blog.db", False),
]


@pytest.mark.parametrize(("what", "who", "resource", "allowed"), DEFAULTS, ids=[case[0] for case in DEFAULTS])
def test_the_default_rules_give_admins_everything_accounts_services_and_the_public_nothing(
        what: str, who: Principal | None, resource: str, allowed: bool) -> None:
    assert DEFAULT_STATE.authorize(who, resource).allowed is allowed


NO_DELETES = Rule("no-deletes", "service:blog:Posts.Delete", "*", Access.DENY, 10)
EDITORS = Rule("editors", "service:blog:Posts.Delete", "editor", Access.GRANT, 20)
TIE = Rule("tie-deny", "service:blog:Posts.Save", "*", Access.DENY, 0)
RULES_STATE = Replica(*(BY_ROOT.sign(rule) for rule in default_rules()),
                      *(BY_SUB_ADMIN.sign(rule) for rule in (NO_DELETES, EDITORS, TIE))).state()
PRIORITIES = [
    # (what, scopes, resource, allowed, deciding rule id)
    ("a higher-priority deny beats the default grant", (), "service:blog:Posts.Delete", False, "no-deletes"),
    ("a still higher grant for a scope beats the deny", ("editor",), "service:blog:Posts.Delete", True, "editors"),
    ("a deny at the default grant's priority wins the tie", (), "service:blog:Posts.Save", False, "tie-deny"),
    ("the default grant still holds where no deny applies", (), "service:blog:Posts.Query", True,
     "default-services"),
]


@pytest.mark.parametrize(("what", "scopes", "resource", "allowed", "rule_id"), PRIORITIES,
                         ids=[case[0] for case in PRIORITIES])
def test_rules_from_records_decide_by_priority_and_a_deny_wins_a_tie(what: str, scopes: tuple[str, ...],
                                                                     resource: str, allowed: bool,
                                                                     rule_id: str) -> None:
    decision = RULES_STATE.authorize(principal(*scopes), resource)
    assert decision.allowed is allowed
    assert decision.rule is not None and decision.rule.id == rule_id


def test_a_cached_decision_does_not_outlive_its_state() -> None:
    replica = Replica(*(BY_ROOT.sign(rule) for rule in default_rules()))
    before = replica.state()
    assert before.authorize(principal(), "service:blog:Posts.Delete").allowed
    replica.put(BY_ADMIN.sign(NO_DELETES))
    after = replica.state()
    assert not after.authorize(principal(), "service:blog:Posts.Delete").allowed
    # The old state keeps answering as it did: a state is immutable, its cache is its own.
    assert before.authorize(principal(), "service:blog:Posts.Delete").allowed


def test_the_decision_cache_answers_per_scopes() -> None:
    state = RULES_STATE
    assert not state.authorize(principal(), "service:blog:Posts.Delete").allowed
    assert state.authorize(principal("editor"), "service:blog:Posts.Delete").allowed
    assert not state.authorize(None, "service:blog:Posts.Delete").allowed
    assert not state.authorize(principal(), "service:blog:Posts.Delete").allowed
