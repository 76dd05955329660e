"""A small synchronous client of the local API, for the CLI.

It talks to `unix:DATA_DIR/node.sock` with short deadlines and turns every gRPC failure into a
`NodeError` carrying the server's one-line message, so the CLI never shows a traceback. Watches are
the exception to the deadlines: they are iterators that run until the caller closes them (or the
node drops the watch, which arrives as a `NodeError`). The client's own failures say what happened in
the user's terms: a socket this user may not open is PERMISSION_DENIED, a node that went away during a
call or a watch "stopped", and a request over the node's limit for one message says so.

A call that a service failed keeps the service's Micro error (`{"id","code","detail","status"}` as JSON)
as the `NodeError`'s message.

Pubsub messages come back as they arrive, `PubsubMessage`s, one at a time; so do the `StreamEvent`s of a
`StreamConsumer`, whose acks go back on its own stream.

KV records come back as dicts: `db`, `table`, `key`, `value` (bytes), `expires_at` (unix seconds, 0 =
never), `physical_ms`, `logical`, `writer` (node id). Config values go in as JSON text and come back
parsed.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Self, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from .datadir import DataDir
from .errors import NodeError, NotRunning, PermissionDenied, Unavailable, from_status
from .proto import node_pb2, node_pb2_grpc

__all__ = ["LOCAL_CHANNEL_OPTIONS", "NodeClient", "StreamConsumer"]

LOCAL_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
"""Channel options to the local node: a list of large values can exceed grpc's default 4 MiB reply
limit, and the peer is our own node."""

_CONNECT_TIMEOUT = 2.0
_CALL_TIMEOUT = 5.0
# Join waits for the contacted node, which may be across a WAN.
_JOIN_TIMEOUT = 20.0
# Kill waits for the process to stop: up to the supervisor's 5 s grace, then SIGKILL.
_KILL_TIMEOUT = 15.0
# A service call gets the node's own deadline answer (with its message) before the client gives up.
_CALL_MARGIN = 2.0
# How gRPC refuses a message over a receiver's limit: "Received message larger than max (N vs. LIMIT)".
_TOO_LARGE = re.compile(r"larger than max \((\d+) vs\. (\d+)\)")

_T = TypeVar("_T")


def _listening(path: str) -> bool:
    """Whether something accepts connections on the unix socket (a killed node leaves the file behind);
    PermissionDenied when this user may not connect to it (the node's socket is its owner's alone)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(_CONNECT_TIMEOUT)
        try:
            probe.connect(path)
        except PermissionError:
            raise PermissionDenied(f"permission denied on {path}: run this as the user that started the node, "
                                   "or name your own node with --data-dir") from None
        except OSError:
            return False
    return True


