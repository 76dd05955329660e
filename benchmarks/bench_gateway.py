"""Benchmark: HTTP/JSON through the gateway against direct grpc.aio unary calls to the same service, and
the in-node gateway with auth on against the same gateway with auth off.

A JSON greeter, a dict handler of an SDK `Service` (served as users' services are: unary gRPC calls on
its method path, and the call link its node or a gateway uses), runs in its own process, on its unix
socket in the data dir of a node started first. The baseline, measured in the same run, is the limit:
grpc.aio unary calls straight to that socket from this process, `--concurrency` at a time, with a pre-built
request on one open channel. The gateway runs in a process of its own (so its RSS and CPU time can be
read from /proc) with a `DirectBackend` naming the service's instance; this process POSTs
`{"name": "bench"}` to it with aiohttp at the same concurrency. The same load also goes through a real
node serving the gateway in-process (`micro node start --gateway`, the service registered with it
through its local API), which adds the node's registry and router to the path: both are reported.

The node checks every call against its auth rules, and there is no switch to turn that off, so the node's
gateway is measured twice: "auth off" is the path of a public caller (no token) let through by a public
grant rule for the endpoint; "auth on" sends `Authorization: Bearer` with an account's token on every
request, with `EXTRA_RULES` more rules in force that do not match the endpoint (beside the default rules
and the public grant). Both are set up through `micro.sdk.auth.Client` with the node's admin key
(`DATA_DIR/admin.creds`). The node caches verified tokens and rule decisions per (resource, scopes), so
under steady load auth on costs a token lookup, its expiry and revocation checks and a cached decision per
request, not a walk of the rules: the output says so.

The phases are interleaved in rounds so all see the same machine load. Targets: gateway rps >= 0.6 x direct
rps, and the gateway's peak RSS under that load < 150 MB; the node's gateway with auth on >= 0.95 x itself
with auth off, and >= 1 x direct rps. The CPU time per call of the service (direct calls), of the gateway,
and of this process as a gRPC and as an HTTP client are reported too: unlike rates, they hardly move with
the machine's load, and on a machine with fewer free cores than busy processes the rates follow their sums.
Prints one JSON object; exits 0 whether or not the targets are met.

    python benchmarks/bench_gateway.py [--concurrency 32] [--seconds 1.5] [--rounds 6] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import grpc
from load import Phase, load
from micro.identity.rules import ANY_ACCOUNT, Access, Rule
from micro.sdk import auth
from processes import MicroMesh, free_ports

TARGET_RATIO = 0.6
TARGET_RSS_MB = 150.0
TARGET_AUTH_TO_OFF = 0.95
TARGET_AUTH_TO_DIRECT = 1.0
EXTRA_RULES = 100
_METHOD = "/Helloworld/Call"  # where the SDK serves JSON endpoint Helloworld.Call
_RESOURCE = "service:helloworld:Helloworld.Call"
_BODY = b'{"name": "bench"}'
_REPLY = {"msg": "Hello bench"}
_T = TypeVar("_T")


# ---- the two child processes -------------------------------------------------------------------------


async def _serve_service(data_dir: str) -> None:
    from micro.sdk import Service

    service = Service("helloworld", data_dir=data_dir)

    @service.endpoint("Helloworld.Call")
    async def call(request: dict[str, Any]) -> dict[str, Any]:
        return {"msg": f"Hello {request['name']}"}

    await service.start()  # not registered by itself: the gateway and the node are handed its address
    print(service.address, flush=True)
    await asyncio.Event().wait()


async def _serve_gateway(service_address: str) -> None:
    from micro.gateway import DirectBackend, serve
    from micro.node.api.proto import node_pb2

    endpoint = node_pb2.Endpoint(name="Helloworld.Call", method=_METHOD, codec="json")
    instance = node_pb2.ServiceInstance(
        id="hw-1", service="helloworld", address=service_address, endpoints=[endpoint], call_link=True
    )
    runner = await serve(DirectBackend([(instance, b"")]), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    print(f"{host}:{port}", flush=True)
    await asyncio.Event().wait()


def _child(*args: str) -> tuple[subprocess.Popen[str], str]:
    """A child process of this script and the address it prints when ready."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    address = process.stdout.readline().strip()
    if not address:
        raise SystemExit(f"child {args} did not start")
    return process, address


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# ---- load ----------------------------------------------------------------------------------------------


