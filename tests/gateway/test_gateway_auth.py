"""The gateway's auth tried the way an attacker would, against real processes: a node serving the gateway
(`--gateway`, with `--cors-origin https://app.test`), the test service `guarded_service.py` and
examples/helloworld running next to it, and a gateway beside the node over its local API.

Every bad token is 401 and never reaches a handler (the service counts its handlers' runs); a good token
the rules or the service's own scopes refuse is 403; a request without a token is the public's, which the
default rules let at nothing, wherever it comes from and whatever cookie it carries; a public rule opens
one endpoint; and the service learns the caller's account from the node, never from the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import pytest_asyncio
from micro.gateway import LocalApiBackend, serve
from micro.identity import Certificate, Chain, KeyKind, PublicKey, SigningKey
from micro.identity.records import Account, AccountType
from micro.identity.tokens import AccessToken, answer_challenge
from micro.node.api.datadir import DataDir
from micro.node.api.micro_errors import from_grpc
from micro.node.api.proto import node_pb2
from micro.sdk import auth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))

from node_harness import PATIENCE, Cluster, NodeProcess, until
from service_process import HELLOWORLD, call, free_port, running, stub

pytestmark = pytest.mark.asyncio

GUARDED = Path(__file__).with_name("guarded_service.py")
APP = "https://app.test"
EVIL = "https://evil.test"
TOUCH = "/guarded/Guarded/Touch"


@dataclasses.dataclass
class Mesh:
    cluster: Cluster
    node: NodeProcess
    gateway: str
    """The base URL of the node's gateway."""
    admin: SigningKey
    accounts: dict[str, SigningKey]
    """Keys of accounts named after their one scope: "reader", "writer"."""


async def _submitted(node: NodeProcess, *steps: Any) -> list[Any]:
    """Run `steps` (each `lambda client: client.method(...)`) with an `auth.Client` of `node`."""
    client = auth.Client(node.data_dir)
    try:
        return [await step(client) for step in steps]
    finally:
        await client.close()


@pytest.fixture(scope="module")
def mesh() -> Iterator[Mesh]:
    port = free_port()
    with Cluster.temporary("mga-") as cluster:
        node = cluster.add_unstarted()
        node.start("--gateway", f"127.0.0.1:{port}", "--cors-origin", APP)
        admin = auth.load_key(node.data_dir / "admin.creds")
        made = asyncio.run(_submitted(node, *(
            lambda client, name=name: client.create_account(admin, name, scopes=[name]) for name in ("reader", "writer"))))
        accounts = {account.name: key for key, account in made}
        with running(node, GUARDED, "guarded"), running(node, HELLOWORLD, "helloworld"):
            yield Mesh(cluster, node, f"http://127.0.0.1:{port}", admin, accounts)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def _token(node: NodeProcess, key: SigningKey) -> str:
    [token] = await _submitted(node, lambda client: client.token(key, 600))
    return str(token.token)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _runs(mesh: Mesh) -> int:
    """How many times the guarded service's handlers ran (asked as the node's socket owner)."""
    reply, _ = call(mesh.node, "guarded", "Guarded.Runs")
    return int(reply["runs"])


@contextlib.asynccontextmanager
async def _unrun(mesh: Mesh) -> AsyncIterator[None]:
    """Asserts that no handler of the guarded service ran meanwhile."""
    before = _runs(mesh)
    yield
    assert _runs(mesh) == before


async def _answer(http: aiohttp.ClientSession, method: str, url: str, **options: Any) -> tuple[int, Any, Any]:
    """The status, JSON body and headers of a request."""
    async with http.request(method, url, **options) as response:
        return response.status, await response.json(), response.headers


