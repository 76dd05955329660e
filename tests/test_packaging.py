"""Every package folder is installed: pyproject.toml lists each one (an editable install would find a
missing one anyway, so only this check catches it before a real install)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_package_folder() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = config["tool"]["setuptools"]["package-dir"]
    folders = {
        "micro." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in roots.values()
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert set(config["tool"]["setuptools"]["packages"]) == folders
