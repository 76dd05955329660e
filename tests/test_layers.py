"""The packages import each other in one direction only, so each layer can be read and changed alone.

    identity                keys, certificates, invites, admission: pure values and functions
    mesh                    the sans-IO protocol core: identity only
    node.api                the local API's contract: identity only
    sdk                     node.api (never the agent or the mesh core)
    gateway                 sdk and node.api
    node (the agent)        anything below it; the gateway only lazily, when it serves one
    cli                     anything (the agent lazily, for `micro node start`)
    simulations             the mesh core and the node's pure decision modules

Checked on the source text (every `import`, at any indentation), and for the SDK also by importing it in a
fresh interpreter: a service process that uses calls and the KV store must not load the mesh core.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the packages (prefixes of `micro.`) it may import
ALLOWED: dict[str, tuple[str, ...]] = {
    "mesh": ("mesh", "identity"),
    "identity": ("identity",),
    "node.api": ("node.api", "identity"),
    "sdk": ("sdk", "node.api", "identity"),
    "gateway": ("gateway", "sdk", "node.api", "identity"),
    "simulations": ("simulations", "mesh", "identity", "node.pubsub.routes", "node.streams.replicas",
                    "node.calls.candidates"),
}


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[:2] == ("node", "api"):
        return "node.api"
    return parts[0]


def _imports(path: Path) -> list[str]:
    """Every `micro.*` module the file imports, relative imports resolved, without the `micro.` prefix."""
    module = list(path.relative_to(ROOT).with_suffix("").parts)
    package = module if module[-1] == "__init__" else module[:-1]
    if package and package[-1] == "__init__":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.startswith("micro."):
                name = node.module[len("micro."):]
            else:
                continue
            found.append(name)
        elif isinstance(node, ast.Import):
            found += [alias.name[len("micro."):] for alias in node.names if alias.name.startswith("micro.")]
    return found


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package.replace(".", "/")).rglob("*.py") if "_pb2" not in p.name)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    sources = _sources(package)
    assert sources
    allowed = ALLOWED[package]
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in sources
        for name in _imports(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert offenders == {}


def test_the_cli_reaches_the_node_through_its_api_except_to_start_one() -> None:
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in _sources("cli")
        for name in _imports(path)
        if name.startswith("node") and not name.startswith("node.api") and name != "node.agent"
    }
    assert offenders == {}


def test_a_service_process_using_calls_and_kv_does_not_load_the_agent_or_the_mesh_core() -> None:
    script = (
        "import sys\n"
        "from micro.sdk import Client, Service, kv, config\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('micro.mesh', 'micro.node'))"
        " and not m.startswith('micro.node.api') and m != 'micro.node')\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
