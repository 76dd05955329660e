"""The `micro` command.

Every command finds its node through --data-dir / MICRO_DATA_DIR (default ~/.micro). Output is a table
or plain lines for people, control characters in them escaped (`common.shown`), and JSON with --json for
scripts. Any error ends the command with exactly one line, `error: <message>`, on stderr and a non-zero
exit status; never a traceback.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence

import click

from ..node.api.client import NodeClient
from ..node.api.datadir import STORES, DataDir
from ..node.api.errors import InvalidArgument
from .common import Duration, connect, data_dir_option, echo, echo_json, echo_table, parse_duration, shown

__all__ = ["cli", "main", "parse_duration"]

_PROFILES = ("lan", "wan", "local")
_LEAVE_WAIT = 10.0
_ARGS_KEY = "micro.args"

_COMMANDS = {
    "auth": ("auth", "auth"),
    "call": ("services", "call"),
    "config": ("config", "config"),
    "describe": ("services", "describe"),
    "kill": ("processes", "kill"),
    "kv": ("kv", "kv"),
    "logs": ("processes", "logs"),
    "new": ("new", "new"),
    "publish": ("pubsub", "publish"),
    "run": ("processes", "run"),
    "services": ("services", "services"),
    "sim": ("sim", "sim"),
    "status": ("processes", "status"),
    "stream": ("stream", "stream"),
    "subscribe": ("pubsub", "subscribe"),
    "whoami": ("auth", "whoami"),
}
"""The commands other than `node`, by name: (module of micro.cli, attribute), imported when named. So
`micro node start` loads neither the gateway (aiohttp, jsonschema) nor the SDK: an idle node's memory is
what it uses, not what the whole CLI could (about 15 MB less)."""


class _Micro(click.Group):
    """The `micro` group: its commands load on first use, and a name that is none of them is looked up
    as a service in the registry of the running node (`services.service_command`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        # get_command sees only the name; the service's node may be named by --data-dir after it.
        ctx.meta[_ARGS_KEY] = args[1:]
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name.startswith("-"):
            return found
        if cmd_name in _COMMANDS:
            module, name = _COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(f"{__package__}.{module}"), name)
            return command
        from .services import service_command

        return service_command(cmd_name, ctx.meta.get(_ARGS_KEY, []))


@click.group(cls=_Micro, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="micro-mesh", prog_name="micro")
def cli() -> None:
    """Micro: a peer-to-peer service mesh."""


@cli.group()
def node() -> None:
    """Run this machine's node and manage its membership."""


def _store_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> frozenset[str]:
    """`--accept-store-loss kv,streams` (or given twice): the names, each one of STORES."""
    names = {name.strip() for item in value for name in item.split(",") if name.strip()}
    unknown = sorted(names - set(STORES))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: name {' or '.join(STORES)}, or both separated by a comma")
    return frozenset(names)


