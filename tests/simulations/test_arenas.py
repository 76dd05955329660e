"""The simulator's allocator tuning (simulations/arenas.c): the interpreter's memory in huge pages.

Each test runs in a fresh interpreter: the allocator, once installed, stays for the life of the process.
A mapping the process asked to have in huge pages shows `hg` among its VmFlags in /proc/self/smaps.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

arenas = pytest.importorskip("micro.simulations.arenas", reason="the C extension is built by `make build`")

_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
pytestmark = pytest.mark.skipif(not _THP.exists() or "[never]" in _THP.read_text(),
                                reason="the kernel has no transparent huge pages to advise")

_MAPPINGS = """
    def mappings():
        '''(start, end, name, advised) of every mapping of this process.'''
        found = []
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                fields = line.split()
                if "-" in fields[0]:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    found.append([start, end, fields[5] if len(fields) > 5 else "", False])
                elif fields[0] == "VmFlags:":
                    found[-1][3] = "hg" in fields[1:]
        return found

    def in_reservation(obj):
        '''True if `obj` lies in an advised anonymous mapping (an arena reservation, not the heap).'''
        return any(start <= id(obj) < end and advised and not name for start, end, name, advised in mappings())
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_MAPPINGS) + textwrap.dedent(code)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_small_objects_made_after_the_call_live_in_advised_reservations() -> None:
    out = _run("""
        from micro.simulations.arenas import use_huge_pages
        use_huge_pages()
        use_huge_pages()  # idempotent
        def deep(n):  # the interpreter's frame-stack chunks come from the same allocator, and first
            return n if n == 0 else deep(n - 1)
        deep(500)
        kept = [(i, str(i)) for i in range(400_000)]  # some tens of MB of small objects
        # The first ones fill what arenas made before the call had free; the rest need new arenas.
        print(all(in_reservation(kept[i]) for i in (100_000, 250_000, 399_999)))
    """)
    assert out == "True"


def test_malloc_heap_is_advised_as_it_grows() -> None:
    out = _run("""
        from micro.simulations.arenas import use_huge_pages
        use_huge_pages()
        tables = [list(range(20_000)) for _ in range(200)]  # objects over 512 bytes: malloc's heap
        print(sum(end - start for start, end, name, advised in mappings() if name == "[heap]" and advised))
    """)
    assert int(out) >= 16 << 20  # the lists' 32 MB, less the part of the heap older than the call


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
            assert in_reservation(first[-1])
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak)
    """)
    # Seven more rounds of the same size fit in the arenas the first round freed (kilobytes).
    assert int(out) < 64 * 1024
