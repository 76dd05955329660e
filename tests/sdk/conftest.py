import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from kv_harness import node, table  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def own_data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data dir of each test's own as MICRO_DATA_DIR: a Service started in the test with no
    `data_dir` serves its unix socket there, never in the user's ~/.micro. A short path, as a socket's
    path is at most 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="sd-") as data_dir:
        monkeypatch.setenv("MICRO_DATA_DIR", data_dir)
        yield Path(data_dir)
