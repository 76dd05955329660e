"""The simulator's arena allocator (simulations/arenas.c): pymalloc's arenas in huge-page reservations.

Each test runs in a fresh interpreter: the allocator, once installed, stays for the life of the process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

arenas = pytest.importorskip("micro.simulations.arenas", reason="the C extension is built by `make build`")

_RESERVATION = 32 << 20


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_arenas_come_from_huge_page_reservations_once_installed() -> None:
    out = _run("""
        from micro.simulations.arenas import use_huge_pages
        use_huge_pages()
        use_huge_pages()  # idempotent
        kept = [(i, str(i)) for i in range(400_000)]  # some tens of MB of small objects
        advised = []
        with open("/proc/self/smaps") as smaps:
            size = 0
            for line in smaps:
                if line.startswith("Size:"):
                    size = int(line.split()[1]) * 1024
                elif line.startswith("VmFlags:") and " hg" in line:
                    advised.append(size)
        print(len(kept), sum(advised))
    """)
    count, advised = map(int, out.split())
    assert count == 400_000
    assert advised >= _RESERVATION


def test_freed_arenas_are_reused_and_objects_stay_intact() -> None:
    out = _run("""
        import resource
        from micro.simulations.arenas import use_huge_pages
        use_huge_pages()
        def fill(tag):
            return [(tag, i, str(i)) for i in range(300_000)]
        first = fill("a")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for tag in "bcdefgh":
            del first
            first = fill(tag)
            assert all(t == tag and s == str(i) for t, i, s in first)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
        print(grown)
    """)
    # Seven more rounds of the same size fit in the arenas the first round freed (kilobytes).
    assert int(out) < 64 * 1024
