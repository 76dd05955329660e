"""Accounts, rules, revocations and tokens, from Python: `auth.Client`.

    client = auth.Client()                                   # the node of MICRO_DATA_DIR or ~/.micro
    admin = auth.load_key("~/.micro/admin.creds")            # an admin account's key (or the mesh root's)
    key, account = await client.create_account(admin, "billing", scopes=["orders.write"], type="service")
    await client.create_rule(admin, "public-index", "service:blog:Posts.List", scope="", access="grant")
    token = await client.token(key, ttl=3600)                # for `Authorization: Bearer`

Records are signed here, with the signer's key, and the node only checks and stores them (as every node
does): a node cannot sign them, so it cannot grant itself anything. An admin's records carry the chain of
its account records up to the mesh root, which the client reads from the node. A token is issued by the
node against the account key's signature of a one-time challenge; the key never leaves this process.
Failures are `errors.MicroError`s (401 a bad signature or token, 403 a signer that is not an admin).

`accounts`, `rules` and `revocations` are those in force: the records the node holds, checked and applied
here as every node applies them (`identity.authstate.AuthState`), so a stored record that does not chain
to the root is not among them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..identity.authstate import AuthState, recovery_rule
from ..identity.errors import IdentityError
from ..identity.keyring import generate_key
from ..identity.keys import KeyKind, PublicKey, SigningKey, seal_to
from ..identity.records import (
    ACCOUNTS,
    RULES,
    TABLES,
    Account,
    AccountType,
    Body,
    Record,
    Removal,
    Revocation,
    Seal,
)
from ..identity.rules import Access, Rule
from ..identity.tokens import answer_challenge
from ..node.api.proto import node_pb2
from .channel import NodeUser
from .errors import bad_request, forbidden, not_found

__all__ = ["Client", "Token", "load_key"]

_MAX_CHAIN = 4
_ID = "micro.auth"


def load_key(path: str | os.PathLike[str]) -> SigningKey:
    """An account's (or the mesh root's) key from a credentials file (mode 0600)."""
    try:
        return SigningKey.load(os.path.expanduser(os.fspath(path)))
    except IdentityError as exc:
        raise bad_request(_ID, str(exc)) from None


@dataclass(frozen=True)
class Token:
    """A bearer token and what it says."""

    token: str
    expires_at: float
    account_id: str
    name: str
    scopes: tuple[str, ...]


class Client(NodeUser):
    """Auth through the node that owns a data dir (argument, else MICRO_DATA_DIR, else ~/.micro)."""

    # ---- tokens ---------------------------------------------------------------------------------

    async def token(self, key: SigningKey, ttl: float = 3600) -> Token:
        """A token for the account of `key`, answering the node's challenge with it."""
        stub = self._node.stub
        challenge = await self._node.call(stub.AuthChallenge, node_pb2.AuthChallengeRequest())
        signature = answer_challenge(key, PublicKey.from_id(challenge.mesh_id), PublicKey.from_id(challenge.node_id),
                                     challenge.nonce)
        reply = await self._node.call(stub.AuthToken, node_pb2.AuthTokenRequest(
            account_id=key.public.id, nonce=challenge.nonce, signature=signature, ttl_s=ttl))
        return Token(reply.token, reply.expires_at, reply.account_id, reply.name, tuple(reply.scopes))

    async def whoami(self, token: str | None = None) -> node_pb2.WhoAmIReply:
        """Who the node takes the caller for: the account of `token`, else the local socket's owner."""
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        reply: node_pb2.WhoAmIReply = await self._node.call(self._node.stub.WhoAmI, node_pb2.WhoAmIRequest(),
                                                            metadata=metadata)
        return reply

    # ---- records --------------------------------------------------------------------------------

    async def records(self, table: str) -> list[Record]:
        """The records of one table (`accounts`, `rules`, `revocations`, `seals`), removals included."""
        reply = await self._node.call(self._node.stub.AuthRecords, node_pb2.AuthRecordsRequest(table=table))
        out = []
        for value in reply.records:
            try:
                out.append(Record.decode(value))
            except IdentityError:
                continue
        return out

    async def state(self) -> AuthState:
        """What the node's records put in force now, worked out as every node does."""
        mesh = await self._mesh()
        records = [record for table in TABLES for record in await self.records(table)]
        return AuthState.build(mesh, records, int(time.time()))

    async def accounts(self) -> list[Account]:
        """The accounts in force (expired ones included: `Account.active` tells), by name."""
        return sorted((await self.state()).accounts.values(), key=lambda account: (account.name, account.key.id))

    async def rules(self) -> list[Rule]:
        """The rules in force, highest priority first."""
        return sorted((await self.state()).rules, key=lambda rule: (-rule.priority, rule.id))

    async def revocations(self) -> list[Revocation]:
        return [Revocation(key, at) for key, at in (await self.state()).revocations.items()]

    async def create_account(self, signer: SigningKey, name: str, scopes: Iterable[str] = (),
                             type: str = "user", ttl: float | None = None,
                             key: SigningKey | None = None) -> tuple[SigningKey, Account]:
        """A new account with `scopes`, lasting `ttl` seconds (None: no expiry), for `key` (an account key;
        None: one made here). A caller that must keep the key safe first saves it, then creates the
        account, so no account exists whose key was lost."""
        if key is None:
            key = SigningKey.generate(KeyKind.ACCOUNT)
        now = int(time.time())
        try:
            account = Account(key.public, name, AccountType(type), tuple(scopes),
                              now + max(1, round(ttl)) if ttl else 0)
        except (IdentityError, ValueError) as exc:
            raise bad_request(_ID, f"invalid account: {exc}") from None
        await self.submit(signer, [account])
        return key, account

    async def create_rule(self, signer: SigningKey, id: str, resource: str, scope: str, access: str = "grant",
                          priority: int = 0) -> Rule:
        """A rule at `priority` (at most `MAX_PRIORITY` either way: above it is `recover`'s)."""
        try:
            rule = Rule(id, resource, scope, Access(access), priority)
        except (IdentityError, ValueError) as exc:
            raise bad_request(_ID, f"invalid rule: {exc}") from None
        await self.submit(signer, [rule])
        return rule

    async def delete_account(self, signer: SigningKey, account_id: str) -> None:
        """Remove the account and revoke its key, so its tokens die with it."""
        key = _account_key(account_id)
        if not any(a.key == key for a in await self.accounts()):
            raise not_found(_ID, f"no account {account_id}")
        now = int(time.time())
        await self.submit(signer, [Removal(ACCOUNTS, key.id), Revocation(key, now)])

    async def delete_rule(self, signer: SigningKey, rule_id: str) -> None:
        if not any(r.id == rule_id for r in await self.rules()):
            raise not_found(_ID, f"no rule {rule_id!r}")
        await self.submit(signer, [Removal(RULES, rule_id)])

    async def revoke(self, signer: SigningKey, key_id: str) -> Revocation:
        """Revoke an account or a node: what it issued, or was issued for it, until now is dead.

        Revoking a node (N…) also rotates the mesh's gossip keyring: a new key is sealed to every other
        member the node here knows (whatever its state, but not one already revoked), submitted with the
        revocation, and the members move to it (`node/auth/revocation.py`); the revoked node gets none."""
        try:
            key = PublicKey.from_id(key_id)
            revocation = Revocation(key, int(time.time()))
        except IdentityError as exc:
            raise bad_request(_ID, str(exc)) from None
        bodies: list[Body] = [revocation]
        if key.kind is KeyKind.NODE:
            bodies += await self._seals(key)
        await self.submit(signer, bodies)
        return revocation

    async def _seals(self, revoked: PublicKey) -> list[Seal]:
        """A new gossip key sealed to each member but `revoked` and those revoked already."""
        reply = await self._node.call(self._node.stub.Members, node_pb2.MembersRequest())
        gone = {revocation.key for revocation in await self.revocations()} | {revoked}
        members = sorted({PublicKey.from_id(m.id) for m in reply.members} - gone, key=lambda member: member.id)
        gossip_key = generate_key()
        return [Seal(member, revoked, seal_to(member, gossip_key)) for member in members]

    async def recover(self, root: SigningKey) -> Rule:
        """With the mesh root's key: a rule that gives admins everything back, at a priority no deny can
        have (`RECOVERY_PRIORITY`). The root signs without reading anything (it needs no chain), so a
        lock-out that denies reading the records does not stop it."""
        if root.kind is not KeyKind.MESH:
            raise bad_request(_ID, "recovery needs the mesh root key (root.seed of the node that created the mesh)")
        rule = recovery_rule()
        await self.submit(root, [rule])
        return rule

    async def submit(self, signer: SigningKey, bodies: list[Body]) -> None:
        """Sign `bodies` with `signer` (an admin's key, or the mesh root's) and store them."""
        mesh = await self._mesh()
        chain = await self._chain(signer, mesh)
        now = int(time.time())
        try:
            records = [Record.issue(signer, chain, mesh, body, now).encode() for body in bodies]
        except IdentityError as exc:
            raise bad_request(_ID, str(exc)) from None
        await self._node.call(self._node.stub.AuthSubmit, node_pb2.AuthSubmitRequest(records=records))

    async def _mesh(self) -> PublicKey:
        """The mesh root's key (WhoAmI needs no rule, so a locked-out admin still learns it)."""
        reply = await self._node.call(self._node.stub.WhoAmI, node_pb2.WhoAmIRequest())
        return PublicKey.from_id(reply.mesh_id)

    async def _chain(self, signer: SigningKey, mesh: PublicKey) -> tuple[Record, ...]:
        """The account records from the root's down to `signer`'s (empty for the root itself)."""
        if signer.kind is KeyKind.MESH:
            if signer.public != mesh:
                raise forbidden(_ID, f"{signer.public.id} is the root of another mesh")
            return ()
        if signer.kind is not KeyKind.ACCOUNT:
            raise bad_request(_ID, "records are signed with an admin account's key or the mesh root's")
        by_key = {r.body.key: r for r in await self.records(ACCOUNTS) if isinstance(r.body, Account)}
        chain: list[Record] = []
        key = signer.public
        while len(chain) < _MAX_CHAIN:
            record = by_key.get(key)
            if record is None:
                raise forbidden(_ID, f"no account {key.id} in this mesh to sign with")
            chain.insert(0, record)
            if record.issuer.kind is KeyKind.MESH:
                return tuple(chain)
            key = record.issuer
        raise forbidden(_ID, "the signer's account is too far from the mesh root to sign records")


def _account_key(account_id: str) -> PublicKey:
    try:
        key = PublicKey.from_id(account_id)
    except IdentityError as exc:
        raise bad_request(_ID, str(exc)) from None
    if key.kind is not KeyKind.ACCOUNT:
        raise bad_request(_ID, f"{account_id} is not an account id (A…)")
    return key
