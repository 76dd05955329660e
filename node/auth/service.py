"""The node's auth: the records in force, the check every replica runs on them, tokens, and decisions.

Accounts, rules, revocations and seals live in the key-value store's reserved `auth` database, one record
per key (`identity.records`). The core asks `accepts` before it installs a register from another node: an
auth record must chain to the mesh root through admins (`identity.authstate.accept`) and a revoked node's
registers stamped at or after its revocation time are refused (those it wrote before stay); both are
counted (`auth.refused_records`, `auth.refused_revoked`, with the core's `kv_refused`). Records reach the
store only through `submit`, which runs the same check: the node signs the register, the record's own
signature is its authority, so no node can grant itself anything. Whenever a record changes the state in
force is rebuilt at once (the next turn of the loop), so a change is in force on a node as soon as the
record reaches it; `on_rebuilt` hears of every new state (the node cuts revoked members off with it, see
`revocation.py`).

Requests are authorised with `principal` (the account a bearer token names, verified offline and cached
until it expires) and `check` (the rules' decision for a resource, 401 for the public, 403 for an account).
Tokens are issued against a signed challenge (`challenge`, `token`). On the node that creates a mesh,
`bootstrap` signs with the root key the `admin` account (its key in `DATA_DIR/admin.creds`, 0600) and the
default rules.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ...identity.authstate import AuthState, Principal, accept, default_rules
from ...identity.claims import CLOCK_SKEW, Chain
from ...identity.errors import IdentityError, InvalidChain
from ...identity.keys import KeyKind, PublicKey, SigningKey
from ...identity.records import (
    ADMIN_SCOPE,
    AUTH_DB,
    SECRETS_SCOPE,
    TABLES,
    Account,
    AccountType,
    Record,
)
from ...identity.tokens import MAX_TOKEN_TTL, NONCE_SIZE, TOKEN_SKEW, AccessToken, Challenges, check_challenge
from ...mesh.messages import KvEntry
from ..api.calllink import ACCOUNT_PREFIX, CALLER_KEY
from ..api.errors import InvalidArgument, NodeError, PermissionDenied, Unauthenticated
from ..api.proto import node_pb2
from ..kv.service import KvService, Write
from ..log import Logger

__all__ = ["Auth"]

_TOKENS = 16_384
"""Verified tokens remembered (by their text); beyond it the oldest is forgotten and checked again."""
DEFAULT_TOKEN_TTL = 3600


class Auth:
    """Auth records of one node's replica, the state they put in force, and request checks."""

    def __init__(self, root: PublicKey, node_key: SigningKey, chain: Callable[[], bytes], kv: KvService,
                 logger: Logger, on_rebuilt: Callable[[AuthState], None], clock: Callable[[], float] = time.time
                 ) -> None:
        self.root = root
        self._on_rebuilt = on_rebuilt
        self._node_key = node_key
        self._chain = chain
        self._kv = kv
        self._log = logger
        self._clock = clock
        self._challenges = Challenges()
        self._tokens: collections.OrderedDict[str, _Known] = collections.OrderedDict()
        self._rebuild_pending = False
        self._preloaded: dict[tuple[str, str], Record] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self.state = AuthState.build(root, self.records(), self._now())

    # ---- the records ----------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def values(self) -> list[bytes]:
        """Every record in the replica, encoded."""
        return [e.value for table in TABLES for e in self._kv.visible(AUTH_DB, table, "") if e.value is not None]

    def records(self) -> list[Record]:
        """Every record in the replica that decodes (each was checked when it was stored), and those a
        join handed over where the replica holds none yet or an older one."""
        out: dict[tuple[str, str], Record] = dict(self._preloaded)
        for value in self.values():
            try:
                record = Record.decode(value)
            except IdentityError:
                continue
            held = out.get((record.table, record.key))
            if held is None or record.issued_at >= held.issued_at:
                out[record.table, record.key] = record
        return list(out.values())

    def preload(self, values: list[bytes]) -> None:
        """The records the member that admitted this node holds: in force at once, checked as a replica
        checks them, until the replica's own copies arrive."""
        for value in values:
            try:
                record = Record.decode(value)
                accept(value, record.table, record.key, self.root, self._now(), None)
            except IdentityError as exc:
                self._counts["refused_records"] += 1
                self._log.warning("auth.record_refused", table="join", key="", error=str(exc))
                continue
            self._preloaded[record.table, record.key] = record
        self.rebuild()

    def rebuild(self) -> None:
        """Put in force what the records say now."""
        self._rebuild_pending = False
        self.state = AuthState.build(self.root, self.records(), self._now())
        self._on_rebuilt(self.state)

    def node_revoked(self, node_id: bytes) -> bool:
        """Whether the records in force revoke the node key `node_id` (raw)."""
        return self.state.revocations.revoked_at(PublicKey(KeyKind.NODE, node_id)) is not None

    def changed(self, entry: KvEntry) -> None:
        """A register of the `auth` database changed: rebuild on the next turn (one rebuild per burst)."""
        if entry.db == AUTH_DB and not self._rebuild_pending:
            self._rebuild_pending = True
            asyncio.get_running_loop().call_soon(self._rebuild_if_pending)

    def _rebuild_if_pending(self) -> None:
        # `submit` rebuilds at once for its caller's next request; its own registers need no second one.
        if self._rebuild_pending:
            self.rebuild()

    def accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        """The core's `Verifier.accepts`: may a correctly signed register from elsewhere be installed?"""
        revocations = self.state.revocations
        if len(revocations) and revocations.cut_off(PublicKey(KeyKind.NODE, entry.writer),
                                                    entry.physical_ms // 1000):
            self._counts["refused_revoked"] += 1
            return False
        if entry.db != AUTH_DB:
            return True
        try:
            if entry.value is None or entry.expire_at:
                raise InvalidArgument("auth records are never deleted or expired, only replaced")
            accept(entry.value, entry.table, entry.key, self.root, self._now(),
                   held.value if held is not None else None)
        except (IdentityError, NodeError) as exc:
            self._counts["refused_records"] += 1
            self._log.warning("auth.record_refused", writer=entry.writer.hex()[:16], table=entry.table,
                              key=entry.key[:64], error=str(exc))
            return False
        return True

    async def submit(self, values: list[bytes]) -> list[Record]:
        """Store signed records (from the CLI, an SDK client or `bootstrap`) after the replicas' check."""
        records: list[Record] = []
        writes: list[Write] = []
        now = self._now()
        for value in values:
            try:
                record = Record.decode(value)
                held = self._kv.lookup(AUTH_DB, record.table, record.key)
                accept(value, record.table, record.key, self.root, now, held.value if held is not None else None)
            except IdentityError as exc:
                raise _refusal(exc) from None
            if record.issued_at < now - CLOCK_SKEW:
                # Replicas take late records (a member back from away); the node a client hands one to
                # need not, and a backdated revocation would be applied before those it came after.
                raise InvalidArgument(f"auth record is dated {now - record.issued_at} s ago; sign it now (and "
                                      "check the signing machine's clock)")
            records.append(record)
            writes.append(Write(AUTH_DB, record.table, record.key, value))
        await self._kv.write(writes)
        self.rebuild()
        return records

    # ---- requests -------------------------------------------------------------------------------

    def principal(self, token: str) -> Principal:
        """The account `token` names, if the token is valid now and the account in force; raises
        `Unauthenticated` saying why not. A token is a node's word that the account proved its key: what
        the account may hold comes from its record, so the scopes are the token's that the account
        still has (a node cannot mint scopes, and a scope taken away is gone at once)."""
        known = self._tokens.get(token)
        if known is not None and known.state is self.state and known.not_before <= self._clock() < known.not_after:
            return known.principal  # the common case, per request: resolved under this state, in its time
        now = self._now()
        try:
            if known is None:
                checked = AccessToken.from_text(token)
                checked.verify_signed(self.root, now)
                known = self._tokens[token] = _Known(checked)
                if len(self._tokens) > _TOKENS:
                    self._tokens.popitem(last=False)
            known.token.check_live(now, self.state.revocations)
            account = self.state.account(known.token.account, now)
            if account is None:
                raise InvalidChain(f"account {known.token.name} is not in force in this mesh (unknown, deleted, "
                                   "revoked or expired)")
        except IdentityError as exc:
            self._counts["refused_tokens"] += 1
            raise Unauthenticated(f"invalid token: {exc}") from None
        known.resolve(self.state, account)
        return known.principal

    def check(self, principal: Principal | None, resource: str) -> None:
        """Raise unless the rules let `principal` (None: the public) at `resource`: `Unauthenticated`
        for the public (a credential might help), `PermissionDenied` for an account."""
        if self.state.authorize(principal, resource).allowed:
            return
        self._counts["denied"] += 1
        if principal is None:
            raise Unauthenticated(f"{resource} needs a token (Authorization: Bearer)")
        raise PermissionDenied(f"account {principal.name} may not access {resource}")

    def require_scope(self, principal: Principal | None, scope: str) -> None:
        """Raise unless `principal` holds `scope` (config secrets in clear need `secrets`)."""
        if principal is None or scope not in principal.scopes:
            self._counts["denied"] += 1
            who = "the public" if principal is None else f"account {principal.name}"
            raise PermissionDenied(f"{who} lacks scope {scope!r}")

    def requester(self, credential: node_pb2.Credential) -> Principal | None:
        """Whom an entry point (the gateway) says a request is for: its token's account, or the public."""
        return self.principal(credential.token) if credential.token else None

    async def delivered(self, token: str | None, principal: Principal | None, pattern: str,
                        batches: AsyncIterator[node_pb2.PubsubBatch]) -> AsyncIterator[node_pb2.PubsubBatch]:
        """A subscription's batches as its caller may see them. The token is checked again for each batch
        (it may expire, or its account be revoked: the stream then ends 401), and each message's topic is
        checked (`topic:SUBJECT`) once the pattern has wildcards or the rules changed since it was
        admitted: a grant on a pattern is no grant on what a deny takes out of it."""
        admitted = self.state
        each = "*" in pattern or ">" in pattern
        try:
            async for batch in batches:
                if token is not None:
                    principal = self.principal(token)
                if each or self.state is not admitted:
                    each = True
                    state = self.state
                    kept = [m for m in batch.messages if state.authorize(principal, f"topic:{m.topic}").allowed]
                    if len(kept) < len(batch.messages):
                        del batch.messages[:]
                        batch.messages.extend(kept)
                        if not kept:
                            continue
                yield batch
        finally:
            closing = getattr(batches, "aclose", None)
            if closing is not None:
                await closing()

    def admit_call(self, request: node_pb2.CallRequest, principal: Principal | None) -> None:
        """Check a call entering the mesh here and tell the service who makes it: the metadata keys
        `micro-account-*` and `micro-caller` are the nodes' to set (a client's own are dropped, so none
        can be forged)."""
        self.check(principal, f"service:{request.service}:{request.endpoint}")
        request.ClearField("credential")
        for key in [k for k in request.metadata if k.startswith(ACCOUNT_PREFIX) or k == CALLER_KEY]:
            del request.metadata[key]
        if principal is not None:
            metadata = request.metadata
            for key, value in _stamp(principal):
                metadata[key] = value

    # ---- tokens ---------------------------------------------------------------------------------

    def token_reply(self, request: node_pb2.AuthTokenRequest) -> node_pb2.AuthTokenReply:
        if not 0 <= request.ttl_s <= MAX_TOKEN_TTL:
            raise InvalidArgument(f"a token lasts at most {MAX_TOKEN_TTL // 86400} days")
        token = self.token(request.account_id, request.nonce, request.signature, round(request.ttl_s))
        return node_pb2.AuthTokenReply(token=token.to_text(), expires_at=float(token.expires_at),
                                       account_id=token.account.id, name=token.name, scopes=token.scopes)

    async def submit_reply(self, request: node_pb2.AuthSubmitRequest) -> node_pb2.AuthSubmitReply:
        await self.submit(list(request.records))
        return node_pb2.AuthSubmitReply()

    def records_reply(self, request: node_pb2.AuthRecordsRequest) -> node_pb2.AuthRecordsReply:
        if request.table not in TABLES:
            raise InvalidArgument(f"no auth table {request.table!r}; one of {', '.join(TABLES)}")
        entries = self._kv.visible(AUTH_DB, request.table, "")
        return node_pb2.AuthRecordsReply(records=[e.value for e in entries if e.value is not None])

    def challenge(self) -> bytes:
        """A fresh nonce for a client to sign (`identity.tokens`)."""
        return self._challenges.issue(os.urandom(NONCE_SIZE), self._now())

    def token(self, account_id: str, nonce: bytes, signature: bytes, ttl: int) -> AccessToken:
        """A token for the account that signed this node's challenge `nonce`."""
        now = self._now()
        try:
            key = PublicKey.from_id(account_id)
            if key.kind is not KeyKind.ACCOUNT:
                raise InvalidArgument(f"{account_id} is not an account id (A…)")
            self._challenges.redeem(nonce, now)
            check_challenge(key, self.root, self._node_key.public, nonce, signature)
            account = self.state.account(key, now)
            if account is None:
                raise Unauthenticated(f"no active account {key.id} in this mesh (unknown, deleted, revoked "
                                      "or expired)")
            token = AccessToken.issue(self._node_key, Chain.decode(self._chain()), self.root, account, now,
                                      ttl or DEFAULT_TOKEN_TTL)
        except IdentityError as exc:
            self._counts["refused_challenges"] += 1
            raise _refusal(exc) from None
        self._counts["tokens_issued"] += 1
        return token

    # ---- bootstrap ------------------------------------------------------------------------------

    async def bootstrap(self, root_key: SigningKey, creds: Path) -> None:
        """Create the `admin` account (its key saved at `creds`, or the key already there) and the default
        rules, signed by the root."""
        if creds.exists():
            admin = SigningKey.load(creds, KeyKind.ACCOUNT)
        else:
            admin = SigningKey.generate(KeyKind.ACCOUNT)
            admin.save(creds)
        now = self._now()
        body = Account(admin.public, "admin", AccountType.USER, (ADMIN_SCOPE, SECRETS_SCOPE))
        records = [Record.issue(root_key, (), self.root, body, now)]
        records += [Record.issue(root_key, (), self.root, rule, now) for rule in default_rules()]
        await self.submit([r.encode() for r in records])
        self._log.info("auth.bootstrapped", admin=admin.public.id, creds=str(creds))

    def counters(self) -> dict[str, int]:
        counts = {f"auth.{name}": self._counts[name] for name in
                  ("refused_records", "refused_revoked", "refused_tokens", "refused_challenges", "denied",
                   "tokens_issued")}
        counts["auth.accounts"] = len(self.state.accounts)
        counts["auth.rules"] = len(self.state.rules)
        counts["auth.revocations"] = len(self.state.revocations)
        return counts


class _Known:
    """A token whose signatures and chain checked, with what each request needs of it made once."""

    __slots__ = ("not_after", "not_before", "principal", "state", "token")

    def __init__(self, token: AccessToken) -> None:
        self.token = token
        self.state: AuthState | None = None
        self.principal = Principal(token.account, token.name, frozenset())
        self.not_before = self.not_after = 0

    def resolve(self, state: AuthState, account: Account) -> None:
        """The principal under `state` (where `account` is in force), and the times within which neither
        `check_live` nor the account's expiry has anything to say (whole seconds: see `Auth._now`)."""
        self.state = state
        self.principal = Principal(account.key, account.name, frozenset(self.token.scopes) & frozenset(account.scopes))
        self.not_before = self.token.issued_at - TOKEN_SKEW
        self.not_after = self.token.expires_at + TOKEN_SKEW + 1
        if account.expires_at:
            self.not_after = min(self.not_after, account.expires_at + CLOCK_SKEW + 1)


@functools.lru_cache(maxsize=4096)
def _stamp(principal: Principal) -> tuple[tuple[str, str], ...]:
    """The call metadata that tells a service who calls (the id's text costs a base32 encoding)."""
    return ((ACCOUNT_PREFIX + "id", principal.account.id if principal.account else ""),
            (ACCOUNT_PREFIX + "name", principal.name),
            (ACCOUNT_PREFIX + "scopes", ",".join(sorted(principal.scopes))))


def _refusal(exc: IdentityError) -> NodeError:
    if exc.code == "UNAUTHENTICATED":
        return Unauthenticated(str(exc))
    if exc.code == "PERMISSION_DENIED":
        return PermissionDenied(str(exc))
    return InvalidArgument(str(exc))

