"""Processes for the benchmarks, on 127.0.0.1: Micro nodes joined into one mesh, an etcd cluster, and a
nats-server with JetStream.

Each is a context manager that kill every process they started and remove their data on exit, whatever
happened inside. Every wait is a poll with a deadline.
"""

from __future__ import annotations

import abc
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from micro.node.api.client import NodeClient
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError

__all__ = ["EtcdCluster", "MicroMesh", "NatsServer", "free_ports", "percentiles", "rss_mb", "wait_for"]

MICRO = str(Path(sys.executable).with_name("micro"))
ETCD = "/usr/bin/etcd"
NATS_SERVER = "/usr/sbin/nats-server"
START_DEADLINE_S = 60.0


_UNITS = {"ms": 1e3, "us": 1e6}


def percentiles(seconds: list[float], unit: str = "ms") -> dict[str, float]:
    """p50/p99/max of durations given in seconds, reported in `unit` (ms or us)."""
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * _UNITS[unit], 1)

    return {f"p50_{unit}": at(0.50), f"p99_{unit}": at(0.99), f"max_{unit}": at(1.0), "samples": len(ordered)}


def wait_for(predicate: Callable[[], Any], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if predicate():
                return
        except (NodeError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class _Processes(abc.ABC):
    """Processes started in their own sessions, and a temporary directory; all gone on exit."""

    def __init__(self, prefix: str) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        """Start `argv` (with `env` added to this process's environment), its stderr kept in the base dir."""
        with open(self.base / f"{name}.stderr", "wb") as err:
            self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                               env={**os.environ, **env} if env else None))

    @abc.abstractmethod
    def _start(self) -> None:
        """Start the processes and wait until they serve."""

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


class MicroMesh(_Processes):
    """`count` nodes (`micro node start --no-mdns`) joined into the first one's mesh with invites;
    `extra` adds options to the start of some nodes, by index (e.g. `{1: ["--gateway", "127.0.0.1:8080"]}`)."""

    def __init__(self, count: int, profile: str = "lan", extra: dict[int, list[str]] | None = None) -> None:
        # A short prefix: the data dir holds a unix socket, whose path is limited to 107 bytes.
        super().__init__("mkv-")
        self.count = count
        self.profile = profile
        self.data_dirs = [self.base / f"n{i}" for i in range(count)]
        self.extra = extra or {}

    def _client(self, i: int) -> NodeClient:
        return NodeClient(DataDir(self.data_dirs[i]))

    def _answers(self, i: int) -> bool:
        if not (self.data_dirs[i] / "node.sock").exists():
            return False
        with self._client(i) as client:
            return bool(client.status())

    def _sees_all_alive(self, i: int) -> bool:
        with self._client(i) as client:
            return sum(1 for m in client.members() if m["state"] == "alive") == self.count

    def _start(self) -> None:
        for i, d in enumerate(self.data_dirs):
            d.mkdir()
            self.spawn([MICRO, "node", "start", "--data-dir", str(d), "--bind", "127.0.0.1:0", "--no-mdns",
                        "--profile", self.profile, "--log-level", "warning", *self.extra.get(i, [])], d.name)
        for i, d in enumerate(self.data_dirs):
            wait_for(functools.partial(self._answers, i), START_DEADLINE_S, f"node {d.name} to start")
        with self._client(0) as seed:
            address = seed.status()["address"]
            for i in range(1, self.count):
                with self._client(i) as client:
                    client.join(address, seed.invite(600))
        for i in range(self.count):
            wait_for(functools.partial(self._sees_all_alive, i), START_DEADLINE_S, "every node to see all alive")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class EtcdCluster(_Processes):
    """`count` etcd members on 127.0.0.1, each with its own data dir and client and peer ports."""

    def __init__(self, count: int = 3) -> None:
        super().__init__("etcd-")
        ports = free_ports(2 * count)
        self.client_urls = [f"http://127.0.0.1:{p}" for p in ports[:count]]
        self.peer_urls = [f"http://127.0.0.1:{p}" for p in ports[count:]]

    def _healthy(self, url: str) -> bool:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return bool(json.load(reply).get("health") == "true")

    def _start(self) -> None:
        if not os.access(ETCD, os.X_OK):
            raise RuntimeError(f"{ETCD} is missing: install Debian's etcd-server (`make bench` does, as root)")
        names = [f"e{i}" for i in range(len(self.client_urls))]
        initial = ",".join(f"{n}={u}" for n, u in zip(names, self.peer_urls, strict=True))
        for name, client, peer in zip(names, self.client_urls, self.peer_urls, strict=True):
            self.spawn([ETCD, "--name", name, "--data-dir", str(self.base / name),
                        "--listen-client-urls", client, "--advertise-client-urls", client,
                        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                        "--initial-cluster", initial, "--initial-cluster-state", "new",
                        "--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "error"], name)
        for url in self.client_urls:
            wait_for(functools.partial(self._healthy, url), START_DEADLINE_S, f"etcd at {url} to be healthy")


class NatsServer(_Processes):
    """One nats-server (Debian's `nats-server`) with JetStream storing files in the base dir."""

    def __init__(self) -> None:
        super().__init__("nats-")
        self.port = free_ports(1)[0]
        self.url = f"nats://127.0.0.1:{self.port}"

    def _listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def _start(self) -> None:
        if not os.access(NATS_SERVER, os.X_OK):
            raise RuntimeError(f"{NATS_SERVER} is missing: install Debian's nats-server (`make bench` does, as root)")
        self.spawn([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.base / "js")],
                   "nats")
        wait_for(self._listening, START_DEADLINE_S, "nats-server to listen")


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid`, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")
