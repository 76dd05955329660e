"""The local API checks every request against the rules: a token in the call's `authorization` metadata
makes the request that account's (the socket's owner without one is the node's admin), and config
secrets read in clear only with the `secrets` scope.

One real node; accounts and rules made through `sdk.auth.Client` with the node's `admin.creds`; requests
made over the node's socket with grpc, as a client of a remote entry point would make them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from micro.identity.claims import Chain
from micro.identity.keys import KeyKind, PublicKey, SigningKey
from micro.identity.records import Account, AccountType, Record
from micro.identity.rules import Access, Rule
from micro.identity.tokens import AccessToken
from micro.node.api.datadir import DataDir
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.sdk import auth
from node_harness import Cluster, NodeProcess


@pytest.fixture(scope="module")
def node() -> Iterator[NodeProcess]:
    with Cluster.temporary("la-") as cluster:
        (only,) = cluster.add(1)
        asyncio.run(_setup(only))
        yield only


TOKENS: dict[str, str] = {}


async def _setup(node: NodeProcess) -> None:
    async with auth.Client(node.data_dir) as client:
        admin = auth.load_key(node.data_dir / "admin.creds")
        await client.create_rule(admin, "app-kv", "kv:app", "app", "grant", 0)
        await client.create_rule(admin, "cfg", "config:*", "cfg", "grant", 0)
        for name, scopes in (("plain", []), ("app", ["app"]), ("reader", ["cfg"]), ("keeper", ["cfg", "secrets"])):
            key, _ = await client.create_account(admin, name, scopes)
            TOKENS[name] = (await client.token(key)).token


def _call(node: NodeProcess, method: str, request: Any, token: str | None) -> tuple[grpc.StatusCode, Any]:
    async def go() -> tuple[grpc.StatusCode, Any]:
        async with grpc.aio.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
            stub = node_pb2_grpc.NodeStub(channel)
            metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
            try:
                return grpc.StatusCode.OK, await getattr(stub, method)(request, metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details()
    return asyncio.run(go())


def _put(db: str, table: str = "t") -> node_pb2.KvPutRequest:
    return node_pb2.KvPutRequest(db=db, table=table, key="k", value=b"v")


def test_the_socket_owner_without_a_token_is_the_admin(node: NodeProcess) -> None:
    assert _call(node, "KvPut", _put("anything"), None)[0] is grpc.StatusCode.OK


def test_an_account_may_write_where_a_rule_grants_its_scope(node: NodeProcess) -> None:
    assert _call(node, "KvPut", _put("app"), TOKENS["app"])[0] is grpc.StatusCode.OK


def test_an_account_without_a_granting_rule_is_refused_403(node: NodeProcess) -> None:
    code, detail = _call(node, "KvPut", _put("other"), TOKENS["app"])
    assert code is grpc.StatusCode.PERMISSION_DENIED and "kv:other:t" in detail
    assert _call(node, "KvPut", _put("app"), TOKENS["plain"])[0] is grpc.StatusCode.PERMISSION_DENIED


def test_an_account_may_not_do_node_operations_without_a_rule(node: NodeProcess) -> None:
    assert _call(node, "Invite", node_pb2.InviteRequest(ttl_s=60), TOKENS["app"])[0] is \
        grpc.StatusCode.PERMISSION_DENIED


def test_an_invalid_token_is_refused_401(node: NodeProcess) -> None:
    code, detail = _call(node, "KvPut", _put("app"), TOKENS["app"][:-4] + "AAAA")
    assert code is grpc.StatusCode.UNAUTHENTICATED and "invalid token" in detail


def test_the_auth_database_is_not_writable_through_the_kv_api_even_by_the_admin(node: NodeProcess) -> None:
    code, detail = _call(node, "KvPut", _put("auth", "rules"), None)
    assert code is grpc.StatusCode.PERMISSION_DENIED and "micro auth" in detail


def test_config_secrets_read_in_clear_only_with_the_secrets_scope(node: NodeProcess) -> None:
    stored = node_pb2.ConfigSetRequest(path="db.password", json=json.dumps("hunter2"), secret=True)
    assert _call(node, "ConfigSet", stored, None)[0] is grpc.StatusCode.OK
    hidden = node_pb2.ConfigGetRequest(path="db.password")
    revealed = node_pb2.ConfigGetRequest(path="db.password", reveal_secrets=True)

    code, reply = _call(node, "ConfigGet", hidden, TOKENS["reader"])
    assert code is grpc.StatusCode.OK and json.loads(reply.json) == "[secret]"
    code, detail = _call(node, "ConfigGet", revealed, TOKENS["reader"])
    assert code is grpc.StatusCode.PERMISSION_DENIED and "secrets" in detail
    code, reply = _call(node, "ConfigGet", revealed, TOKENS["keeper"])
    assert code is grpc.StatusCode.OK and json.loads(reply.json) == "hunter2"


# ---- a token is a node's word that an account proved its key, not a grant ---------------------------


def _minted(node: NodeProcess, account: Account) -> str:
    """A token the node's own key signs for `account`, whatever the mesh's records say of it."""
    data_dir = DataDir(node.data_dir)
    mesh = data_dir.load_mesh()
    assert mesh is not None
    node_key = SigningKey.load(data_dir.node_seed, KeyKind.NODE)
    root = PublicKey(KeyKind.MESH, mesh.mesh)
    return AccessToken.issue(node_key, Chain.decode(mesh.chain), root, account, int(time.time()), 600).to_text()


def test_a_token_for_a_key_with_no_account_is_refused_401(node: NodeProcess) -> None:
    stranger = SigningKey.generate(KeyKind.ACCOUNT)
    token = _minted(node, Account(stranger.public, "mallory", AccountType.USER, ("admin", "secrets")))
    code, detail = _call(node, "KvPut", _put("anything"), token)
    assert code is grpc.StatusCode.UNAUTHENTICATED and "not in force" in detail


def test_a_token_gives_no_scope_its_account_does_not_hold(node: NodeProcess) -> None:
    app = asyncio.run(_account_key(node, "app"))
    token = _minted(node, Account(app, "app", AccountType.USER, ("admin", "app")))
    assert _call(node, "KvPut", _put("app"), token)[0] is grpc.StatusCode.OK
    assert _call(node, "KvPut", _put("other"), token)[0] is grpc.StatusCode.PERMISSION_DENIED


async def _account_key(node: NodeProcess, name: str) -> PublicKey:
    async with auth.Client(node.data_dir) as client:
        return next(a.key for a in await client.accounts() if a.name == name)


def test_a_restart_of_the_meshs_creator_keeps_the_admins_rules_even_without_its_admin_creds() -> None:
    with Cluster.temporary("lr-") as cluster:
        (creator,) = cluster.add(1)
        admin = auth.load_key(creator.data_dir / "admin.creds")

        async def remove_default_services() -> None:
            async with auth.Client(creator.data_dir) as client:
                await client.delete_rule(admin, "default-services")

        async def rules() -> list[str]:
            async with auth.Client(creator.data_dir) as client:
                return [rule.id for rule in await client.rules()]

        asyncio.run(remove_default_services())
        (creator.data_dir / "admin.creds").unlink()  # moved off the machine, as one should
        creator.kill(signal.SIGTERM)
        creator.start()
        assert "default-services" not in asyncio.run(rules())
        assert not (creator.data_dir / "admin.creds").exists()


def test_a_record_dated_long_ago_is_not_taken_from_a_client(node: NodeProcess) -> None:
    root = node.root_key()
    record = Record.issue(root, (), root.public, Rule("backdated", "kv:x", "*", Access.GRANT), int(time.time()) - 3600)
    code, detail = _call(node, "AuthSubmit", node_pb2.AuthSubmitRequest(records=[record.encode()]), None)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "sign it now" in detail


def test_a_wildcard_subscription_gets_nothing_a_deny_takes_out_of_it(node: NodeProcess) -> None:
    async def run() -> list[str]:
        async with auth.Client(node.data_dir) as client:
            admin = auth.load_key(node.data_dir / "admin.creds")
            await client.create_rule(admin, "listen-all", "topic:*", "listener", "grant", 0)
            await client.create_rule(admin, "no-payroll", "topic:payroll", "listener", "deny", 10)
            key, _ = await client.create_account(admin, "listener", ["listener"])
            token = (await client.token(key)).token
        async with grpc.aio.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
            stub = node_pb2_grpc.NodeStub(channel)
            stream = stub.Subscribe(node_pb2.SubscribeRequest(topic=">"), metadata=(("authorization", f"Bearer {token}"),))
            await stream.initial_metadata()
            for topic in ("payroll", "news"):
                await stub.Publish(node_pb2.PublishRequest(topic=topic, data=b"{}"))
            seen: list[str] = []
            async with asyncio.timeout(10):
                async for batch in stream:
                    seen += [message.topic for message in batch.messages]
                    if "news" in seen:
                        break
            stream.cancel()
            return seen

    assert asyncio.run(run()) == ["news"]


def test_a_rule_on_a_config_leaf_holds_whatever_path_a_request_names(node: NodeProcess) -> None:
    async def deny_the_password() -> None:
        async with auth.Client(node.data_dir) as client:
            admin = auth.load_key(node.data_dir / "admin.creds")
            await client.create_rule(admin, "no-password", "config:svc.password", "cfg", "deny", 10)

    asyncio.run(deny_the_password())
    for path, value in (("svc.password", "s3cret"), ("svc.port", 8080)):
        assert _call(node, "ConfigSet", node_pb2.ConfigSetRequest(path=path, json=json.dumps(value)), None)[0] is \
            grpc.StatusCode.OK
    reader = TOKENS["reader"]  # scope cfg: a grant on config:*, and the deny above

    code, reply = _call(node, "ConfigGet", node_pb2.ConfigGetRequest(path="svc"), reader)
    assert code is grpc.StatusCode.OK and json.loads(reply.json) == {"port": 8080}
    code, reply = _call(node, "ConfigGet", node_pb2.ConfigGetRequest(path=""), reader)
    assert json.loads(reply.json)["svc"] == {"port": 8080}
    for method, request in (("ConfigSet", node_pb2.ConfigSetRequest(path="svc", json=json.dumps({"port": 1}))),
                            ("ConfigSet", node_pb2.ConfigSetRequest(path="svc.password.x", json="1")),
                            ("ConfigDelete", node_pb2.ConfigDeleteRequest(path="svc"))):
        code, detail = _call(node, method, request, reader)
        assert code is grpc.StatusCode.PERMISSION_DENIED and "svc.password" in detail, (method, request)
    code, reply = _call(node, "ConfigGet", node_pb2.ConfigGetRequest(path="svc.password"), None)
    assert json.loads(reply.json) == "s3cret"  # untouched


def test_the_nodes_own_databases_are_for_admins_only_through_the_kv_api(node: NodeProcess) -> None:
    async def grant_all_kv() -> str:
        async with auth.Client(node.data_dir) as client:
            admin = auth.load_key(node.data_dir / "admin.creds")
            await client.create_rule(admin, "all-kv", "kv:*", "kvall", "grant", 0)
            key, _ = await client.create_account(admin, "kvall", ["kvall"])
            return (await client.token(key)).token

    token = asyncio.run(grant_all_kv())
    assert _call(node, "KvPut", _put("mine"), token)[0] is grpc.StatusCode.OK
    for db in ("config", "streams"):
        code, detail = _call(node, "KvPut", _put(db, "offsets"), token)
        assert code is grpc.StatusCode.PERMISSION_DENIED and "admin" in detail
    assert _call(node, "KvGet", node_pb2.KvGetRequest(db="config", table="config", key="x"), None)[0] in (
        grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)  # the node's admin still may


def test_a_put_refused_in_a_batch_is_answered_alone_and_the_rest_commit(node: NodeProcess) -> None:
    puts = [node_pb2.KvPutRequest(db="batch", table="t", key="a", value=b"1"),
            node_pb2.KvPutRequest(db="auth", table="rules", key="x", value=b"1"),
            node_pb2.KvPutRequest(db="batch", table="t", key="b", value=b"2")]
    code, reply = _call(node, "KvPutMany", node_pb2.KvPutManyRequest(puts=puts), None)
    assert code is grpc.StatusCode.OK
    assert [result.code for result in reply.results] == ["", "PERMISSION_DENIED", ""]


def test_a_watch_ends_when_its_accounts_token_dies(node: NodeProcess) -> None:
    async def run() -> grpc.StatusCode:
        async with auth.Client(node.data_dir) as client:
            admin = auth.load_key(node.data_dir / "admin.creds")
            await client.create_rule(admin, "watch-kv", "kv:watched", "watcher", "grant", 0)
            key, account = await client.create_account(admin, "watcher", ["watcher"])
            token = (await client.token(key)).token
            async with grpc.aio.insecure_channel(f"unix:{node.data_dir / 'node.sock'}") as channel:
                stub = node_pb2_grpc.NodeStub(channel)
                watch = stub.KvWatch(node_pb2.KvWatchRequest(db="watched", table="t"),
                                     metadata=(("authorization", f"Bearer {token}"),))
                await watch.initial_metadata()
                await client.revoke(admin, account.key.id)
                await stub.KvPut(node_pb2.KvPutRequest(db="watched", table="t", key="k", value=b"v"))
                try:
                    async with asyncio.timeout(10):
                        async for _ in watch:
                            return grpc.StatusCode.OK  # the change reached a revoked account
                except grpc.aio.AioRpcError as exc:
                    return exc.code()
        return grpc.StatusCode.UNKNOWN

    assert asyncio.run(run()) is grpc.StatusCode.UNAUTHENTICATED
