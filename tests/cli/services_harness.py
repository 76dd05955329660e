"""A real node serving the gateway on a free 127.0.0.1 port, with services run under it by `micro run`,
for the tests of `micro services`, `describe`, `call`, dynamic commands, `micro new` and the blog."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_harness import MICRO, PATIENCE, Cluster, NodeProcess, admin_token, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class GatewayNode:
    node: NodeProcess
    gateway: str
    token: str
    """The mesh admin's bearer token, which `post` sends."""

    def micro(self, *args: str, stdin: str | None = None, cwd: Path | None = None
              ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MICRO, *args, "--data-dir", str(self.node.data_dir)], input=stdin,
                              capture_output=True, text=True, timeout=60, check=False, cwd=cwd)

    def ok(self, *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
        result = self.micro(*args, stdin=stdin, cwd=cwd)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def run(self, path: Path, service: str) -> None:
        """`micro run` the directory, then wait until the service is in the registry."""
        self.ok("run", str(path))
        wait_until(lambda: any(s["service"] == service for s in json.loads(self.ok("services", "--json"))),
                   PATIENCE, f"{service} to register")

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST a JSON body to the gateway as the mesh admin: the HTTP status and the decoded JSON answer."""
        request = urllib.request.Request(f"http://{self.gateway}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {self.token}"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def gateway_node() -> Iterator[GatewayNode]:
    """One node with --gateway, killed (with its processes) at the end."""
    with Cluster.temporary("mg-") as cluster:
        node = cluster.add_unstarted()
        gateway = f"127.0.0.1:{free_port()}"
        node.start("--gateway", gateway)
        yield GatewayNode(node, gateway, admin_token(node))
