from __future__ import annotations

from collections.abc import Iterator

import pytest
from node_harness import Cluster, NodeProcess


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster.temporary("mn-") as nodes:
        yield nodes


@pytest.fixture(scope="module")
def trio() -> Iterator[list[NodeProcess]]:
    """Three nodes joined into one mesh, shared by the tests of a module (each uses its own keys)."""
    with Cluster.temporary("mn-") as nodes:
        yield nodes.form(3)
