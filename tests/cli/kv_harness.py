"""Fixtures and helpers for the KV and config tests of the CLI and the SDK.

One real node per test module, started by the node tests' harness (`--no-mdns --profile local` on
127.0.0.1) and killed when the module ends. Tests share it, so each works in a table (or config path) of
its own: the `table` fixture.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))

from node_harness import PATIENCE, Cluster, NodeProcess

_tables = itertools.count()


@pytest.fixture(scope="module")
def node() -> Iterator[NodeProcess]:
    with Cluster.temporary("mk-") as cluster:
        yield cluster.add(1)[0]


@pytest.fixture
def table() -> str:
    """A name no other test in the session uses."""
    return f"t{next(_tables)}"


def one_error(result: subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]) -> str:
    """The single `error:` line of a command that failed that way (asserting it did, with no output)."""
    stdout, stderr = result.stdout, result.stderr
    assert result.returncode == 1
    assert not stdout
    lines = (stderr.decode() if isinstance(stderr, bytes) else stderr).splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


class Watcher:
    """A watching command (`micro kv watch`, `micro config watch`) run as a process; killed on exit."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def first_line_while(self, write: Callable[[], object], timeout: float = PATIENCE) -> str:
        """Call `write` until the command prints a line; return that line.

        The watch is registered some time after the process starts, so one write before it might be
        missed: writing again until the first line shows up (bounded by `timeout`) makes the test
        independent of that.
        """
        assert self.proc.stdout is not None and self.proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in seen and self.proc.poll() is None and time.monotonic() < deadline:
            write()
            time.sleep(0.3)
            seen += self.proc.stdout.read() or b""
        if b"\n" not in seen:
            self.proc.kill()
            raise AssertionError(f"no line within {timeout}s; stderr: {self.proc.stderr.read()!r}")
        return seen.decode().splitlines()[0]

    def interrupt(self, timeout: float = 10.0) -> tuple[int, str]:
        """Send SIGINT (Ctrl-C) and return the exit status and what the command wrote to stderr."""
        self.proc.send_signal(signal.SIGINT)
        _, stderr = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, stderr.decode()


def first_line_while(argv: list[str], write: Callable[[], object]) -> str:
    """Run a watching command, write until it prints a line, and return that line."""
    with Watcher(argv) as watcher:
        return watcher.first_line_while(write)
