"""The auth tests run real nodes with the node tests' harness (`tests/node/node_harness.py`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))
