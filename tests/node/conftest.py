from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from node_harness import Cluster, NodeProcess


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # A short base path: the data dir holds a unix socket, whose path is limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="mn-") as base:
        nodes = Cluster(Path(base))
        try:
            yield nodes
        finally:
            nodes.close()


@pytest.fixture(scope="module")
def trio() -> Iterator[list[NodeProcess]]:
    """Three nodes joined into one mesh, shared by the tests of a module (each uses its own keys)."""
    with tempfile.TemporaryDirectory(prefix="mn-") as base:
        nodes = Cluster(Path(base))
        try:
            yield nodes.form(3)
        finally:
            nodes.close()
