"""Processes supervised by a real node (`Run`, `Processes`, `Logs`, `Kill`), with tiny service dirs whose
main.py prints, sleeps, crashes or ignores SIGTERM."""

from __future__ import annotations

import itertools
import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from micro.node.api.errors import NodeError
from micro.node.processes.supervisor import FIRST_DELAY, MAX_DELAY, RING_BYTES, STABLE_AFTER, restart_delay
from node_harness import PATIENCE, Cluster, NodeProcess, wait_until

_names = itertools.count()

SLEEPER = """
import os, time
print("started", os.environ["MICRO_DATA_DIR"], flush=True)
time.sleep(600)
"""
# Prints the moment it starts, then crashes.
CRASHER = """
import sys, time
print("start", time.monotonic(), flush=True)
sys.exit(3)
"""


@pytest.fixture(scope="module")
def node() -> Iterator[NodeProcess]:
    with Cluster.temporary("ms-") as cluster:
        yield cluster.add(1)[0]


@pytest.fixture
def name() -> str:
    return f"svc{next(_names)}"


def service_dir(base: Path, name: str, code: str) -> Path:
    path = base / name
    path.mkdir()
    (path / "main.py").write_text(textwrap.dedent(code))
    return path


def process(node: NodeProcess, name: str) -> dict[str, Any]:
    with node.client() as client:
        return next(p for p in client.processes() if p["name"] == name)


