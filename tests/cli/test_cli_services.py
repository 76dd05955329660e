"""`micro run`, `micro status`, `micro logs`, `micro kill` against a real node: what they print, and their
one-line errors."""

from __future__ import annotations

import itertools
import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from kv_harness import one_error
from node_harness import MICRO, PATIENCE, NodeProcess, wait_until

_names = itertools.count()

PRINTER = """
import time
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A service dir of a name no other test uses, whose main.py prints `ready` and sleeps."""
    path = tmp_path / f"cli{next(_names)}"
    path.mkdir()
    (path / "main.py").write_text(textwrap.dedent(PRINTER))
    return path


def _micro(node: NodeProcess, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, *args, "--data-dir", str(node.data_dir)], capture_output=True, text=True,
                          timeout=30, check=False, cwd=cwd)


def _ok(node: NodeProcess, *args: str, cwd: Path | None = None) -> str:
    result = _micro(node, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _row(node: NodeProcess, name: str) -> list[str]:
    return next(line.split() for line in _ok(node, "status").splitlines() if line.split()[0] == name)


def test_run_prints_the_name_and_pid(node: NodeProcess, service: Path) -> None:
    out = _ok(node, "run", str(service))

    pid = json.loads(_ok(node, "status", "--json"))
    started = next(p for p in pid if p["name"] == service.name)
    assert out == f"started {service.name} (pid {started['pid']})\n"


def test_run_resolves_a_relative_path(node: NodeProcess, service: Path) -> None:
    _ok(node, "run", service.name, "--name", f"{service.name}-rel", cwd=service.parent)

    shown = json.loads(_ok(node, "status", "--json"))
    assert next(p for p in shown if p["name"] == f"{service.name}-rel")["path"] == str(service)


def test_status_shows_a_table_row_per_process(node: NodeProcess, service: Path) -> None:
    _ok(node, "run", str(service))

    header = _ok(node, "status").splitlines()[0].split()
    name, state, pid, restarts, uptime = _row(node, service.name)

    assert header == ["NAME", "STATE", "PID", "RESTARTS", "UPTIME"]
    assert (name, state, restarts) == (service.name, "running", "0")
    assert int(pid) > 0 and uptime.endswith("s")


def test_logs_prints_the_output(node: NodeProcess, service: Path) -> None:
    _ok(node, "run", str(service))

    assert wait_until(lambda: _ok(node, "logs", service.name), PATIENCE, "output") == "ready\n"


def test_logs_follow_prints_lines_as_they_come(node: NodeProcess, tmp_path: Path) -> None:
    path = tmp_path / f"cli{next(_names)}"
    path.mkdir()
    (path / "main.py").write_text("import time\nfor n in range(600):\n    print(n, flush=True)\n    time.sleep(0.1)\n")
    _ok(node, "run", str(path))
    follower = subprocess.Popen([MICRO, "logs", path.name, "-f", "--tail", "1", "--data-dir", str(node.data_dir)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        numbers = [int(follower.stdout.readline()) for _ in range(5)]
    finally:
        follower.kill()
        follower.wait(timeout=10)

    assert numbers == list(range(numbers[0], numbers[0] + 5))


def test_kill_stops_it(node: NodeProcess, service: Path) -> None:
    _ok(node, "run", str(service))

    assert _ok(node, "kill", service.name) == f"stopped {service.name}\n"
    assert _row(node, service.name)[1:] == ["stopped", "-", "0", "-"]


def test_running_a_name_twice_is_one_error(node: NodeProcess, service: Path) -> None:
    _ok(node, "run", str(service))

    error = one_error(_micro(node, "run", str(service)))

    assert error.startswith(f"error: {service.name} is already running (pid ")


def test_a_directory_without_main_py_is_one_error(node: NodeProcess, tmp_path: Path) -> None:
    error = one_error(_micro(node, "run", str(tmp_path)))

    assert error == f"error: {tmp_path} has no main.py (micro run starts `python main.py` there)"


@pytest.mark.parametrize("command", ["logs", "kill"])
def test_an_unknown_name_is_one_error(node: NodeProcess, command: str) -> None:
    error = one_error(_micro(node, command, "nobody"))

    assert error == "error: no process named 'nobody' on this node (see `micro status`)"


def test_without_a_node_status_is_one_error(tmp_path: Path) -> None:
    result = subprocess.run([MICRO, "status", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=30, check=False)

    assert one_error(result) == f"error: no node running at {tmp_path} (start one with `micro node start`)"
