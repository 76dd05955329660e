"""What `micro node start` prints once the node runs (the structured log goes to stderr separately)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .agent import Node

__all__ = ["announce"]


def announce(node: Node) -> None:
    """Print that the node runs: one line, or with `--banner` a block of what to try next."""
    options = node.options
    dd = node.data_dir
    if not options.banner:
        gateway = f" gateway {node.gateway_url}" if node.gateway_url else ""
        print(f"node {node.node_key.public.id} mesh {node.mesh_root.id} address {node.address} "
              f"data-dir {dd} generation {node.generation}{gateway}", flush=True)
        return
    flag = f"--data-dir {dd}"
    micro = _cli_name()
    host, _, port = node.address.rpartition(":")
    second = f"{host}:{int(port) + 1 if port.isdigit() and int(port) < 65535 else 0}"
    lines = [
        "",
        "  Micro node running",
        f"    node id     {node.node_key.public.id}",
        f"    mesh id     {node.mesh_root.id}",
        f"    address     {node.address}",
        f"    data dir    {dd}",
        f"    profile     {options.profile}, generation {node.generation}",
        *([f"    gateway     {node.gateway_url}"] if node.gateway_url else []),
        "",
        "  Try next (in another terminal):",
        f"    {micro} node status {flag}",
        f"    {micro} node members {flag}",
        f"    {micro} node invite {flag}            # prints a token",
        # Only the node that created the mesh holds the admin account's credentials.
        *([f"    {micro} auth token {flag}             # a token for the gateway: Authorization: Bearer"]
          if dd.admin_creds.exists() else []),
        "",
        "  Start a second node and join it to this one:",
        f"    {micro} node start --data-dir {dd.path.parent / 'node2'} --bind {second} --no-mdns \\",
        f"        --join {node.address} --token \"$({micro} node invite {flag})\"",
        "",
        "  Ctrl-C leaves the mesh cleanly.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _cli_name() -> str:
    """How to type the CLI here: `micro` when that is on PATH, else the path this process was run by."""
    invoked = sys.argv[0] if sys.argv and sys.argv[0] else "micro"
    found = shutil.which("micro")
    if found and os.path.realpath(found) == os.path.realpath(invoked):
        return "micro"
    return invoked if os.path.basename(invoked) == "micro" else "micro"
