"""`micro sim`: run the deterministic many-node simulator and report what the mesh did.

The command builds the default scenario (a converged start, a rumour injected every couple of seconds,
a few crashes spread over the run, optionally a half/half partition, key-value writes, pubsub, auth
records) from its options, runs it on a virtual clock, and prints either a short table or one JSON
object. The JSON holds only virtual-time numbers, so the same seed prints the same bytes; wall time goes
to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time

import click

__all__ = ["sim"]

_PRESETS = ("lan", "wan", "local")


def _parse_partition(value: str | None) -> tuple[float, float] | None:
    """Parse START:END (virtual seconds) into a pair, or raise click.BadParameter."""
    if value is None:
        return None
    start_text, sep, end_text = value.partition(":")
    if not sep:
        raise click.BadParameter(f"expected START:END in seconds, got {value!r}", param_hint="--partition")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        raise click.BadParameter(f"expected START:END in seconds, got {value!r}",
                                 param_hint="--partition") from None
    if not 0 <= start < end:
        raise click.BadParameter(f"need 0 <= START < END, got {value!r}", param_hint="--partition")
    return start, end


def _check_plot_path(path: str) -> None:
    """Refuse a plot path whose directory is missing or not writable before the run, not after it."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise click.BadParameter(f"there is no directory {directory} to write {path} in", param_hint="--plot")
    if not os.access(directory, os.W_OK):
        raise click.BadParameter(f"cannot write in {directory}: permission denied", param_hint="--plot")


@click.command("sim")
@click.option("--nodes", type=int, default=100, show_default=True, help="Number of simulated nodes.")
@click.option("--duration", type=float, default=60.0, show_default=True, help="Virtual seconds to run.")
@click.option("--loss", type=float, default=0.0, show_default=True,
              help="Probability that a datagram is lost (0..1).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed; the same seed gives the same run.")
@click.option("--slow", type=float, default=0.0, show_default=True,
              help="Fraction of nodes whose timers fire late and who drop some of their sends.")
@click.option("--partition", "partition_text", metavar="START:END", default=None,
              help="Cut the nodes into two halves between these virtual seconds.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write a PNG with the dissemination CDF and the detection times.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--kv-writes", type=float, default=0.0, show_default=True, metavar="RATE",
              help="Key-value writes per second on random nodes; reports kv_convergence_s.")
@click.option("--subscribers", type=float, default=0.0, show_default=True, metavar="FRACTION",
              help="Fraction of nodes that subscribe to a topic (pubsub; needs --publish-rate).")
@click.option("--publish-rate", type=float, default=0.0, show_default=True, metavar="RATE",
              help="Pubsub messages per second from random nodes; reports delivery ratio and hops.")
@click.option("--config", "preset", type=click.Choice(_PRESETS), default="lan", show_default=True,
              help="MeshConfig preset the nodes run with.")
@click.option("--auth", is_flag=True,
              help="Write auth records (a rule change, a revocation, a record forged by a non-admin); reports "
                   "when each is in force on every node, and who refused the forgery.")
def sim(nodes: int, duration: float, loss: float, seed: int, slow: float, partition_text: str | None,
        plot_path: str | None, as_json: bool, kv_writes: float, subscribers: float, publish_rate: float,
        preset: str, auth: bool) -> None:
    """Simulate a mesh of NODES cores on a virtual clock and report dissemination and detection."""
    if nodes < 2:
        raise click.BadParameter(f"need at least 2 nodes, got {nodes}", param_hint="--nodes")
    if not duration > 0:
        raise click.BadParameter(f"must be > 0, got {duration}", param_hint="--duration")
    if not 0.0 <= loss < 1.0:
        raise click.BadParameter(f"must be in [0, 1), got {loss}", param_hint="--loss")
    if not 0.0 <= slow <= 1.0:
        raise click.BadParameter(f"must be in [0, 1], got {slow}", param_hint="--slow")
    if not kv_writes >= 0:
        raise click.BadParameter(f"must be >= 0, got {kv_writes}", param_hint="--kv-writes")
    if not 0.0 <= subscribers <= 1.0:
        raise click.BadParameter(f"must be in [0, 1], got {subscribers}", param_hint="--subscribers")
    if not publish_rate >= 0:
        raise click.BadParameter(f"must be >= 0, got {publish_rate}", param_hint="--publish-rate")
    partition = _parse_partition(partition_text)
    if partition is not None and partition[1] > duration:
        raise click.BadParameter(f"END {partition[1]} is past --duration {duration}", param_hint="--partition")
    if plot_path is not None:
        _check_plot_path(plot_path)

    from ..simulations.auth import MIN_DURATION  # deferred: keeps `micro` fast
    from ..simulations.scenario import Scenario, format_table, run_scenario

    if auth and duration < MIN_DURATION:
        raise click.BadParameter(f"--auth needs at least {MIN_DURATION:g} s, got {duration:g}",
                                 param_hint="--duration")
    scenario = Scenario(nodes=nodes, duration=duration, loss=loss, seed=seed, slow=slow,
                        partition=partition, preset=preset, kv_writes=kv_writes,
                        subscribers=subscribers, publish_rate=publish_rate, auth=auth)
    started = time.perf_counter()
    report = run_scenario(scenario)
    wall = time.perf_counter() - started
    print(f"simulated {duration:g} s of {nodes} nodes in {wall:.1f} s wall time", file=sys.stderr)

    if plot_path is not None:
        from ..simulations.plot import plot_report
        try:
            plot_report(report, plot_path)
        except OSError as exc:
            raise click.ClickException(f"cannot write the plot to {plot_path}: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(report.to_json(), sort_keys=True))
    else:
        click.echo(format_table(report))