def _register(data_dir: Path, service_address: str) -> None:
    """Register the service's instance with the node of `data_dir` for the whole run (no heartbeats)."""
    from micro.node.api.proto import node_pb2, node_pb2_grpc

    endpoint = node_pb2.Endpoint(name="Helloworld.Call", method=_METHOD, codec="json")
    request = node_pb2.RegisterRequest(
        service="helloworld", address=service_address, endpoints=[endpoint], ttl_s=3600, call_link=True
    )
    with grpc.insecure_channel(f"unix:{data_dir / 'node.sock'}") as channel:
        node_pb2_grpc.NodeStub(channel).Register(request, timeout=5)


def _extra_rule(i: int) -> Rule:
    """Rule `i` of those that do not match the benchmarked endpoint: for any account, about another endpoint
    of the same service or about another service; grants and denies at various priorities."""
    resource = f"service:helloworld:Other{i}" if i % 2 else f"service:other{i}"
    return Rule(f"bench-{i:03d}", resource, ANY_ACCOUNT, Access.DENY if i % 3 == 0 else Access.GRANT, i)


async def _set_up_auth(data_dir: Path) -> tuple[str, int]:
    """As the node's admin: the public grant for the endpoint (auth off), `EXTRA_RULES` rules that do not
    match it, and an account; returns the account's token (auth on) and the number of rules in force."""
    client = auth.Client(data_dir)
    try:
        admin = auth.load_key(data_dir / "admin.creds")
        await client.create_rule(admin, "bench-public", _RESOURCE, scope="", access="grant")
        await client.submit(admin, [_extra_rule(i) for i in range(EXTRA_RULES)])
        key, _ = await client.create_account(admin, "bench", type="service")
        return (await client.token(key, ttl=3600)).token, len(await client.rules())
    finally:
        await client.close()


