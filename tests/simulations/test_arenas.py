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
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False,
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


def test_malloc_heap_is_advised_as_it_grows() -> None:
    out = _run("""
        from micro.simulations.arenas import use_huge_pages
        use_huge_pages()
        tables = [list(range(20_000)) for _ in range(200)]  # objects over 512 bytes: malloc's heap
        advised = 0
        with open("/proc/self/smaps") as smaps:
            heap = False
            for line in smaps:
                if "-" in line.split()[0]:
                    heap = line.rstrip().endswith("[heap]")
                elif heap and line.startswith("Size:"):
                    size = int(line.split()[1]) * 1024
                elif heap and line.startswith("VmFlags:") and " hg" in line:
                    advised += size
        print(len(tables), advised)
    """)
    count, advised = map(int, out.split())
    assert count == 200
    assert advised >= 16 << 20  # the lists' 32 MB, less the part of the heap older than the call


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
