"""mesh/ stays sans-IO: no sockets, event loops, clocks, global randomness, threads or OS access."""

from __future__ import annotations

import re
from pathlib import Path

import micro.mesh

FORBIDDEN = re.compile(
    r"^\s*(import|from)\s+(asyncio|socket|time|random|threading|selectors|os)\b", re.MULTILINE
)


def test_mesh_imports_no_io_modules() -> None:
    root = Path(micro.mesh.__file__).parent
    sources = sorted(root.glob("*.py"))
    assert len(sources) > 10
    offenders = {p.name: FORBIDDEN.findall(p.read_text()) for p in sources}
    assert {name: hits for name, hits in offenders.items() if hits} == {}
