"""`micro new NAME`: the scaffold's files, its own tests, name checks, and the service it makes running
under a real node and answering through the gateway."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kv_harness import one_error
from node_harness import MICRO
from services_harness import GatewayNode, gateway_node


def _new(where: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, "new", name], capture_output=True, text=True, timeout=30, check=False,
                          cwd=where)


@pytest.fixture(scope="module")
def mesh() -> Iterator[GatewayNode]:
    yield from gateway_node()


def test_new_writes_handler_proto_test_and_readme(tmp_path: Path) -> None:
    result = _new(tmp_path, "demo")

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["README.md", "demo.proto", "main.py",
                                                                     "test_main.py"]
    assert "created demo/main.py" in result.stdout
    assert "micro call demo Demo.Call '{\"name\": \"x\"}'" in (tmp_path / "demo" / "README.md").read_text()


def test_dashed_name_makes_a_camel_case_class(tmp_path: Path) -> None:
    _new(tmp_path, "my-svc")

    assert "class MySvc:" in (tmp_path / "my-svc" / "main.py").read_text()
    assert "service MySvc {" in (tmp_path / "my-svc" / "my-svc.proto").read_text()


def test_the_scaffolds_own_tests_pass(tmp_path: Path) -> None:
    _new(tmp_path, "demo")

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True,
                            text=True, timeout=120, check=False, cwd=tmp_path / "demo")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("name", ["Demo", "9lives", "bad_name", "a.b", "-x"])
def test_an_invalid_name_is_one_error(tmp_path: Path, name: str) -> None:
    error = one_error(subprocess.run([MICRO, "new", "--", name], capture_output=True, text=True, timeout=30,
                                     check=False, cwd=tmp_path))

    assert error.startswith(f"error: {name!r} is not a service name")
    assert not (tmp_path / name).exists()


def test_an_existing_directory_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()

    assert one_error(_new(tmp_path, "demo")) == "error: demo already exists; choose another name or remove it"


def test_new_then_run_answers_through_the_gateway(mesh: GatewayNode, tmp_path: Path) -> None:
    _new(tmp_path, "demo")

    mesh.run(tmp_path / "demo", "demo")

    assert mesh.post("/demo/Demo/Call", {"name": "x"}) == (200, {"msg": "Hello x"})
