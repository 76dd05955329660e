"""How packets leave and enter the node: UDP datagrams and gRPC peer links on one port number.

`Transport` is the small protocol the runtime sends through, so tests can swap an in-memory one. The
real `NetTransport` owns the UDP socket on the bind address and a bounded pool of `grpc.aio` channels
to peers for `Peer.Deliver`. Peer-link frames wait in a queue per peer and go out with a few calls in
flight to each (`_PEER_WINDOW`), so a burst (a key-value backlog every 10 ms) never outruns the calls
and a slow peer holds up only its own frames; a queue that outgrows `_PEER_QUEUE_BYTES` drops the frame,
counted. Every failure (a refused datagram, a peer that is down, a slow call) is
counted and logged and the packet is dropped: the protocol above already tolerates loss, so the
transport never raises into the runtime and never blocks it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import ipaddress
import socket
import sys
from collections.abc import Callable
from typing import Protocol

import grpc

from .api.errors import InvalidArgument
from .api.proto import node_pb2, node_pb2_grpc
from .log import Logger

__all__ = ["NetTransport", "Transport", "format_address", "parse_address"]

# Peers we keep a channel open to; the least recently used is closed beyond this.
_MAX_CHANNELS = 64
# Deliver calls in flight to one peer, and bytes of frames waiting for it beyond which new ones are
# dropped (the protocol repairs what is lost).
_PEER_WINDOW = 4
_PEER_QUEUE_BYTES = 32 << 20
_DELIVER_TIMEOUT = 5.0
# Larger than any frame the core sends over a peer link, smaller than what would hurt memory.
_MAX_MESSAGE = 4 << 20

DatagramHandler = Callable[[bytes, str], None]


class Transport(Protocol):
    """What the runtime needs to send; receiving is wired by whoever owns the sockets."""

    def send_datagram(self, address: str, data: bytes) -> None: ...

    def send_reliable(self, address: str, data: bytes) -> None: ...


def parse_address(text: str, what: str = "address", numeric: bool = False) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port") into its parts; raises InvalidArgument naming the input.

    With `numeric`, the host must be an IP address: gossip addresses are used for every datagram, and
    resolving a name there would block the event loop on DNS.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise InvalidArgument(f"{what} {text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidArgument(f"{what} {text!r} has no numeric port") from None
    if not 0 <= port <= 65535:
        raise InvalidArgument(f"{what} {text!r} has a port outside 0-65535")
    if numeric:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidArgument(f"{what} {text!r} must be an IP address and port, not a host name") from None
    return host, port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
"""Bytes of kernel buffer for arriving datagrams. The usual default (about 200 KB: some 150 small
datagrams) overflows when the event loop is held up for a few tens of milliseconds during a burst, and a
datagram lost there waits for anti-entropy (a second or more). memberlist asks for 2 MB likewise."""


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    """Ask for `UDP_RECEIVE_BUFFER`: past the system cap where allowed (root), else up to the cap."""
    # SO_RCVBUFFORCE (Linux, 33; Python does not name it) passes the system cap for root.
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)
    if force is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, UDP_RECEIVE_BUFFER)
            return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)


class _PeerQueue:
    """Frames waiting for one peer, and how many of its Deliver calls are in flight."""

    __slots__ = ("bytes", "frames", "in_flight")

    def __init__(self) -> None:
        self.frames: collections.deque[bytes] = collections.deque()
        self.bytes = 0
        self.in_flight = 0


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: NetTransport) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self._owner._received(data, format_address(addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like, reported on a later call: count, never stop.
        self._owner.failures += 1
        self._owner._log.debug("udp.error", error=str(exc))


class NetTransport:
    """UDP gossip on the bind address plus gRPC peer links for the reliable path."""

    def __init__(self, logger: Logger, source: str = "") -> None:
        self._log = logger
        # Our advertised address, sent with every Deliver so the receiver can answer the right port.
        self.source = source
        self.failures = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._on_datagram: DatagramHandler | None = None
        self._channels: collections.OrderedDict[str, grpc.aio.Channel] = collections.OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._queues: dict[str, _PeerQueue] = {}
        self._closing = False
        self._failing: set[str] = set()

    async def open_udp(self, host: str, port: int, on_datagram: DatagramHandler) -> int:
        """Bind the UDP socket; returns the port actually bound (for a requested port 0)."""
        loop = asyncio.get_running_loop()
        self._on_datagram = on_datagram
        try:
            udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(host, port))
        except OSError as exc:
            raise InvalidArgument(
                f"cannot bind UDP {format_address(host, port)}: {exc.strerror or exc}"
            ) from None
        self._udp = udp
        _enlarge_receive_buffer(udp.get_extra_info("socket"))
        return int(udp.get_extra_info("sockname")[1])

    def close_udp(self) -> None:
        """Release the UDP socket (before binding another)."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def _received(self, data: bytes, source: str) -> None:
        if self._on_datagram is not None:
            self._on_datagram(data, source)

    def send_datagram(self, address: str, data: bytes) -> None:
        if self._udp is None or self._udp.is_closing():
            return
        try:
            self._udp.sendto(data, parse_address(address, numeric=True))
        except (OSError, InvalidArgument, ValueError) as exc:
            self.failures += 1
            self._log.debug("udp.send_failed", address=address, error=str(exc))

    def send_reliable(self, address: str, data: bytes) -> None:
        if self._closing:
            return
        queue = self._queues.get(address)
        if queue is None:
            queue = self._queues[address] = _PeerQueue()
        if queue.bytes + len(data) > _PEER_QUEUE_BYTES:
            self.failures += 1
            self._log.warning("peer_link.busy", address=address, queued_bytes=queue.bytes)
            return
        queue.frames.append(data)
        queue.bytes += len(data)
        self._drain(address, queue)

    def _drain(self, address: str, queue: _PeerQueue) -> None:
        """Start Deliver calls for queued frames while the peer's window has room."""
        while queue.frames and queue.in_flight < _PEER_WINDOW:
            data = queue.frames.popleft()
            queue.bytes -= len(data)
            queue.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._deliver(address, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(functools.partial(self._delivered, address, queue))

    def _delivered(self, address: str, queue: _PeerQueue, _: asyncio.Task[None]) -> None:
        queue.in_flight -= 1
        if self._queues.get(address) is not queue:
            return  # closed
        if queue.frames:
            self._drain(address, queue)
        elif not queue.in_flight:
            del self._queues[address]

    def channel(self, address: str) -> grpc.aio.Channel:
        """The kept channel to a peer (also used for calls forwarded to it)."""
        channel = self._channels.pop(address, None)
        if channel is None:
            channel = grpc.aio.insecure_channel(
                address,
                options=[
                    ("grpc.max_send_message_length", _MAX_MESSAGE),
                    ("grpc.max_receive_message_length", _MAX_MESSAGE),
                    # Peers come and go; do not wait long before retrying a dead one.
                    ("grpc.initial_reconnect_backoff_ms", 200),
                    ("grpc.max_reconnect_backoff_ms", 5000),
                ],
            )
            while len(self._channels) >= _MAX_CHANNELS:
                _, oldest = self._channels.popitem(last=False)
                self._close_later(oldest)
        self._channels[address] = channel
        return channel

    def evict(self, address: str) -> None:
        """Close the channel to a peer that failed UNAVAILABLE: a fresh one connects at once next time."""
        channel = self._channels.pop(address, None)
        if channel is not None:
            self._close_later(channel)

    def _close_later(self, channel: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close())
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]

    async def _deliver(self, address: str, data: bytes) -> None:
        try:
            stub = node_pb2_grpc.PeerStub(self.channel(address))
            await stub.Deliver(node_pb2.Frame(data=data, source=self.source), timeout=_DELIVER_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self._failed(address, exc.code().name)
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                # The channel now sits in reconnect backoff and would fail fast for seconds, even after
                # the peer restarts; a fresh channel connects at once on the next send.
                self.evict(address)
        except (OSError, ValueError) as exc:
            self._failed(address, str(exc))
        else:
            if address in self._failing:
                self._failing.discard(address)
                self._log.info("peer_link.recovered", address=address)

    def _failed(self, address: str, reason: str) -> None:
        self.failures += 1
        # A dead peer is retried every reconnect interval; say so once, then only at debug level.
        if address in self._failing:
            self._log.debug("peer_link.failed", address=address, reason=reason)
            return
        if len(self._failing) < _MAX_CHANNELS * 4:
            self._failing.add(address)
        self._log.info("peer_link.failed", address=address, reason=reason)

    async def close(self) -> None:
        """Let calls in flight finish briefly, then close every channel and the UDP socket."""
        self._closing = True  # frames not yet started are dropped; no new calls start
        self._queues.clear()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        if self._udp is not None:
            self._udp.close()
