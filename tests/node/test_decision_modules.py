"""The node's pure decision modules load nothing of the agent (no asyncio, grpc, protobuf or other node
module), so the simulator imports them cheaply and runs the node's own routing decisions."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = ["micro.node.pubsub.routes", "micro.node.streams.replicas", "micro.node.calls.candidates"]


@pytest.mark.parametrize("module", PURE)
def test_a_decision_module_loads_nothing_of_the_agent(module: str) -> None:
    packages = {"micro.node", module.rsplit(".", 1)[0]}
    script = (
        "import sys\n"
        f"import {module}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'grpc', 'google')"
        " or m.startswith('micro.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert set(out.stdout.strip().split(",")) == packages | {module}
