"""Real node processes on 127.0.0.1 for the multi-process tests.

Every node gets its own data dir and starts with `--no-mdns --profile local` on 127.0.0.1 (port 0 the
first time, so the kernel picks a free port; a restart reuses the port it got). Waiting is always a
poll with a deadline; `Cluster.close` kills every process it started, whatever the test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from micro.identity import Chain, Invite, KeyKind, PublicKey, SigningKey
from micro.node.api.client import NodeClient
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError
from micro.sdk import auth

_T = TypeVar("_T")
MICRO = str(Path(sys.executable).with_name("micro"))
PATIENCE = 30.0
"""How long a test waits for something that takes well under a second on an idle machine: a loaded one
(two cores shared by several test runs) can be many times slower, and a deadline costs time only when
the thing never happens."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except NodeError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


async def until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """`wait_until` for a test on an event loop: polls `predicate` (awaiting what it returns when that is
    awaitable) without blocking the loop, so the loop's own work goes on meanwhile."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if inspect.isawaitable(last):
                last = await last
        except NodeError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)


def wait_each(nodes: Iterable[NodeProcess], predicate: Callable[[NodeProcess], Any], timeout: float,
              what: str) -> list[Any]:
    """`wait_until(predicate(node))` for each node in turn; `what` completes "<node name> ..." on failure."""
    return [wait_until(functools.partial(predicate, node), timeout, f"{node.name} {what}") for node in nodes]


def or_none(call: Callable[[], _T]) -> _T | None:
    """What `call` returns, or None when the node answers NOT_FOUND."""
    try:
        return call()
    except NodeError as exc:
        if exc.code == "NOT_FOUND":
            return None
        raise


def micro(*args: str, data_dir: Path | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the `micro` CLI and capture its output."""
    argv = [MICRO, *args]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """`result` is a CLI command that failed with exit status 1 and one line `error: ...` holding `fragments`."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


class NodeProcess:
    """One `micro node start` process and its data dir."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.data_dir = data_dir
        self.name = name
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = data_dir.parent / f"{name}.stderr"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def spawn(self, *extra: str) -> None:
        """Start the process without waiting for it to be ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [MICRO, "node", "start", "--data-dir", str(self.data_dir), "--bind", f"127.0.0.1:{self.port}",
                "--no-mdns", "--profile", "local", *extra]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}: {self.stderr_tail()}")
            if not self.data_dir.joinpath("node.sock").exists():
                return False
            with NodeClient(DataDir(self.data_dir)) as client:
                self.port = int(client.status()["address"].rsplit(":", 1)[1])
            return True

        wait_until(ready, PATIENCE, f"{self.name} to start")

    def start(self, *extra: str) -> None:
        self.spawn(*extra)
        self.wait_ready()

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.stderr_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def client(self) -> NodeClient:
        return NodeClient(DataDir(self.data_dir))

    def status(self) -> dict[str, Any]:
        with self.client() as client:
            return client.status()

    def members(self) -> dict[str, dict[str, Any]]:
        """Members by address."""
        with self.client() as client:
            return {m["address"]: m for m in client.members()}

    def invite(self, ttl_s: float = 600) -> str:
        with self.client() as client:
            return client.invite(ttl_s)

    def join(self, other: NodeProcess) -> None:
        with self.client() as client:
            client.join(other.address, other.invite())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=10)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def root_key(self) -> SigningKey:
        return SigningKey.load(self.data_dir / "root.seed", KeyKind.MESH)


def admin_token(node: NodeProcess, ttl: float = 3600) -> str:
    """A bearer token of the admin account of the mesh `node` created (its DATA_DIR/admin.creds), issued
    by `node`: for requests through a gateway, which takes nothing else."""
    async def issue() -> str:
        client = auth.Client(node.data_dir)
        try:
            return (await client.token(auth.load_key(node.data_dir / "admin.creds"), ttl)).token
        finally:
            await client.close()

    return asyncio.run(issue())


class Watcher:
    """Reads a watch iterator (NodeClient.kv_watch / config_watch) on a thread, so tests can wait on it."""

    def __init__(self, node: NodeProcess, start: Callable[[NodeClient], Iterator[dict[str, Any]]]) -> None:
        self._client = node.client()
        self._changes: queue.Queue[dict[str, Any] | Exception] = queue.Queue()
        # The watch is registered on the node when `start` returns.
        self._stream = start(self._client)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for change in self._stream:
                self._changes.put(change)
        except NodeError as exc:
            self._changes.put(exc)

    def next(self, timeout: float = PATIENCE) -> dict[str, Any]:
        """The next change; fails after `timeout` seconds, or with the error that ended the watch."""
        try:
            change = self._changes.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no change within {timeout}s") from None
        if isinstance(change, Exception):
            raise change
        return change

    def close(self) -> None:
        self._client.close()
        self._thread.join(timeout=5)


def kv_rows(node: NodeProcess, db: str, prefix: str = "") -> int:
    """Rows (tombstones included) the node's kv.db holds for keys of a database starting with `prefix`,
    read beside the running node."""
    with contextlib.closing(sqlite3.connect(node.data_dir / "kv.db", timeout=5)) as conn:
        query = "SELECT count(*) FROM entries WHERE db = ? AND substr(key, 1, ?) = ?"
        return int(conn.execute(query, (db, len(prefix), prefix)).fetchone()[0])


class Cluster:
    """Nodes of one test, all killed at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.nodes: list[NodeProcess] = []

    @classmethod
    @contextlib.contextmanager
    def temporary(cls, prefix: str) -> Iterator[Cluster]:
        """A cluster in a new temporary directory, every node killed and the directory removed at the end.
        Keep `prefix` short: a data dir holds a unix socket, whose path is limited to 107 bytes."""
        with tempfile.TemporaryDirectory(prefix=prefix) as base:
            cluster = cls(Path(base))
            try:
                yield cluster
            finally:
                cluster.close()

    def add(self, count: int) -> list[NodeProcess]:
        """Start `count` new single-node meshes in parallel and wait for each to answer."""
        new = [self.add_unstarted() for _ in range(count)]
        for node in new:
            node.spawn()
        for node in new:
            node.wait_ready()
        return new

    def add_unstarted(self) -> NodeProcess:
        node = NodeProcess(self.base / f"n{len(self.nodes)}", f"n{len(self.nodes)}")
        self.nodes.append(node)
        return node

    def form(self, count: int) -> list[NodeProcess]:
        """`count` nodes joined into the first one's mesh with invites, each waiting for full view."""
        nodes = self.add(count)
        for node in nodes[1:]:
            node.join(nodes[0])
        self.wait_states(nodes, {n.address: "alive" for n in nodes})
        return nodes

    def wait_states(self, observers: list[NodeProcess], expected: dict[str, str],
                    timeout: float = PATIENCE) -> None:
        """Wait until every observer sees exactly the expected state for each address."""
        for observer in observers:
            def matches(observer: NodeProcess = observer) -> bool:
                seen = observer.members()
                return all(seen.get(a, {}).get("state") == s for a, s in expected.items())

            wait_until(matches, timeout, f"{observer.name} to see {expected}")

    def close(self) -> None:
        for node in self.nodes:
            try:
                node.kill()
            except (OSError, subprocess.TimeoutExpired):
                pass


def minted_invite(node: NodeProcess, issued_at: int, ttl: int) -> str:
    """The invite `micro node invite` on `node` would make, but issued at `issued_at` rather than now: signed
    with the mesh root when its data dir holds it, else with its node key and chain, and redeemed at it."""
    data_dir = DataDir(node.data_dir)
    node_key = SigningKey.load(data_dir.node_seed, KeyKind.NODE)
    mesh = data_dir.load_mesh()
    assert mesh is not None
    root = PublicKey(KeyKind.MESH, mesh.mesh)
    if data_dir.root_seed.exists():
        signer, chain = SigningKey.load(data_dir.root_seed, KeyKind.MESH), Chain()
    else:
        signer, chain = node_key, Chain.decode(mesh.chain)
    return Invite.issue(signer, chain, root, issued_at, ttl, roles=("node",), redeemer=node_key.public).to_token()
