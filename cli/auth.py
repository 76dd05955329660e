"""`micro auth` and `micro whoami`: accounts, rules, revocations and tokens, through the local node.

Records are signed here, with the key in a credentials file, and the node checks and stores them as
every replica does (`sdk.auth.Client`): `--signer-creds` names an admin account's credentials (by default
`DATA_DIR/admin.creds`, made with the mesh on the node that created it) or the mesh root's seed
(`DATA_DIR/root.seed`). A signer without the `admin` scope is refused by the node (403), and nothing is
stored. Lists show what is in force, worked out from the records as every node does.

A new account's key is written to its credentials file (0600, never over an existing file) before the
account is created, so no account exists whose key was lost; if the node refuses the account the file
is removed again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ..identity.errors import IdentityError
from ..identity.keys import KeyKind, PublicKey, SigningKey
from ..identity.records import check_scopes
from ..identity.rules import MAX_PRIORITY
from ..node.api.datadir import DataDir
from ..node.api.errors import InvalidArgument, NodeError, NotFound
from ..sdk import auth as sdk_auth
from ..sdk.errors import MicroError
from .common import Duration, data_dir_option, echo, echo_json, echo_table, utc_time

__all__ = ["auth", "whoami"]

_T = TypeVar("_T")
_REFUSALS = ("UNAUTHENTICATED", "PERMISSION_DENIED")
_SIGNER_HINT = ("records are signed with an admin account's credentials (admin.creds in the data dir of the "
                "node that created the mesh) or the mesh root's seed (its root.seed): give one with "
                "--signer-creds FILE")
_ACCOUNT_HINT = "give the account's credentials (made by `micro auth account create`) with --account-creds FILE"
_ROOT_HINT = ("recovery needs the mesh root's seed, root.seed in the data dir of the node that created the "
              "mesh: give it with --root-creds FILE")


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    """A Micro error from the node or the SDK as the CLI's one line; a refusal with its code, `detail (403
    PERMISSION_DENIED)`, so a signer or token that may not (403) reads apart from one that is not valid
    (401)."""
    try:
        yield
    except MicroError as exc:
        refused = exc.status in _REFUSALS
        raise NodeError(f"{exc.detail} ({exc.code} {exc.status})" if refused else exc.detail, exc.status) from None


def _with_client(data_dir: str | None, work: Callable[[sdk_auth.Client], Awaitable[_T]]) -> _T:
    """`work` done with an auth client of the data dir's node."""
    async def run() -> _T:
        async with sdk_auth.Client(data_dir) as client:
            return await work(client)

    with _one_line():
        return asyncio.run(run())


def _key(path: str | None, default: Path, hint: str) -> SigningKey:
    """The key in the credentials file `path` (else `default`); a missing file is told with `hint`."""
    file = Path(path).expanduser() if path else default
    if not file.exists():
        raise InvalidArgument(f"no credentials file {file}: {hint}")
    with _one_line():
        return sdk_auth.load_key(file)


def _signer(data_dir: str | None, path: str | None) -> SigningKey:
    return _key(path, DataDir.resolve(data_dir).admin_creds, _SIGNER_HINT)


def _scopes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """`--scopes a,b`: the scope names, checked as the node checks them."""
    try:
        return check_scopes(part.strip() for part in value.split(",") if part.strip())
    except IdentityError as exc:
        raise click.BadParameter(str(exc)) from None


def _signer_option(f: Any) -> Any:
    return click.option("--signer-creds", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                        help="The key the records are signed with: an admin account's credentials or the mesh "
                             "root's seed [default: DATA_DIR/admin.creds].")(f)


def _json_option(f: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


@click.group()
def auth() -> None:
    """Accounts, access rules, tokens and revocations."""


# ---- accounts -----------------------------------------------------------------------------------


@auth.group()
def account() -> None:
    """Create, list and delete accounts."""


@account.command("create")
@data_dir_option
@click.argument("name")
@click.option("--scopes", default="", callback=_scopes, metavar="A,B", help="The scopes the account holds.")
@click.option("--type", "kind", type=click.Choice(["user", "service"]), default="user", show_default=True,
              help="A person, or a service.")
@click.option("--ttl", type=Duration(), default=None, help="How long the account lasts (30d) [default: no expiry].")
@click.option("--out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Where to write the account's credentials [default: ./NAME.creds].")
@_signer_option
def account_create(data_dir: str | None, name: str, scopes: tuple[str, ...], kind: str, ttl: float | None,
                   out: str | None, signer_creds: str | None) -> None:
    """Create account NAME and write its credentials file; prints the file and the account's id."""
    if out is None and "/" in name:
        raise InvalidArgument(f"the account name {name!r} is no file name: give the credentials file with --out FILE")
    path = Path(out or f"{name}.creds").expanduser().absolute()
    signer = _signer(data_dir, signer_creds)
    if path.exists():
        raise NodeError(f"{path} exists: give another --out FILE, or remove it", "ALREADY_EXISTS")
    key = SigningKey.generate(KeyKind.ACCOUNT)
    try:
        key.save(path, exclusive=True)
    except FileExistsError:
        raise NodeError(f"{path} exists: give another --out FILE, or remove it", "ALREADY_EXISTS") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        _with_client(data_dir, lambda client: client.create_account(signer, name, scopes, kind, ttl, key=key))
    except NodeError:
        path.unlink(missing_ok=True)
        raise
    echo(f"created account {name} {key.public.id}")
    echo(f"credentials in {path} (whoever holds this file is the account; keep it secret)")


@account.command("list")
@data_dir_option
@_json_option
def account_list(data_dir: str | None, as_json: bool) -> None:
    """List the accounts in force."""
    accounts = _with_client(data_dir, lambda client: client.accounts())
    rows = [{"id": a.key.id, "name": a.name, "type": a.type.value, "scopes": list(a.scopes),
             "expires_at": a.expires_at or None} for a in accounts]
    if as_json:
        echo_json(rows)
        return
    echo_table(("ID", "NAME", "TYPE", "SCOPES", "EXPIRES"),
               [(r["id"], r["name"], r["type"], ",".join(r["scopes"]) or "-", utc_time(r["expires_at"] or 0))
                for r in rows])


@account.command("delete")
@data_dir_option
@click.argument("account_ref", metavar="ID|NAME")
@_signer_option
def account_delete(data_dir: str | None, account_ref: str, signer_creds: str | None) -> None:
    """Delete an account, by id or name: its tokens stop working everywhere."""
    signer = _signer(data_dir, signer_creds)

    async def delete(client: sdk_auth.Client) -> str:
        account_id = _account_id(account_ref, await client.accounts())
        await client.delete_account(signer, account_id)
        return account_id

    echo(f"deleted account {_with_client(data_dir, delete)}; its tokens no longer work")


def _account_id(ref: str, accounts: list[Any]) -> str:
    """The id `ref` is, or the id of the one account named `ref`."""
    with contextlib.suppress(IdentityError):
        if PublicKey.from_id(ref).kind is KeyKind.ACCOUNT:
            return ref
    named = [a.key.id for a in accounts if a.name == ref]
    if not named:
        raise NotFound(f"no account named {ref!r} (`micro auth account list` shows them)")
    if len(named) > 1:
        raise InvalidArgument(f"{len(named)} accounts are named {ref!r}: give the id of the one to delete")
    return named[0]


# ---- rules --------------------------------------------------------------------------------------


@auth.group()
def rule() -> None:
    """Create, list and delete access rules."""


@rule.command("create")
@data_dir_option
@click.argument("rule_id", metavar="ID")
@click.option("--resource", required=True, metavar="PATTERN",
              help="type[:name[:endpoint]], segments exact, * or ending in * (service:blog:Posts.*).")
@click.option("--scope", required=True,
              help="The scope a caller must hold: a name, '*' for any account, '' for everyone.")
@click.option("--access", type=click.Choice(["grant", "deny"]), default="grant", show_default=True)
@click.option("--priority", type=click.IntRange(-MAX_PRIORITY, MAX_PRIORITY), default=0, show_default=True,
              help="The highest-priority rule that applies decides; at a tie a deny wins.")
@_signer_option
def rule_create(data_dir: str | None, rule_id: str, resource: str, scope: str, access: str, priority: int,
                signer_creds: str | None) -> None:
    """Create (or replace) rule ID."""
    signer = _signer(data_dir, signer_creds)
    made = _with_client(data_dir, lambda client: client.create_rule(signer, rule_id, resource, scope, access, priority))
    echo(f"created rule {made.id}: {made.access.value} {made.resource} to {_scope_text(made.scope)} "
         f"at priority {made.priority}")


@rule.command("list")
@data_dir_option
@_json_option
def rule_list(data_dir: str | None, as_json: bool) -> None:
    """List the rules in force, highest priority first."""
    rules = _with_client(data_dir, lambda client: client.rules())
    if as_json:
        echo_json([{"id": r.id, "resource": r.resource, "scope": r.scope, "access": r.access.value,
                    "priority": r.priority} for r in rules])
        return
    echo_table(("ID", "RESOURCE", "SCOPE", "ACCESS", "PRIORITY"),
               [(r.id, r.resource, r.scope or "(public)", r.access.value, str(r.priority)) for r in rules])


def _scope_text(scope: str) -> str:
    return {"": "everyone", "*": "any account"}.get(scope, f"scope {scope!r}")


@rule.command("delete")
@data_dir_option
@click.argument("rule_id", metavar="ID")
@_signer_option
def rule_delete(data_dir: str | None, rule_id: str, signer_creds: str | None) -> None:
    """Delete rule ID."""
    signer = _signer(data_dir, signer_creds)
    _with_client(data_dir, lambda client: client.delete_rule(signer, rule_id))
    echo(f"deleted rule {rule_id}")


# ---- tokens, revocation, recovery ---------------------------------------------------------------


@auth.command()
@data_dir_option
@click.option("--account-creds", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The account's credentials [default: DATA_DIR/admin.creds].")
@click.option("--ttl", type=Duration(), default="1h", show_default=True, help="How long the token is valid.")
@_json_option
def token(data_dir: str | None, account_creds: str | None, ttl: float, as_json: bool) -> None:
    """Print a bearer token for the account (`Authorization: Bearer TOKEN`)."""
    key = _key(account_creds, DataDir.resolve(data_dir).admin_creds, _ACCOUNT_HINT)
    issued = _with_client(data_dir, lambda client: client.token(key, ttl))
    if as_json:
        echo_json({"token": issued.token, "expires_at": issued.expires_at, "account_id": issued.account_id,
                   "name": issued.name, "scopes": list(issued.scopes)})
        return
    click.echo(issued.token)


@auth.command()
@data_dir_option
@click.argument("key_id", metavar="ID")
@_signer_option
def revoke(data_dir: str | None, key_id: str, signer_creds: str | None) -> None:
    """Revoke an account (A…) or a node (N…): what it issued, or was issued for it, until now is dead."""
    signer = _signer(data_dir, signer_creds)
    revocation = _with_client(data_dir, lambda client: client.revoke(signer, key_id))
    echo(f"revoked {revocation.key.id} as of {utc_time(revocation.at)}")


@auth.command()
@data_dir_option
@click.option("--root-creds", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The mesh root's seed [default: DATA_DIR/root.seed].")
def recover(data_dir: str | None, root_creds: str | None) -> None:
    """Undo a lock-out: with the mesh root's key, give admins everything back, above every other rule."""
    root = _key(root_creds, DataDir.resolve(data_dir).root_seed, _ROOT_HINT)
    made = _with_client(data_dir, lambda client: client.recover(root))
    echo(f"admins may do everything again: rule {made.id} at priority {made.priority}, signed by the mesh root")


@click.command()
@data_dir_option
@click.option("--token", "bearer", default=None, metavar="TOKEN",
              help="Ask as this token's account [default: as this node's socket owner, its admin].")
@_json_option
def whoami(data_dir: str | None, bearer: str | None, as_json: bool) -> None:
    """Who the node takes you for: the account of --token, else the owner of its socket."""
    reply = _with_client(data_dir, lambda client: client.whoami(bearer))
    info = {"account_id": reply.account_id or None, "name": reply.name, "scopes": list(reply.scopes),
            "node_id": reply.node_id, "mesh_id": reply.mesh_id}
    if as_json:
        echo_json(info)
        return
    who = f"{reply.name} {reply.account_id}" if reply.account_id else f"{reply.name} (this node's socket owner)"
    echo(f"account  {who}")
    echo(f"scopes   {','.join(reply.scopes) or '-'}")
    echo(f"node     {reply.node_id}")
    echo(f"mesh     {reply.mesh_id}")
