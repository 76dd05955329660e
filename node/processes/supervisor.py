"""Service processes supervised by the node: `micro run`, `micro status`, `micro logs`, `micro kill`.

`Run` starts `python main.py` in a service's directory with the node's own interpreter (so a service
imports the same `micro` the node runs), `MICRO_DATA_DIR` set to the node's data dir and the request's
environment on top, in a process group of its own. A short bootstrap (`_BOOTSTRAP`) runs main.py as
`__main__` after asking Linux to SIGKILL the process if the node dies, so a node killed without a chance
to stop its processes does not leave them behind. Every line the process writes to stdout or stderr is
kept in a ring of the last `RING_LINES` lines and at most `RING_BYTES` of text (what `Logs` answers
from), and appended to `DATA_DIR/logs/NAME.log` (rotated to `NAME.log.1` beyond `LOG_FILE_BYTES`).

A process that exits non-zero or by a signal is restarted after a delay that starts at `FIRST_DELAY`,
doubles on each crash up to `MAX_DELAY`, and starts over once a run stays up `STABLE_AFTER` seconds
(`restart_delay`). A process that exits 0 has finished: it is not restarted. `Kill` sends SIGTERM to the
group, SIGKILL after `KILL_GRACE`, and leaves the process stopped. The node stops every process the same
way when it stops; the processes are its children and nothing brings them back after a node restart
except another `micro run`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from ..api.datadir import DataDir
from ..api.errors import InvalidArgument, NodeError, NotFound, Unavailable
from ..api.proto import node_pb2
from ..log import Logger

__all__ = [
    "FIRST_DELAY",
    "KILL_GRACE",
    "MAX_DELAY",
    "RING_BYTES",
    "RING_LINES",
    "STABLE_AFTER",
    "Supervisor",
    "restart_delay",
]

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
STABLE_AFTER = 30.0
KILL_GRACE = 5.0
RING_LINES = 10_000
RING_BYTES = 8 << 20
LOG_FILE_BYTES = 10 << 20
# A line longer than this is cut into pieces of this size (a process printing without newlines must not
# grow the node's memory).
_MAX_LINE = 64 << 10
# A follower that falls this many lines behind is dropped rather than buffering without bound.
_FOLLOW_QUEUE = RING_LINES
# After a process exits, how long its pipes may stay open (held by a child it left behind) before the
# readers give up.
_DRAIN = 1.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# Run as `python -c _BOOTSTRAP NODE_PID main.py ARGS...`: PR_SET_PDEATHSIG (1) kills the process when the
# node dies; a node that died before the call (the parent is no longer the node) means exit at once.
# Elsewhere than Linux there is no prctl and the process simply runs.
_BOOTSTRAP = """\
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def restart_delay(previous: float, uptime: float) -> float:
    """The pause before restarting a process that crashed after `uptime` seconds, when the pause before
    its last restart was `previous` (0 for none)."""
    if previous <= 0 or uptime >= STABLE_AFTER:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)