async def _measure(
    args: argparse.Namespace, service: tuple[int, str], gateways: dict[str, tuple[int, str, dict[str, str]]]
) -> dict[str, Phase]:
    async with (
        grpc.aio.insecure_channel(service[1]) as channel,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session,
    ):
        unary = channel.unary_unary(_METHOD)

        async def direct() -> None:
            await unary(_BODY, timeout=10)

        def through(address: str, headers: dict[str, str]) -> Callable[[], Awaitable[None]]:
            url = f"http://{address}/helloworld/call"
            headers = {"Content-Type": "application/json", **headers}

            async def post() -> None:
                async with session.post(url, data=_BODY, headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise SystemExit(f"gateway {address} answered {reply.status}: {await reply.text()}")

            return post

        assert json.loads(await unary(_BODY)) == _REPLY
        phases = {"direct": Phase(direct, {"measured": service[0]})}
        for name, (pid, address, headers) in gateways.items():
            async with session.post(f"http://{address}/helloworld/call", data=_BODY, headers=headers) as reply:
                assert await reply.json() == _REPLY, (name, reply.status)
            phases[name] = Phase(through(address, headers), {"measured": pid})
        for phase in phases.values():
            await load(phase.call, args.concurrency, 0.5)  # warm-up
        for _ in range(args.rounds):
            for phase in phases.values():
                await phase.run(args.concurrency, args.seconds)
        return phases


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one phase of one round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--uvloop", action="store_true", help="run the gateway and the load on uvloop")
    parser.add_argument("--serve-service", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", metavar="SERVICE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_service:
        asyncio.run(_serve_service(args.serve_service))
        return
    if args.serve_gateway:
        _run(_serve_gateway(args.serve_gateway), args.uvloop)
        return

    [node_port] = free_ports(1)
    with MicroMesh(1, profile="local", extra={0: ["--gateway", f"127.0.0.1:{node_port}"]}) as mesh:
        # The service serves in the node's data dir, where the node accepts its socket.
        service, service_address = _child("--serve-service", str(mesh.data_dirs[0]))
        gateway, gateway_address = _child(
            "--serve-gateway", service_address, *(["--uvloop"] if args.uvloop else [])
        )
        try:
            _register(mesh.data_dirs[0], service_address)
            token, rules = asyncio.run(_set_up_auth(mesh.data_dirs[0]))
            node, node_address = mesh.procs[0].pid, f"127.0.0.1:{node_port}"
            gateways = {"gateway": (gateway.pid, gateway_address, {}), "node_gateway": (node, node_address, {}),
                        "node_gateway_auth": (node, node_address, {"Authorization": f"Bearer {token}"})}
            phases = _run(_measure(args, (service.pid, service_address), gateways), args.uvloop)
            rss = {"gateway": _rss_mb(gateway.pid), "node_gateway": _rss_mb(node)}
            rss["node_gateway_auth"] = rss["node_gateway"]
        finally:
            for process in (service, gateway):
                process.terminate()
                process.wait(10)
    elapsed = args.rounds * args.seconds
    direct = phases["direct"]
    result: dict[str, Any] = {
        "benchmark": "gateway_http_json_vs_direct_grpc",
        "loop": "uvloop" if args.uvloop else "asyncio",
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "direct_rps": round(direct.calls / elapsed),
        "service_cpu_us_per_call": round(direct.cpu_s["measured"] / direct.calls * 1e6),
        "client_cpu_us_per_call": {"grpc_direct": round(direct.client_cpu_s / direct.calls * 1e6)},
        "targets": {"ratio": TARGET_RATIO, "rss_mb": TARGET_RSS_MB},
    }
    # "gateway": a gateway process over a DirectBackend; "node_gateway": a node started with --gateway,
    # auth off (public caller, public grant); "node_gateway_auth": the same with a bearer token.
    for name in ("gateway", "node_gateway", "node_gateway_auth"):
        through = phases[name]
        ratio = through.calls / direct.calls
        current, peak = rss[name]
        result[name] = {
            "rps": round(through.calls / elapsed),
            "ratio": round(ratio, 3),
            "cpu_us_per_call": round(through.cpu_s["measured"] / through.calls * 1e6),
            "client_cpu_us_per_call": round(through.client_cpu_s / through.calls * 1e6),
            "rss_mb": round(current, 1),
            "peak_rss_mb": round(peak, 1),
            "meets_ratio": ratio >= TARGET_RATIO,
            "meets_rss": peak < TARGET_RSS_MB,
        }
    auth_to_off = phases["node_gateway_auth"].calls / phases["node_gateway"].calls
    auth_to_direct = phases["node_gateway_auth"].calls / direct.calls
    off_cpu, on_cpu = (result[name]["cpu_us_per_call"] for name in ("node_gateway", "node_gateway_auth"))
    result["auth"] = {
        "rules_in_force": rules,
        "note": f"{EXTRA_RULES} rules that do not match the endpoint, the default rules and its public grant; "
                "the node caches verified tokens and decisions per (resource, scopes), so steady load "
                "checks a cached token and decision per request, not the rules",
        "ratio_auth_to_off": round(auth_to_off, 3),
        "ratio_auth_to_direct": round(auth_to_direct, 3),
        # What a request costs the node more with auth on: the rates follow it when the node is the bottleneck.
        "node_cpu_us_per_call_added": on_cpu - off_cpu,
        "targets": {"auth_to_off": TARGET_AUTH_TO_OFF, "auth_to_direct": TARGET_AUTH_TO_DIRECT},
        "meets_auth_to_off": auth_to_off >= TARGET_AUTH_TO_OFF,
        "meets_auth_to_direct": auth_to_direct >= TARGET_AUTH_TO_DIRECT,
    }
    print(json.dumps(result, indent=2))


def _run(main: Coroutine[Any, Any, _T], uvloop: bool) -> _T:
    if uvloop:
        import uvloop as loop

        return loop.run(main)
    return asyncio.run(main)


if __name__ == "__main__":
    main()
