"""`micro run`, `micro status`, `micro logs`, `micro kill`: services as processes supervised by the node.

The node starts `python main.py` in the directory, restarts it with backoff when it crashes, keeps its
output, and stops it (and every other) when the node itself stops. Nothing restarts them with the node.
"""

from __future__ import annotations

import os
import time

import click

from ..node.api.errors import InvalidArgument
from .common import connect, data_dir_option, echo, echo_changes, echo_json, echo_table

__all__ = ["kill", "logs", "run", "status"]


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidArgument(f"--env takes KEY=VALUE, not {text!r}")
    return key, value


@click.command()
@data_dir_option
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("args", nargs=-1)
@click.option("--name", default="", help="The process name [default: the directory's name].")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra environment (repeatable).")
def run(data_dir: str | None, path: str, args: tuple[str, ...], name: str, env: tuple[str, ...]) -> None:
    """Run the service in directory PATH (its main.py) under the node; ARGS go to main.py."""
    variables = dict(_env_pair(pair) for pair in env)
    with connect(data_dir) as client:
        reply = client.run(os.path.abspath(path), name, args, variables)
    echo(f"started {reply['name']} (pid {reply['pid']})")


def _uptime(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60}s"
    return f"{whole // 3600}h{whole % 3600 // 60}m"


@click.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(data_dir: str | None, as_json: bool) -> None:
    """List the processes the node supervises."""
    with connect(data_dir) as client:
        rows = client.processes()
    if as_json:
        echo_json(rows)
        return
    now = time.time()
    echo_table(("NAME", "STATE", "PID", "RESTARTS", "UPTIME"),
               [(p["name"], p["state"], str(p["pid"] or "-"), str(p["restarts"]),
                 _uptime(now - p["started_at"]) if p["state"] == "running" else "-") for p in rows])


@click.command()
@data_dir_option
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--tail", type=click.IntRange(min=0), default=0, help="Only the last N lines kept [default: all].")
def logs(data_dir: str | None, name: str, follow: bool, tail: int) -> None:
    """Print a process's output (stdout and stderr, the last 10,000 lines kept; control characters escaped)."""
    with connect(data_dir) as client:
        echo_changes(client.logs(name, follow, tail), lambda entry: str(entry["line"]))


@click.command()
@data_dir_option
@click.argument("name")
def kill(data_dir: str | None, name: str) -> None:
    """Stop a process (SIGTERM, SIGKILL after 5 s); it is not restarted."""
    with connect(data_dir) as client:
        client.kill(name)
    echo(f"stopped {name}")
