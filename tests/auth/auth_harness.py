"""Real nodes for the auth acceptance tests: nodes serving the gateway on a port the kernel picks, the
`micro auth` CLI run against a node's data dir, and HTTP requests with a bearer token.

Waiting is a poll with a deadline (`node_harness.wait_until`); every node is killed at the end of its
cluster.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from typing import Any

from node_harness import MICRO, PATIENCE, Cluster, NodeProcess, wait_until

__all__ = ["Cli", "GatewayNode", "publish"]

_GATEWAY = re.compile(r" gateway (http://\S+)")


class GatewayNode(NodeProcess):
    """A node started with `--gateway 127.0.0.1:0`; the URL the kernel's port makes is read from the
    node's start line."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        super().__init__(cluster.base / name, name)
        cluster.nodes.append(self)
        self.stdout_path = cluster.base / f"{name}.stdout"
        self.url = ""

    def spawn(self, *extra: str) -> None:
        # NodeProcess.spawn sends stdout nowhere; here it goes to a file, for the start line.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [MICRO, "node", "start", "--data-dir", str(self.data_dir), "--bind", f"127.0.0.1:{self.port}",
                "--no-mdns", "--profile", "local", "--gateway", "127.0.0.1:0", *extra]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, start_new_session=True)

    def wait_ready(self) -> None:
        super().wait_ready()
        found = wait_until(lambda: _GATEWAY.search(self.stdout_path.read_text()), PATIENCE,
                           f"{self.name}'s start line")
        self.url = found.group(1)


class Cli:
    """`micro` against one node's data dir."""

    def __init__(self, node: NodeProcess) -> None:
        self.node = node

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MICRO, *args, "--data-dir", str(self.node.data_dir)], capture_output=True,
                              text=True, timeout=60, check=False)

    def ok(self, *args: str) -> str:
        """The output of a command that must succeed."""
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


def publish(url: str, topic: str, token: str | None) -> int:
    """The HTTP status of a publish of `{}` to `topic` through the gateway at `url`, with `token` if any."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/publish/{topic}", data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=PATIENCE) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
