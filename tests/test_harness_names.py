"""Test helper modules are imported by bare name (each test folder is on sys.path), so two folders must
never hold helpers of one name: the suite would import whichever came first for both."""

from __future__ import annotations

import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_no_two_test_folders_hold_a_helper_module_of_one_name() -> None:
    folders = collections.defaultdict(list)
    for path in ROOT.rglob("*.py"):
        if not path.name.startswith(("test_", "conftest", "__init__")):
            folders[path.name].append(str(path.parent.relative_to(ROOT)))
    assert {name: places for name, places in folders.items() if len(places) > 1} == {}
