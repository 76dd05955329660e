"""Suite-wide set-up: the built extension modules (see setup.py) must be at least as new as their sources,
and Ctrl-C reaches the processes the tests start.

An extension module shadows the .py beside it, so an edit to a compiled module would otherwise go
untested without a word. `make test` rebuilds them first; a direct `pytest` after an edit stops here.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    # Tests send Ctrl-C (SIGINT) to the processes they start. A suite started in the background (`cmd &`
    # in a script) has SIGINT ignored, which its children would inherit; a handler here is reset to the
    # default in every child instead.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    stale = [
        str(source.relative_to(ROOT))
        for built in sorted((*ROOT.glob("mesh/*.so"), *ROOT.glob("simulations/*.so")))
        if (source := built.with_name(built.name.split(".")[0] + ".py")).exists()
        and source.stat().st_mtime > built.stat().st_mtime
    ]
    if stale:
        pytest.exit(f"compiled modules are older than {', '.join(stale)}: run `make build`", returncode=2)
