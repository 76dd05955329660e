"""Auth across real nodes, through the `micro auth` CLI and the gateways (issue 17's acceptance cases).

Three nodes a, b, c in one mesh (a created it and holds the admin's credentials and the root seed; a and b
serve the gateway) and a fourth, x, that turns against the others. An account made on one node gets a
token on another and uses it at a third's gateway; a rule or a revocation made anywhere is in force
everywhere; records without an admin's authority are refused by every replica, however they arrive; a
plain account signs nothing; a deny-all rule locks even the admin out until the mesh root recovers.

A gateway request proves the rules: each account here may publish to its own topics (`topic:NAME.*`)
through a grant rule, and anything else is refused.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from auth_harness import Cli, GatewayNode, publish
from micro.identity.keys import KeyKind, PublicKey, SigningKey
from micro.identity.records import ACCOUNTS, AUTH_DB, RULES, Record
from micro.identity.rules import Access, Rule
from micro.mesh.trust import sign_kv
from micro.node.api.datadir import DataDir
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.node.credentials import NodeCredentials
from micro.sdk import auth
from micro.sdk.errors import Forbidden
from node_harness import PATIENCE, Cluster, NodeProcess, one_line_error, wait_until

LANDS = 10.0
"""How long a record made on one node may take to be in force on another in these tests: generous for a
loaded machine; it takes well under a second on an idle one (the deny test prints what it took)."""

_names = itertools.count()


@dataclass
class Mesh:
    a: GatewayNode
    b: GatewayNode
    c: NodeProcess
    x: NodeProcess
    base: Path

    @property
    def admin_creds(self) -> str:
        return str(self.a.data_dir / "admin.creds")


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    with Cluster.temporary("ma-") as cluster:
        a, b = GatewayNode(cluster, "a"), GatewayNode(cluster, "b")
        c, x = cluster.add_unstarted(), cluster.add_unstarted()
        nodes = [a, b, c, x]
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_ready()
        for node in nodes[1:]:
            node.join(a)
        cluster.wait_states(nodes, {n.address: "alive" for n in nodes})
        yield Mesh(a, b, c, x, cluster.base)


@dataclass
class Account:
    name: str
    id: str
    creds: Path


def _account(mesh: Mesh, scopes: str | None = None) -> Account:
    """A new account made on a with the CLI, which may publish to `topic:NAME.*` (a grant rule)."""
    name = f"acct{next(_names)}"
    creds = mesh.base / f"{name}.creds"
    cli = Cli(mesh.a)
    created = cli.ok("auth", "account", "create", name, "--scopes", scopes or name, "--out", str(creds))
    cli.ok("auth", "rule", "create", f"{name}-publish", "--resource", f"topic:{name}.*", "--scope", name)
    return Account(name, created.split()[3], creds)


def _token(node: NodeProcess, creds: Path) -> str:
    """A token from `node` for the account of `creds`, once the account has reached the node."""
    def issued() -> str | None:
        result = Cli(node).run("auth", "token", "--account-creds", str(creds))
        return result.stdout.strip() if result.returncode == 0 else None

    token: str = wait_until(issued, LANDS, f"{node.name} to know the account of {creds.name}")
    return token


def _published(url: str, topic: str, token: str | None, status: int) -> None:
    wait_until(lambda: publish(url, topic, token) == status, LANDS, f"a publish to {topic} at {url} to be {status}")


def test_an_account_made_on_a_gets_a_token_on_c_that_works_at_bs_gateway(mesh: Mesh) -> None:
    account = _account(mesh)
    copied = mesh.c.data_dir / account.creds.name
    shutil.copy(account.creds, copied)

    token = _token(mesh.c, copied)

    _published(mesh.b.url, f"{account.name}.hello", token, 200)
    assert publish(mesh.b.url, "elsewhere.hello", token) == 403
    assert publish(mesh.b.url, f"{account.name}.hello", None) == 401


def test_a_deny_rule_made_on_b_denies_the_token_at_as_gateway(mesh: Mesh, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    account = _account(mesh)
    token = _token(mesh.a, account.creds)
    topic = f"{account.name}.hello"
    _published(mesh.a.url, topic, token, 200)

    started = time.monotonic()
    Cli(mesh.b).ok("auth", "rule", "create", f"{account.name}-deny", "--resource", f"topic:{account.name}.*",
                   "--scope", account.name, "--access", "deny", "--priority", "10", "--signer-creds", mesh.admin_creds)
    wait_until(lambda: publish(mesh.a.url, topic, token) == 403, LANDS, "the deny rule to be in force at a",
               interval=0.01)

    with capsys.disabled():
        print(f"\n  a deny rule made on b was in force at a's gateway {time.monotonic() - started:.2f} s after "
              "`micro auth rule create` started on b (the CLI's own start-up included)")


def test_revoking_the_account_on_c_fails_its_token_at_a_and_b(mesh: Mesh) -> None:
    account = _account(mesh)
    token = _token(mesh.a, account.creds)
    for node in (mesh.a, mesh.b):
        _published(node.url, f"{account.name}.hello", token, 200)

    Cli(mesh.c).ok("auth", "revoke", account.id, "--signer-creds", mesh.admin_creds)

    for node in (mesh.a, mesh.b):
        _published(node.url, f"{account.name}.hello", token, 401)


def test_deleting_an_account_by_name_ends_its_tokens_and_its_listing(mesh: Mesh) -> None:
    account = _account(mesh)
    token = _token(mesh.a, account.creds)
    cli = Cli(mesh.a)

    assert cli.ok("auth", "account", "delete", account.name).startswith(f"deleted account {account.id}")

    assert publish(mesh.a.url, f"{account.name}.hello", token) == 401
    assert account.id not in {listed["id"] for listed in cli.json("auth", "account", "list")}


def test_the_account_list_shows_each_accounts_type_scopes_and_expiry(mesh: Mesh) -> None:
    cli = Cli(mesh.a)
    creds = mesh.base / "billing.creds"
    before = time.time()

    cli.ok("auth", "account", "create", "billing", "--type", "service", "--scopes", "orders,billing", "--ttl", "30d",
           "--out", str(creds))

    listed = {a["name"]: a for a in cli.json("auth", "account", "list")}
    assert listed["billing"]["type"] == "service"
    assert listed["billing"]["scopes"] == ["billing", "orders"]
    assert before + 30 * 86400 - 1 <= listed["billing"]["expires_at"] <= time.time() + 30 * 86400 + 1
    assert listed["admin"]["scopes"] == ["admin", "secrets"] and listed["admin"]["expires_at"] is None


def test_whoami_names_a_tokens_account_and_without_one_the_socket_owner(mesh: Mesh) -> None:
    account = _account(mesh)
    cli = Cli(mesh.a)

    with_token = cli.json("whoami", "--token", _token(mesh.a, account.creds))
    without = cli.json("whoami")

    assert (with_token["account_id"], with_token["name"], with_token["scopes"]) == (account.id, account.name,
                                                                                   [account.name])
    assert (without["account_id"], without["name"]) == (None, "admin")
    assert with_token["node_id"] == without["node_id"] == mesh.a.status()["id"]


def test_rules_are_listed_highest_priority_first_and_a_deleted_one_is_gone(mesh: Mesh) -> None:
    cli = Cli(mesh.a)
    for rule_id, priority in (("low", "-5"), ("high", "5")):
        cli.ok("auth", "rule", "create", rule_id, "--resource", "topic:nothing.*", "--scope", "nobody",
               "--priority", priority)
    cli.ok("auth", "rule", "delete", "low")

    listed = cli.json("auth", "rule", "list")

    priorities = [rule["priority"] for rule in listed]
    assert priorities == sorted(priorities, reverse=True)
    assert "high" in {rule["id"] for rule in listed} and "low" not in {rule["id"] for rule in listed}


def test_a_plain_account_signs_no_account_rule_or_revocation(mesh: Mesh) -> None:
    plain = _account(mesh)
    cli = Cli(mesh.a)
    accounts, rules = cli.json("auth", "account", "list"), cli.json("auth", "rule", "list")
    refused = f"account {plain.name} ({plain.id}) lacks scope 'admin' and cannot sign auth records (403 PERMISSION_DENIED)"
    signer = ("--signer-creds", str(plain.creds))

    one_line_error(cli.run("auth", "account", "create", "mallory", "--scopes", "admin",
                           "--out", str(mesh.base / "mallory.creds"), *signer), refused)
    one_line_error(cli.run("auth", "rule", "create", "open", "--resource", "*", "--scope", "", *signer), refused)
    one_line_error(cli.run("auth", "revoke", plain.id, *signer), refused)

    assert not (mesh.base / "mallory.creds").exists()
    assert cli.json("auth", "account", "list") == accounts
    assert cli.json("auth", "rule", "list") == rules


def _submit_raw(node: NodeProcess, record: bytes) -> grpc.RpcError:
    """What the node's AuthSubmit answers a record the SDK would not sign (it refuses node keys)."""
    with grpc.insecure_channel(f"unix:{DataDir(node.data_dir).socket}") as channel:
        try:
            node_pb2_grpc.NodeStub(channel).AuthSubmit(node_pb2.AuthSubmitRequest(records=[record]), timeout=PATIENCE)
        except grpc.RpcError as exc:
            return exc
    raise AssertionError("the node stored a record its issuer may not sign")


