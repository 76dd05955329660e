"""The `micro` command's contract: one-line errors, durations, finding the node by data dir."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from micro.cli.main import parse_duration

MICRO = str(Path(sys.executable).with_name("micro"))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MICRO, *args], capture_output=True, text=True, timeout=30, check=False, env=env)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800), ("1h30m", 5400), ("45", 45), ("500ms", 0.5)],
)
def test_durations_in_units_and_bare_seconds_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "-5s", "0s", "1h 30", "nan", "inf", "1.5.2s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_duration(text)


@pytest.mark.parametrize("command", [["node", "status"], ["node", "members", "--json"], ["node", "invite"],
                                     ["node", "leave"], ["node", "join", "127.0.0.1:1", "--token", "x"]])
def test_commands_without_a_running_node_say_so_in_one_line(tmp_path: Path, command: list[str]) -> None:
    result = _run(*command, "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no node running at {tmp_path} (start one with `micro node start`)"
    ]


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MICRO_DATA_DIR": str(tmp_path / "env-dir")}

    result = _run("node", "status", env=env)

    assert result.stderr.splitlines() == [
        f"error: no node running at {tmp_path / 'env-dir'} (start one with `micro node start`)"
    ]


def test_bad_ttl_is_one_line(tmp_path: Path) -> None:
    result = _run("node", "invite", "--ttl", "soon", "--data-dir", str(tmp_path))

    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "duration" in lines[0]


def test_unknown_command_is_one_line() -> None:
    result = _run("node", "frobnicate")

    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_bind_address_is_one_line(tmp_path: Path) -> None:
    result = _run("node", "start", "--data-dir", str(tmp_path / "d"), "--bind", "nonsense", "--no-mdns")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "error: --bind 'nonsense' is not HOST:PORT"
    assert "Traceback" not in result.stderr


def test_version_and_groups() -> None:
    version = _run("--version")
    assert version.returncode == 0 and "micro" in version.stdout
    helped = _run("--help")
    assert helped.returncode == 0
    assert "node" in helped.stdout and "sim" in helped.stdout


def test_the_cli_loads_a_command_module_only_when_that_command_runs() -> None:
    # `micro node start` then carries neither the gateway nor the SDK: an idle node's memory.
    probe = ("import sys; from micro.cli.main import cli; "
             "print(sorted(m for m in ('aiohttp', 'jsonschema', 'micro.sdk', 'micro.gateway', 'micro.cli.kv') "
             "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60)

    assert loaded.stdout.split() == ["[]"]
    kv_help = _run("kv", "--help")
    assert kv_help.returncode == 0 and "put" in kv_help.stdout


def test_a_stale_socket_file_is_not_a_running_node(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leftover:
        leftover.bind(str(tmp_path / "node.sock"))  # bound, never listening: what a killed node leaves

    result = _run("node", "members", "--data-dir", str(tmp_path))

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: no node running at {tmp_path} (start one with `micro node start`)"
    ]