class _LogFile:
    """NAME.log, rotated once to NAME.log.1 when it grows past LOG_FILE_BYTES."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def write(self, entry: node_pb2.LogLine) -> None:
        try:
            if self._file is None:
                # Kept open across lines and closed by close(), so no context manager.
                self._file = open(self.path, "a", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.at))
            self._file.write(f"{stamp}Z {entry.stream} {entry.line}\n")
            if self._file.tell() > LOG_FILE_BYTES:
                self._file.close()
                self._file = None
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except OSError:
            # A full disk must not stop the process or the ring; the file resumes when it can.
            self.close()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


class _Process:
    """One supervised service: its current OS process, restarts, and kept output."""

    def __init__(self, name: str, logs_dir: Path, log: Logger) -> None:
        self.name = name
        self.path = ""
        self.args: list[str] = []
        self.env: dict[str, str] = {}
        self.state = "stopped"
        self.restarts = 0
        self.started_at = 0.0
        self.last_exit = 0
        self.ring: collections.deque[node_pb2.LogLine] = collections.deque()
        self._ring_bytes = 0
        self.followers: set[asyncio.Queue[node_pb2.LogLine | None]] = set()
        self._file = _LogFile(logs_dir / f"{name}.log")
        self._log = log
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def active(self) -> bool:
        return self.state in ("running", "restarting")

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else 0

    async def start(self, path: str, args: list[str], env: dict[str, str]) -> int:
        """Start the first run now (so a bad start is the caller's error) and supervise the rest."""
        self.path, self.args, self.env = path, args, env
        self.restarts, self.last_exit = 0, 0
        self._stop = asyncio.Event()
        # Running from now on, so a second Run of the name while this one spawns is refused.
        self.state = "running"
        try:
            await self._spawn()
        except OSError as exc:
            self.state = "failed"
            raise NodeError(f"cannot start {self.name}: {exc.strerror or exc}", "FAILED_PRECONDITION") from None
        self._task = asyncio.get_running_loop().create_task(self._supervise())
        return self.pid

    async def _spawn(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _BOOTSTRAP, str(os.getpid()), "main.py", *self.args, cwd=self.path,
            env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=_MAX_LINE,
        )
        self.state, self.started_at = "running", time.time()
        self._log.info("process.started", name=self.name, pid=self._proc.pid, restarts=self.restarts)
        if self._stop.is_set():
            self._signal(signal.SIGTERM)  # killed while this run was starting

    async def _supervise(self) -> None:
        delay = 0.0
        while True:
            assert self._proc is not None
            began = time.monotonic()
            await self._collect(self._proc)
            self.last_exit = self._proc.returncode if self._proc.returncode is not None else 0
            self._log.info("process.exited", name=self.name, code=self.last_exit)
            if self._stop.is_set() or self.last_exit == 0:
                self.state = "stopped"
                return
            delay = restart_delay(delay, time.monotonic() - began)
            self.state = "restarting"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                self.state = "stopped"
                return
            self.restarts += 1
            try:
                await self._spawn()
            except OSError as exc:
                self.state = "failed"
                self._record(f"micro: cannot restart {self.name}: {exc.strerror or exc}", "stderr")
                return

    async def _collect(self, proc: asyncio.subprocess.Process) -> None:
        """Read the process's output until it exits (and its pipes close, or `_DRAIN` passes)."""
        assert proc.stdout is not None and proc.stderr is not None
        readers = [asyncio.ensure_future(self._read(proc.stdout, "stdout")),
                   asyncio.ensure_future(self._read(proc.stderr, "stderr"))]
        await proc.wait()
        _, pending = await asyncio.wait(readers, timeout=_DRAIN)
        for reader in pending:
            reader.cancel()

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        while True:
            try:
                data = await stream.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                data = await stream.readexactly(exc.consumed)
            except asyncio.IncompleteReadError as exc:
                data = exc.partial  # the last line, without its newline
                if not data:
                    return
            self._record(data.decode("utf-8", errors="replace").rstrip("\r\n"), name)

    def _record(self, line: str, stream: str) -> None:
        entry = node_pb2.LogLine(line=line, stream=stream, at=time.time())
        self.ring.append(entry)
        self._ring_bytes += len(line)
        while len(self.ring) > RING_LINES or self._ring_bytes > RING_BYTES:
            self._ring_bytes -= len(self.ring.popleft().line)
        self._file.write(entry)
        for queue in list(self.followers):
            try:
                queue.put_nowait(entry)
            except asyncio.QueueFull:
                # Too slow to keep up: ended below with an error rather than skipping lines silently.
                self.followers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    async def stop(self, grace: float) -> None:
        """SIGTERM to the process group, SIGKILL after `grace`; no restart afterwards."""
        self._stop.set()
        if self._task is None:
            return
        self._signal(signal.SIGTERM)
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._log.warning("process.kill", name=self.name, after_s=grace)
            self._signal(signal.SIGKILL)
        await self._task

    def _signal(self, sig: int) -> None:
        """Signal the running process's group; nothing while none runs."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def close(self) -> None:
        self._file.close()

    def to_proto(self) -> node_pb2.Process:
        return node_pb2.Process(name=self.name, path=self.path, pid=self.pid, state=self.state,
                                restarts=self.restarts, started_at=self.started_at, last_exit=self.last_exit)


class Supervisor:
    """The processes `micro run` started on this node, by name."""

    def __init__(self, data_dir: DataDir, log: Logger) -> None:
        self.data_dir = data_dir
        self._log = log
        self._processes: dict[str, _Process] = {}
        self._closing = False

    def _get(self, name: str) -> _Process:
        process = self._processes.get(name)
        if process is None:
            raise NotFound(f"no process named {name!r} on this node (see `micro status`)")
        return process

    async def run(self, request: node_pb2.RunRequest) -> node_pb2.RunReply:
        if self._closing:
            raise Unavailable("the node is stopping")
        path = Path(request.path)
        if not path.is_absolute():
            raise InvalidArgument(f"the path to run must be absolute, not {request.path!r}")
        if not path.is_dir():
            raise InvalidArgument(f"{path} is not a directory")
        if not (path / "main.py").is_file():
            raise InvalidArgument(f"{path} has no main.py (micro run starts `python main.py` there)")
        name = request.name or path.name
        if not _NAME.match(name):
            raise InvalidArgument(f"a process name is 1-64 letters, digits, '_', '.' or '-', not {name!r}")
        process = self._processes.get(name)
        if process is not None and process.active:
            raise NodeError(f"{name} is already running (pid {process.pid}); `micro kill {name}` first",
                            "ALREADY_EXISTS")
        if process is None:
            logs_dir = self.data_dir.path / "logs"
            logs_dir.mkdir(mode=0o700, exist_ok=True)
            process = self._processes[name] = _Process(name, logs_dir, self._log)
        env = {**os.environ, "MICRO_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1", **request.env}
        pid = await process.start(str(path), list(request.args), env)
        return node_pb2.RunReply(name=name, pid=pid)

    def processes(self) -> node_pb2.ProcessesReply:
        return node_pb2.ProcessesReply(
            processes=[self._processes[name].to_proto() for name in sorted(self._processes)])

    async def logs(self, request: node_pb2.LogsRequest, context: Any) -> AsyncIterator[node_pb2.LogLine]:
        """The kept lines (the last `tail`, or all), then with `follow` every new line until cancelled."""
        process = self._get(request.name)
        kept = list(process.ring)[-request.tail:] if request.tail else list(process.ring)
        if not request.follow:
            for entry in kept:
                yield entry
            return
        # Subscribed in the same step as the ring is read, so no line falls between the two.
        queue: asyncio.Queue[node_pb2.LogLine | None] = asyncio.Queue(_FOLLOW_QUEUE)
        process.followers.add(queue)
        try:
            # Headers tell the client the stream is set up (see NodeClient._stream).
            await context.send_initial_metadata(())
            for entry in kept:
                yield entry
            while (new := await queue.get()) is not None:
                yield new
            raise NodeError(f"the log stream of {process.name} fell more than {_FOLLOW_QUEUE} lines behind",
                            "RESOURCE_EXHAUSTED")
        finally:
            process.followers.discard(queue)

    async def kill(self, request: node_pb2.KillRequest) -> node_pb2.KillReply:
        await self._get(request.name).stop(KILL_GRACE)
        return node_pb2.KillReply()

    async def close(self) -> None:
        """Stop every process (as `kill` does, all at once); called when the node stops."""
        self._closing = True
        await asyncio.gather(*(p.stop(KILL_GRACE) for p in self._processes.values()))
        for process in self._processes.values():
            process.close()