async def _plain_records(mesh: Mesh, plain: Account, rule: Rule) -> tuple[Record, Forbidden]:
    """The plain account's own record, and the node's refusal of `rule` signed by it through AuthSubmit."""
    async with auth.Client(mesh.a.data_dir) as client:
        own = next(r for r in await client.records(ACCOUNTS) if r.key == plain.id)
        with pytest.raises(Forbidden) as refused:
            await client.submit(auth.load_key(plain.creds), [rule])
    return own, refused.value


def _counters(node: NodeProcess) -> dict[str, int]:
    counters: dict[str, int] = Cli(node).json("node", "status")["counters"]
    return counters


def test_records_without_an_admins_authority_are_refused_by_every_replica(mesh: Mesh) -> None:
    plain = _account(mesh)
    x = DataDir(mesh.x.data_dir)
    node_key = SigningKey.load(x.node_seed, KeyKind.NODE)
    held = x.load_mesh()
    assert held is not None
    root = PublicKey(KeyKind.MESH, held.mesh)
    now = int(time.time())
    # Both would open everything to everyone, above every other rule, if they were ever in force.
    by_node = Rule("evil-node", "*", "", Access.GRANT, 1000)
    by_plain = Rule("evil-plain", "*", "", Access.GRANT, 1000)
    unsigned = Record(by_node, node_key.public, root, now, b"")
    node_signed = replace(unsigned, signature=node_key.sign(unsigned.signed_bytes()))
    own, refusal = asyncio.run(_plain_records(mesh, plain, by_plain))
    plain_signed = Record.issue(auth.load_key(plain.creds), (own,), root, by_plain, now)

    # Through the local API: refused, in one line.
    assert "lacks scope 'admin'" in refusal.detail and refusal.code == 403
    raw = _submit_raw(mesh.a, node_signed.encode())
    assert raw.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raw.details() == "auth record issuer is neither the mesh root nor an account"

    # As registers x signs with its own node key, in its store while it is down, spread when it is back.
    before = {node.name: _counters(node) for node in (mesh.a, mesh.b, mesh.c)}
    mesh.x.kill()
    credentials = NodeCredentials(node_key, held.chain)
    rows = [sign_kv(credentials, AUTH_DB, RULES, record.key, record.encode(), 0, now * 1000, 0)
            for record in (node_signed, plain_signed)]
    with closing(sqlite3.connect(x.kv_db)) as db, db:
        db.executemany("INSERT INTO entries (db, tbl, key, value, expire_at, physical_ms, logical, writer, signature) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(e.db, e.table, e.key, e.value, e.expire_at, e.physical_ms, e.logical, e.writer, e.signature)
                        for e in rows])
    mesh.x.start()

    for node in (mesh.a, mesh.b, mesh.c):
        def refused(node: NodeProcess = node) -> bool:
            now_counted, then = _counters(node), before[node.name]
            return (now_counted["auth.refused_records"] > then["auth.refused_records"]
                    and now_counted["core.kv_refused"] > then["core.kv_refused"])

        wait_until(refused, LANDS, f"{node.name} to refuse x's records")
    for node in (mesh.a, mesh.b, mesh.c, mesh.x):
        assert {"evil-node", "evil-plain"}.isdisjoint(r["id"] for r in Cli(node).json("auth", "rule", "list"))
    for node in (mesh.a, mesh.b):
        assert publish(node.url, "anything", None) == 401


def test_a_deny_all_locks_the_admin_out_until_the_root_recovers(tmp_path: Path) -> None:
    with Cluster.temporary("ml-") as cluster:
        node = cluster.add(1)[0]
        cli = Cli(node)
        cli.ok("auth", "rule", "create", "lock-accounts", "--resource", "*", "--scope", "*", "--access", "deny",
               "--priority", "1000")
        # The admin's own records are out of its reach now; the root signs without them.
        cli.ok("auth", "rule", "create", "lock-public", "--resource", "*", "--scope", "", "--access", "deny",
               "--priority", "1000", "--signer-creds", str(node.data_dir / "root.seed"))

        one_line_error(cli.run("kv", "put", "k", "v"), "account admin may not access kv:default:default")
        one_line_error(cli.run("auth", "rule", "list"), "account admin may not access node:", "(403 PERMISSION_DENIED)")

        cli.ok("auth", "recover")

        assert cli.ok("kv", "put", "k", "v")
        assert cli.json("auth", "rule", "list")[0]["id"] == "recover-admin"