def _origins(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """`--cors-origin` values as the origins browsers send; the gateway is loaded only to check them."""
    if not value:
        return ()
    from ..gateway.cors import origin

    try:
        return tuple(origin(text) for text in value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@node.command()
@data_dir_option
@click.option("--bind", default="0.0.0.0:7946", show_default=True, metavar="HOST:PORT",
              help="UDP gossip and TCP peer links, on one port.")
@click.option("--advertise", default=None, metavar="HOST:PORT",
              help="The address other nodes use to reach this one [default: the bind address].")
@click.option("--join", "join", multiple=True, metavar="ADDR", help="A member to join through (repeatable).")
@click.option("--token", default=None, help="Invite token for --join (from `micro node invite`).")
@click.option("--no-mdns", is_flag=True, help="Do not announce or discover nodes on the LAN.")
@click.option("--profile", type=click.Choice(_PROFILES), default="lan", show_default=True,
              help="Protocol timing preset.")
@click.option("--gateway", default=None, metavar="HOST:PORT",
              help="Also serve the HTTP/JSON gateway into the mesh on HOST:PORT.")
@click.option("--cors-origin", "cors_origins", multiple=True, callback=_origins, metavar="ORIGIN",
              help="A web origin (https://app.example.com) whose pages may read the gateway's answers "
                   "(repeatable; none by default).")
@click.option("--banner", is_flag=True, help="Print a human-readable welcome with next steps.")
@click.option("--accept-store-loss", multiple=True, callback=_store_names, metavar="kv,streams",
              help="Start although these stores lost data (missing, empty, or a damaged write-ahead log): a "
                   "lost store starts empty, a damaged log keeps what precedes the damage.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="Minimum level of the JSON log lines on stderr.")
# Advanced, hidden: tests skew a node's clock with it; KV writes are stamped with the shifted clock.
@click.option("--clock-offset", type=float, default=0.0, hidden=True, metavar="SECONDS",
              help="Seconds added to the wall clock that stamps KV writes.")
@click.option("--kv-max-value", type=click.IntRange(min=1), default=None, hidden=True, metavar="BYTES",
              help="The largest KV value this node accepts [default: 1 MiB].")
def start(data_dir: str | None, bind: str, advertise: str | None, join: tuple[str, ...], token: str | None,
          no_mdns: bool, profile: str, gateway: str | None, cors_origins: tuple[str, ...], banner: bool,
          accept_store_loss: frozenset[str], log_level: str, clock_offset: float, kv_max_value: int | None) -> None:
    """Run the node in the foreground (Ctrl-C leaves the mesh cleanly)."""
    if cors_origins and gateway is None:
        raise click.UsageError("--cors-origin is for the gateway: give --gateway HOST:PORT too")
    # Imported here so the other commands stay quick: they only need the client.
    from ..node.agent import NodeOptions, run

    options = NodeOptions(
        data_dir=DataDir.resolve(data_dir),
        bind=bind,
        advertise=advertise,
        join=list(join),
        token=token,
        mdns=not no_mdns,
        profile=profile,
        banner=banner,
        log_level=log_level,
        clock_offset=clock_offset,
        kv_max_value=kv_max_value,
        gateway=gateway,
        cors_origins=cors_origins,
        accept_store_loss=accept_store_loss,
    )
    sys.exit(run(options))


@node.command()
@data_dir_option
@click.option("--ttl", type=Duration(), default="1h", show_default=True,
              help="How long the token is valid (30s, 10m, 1h, 2d).")
def invite(data_dir: str | None, ttl: float) -> None:
    """Print an invite token another node can join with."""
    with connect(data_dir) as client:
        click.echo(client.invite(ttl))


@node.command("join")
@data_dir_option
@click.argument("address", metavar="ADDR")
@click.option("--token", default=None, help="Invite token (from `micro node invite` on a member).")
def join_cmd(data_dir: str | None, address: str, token: str | None) -> None:
    """Make the running local node join the mesh of the node at ADDR."""
    if not token:
        raise InvalidArgument("joining needs an invite token: run `micro node invite` on a member, "
                              "then pass it with --token")
    with connect(data_dir) as client:
        reply = client.join(address, token)
    echo(f"joined mesh {reply['mesh_id']} through {address}")


@node.command()
@data_dir_option
def leave(data_dir: str | None) -> None:
    """Leave the mesh gracefully and stop the node."""
    dd = DataDir.resolve(data_dir)
    with NodeClient(dd) as client:
        client.leave()
    # The node answers first and then spends about one gossip round telling the mesh; wait for it to go.
    deadline = time.monotonic() + _LEAVE_WAIT
    while dd.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if dd.socket.exists():
        click.echo("left the mesh; the node is still shutting down")
    else:
        click.echo("left the mesh; the node has stopped")


@node.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def members(data_dir: str | None, as_json: bool) -> None:
    """List the members this node knows, with their state."""
    with connect(data_dir) as client:
        rows = client.members()
    if as_json:
        echo_json(rows)
        return
    echo_table(("ID", "ADDRESS", "STATE", "INCARNATION", "GENERATION"),
               [(r["id"] + (" (self)" if r["self"] else ""), r["address"], r["state"], str(r["incarnation"]),
                 str(r["generation"])) for r in rows])


@node.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(data_dir: str | None, as_json: bool) -> None:
    """Show this node's identity, mesh, members by state and drop counters."""
    with connect(data_dir) as client:
        info = client.status()
    if as_json:
        echo_json(info)
        return
    order = ("alive", "suspect", "dead", "left")
    states = sorted(info["members"].items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    counts = ", ".join(f"{n} {state}" for state, n in states) or "none"
    echo(f"node        {info['id']}")
    echo(f"mesh        {info['mesh_id']}")
    echo(f"address     {info['address']}")
    echo(f"generation  {info['generation']}")
    echo(f"uptime      {info['uptime_s']:.0f}s")
    echo(f"profile     {info['profile']}")
    echo(f"data dir    {info['data_dir']}")
    echo(f"members     {counts}")
    nonzero = {k: v for k, v in info["counters"].items() if v}
    echo("counters    " + (", ".join(f"{k}={v}" for k, v in nonzero.items()) or "all zero"))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `micro` console script."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="micro",
                        standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        _echo_error("aborted")
        code = 1
    except click.ClickException as exc:
        _echo_error(exc.format_message())
        code = 1
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes one line
        _echo_error(_message(exc))
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _message(exc: Exception) -> str:
    """The one line an unexpected failure is told in."""
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        # Python keeps the bytes of an argument that are not UTF-8 as lone surrogates, which nothing
        # that takes text (protobuf, gRPC) will encode.
        return (f"{shown(exc.object)!s} is not UTF-8 text: give names, keys, topics and paths in UTF-8 "
                "(a value of any bytes goes on stdin, as in `micro kv put KEY -`)")
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if not isinstance(getattr(exc, "code", None), str):
        message = f"{type(exc).__name__}: {message}"
    return message


def _echo_error(message: str) -> None:
    """`error: ` and the message on one line (its whitespace runs made one space, as the node makes its
    own), escaped: messages quote keys and names from other users."""
    click.echo(f"error: {shown(' '.join(message.split()))}", err=True)