async def _refused_as(mesh: Mesh, http: aiohttp.ClientSession, status: int, token: str | None = None,
                      path: str = TOUCH, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST `path` with `token` and `headers`: refused with `status` and Micro's error body, no handler
    having run."""
    async with _unrun(mesh):
        got, body, _ = await _answer(http, "POST", mesh.gateway + path, json={},
                                     headers={**(_bearer(token) if token else {}), **(headers or {})})
    assert got == status, body
    assert set(body) == {"id", "code", "detail", "status"} and body["code"] == status
    return body  # type: ignore[no-any-return]


def _mesh_key(node: NodeProcess) -> PublicKey:
    mesh = DataDir(node.data_dir).load_mesh()
    assert mesh is not None
    return PublicKey(KeyKind.MESH, mesh.mesh)


# ---- bad tokens: 401 ---------------------------------------------------------------------------------


async def test_a_token_forged_by_a_node_of_a_self_made_chain_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    root, forger = SigningKey.generate(KeyKind.MESH), SigningKey.generate(KeyKind.NODE)
    now = int(time.time())
    chain = Chain((Certificate.issue(root, forger.public, _mesh_key(mesh.node), ("node",), now, 3600),))
    admin = Account(mesh.admin.public, "admin", AccountType.USER, ("admin", "secrets"))
    forged = AccessToken.issue(forger, chain, _mesh_key(mesh.node), admin, now, 600).to_text()

    body = await _refused_as(mesh, http, 401, forged)

    assert body["status"] == "UNAUTHENTICATED"


async def test_an_expired_token_signed_by_the_nodes_own_key_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    data_dir = DataDir(mesh.node.data_dir)
    node_key = SigningKey.load(data_dir.node_seed, KeyKind.NODE)
    mesh_file = data_dir.load_mesh()
    assert mesh_file is not None
    admin = Account(mesh.admin.public, "admin", AccountType.USER, ("admin", "secrets"))
    an_hour_ago = int(time.time()) - 3600
    expired = AccessToken.issue(node_key, Chain.decode(mesh_file.chain), _mesh_key(mesh.node), admin,
                                an_hour_ago, 600).to_text()

    body = await _refused_as(mesh, http, 401, expired)

    assert "expired" in body["detail"]


async def test_a_token_whose_scopes_were_edited_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    issued = AccessToken.from_text(await _token(mesh.node, mesh.accounts["reader"]))
    altered = dataclasses.replace(issued, scopes=("admin",)).to_text()

    body = await _refused_as(mesh, http, 401, altered, path="/guarded/Guarded/Write")

    assert "signature" in body["detail"]


async def test_a_token_of_another_mesh_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    [elsewhere] = mesh.cluster.add(1)
    try:
        foreign = await _token(elsewhere, auth.load_key(elsewhere.data_dir / "admin.creds"))
    finally:
        elsewhere.kill()

    body = await _refused_as(mesh, http, 401, foreign)

    assert "another mesh" in body["detail"]


async def test_a_token_issued_by_a_node_since_revoked_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    [issuer] = mesh.cluster.add(1)
    try:
        issuer.join(mesh.node)
        token = await _token(issuer, mesh.accounts["reader"])
        status, _, _ = await _answer(http, "POST", mesh.gateway + TOUCH, json={}, headers=_bearer(token))
        assert status == 200  # good at the gateway's node until...
        await _submitted(mesh.node, lambda client: client.revoke(mesh.admin, issuer.status()["id"]))
    finally:
        issuer.kill()

    body = await _refused_as(mesh, http, 401, token)

    assert "revoked" in body["detail"]


async def test_a_challenge_answered_twice_gets_no_second_token(mesh: Mesh) -> None:
    reader = mesh.accounts["reader"]
    with stub(mesh.node) as api:
        challenge = api.AuthChallenge(node_pb2.AuthChallengeRequest(), timeout=5)
        signature = answer_challenge(reader, PublicKey.from_id(challenge.mesh_id),
                                     PublicKey.from_id(challenge.node_id), challenge.nonce)
        answer = node_pb2.AuthTokenRequest(account_id=reader.public.id, nonce=challenge.nonce, signature=signature)
        assert api.AuthToken(answer, timeout=5).token
        with pytest.raises(grpc.RpcError) as replayed:
            api.AuthToken(answer, timeout=5)

    assert from_grpc(replayed.value, "test").code == 401


async def test_an_authorization_other_than_bearer_is_401(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    token = await _token(mesh.node, mesh.accounts["reader"])

    await _refused_as(mesh, http, 401, headers={"Authorization": f"Basic {token}"})


# ---- good tokens the rules or the service refuse: 403 ---------------------------------------------------


async def test_a_token_of_an_account_a_rule_denies_is_403(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    [(key, _), _] = await _submitted(
        mesh.node, lambda client: client.create_account(mesh.admin, "barred", scopes=["barred"]),
        lambda client: client.create_rule(mesh.admin, "bar-guarded", "service:guarded", "barred", "deny", 10))

    body = await _refused_as(mesh, http, 403, await _token(mesh.node, key))

    assert (body["status"], body["id"]) == ("PERMISSION_DENIED", "micro.node")


async def test_a_token_without_the_scope_the_service_requires_is_403_from_the_service(
        mesh: Mesh, http: aiohttp.ClientSession) -> None:
    token = await _token(mesh.node, mesh.accounts["reader"])

    body = await _refused_as(mesh, http, 403, token, path="/guarded/Guarded/Write")

    assert (body["status"], body["id"]) == ("PERMISSION_DENIED", "guarded")
    assert "writer" in body["detail"]


async def test_a_token_with_the_scope_the_service_requires_is_served(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    token = await _token(mesh.node, mesh.accounts["writer"])

    status, body, _ = await _answer(http, "POST", f"{mesh.gateway}/guarded/Guarded/Write", json={},
                                    headers=_bearer(token))

    assert (status, set(body)) == (200, {"runs"})


# ---- the public, from another site or with a cookie ---------------------------------------------------


@pytest.mark.parametrize("request_options", [
    {"method": "GET", "params": {"x": "1"}},
    {"method": "POST", "data": "x=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"method": "POST", "data": '{"x": 1}', "headers": {"Content-Type": "text/plain"}},
], ids=["get-query", "form-post", "text-post"])
async def test_a_cross_origin_request_without_a_token_is_401_unread_and_never_run(
        mesh: Mesh, http: aiohttp.ClientSession, request_options: dict[str, Any]) -> None:
    options = dict(request_options)
    method = options.pop("method")
    options["headers"] = {**options.get("headers", {}), "Origin": EVIL}
    async with _unrun(mesh):
        status, body, headers = await _answer(http, method, mesh.gateway + TOUCH, **options)

    assert (status, body["status"]) == (401, "UNAUTHENTICATED")
    assert "Access-Control-Allow-Origin" not in headers


async def test_the_configured_origin_is_named_on_the_nodes_answers(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    token = await _token(mesh.node, mesh.accounts["reader"])

    status, _, headers = await _answer(http, "POST", mesh.gateway + TOUCH, json={},
                                       headers={**_bearer(token), "Origin": APP})

    assert (status, headers["Access-Control-Allow-Origin"]) == (200, APP)


@pytest.mark.parametrize("cookie", ["token={}", "Authorization=Bearer {}", "micro-token={}"])
async def test_a_cookie_carrying_a_valid_token_does_not_authorise(
        mesh: Mesh, http: aiohttp.ClientSession, cookie: str) -> None:
    token = await _token(mesh.node, mesh.accounts["reader"])

    await _refused_as(mesh, http, 401, headers={"Cookie": cookie.format(token)})


@pytest.mark.parametrize("page", ["/services", "/openapi.json"])
async def test_the_registry_pages_are_401_without_a_token_and_served_with_one(
        mesh: Mesh, http: aiohttp.ClientSession, page: str) -> None:
    token = await _token(mesh.node, mesh.accounts["reader"])

    without, _, _ = await _answer(http, "GET", mesh.gateway + page)
    with_token, _, _ = await _answer(http, "GET", mesh.gateway + page, headers=_bearer(token))

    assert (without, with_token) == (401, 200)


async def test_the_public_cannot_tell_a_missing_service_from_a_guarded_one(
        mesh: Mesh, http: aiohttp.ClientSession) -> None:
    missing = await _refused_as(mesh, http, 401, path="/nobody/Nobody/Here")
    guarded = await _refused_as(mesh, http, 401)

    assert missing["status"] == guarded["status"] == "UNAUTHENTICATED"


async def test_a_public_rule_lets_calls_without_a_token_through(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    url = f"{mesh.gateway}/helloworld/Helloworld/Call"
    assert (await _answer(http, "POST", url, json={"name": "a"}))[0] == 401
    await _submitted(mesh.node, lambda client: client.create_rule(
        mesh.admin, "public-hello", "service:helloworld:Helloworld.Call", "", "grant", 0))

    async def greeted() -> Any:
        status, body, _ = await _answer(http, "POST", url, json={"name": "a"})
        return status == 200 and body

    assert await until(greeted, PATIENCE, "the public rule to let the call through") == {"msg": "Hello a"}


# ---- who calls, as the service sees it ------------------------------------------------------------------


async def test_account_and_caller_headers_a_client_sends_do_not_reach_the_service(
        mesh: Mesh, http: aiohttp.ClientSession) -> None:
    await _submitted(mesh.node, lambda client: client.create_rule(
        mesh.admin, "public-whoami", "service:guarded:Guarded.Whoami", "", "grant", 0))
    forged = {"Micro-Account-Id": mesh.admin.public.id, "Micro-Account-Name": "admin",
              "Micro-Account-Scopes": "admin,secrets", "Micro-Caller": "NFORGED"}

    async def answered() -> Any:
        status, body, _ = await _answer(http, "POST", f"{mesh.gateway}/guarded/Guarded/Whoami", json={},
                                        headers=forged)
        return status == 200 and body

    answer = await until(answered, PATIENCE, "the public rule to let the call through")
    assert (answer["account"], answer["stamped"]) == (None, {})
    assert answer["caller"] != "NFORGED"


async def test_a_handler_sees_the_callers_account(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    reader = mesh.accounts["reader"]
    token = await _token(mesh.node, reader)

    status, body, _ = await _answer(http, "POST", f"{mesh.gateway}/guarded/Guarded/Whoami", json={},
                                    headers=_bearer(token))

    assert (status, body["account"]) == (200, {"id": reader.public.id, "name": "reader", "scopes": ["reader"]})


# ---- a gateway beside the node, over its local API -----------------------------------------------------


async def test_a_gateway_beside_the_node_calls_for_the_public_without_a_token_never_as_the_socket_owner(
        mesh: Mesh, http: aiohttp.ClientSession) -> None:
    backend = LocalApiBackend(mesh.node.data_dir)
    runner = await serve(backend, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    token = await _token(mesh.node, mesh.accounts["reader"])
    try:
        async with _unrun(mesh):
            without, body, _ = await _answer(http, "POST", f"http://{host}:{port}{TOUCH}", json={})
            registry, _, _ = await _answer(http, "GET", f"http://{host}:{port}/services")
        with_token, _, _ = await _answer(http, "POST", f"http://{host}:{port}{TOUCH}", json={},
                                         headers=_bearer(token))
    finally:
        await runner.cleanup()
        await backend.close()

    assert (without, body["status"], registry, with_token) == (401, "UNAUTHENTICATED", 401, 200)