class NodeClient:
    """Calls the node that owns a data dir. Use as a context manager, or call `close`."""

    def __init__(self, data_dir: DataDir) -> None:
        self.data_dir = data_dir
        self._not_running = NotRunning(
            f"no node running at {data_dir} (start one with `micro node start`)"
        )
        if not _listening(str(data_dir.socket)):
            raise self._not_running
        self._channel = grpc.insecure_channel(f"unix:{data_dir.socket}", options=LOCAL_CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=_CONNECT_TIMEOUT)
        except grpc.FutureTimeoutError:
            self._channel.close()
            raise self._not_running from None
        self._stub = node_pb2_grpc.NodeStub(self._channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _error(self, exc: grpc.RpcError, timeout: float | None) -> NodeError:
        status = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        details = exc.details() if hasattr(exc, "details") else None
        if status == grpc.StatusCode.UNAVAILABLE and not _listening(str(self.data_dir.socket)):
            # It answered when this client connected: a watch or call it was serving ended with it.
            return Unavailable(f"the node stopped ({self.data_dir}); start it again with `micro node start`")
        if status == grpc.StatusCode.UNAVAILABLE and not details:
            return self._not_running
        too_large = _TOO_LARGE.search(details or "") if status == grpc.StatusCode.RESOURCE_EXHAUSTED else None
        if too_large is not None:
            size, limit = too_large.groups()
            return NodeError(f"the request is {size} bytes, over the {limit} the node takes in one call: "
                             "messages, events and KV values are at most 1 MiB unless the node allows more; "
                             "store large data elsewhere and send where it is", "RESOURCE_EXHAUSTED")
        if status == grpc.StatusCode.DEADLINE_EXCEEDED and not details and timeout is not None:
            details = f"the node at {self.data_dir} did not answer within {timeout:g}s"
        return NodeError(details or f"the node failed the call ({status.name})", from_status(status))

    def _call(self, method: Any, request: Any, timeout: float = _CALL_TIMEOUT) -> Any:
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise self._error(exc, timeout) from None

    def _stream(self, method: Any, request: Any, convert: Callable[[Any], _T]) -> Iterator[_T]:
        """A server stream with no deadline, started before this returns; closing it cancels the call."""
        call = method(request)
        # The node sends its headers once the stream is set up (a watch is registered), so whatever
        # happens after this call returns is seen by the stream.
        call.initial_metadata()
        return self._messages(call, convert)

    def _messages(self, call: Any, convert: Callable[[Any], _T]) -> Iterator[_T]:
        try:
            for message in call:
                yield convert(message)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise self._error(exc, None) from None
        finally:
            call.cancel()

    def status(self) -> dict[str, Any]:
        reply = self._call(self._stub.Status, node_pb2.StatusRequest())
        return {
            "id": reply.id,
            "mesh_id": reply.mesh_id,
            "address": reply.address,
            "generation": reply.generation,
            "uptime_s": round(reply.uptime_s, 3),
            "profile": reply.profile,
            "data_dir": reply.data_dir,
            "members": dict(sorted(reply.members.items())),
            "counters": dict(sorted(reply.counters.items())),
            "transport_failures": reply.transport_failures,
        }

    def members(self) -> list[dict[str, Any]]:
        reply = self._call(self._stub.Members, node_pb2.MembersRequest())
        return [
            {
                "id": m.id,
                "address": m.address,
                "state": m.state,
                "incarnation": m.incarnation,
                "generation": m.generation,
                "self": m.self,
            }
            for m in reply.members
        ]

    def invite(self, ttl_s: float) -> str:
        return str(self._call(self._stub.Invite, node_pb2.InviteRequest(ttl_s=ttl_s)).token)

    def join(self, address: str, token: str) -> dict[str, Any]:
        reply = self._call(
            self._stub.Join, node_pb2.JoinMeshRequest(address=address, token=token), timeout=_JOIN_TIMEOUT
        )
        return {"mesh_id": reply.mesh_id, "contacted": reply.contacted}

    def leave(self) -> None:
        self._call(self._stub.Leave, node_pb2.LeaveRequest(), timeout=_JOIN_TIMEOUT)

    # ---- key-value store ------------------------------------------------------------------------

    def kv_put(self, key: str, value: bytes, db: str = "", table: str = "", ttl_s: float = 0.0) -> dict[str, Any]:
        """Write `key`; returns the record once the node has committed it (ttl_s 0: no expiry)."""
        request = node_pb2.KvPutRequest(db=db, table=table, key=key, value=value, ttl_s=ttl_s)
        return _record(self._call(self._stub.KvPut, request).record)

    def kv_get(self, key: str, db: str = "", table: str = "") -> dict[str, Any]:
        """The record at `key`; a `NodeError` with code NOT_FOUND when it is absent or expired."""
        request = node_pb2.KvGetRequest(db=db, table=table, key=key)
        return _record(self._call(self._stub.KvGet, request).record)

    def kv_delete(self, key: str, db: str = "", table: str = "") -> bool:
        """Delete `key`; whether a visible value was there."""
        request = node_pb2.KvDeleteRequest(db=db, table=table, key=key)
        return bool(self._call(self._stub.KvDelete, request).existed)

    def kv_list(self, db: str = "", table: str = "", prefix: str = "", limit: int = 0, offset: int = 0,
                reverse: bool = False, keys_only: bool = False) -> list[dict[str, Any]]:
        """Records whose key starts with `prefix`, in key order (descending with `reverse`)."""
        request = node_pb2.KvListRequest(db=db, table=table, prefix=prefix, limit=limit, offset=offset,
                                         reverse=reverse, keys_only=keys_only)
        return [_record(r) for r in self._call(self._stub.KvList, request).records]

    def kv_watch(self, db: str = "", table: str = "", prefix: str = "") -> Iterator[dict[str, Any]]:
        """Changes under `prefix` from the moment this returns: each a record dict plus `deleted`."""
        request = node_pb2.KvWatchRequest(db=db, table=table, prefix=prefix)
        return self._stream(self._stub.KvWatch, request, _change)

    def kv_databases(self) -> list[str]:
        return list(self._call(self._stub.KvDatabases, node_pb2.KvDatabasesRequest()).names)

    def kv_tables(self, db: str = "") -> list[str]:
        return list(self._call(self._stub.KvTables, node_pb2.KvTablesRequest(db=db)).names)

    # ---- configuration --------------------------------------------------------------------------

    def config_get(self, path: str = "", reveal_secrets: bool = False) -> Any:
        """The value at `path` or the merged subtree under it, parsed; NOT_FOUND when nothing is there."""
        request = node_pb2.ConfigGetRequest(path=path, reveal_secrets=reveal_secrets)
        return json.loads(self._call(self._stub.ConfigGet, request).json)

    def config_set(self, path: str, value_json: str, secret: bool = False) -> None:
        """Set `path` to the JSON text `value_json` (an object sets the leaves under `path`)."""
        self._call(self._stub.ConfigSet, node_pb2.ConfigSetRequest(path=path, json=value_json, secret=secret))

    def config_delete(self, path: str) -> bool:
        """Delete `path` and everything under it; whether anything was there."""
        return bool(self._call(self._stub.ConfigDelete, node_pb2.ConfigDeleteRequest(path=path)).existed)

    def config_watch(self, path: str = "") -> Iterator[dict[str, Any]]:
        """Leaf changes at or under `path`: `path`, `value` (parsed; None when deleted), `deleted`."""
        return self._stream(self._stub.ConfigWatch, node_pb2.ConfigWatchRequest(path=path), _config_change)

    # ---- supervised processes ---------------------------------------------------------------------

    def run(self, path: str, name: str = "", args: Sequence[str] = (),
            env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start `python main.py` in the directory `path` (absolute) under the node: `name`, `pid`."""
        request = node_pb2.RunRequest(path=path, name=name, args=list(args), env=dict(env or {}))
        return _dict(self._call(self._stub.Run, request))

    def processes(self) -> list[dict[str, Any]]:
        """Every process the node supervises: name, path, pid (0 when none runs), state, restarts,
        started_at (unix seconds), last_exit (negative: the signal that ended it)."""
        reply = self._call(self._stub.Processes, node_pb2.ProcessesRequest())
        return [_dict(p) for p in reply.processes]

    def logs(self, name: str, follow: bool = False, tail: int = 0) -> Iterator[dict[str, Any]]:
        """Kept output lines of a process (`line`, `stream`, `at`), the last `tail` (0: all); with
        `follow` the stream goes on with new lines until closed."""
        request = node_pb2.LogsRequest(name=name, follow=follow, tail=tail)
        if follow:
            return self._stream(self._stub.Logs, request, _dict)
        return self._messages(self._stub.Logs(request, timeout=_CALL_TIMEOUT), _dict)

    def kill(self, name: str) -> None:
        """Stop a process (SIGTERM, SIGKILL after a grace); returns once it is gone."""
        self._call(self._stub.Kill, node_pb2.KillRequest(name=name), timeout=_KILL_TIMEOUT)

    # ---- services ---------------------------------------------------------------------------------

    def services(self, service: str = "") -> list[dict[str, Any]]:
        """Every instance in the mesh (of `service` only, when named), as dicts."""
        reply = self._call(self._stub.Services, node_pb2.ServicesRequest(service=service))
        return [_instance(i) for i in reply.instances]

    def describe(self, service: str) -> tuple[list[dict[str, Any]], bytes]:
        """A service's instances and its FileDescriptorSet (empty for JSON-only services); NOT_FOUND for
        an unknown service."""
        reply = self._call(self._stub.Describe, node_pb2.DescribeRequest(service=service))
        return [_instance(i) for i in reply.instances], bytes(reply.descriptor_set)

    def call(self, service: str, endpoint: str, body: bytes, timeout: float) -> bytes:
        """The reply body of a unary call routed by the node, within `timeout` seconds."""
        request = node_pb2.CallRequest(service=service, endpoint=endpoint, body=body, timeout_s=timeout)
        return bytes(self._call(self._stub.Call, request, timeout=timeout + _CALL_MARGIN).body)

    def call_stream(self, service: str, endpoint: str, body: bytes, timeout: float) -> Iterator[bytes]:
        """The reply bodies of a server-streaming call, within `timeout` seconds in all."""
        request = node_pb2.CallRequest(service=service, endpoint=endpoint, body=body, timeout_s=timeout)
        call = self._stub.CallStream(request, timeout=timeout + _CALL_MARGIN)
        return self._messages(call, lambda reply: bytes(reply.body))


    def publish(self, topic: str, data: bytes, headers: Mapping[str, str] | None = None) -> int:
        """Publish on `topic`; the number of nodes the message was sent to."""
        request = node_pb2.PublishRequest(topic=topic, data=data, headers=dict(headers or {}))
        return int(self._call(self._stub.Publish, request).nodes)

    def subscribe(self, topic: str, group: str = "") -> Iterator[node_pb2.PubsubMessage]:
        """The messages of a subscription registered before this returns, until the iterator is closed."""
        batches = self._stream(self._stub.Subscribe, node_pb2.SubscribeRequest(topic=topic, group=group),
                               lambda batch: batch)
        return _flattened(batches)

    # ---- event streams ----------------------------------------------------------------------------

    def stream_publish(self, topic: str, data: bytes, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Append an event to `topic` once it is replicated: `origin`, `offset`, `replicas`."""
        request = node_pb2.StreamPublishRequest(topic=topic, data=data, headers=dict(headers or {}))
        reply = self._call(self._stub.StreamPublish, request)
        return {"origin": reply.origin, "offset": reply.offset, "replicas": reply.replicas}

    def stream_consume(self, start: node_pb2.StreamConsumeStart) -> StreamConsumer:
        """A consumer registered in its group before this returns; iterate it for events, `ack` them."""
        return StreamConsumer(self, start)

    def stream_info(self, topic: str) -> dict[str, Any]:
        """`partitions` (origin, first, head, replicas, origin_alive) and `groups` (name, consumers,
        committed, lag) of a topic."""
        reply = self._call(self._stub.StreamInfo, node_pb2.StreamInfoRequest(topic=topic))
        return {
            "partitions": [{"origin": p.origin, "first": p.first, "head": p.head, "replicas": list(p.replicas),
                            "origin_alive": p.origin_alive} for p in reply.partitions],
            "groups": [{"name": g.name, "consumers": list(g.consumers), "committed": dict(sorted(g.committed.items())),
                        "lag": g.lag} for g in reply.groups],
        }


_CLOSE_WAIT = 5.0
"""Seconds a closing consumer waits for the node to commit its acks and end the stream before cancelling it."""


class StreamConsumer:
    """One StreamConsume stream: its events as an iterator, acks sent on the same stream from any thread.

    The requests are fed from a queue; `close` ends them (a half-close: the node then takes the last acks,
    commits and ends the stream), waits for that end, and cancels the call if it does not come.
    """

    def __init__(self, client: NodeClient, start: node_pb2.StreamConsumeStart) -> None:
        self._client = client
        self._inputs: queue.SimpleQueue[node_pb2.StreamConsumeInput | None] = queue.SimpleQueue()
        self._inputs.put(node_pb2.StreamConsumeInput(start=start))
        self._call = client._stub.StreamConsume(self._requests())
        try:
            self._call.initial_metadata()  # sent once the consumer is registered
        except grpc.RpcError as exc:
            raise client._error(exc, None) from None
        if self._call.done() and self._call.code() != grpc.StatusCode.OK:
            raise client._error(self._call, None)
        self._events = _events(client._messages(self._call, lambda batch: batch))

    def _requests(self) -> Iterator[node_pb2.StreamConsumeInput]:
        while (item := self._inputs.get()) is not None:
            yield item

    def __iter__(self) -> Iterator[node_pb2.StreamEvent]:
        return self._events

    def ack(self, origin: str, offset: int, nack: bool = False) -> None:
        self._inputs.put(node_pb2.StreamConsumeInput(ack=node_pb2.StreamAck(origin=origin, offset=offset, nack=nack)))

    def close(self) -> None:
        self._inputs.put(None)
        if not self._call.done():
            # Events sent after the half-close are dropped here: not acked, they go back to the group.
            drain = threading.Thread(target=self._drain, daemon=True)
            drain.start()
            drain.join(_CLOSE_WAIT)
        self._events.close()
        self._call.cancel()

    def _drain(self) -> None:
        with contextlib.suppress(grpc.RpcError):
            for _ in self._call:
                pass


def _events(batches: Iterator[node_pb2.StreamEventBatch]) -> Generator[node_pb2.StreamEvent, None, None]:
    with contextlib.closing(batches):  # type: ignore[type-var]
        for batch in batches:
            yield from batch.events


def _flattened(batches: Iterator[node_pb2.PubsubBatch]) -> Iterator[node_pb2.PubsubMessage]:
    """The messages of the batches; closing it closes (cancels) the stream of batches."""
    with contextlib.closing(batches):  # type: ignore[type-var]
        for batch in batches:
            yield from batch.messages


def _dict(message: Message) -> dict[str, Any]:
    """A reply message as a dict with its proto field names, unset fields included."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def _record(record: node_pb2.KvRecord) -> dict[str, Any]:
    return {
        "db": record.db,
        "table": record.table,
        "key": record.key,
        "value": bytes(record.value),
        "expires_at": record.expires_at,
        "physical_ms": record.physical_ms,
        "logical": record.logical,
        "writer": record.writer,
    }


def _instance(instance: node_pb2.ServiceInstance) -> dict[str, Any]:
    """An instance as a dict; the endpoints' schemas stay JSON text ("" for protobuf endpoints)."""
    fields = _dict(instance)
    fields["descriptor_hash"] = instance.descriptor_hash.hex()
    return fields


def _change(change: node_pb2.KvChange) -> dict[str, Any]:
    return {**_record(change.record), "deleted": change.deleted}


def _config_change(change: node_pb2.ConfigChange) -> dict[str, Any]:
    value = None if change.deleted else json.loads(change.json)
    return {"path": change.path, "value": value, "deleted": change.deleted}
