"""What `micro node start` prints for people: one line of facts, or with --banner a block of next steps."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from node_harness import MICRO, PATIENCE, wait_until


def _start_and_read(extra: list[str], done: str) -> str:
    with tempfile.TemporaryDirectory(prefix="mo-") as base:
        out = Path(base) / "stdout"
        with open(out, "wb") as sink:
            proc = subprocess.Popen(
                [MICRO, "node", "start", "--data-dir", f"{base}/d", "--bind", "127.0.0.1:0", "--no-mdns",
                 "--profile", "local", *extra],
                stdout=sink, stderr=subprocess.DEVNULL, start_new_session=True,
            )
        try:
            wait_until(lambda: done in out.read_text(), PATIENCE, "start-up output")
            text = out.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert proc.returncode == 0
        return text.replace(base, "BASE")


def test_start_prints_one_line_of_facts() -> None:
    text = _start_and_read([], "generation")

    lines = text.strip().splitlines()
    assert len(lines) == 1
    words = lines[0].split()
    assert words[0] == "node" and words[1].startswith("N")
    assert words[2] == "mesh" and words[3].startswith("M")
    assert words[4] == "address" and words[5].startswith("127.0.0.1:")
    assert words[6:8] == ["data-dir", "BASE/d"]


def test_banner_says_what_to_try_next() -> None:
    text = _start_and_read(["--banner"], "Ctrl-C")

    for expected in ("node id", "mesh id", "address", "data dir", "node status --data-dir BASE/d",
                     "node invite --data-dir BASE/d", "--join 127.0.0.1:", "--token",
                     "auth token --data-dir BASE/d"):
        assert expected in text, expected


def test_the_start_line_and_the_banner_name_the_gateway_url() -> None:
    line = _start_and_read(["--gateway", "127.0.0.1:0"], "generation")
    banner = _start_and_read(["--gateway", "127.0.0.1:0", "--banner"], "Ctrl-C")

    words = line.split()
    assert words[-2] == "gateway" and words[-1].startswith("http://127.0.0.1:")
    assert not words[-1].endswith(":0")
    assert "gateway     http://127.0.0.1:" in banner