def lines(node: NodeProcess, name: str, tail: int = 0) -> list[str]:
    with node.client() as client:
        return [entry["line"] for entry in client.logs(name, tail=tail)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def run(node: NodeProcess, path: Path, **options: Any) -> dict[str, Any]:
    with node.client() as client:
        return client.run(str(path), **options)


def wait_out_restarts(node: NodeProcess, base: Path, restarts: int = 0) -> None:
    """Return once a process crashing from now on has been restarted more than `restarts` times: by then
    the node has waited, on its own clock, out the delay of any restart it could have scheduled before for
    a process with `restarts` restarts behind it (the witness's last delay alone is as long)."""
    witness = f"witness{next(_names)}"
    run(node, service_dir(base, witness, CRASHER))
    wait_until(lambda: process(node, witness)["restarts"] > restarts, PATIENCE, "the witness to be restarted")
    with node.client() as client:
        client.kill(witness)


def test_run_starts_main_py_with_the_nodes_data_dir(node: NodeProcess, tmp_path: Path, name: str) -> None:
    reply = run(node, service_dir(tmp_path, name, SLEEPER))

    assert reply["name"] == name and reply["pid"] > 0
    wait_until(lambda: lines(node, name), PATIENCE, "the first line")
    assert lines(node, name) == [f"started {node.data_dir}"]
    shown = process(node, name)
    assert (shown["state"], shown["pid"], shown["restarts"]) == ("running", reply["pid"], 0)
    assert shown["started_at"] == pytest.approx(time.time(), abs=30)


def test_run_takes_the_name_given(node: NodeProcess, tmp_path: Path, name: str) -> None:
    reply = run(node, service_dir(tmp_path, "dir", SLEEPER), name=name)

    assert reply["name"] == name
    assert process(node, name)["path"] == str(tmp_path / "dir")


def test_crashing_process_is_restarted_with_doubling_delays(node: NodeProcess, tmp_path: Path, name: str) -> None:
    run(node, service_dir(tmp_path, name, CRASHER))

    starts = wait_until(lambda: [float(line.split()[1]) for line in lines(node, name) if line.startswith("start")]
                        if len(lines(node, name)) >= 4 else None, PATIENCE, "four starts")
    # Each gap is its delay plus the exit, the spawn and the interpreter's start, which a loaded machine can
    # stretch by any amount: only the delays are bounds.
    gaps = [b - a for a, b in itertools.pairwise(starts[:4])]
    assert gaps[0] >= FIRST_DELAY
    assert gaps[1] >= 2 * FIRST_DELAY and gaps[2] >= 4 * FIRST_DELAY
    shown = process(node, name)
    assert shown["restarts"] >= 3 and shown["last_exit"] == 3


def test_waiting_to_restart_shows_no_pid(node: NodeProcess, tmp_path: Path, name: str) -> None:
    run(node, service_dir(tmp_path, name, CRASHER))

    shown = wait_until(lambda: (p := process(node, name))["state"] == "restarting" and p, PATIENCE,
                       "restarting")

    assert shown["pid"] == 0


def test_process_that_exits_0_is_stopped_not_restarted(node: NodeProcess, tmp_path: Path, name: str) -> None:
    run(node, service_dir(tmp_path, name, "print('done')\n"))

    wait_until(lambda: process(node, name)["state"] == "stopped", PATIENCE, "stopped")
    wait_out_restarts(node, tmp_path)
    assert process(node, name)["restarts"] == 0
    assert lines(node, name) == ["done"]


def test_kill_stops_the_process_for_good(node: NodeProcess, tmp_path: Path, name: str) -> None:
    pid = run(node, service_dir(tmp_path, name, SLEEPER))["pid"]

    with node.client() as client:
        client.kill(name)

    assert gone(pid)
    wait_out_restarts(node, tmp_path)
    shown = process(node, name)
    assert (shown["state"], shown["pid"], shown["restarts"]) == ("stopped", 0, 0)
    assert shown["last_exit"] == -signal.SIGTERM


def test_kill_of_a_process_ignoring_sigterm_ends_it_with_sigkill(node: NodeProcess, tmp_path: Path,
                                                                  name: str) -> None:
    code = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring", flush=True)
    time.sleep(600)
    """
    pid = run(node, service_dir(tmp_path, name, code))["pid"]
    wait_until(lambda: lines(node, name), PATIENCE, "the process to ignore SIGTERM")

    with node.client() as client:
        client.kill(name)

    assert gone(pid)
    assert process(node, name)["last_exit"] == -signal.SIGKILL


def test_kill_while_waiting_to_restart_stops_it(node: NodeProcess, tmp_path: Path, name: str) -> None:
    run(node, service_dir(tmp_path, name, CRASHER))
    wait_until(lambda: process(node, name)["state"] == "restarting", PATIENCE, "restarting")

    with node.client() as client:
        client.kill(name)

    restarts = process(node, name)["restarts"]
    wait_out_restarts(node, tmp_path, restarts)
    assert process(node, name)["state"] == "stopped"
    assert process(node, name)["restarts"] == restarts


def test_a_killed_process_can_be_run_again(node: NodeProcess, tmp_path: Path, name: str) -> None:
    path = service_dir(tmp_path, name, SLEEPER)
    run(node, path)
    with node.client() as client:
        client.kill(name)

    pid = run(node, path)["pid"]

    assert process(node, name)["state"] == "running" and process(node, name)["pid"] == pid


def test_logs_tail_gives_the_last_lines_in_order(node: NodeProcess, tmp_path: Path, name: str) -> None:
    code = """
    for n in range(5):
        print("line", n, flush=True)
    """
    run(node, service_dir(tmp_path, name, code))
    wait_until(lambda: process(node, name)["state"] == "stopped", PATIENCE, "the process to finish")

    assert lines(node, name, tail=2) == ["line 3", "line 4"]


def test_logs_say_which_stream_each_line_came_from(node: NodeProcess, tmp_path: Path, name: str) -> None:
    # The two pipes are read side by side, so only the order within each stream is kept.
    code = """
    import sys
    for n in range(6):
        print("line", n, file=sys.stderr if n % 2 else sys.stdout, flush=True)
    """
    run(node, service_dir(tmp_path, name, code))
    wait_until(lambda: process(node, name)["state"] == "stopped", PATIENCE, "the process to finish")

    with node.client() as client:
        entries = list(client.logs(name))
    by_stream = {stream: [e["line"] for e in entries if e["stream"] == stream] for stream in ("stdout", "stderr")}
    assert by_stream == {"stdout": ["line 0", "line 2", "line 4"], "stderr": ["line 1", "line 3", "line 5"]}


def test_kept_output_is_bounded_in_bytes(node: NodeProcess, tmp_path: Path, name: str) -> None:
    # 160 lines of 60,000 characters: 9.6 MB, more than the ring keeps.
    code = """
    for n in range(160):
        print(f"{n:05d}" + "x" * 59_995, flush=True)
    """
    run(node, service_dir(tmp_path, name, code))
    wait_until(lambda: process(node, name)["state"] == "stopped", PATIENCE, "the process to finish")

    kept = lines(node, name)

    assert sum(len(line) for line in kept) <= RING_BYTES
    assert kept[-1].startswith("00159") and not kept[0].startswith("00000")


def test_logs_are_written_to_the_log_file(node: NodeProcess, tmp_path: Path, name: str) -> None:
    run(node, service_dir(tmp_path, name, "print('to the file')\n"))

    log = node.data_dir / "logs" / f"{name}.log"
    wait_until(lambda: log.exists() and "to the file" in log.read_text(), PATIENCE, "the log file")
    assert log.read_text().splitlines()[0].endswith(" stdout to the file")


def test_logs_follow_streams_new_lines(node: NodeProcess, tmp_path: Path, name: str) -> None:
    code = """
    import time
    for n in range(600):
        print("tick", n, flush=True)
        time.sleep(0.1)
    """
    run(node, service_dir(tmp_path, name, code))
    wait_until(lambda: lines(node, name), PATIENCE, "the first tick")
    seen: list[str] = []
    with node.client() as client:
        stream = client.logs(name, follow=True, tail=1)

        def read() -> None:
            for entry in stream:
                seen.append(entry["line"])
                if len(seen) == 5:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=15)

    assert len(seen) == 5
    numbers = [int(line.split()[1]) for line in seen]
    assert numbers == list(range(numbers[0], numbers[0] + 5))


def test_a_name_already_running_is_refused(node: NodeProcess, tmp_path: Path, name: str) -> None:
    path = service_dir(tmp_path, name, SLEEPER)
    run(node, path)

    with pytest.raises(NodeError) as refused:
        run(node, path)

    assert refused.value.code == "ALREADY_EXISTS"
    assert name in refused.value.message


def test_a_directory_without_main_py_is_refused(node: NodeProcess, tmp_path: Path) -> None:
    with pytest.raises(NodeError) as refused:
        run(node, tmp_path)

    assert refused.value.code == "INVALID_ARGUMENT"
    assert refused.value.message == f"{tmp_path} has no main.py (micro run starts `python main.py` there)"


def test_a_relative_path_is_refused(node: NodeProcess) -> None:
    with pytest.raises(NodeError) as refused:
        run(node, Path("examples/helloworld"))

    assert refused.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("call", ["logs", "kill"])
def test_an_unknown_name_is_not_found(node: NodeProcess, call: str) -> None:
    with node.client() as client, pytest.raises(NodeError) as refused:
        list(client.logs("nobody")) if call == "logs" else client.kill("nobody")

    assert refused.value.code == "NOT_FOUND"


def test_node_sigterm_stops_its_processes(cluster: Cluster, tmp_path: Path) -> None:
    node = cluster.add(1)[0]
    pids = [run(node, service_dir(tmp_path, f"s{n}", SLEEPER))["pid"] for n in range(2)]

    node.kill(signal.SIGTERM)

    assert all(gone(pid) for pid in pids)


def test_processes_die_with_a_killed_node(cluster: Cluster, tmp_path: Path) -> None:
    node = cluster.add(1)[0]
    pid = run(node, service_dir(tmp_path, "orphan", SLEEPER))["pid"]

    node.kill(signal.SIGKILL)

    wait_until(lambda: gone(pid), PATIENCE, "the process to die with its node")


@pytest.mark.parametrize(("previous", "uptime", "expected"), [
    (0.0, 0.1, FIRST_DELAY),                   # the first crash
    (FIRST_DELAY, 0.1, 2 * FIRST_DELAY),       # crashing again soon: double
    (16.0, 0.1, MAX_DELAY),                    # never beyond the cap
    (MAX_DELAY, 0.1, MAX_DELAY),
    (8.0, STABLE_AFTER, FIRST_DELAY),          # it stayed up long enough: start over
])
def test_the_restart_delay_doubles_to_its_cap_and_starts_over_after_a_stable_run(
        previous: float, uptime: float, expected: float) -> None:
    assert restart_delay(previous, uptime) == expected
