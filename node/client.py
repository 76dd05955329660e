"""A small synchronous client of the local API, for the CLI.

It talks to `unix:DATA_DIR/node.sock` with short deadlines and turns every gRPC failure into a
`NodeError` carrying the server's one-line message, so the CLI never shows a traceback.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Self

import grpc

from .datadir import DataDir
from .errors import NodeError, NotRunning, from_status
from .proto import node_pb2, node_pb2_grpc

__all__ = ["NodeClient"]

_CONNECT_TIMEOUT = 2.0
_CALL_TIMEOUT = 5.0
# Join waits for the contacted node, which may be across a WAN.
_JOIN_TIMEOUT = 20.0


def _listening(path: str) -> bool:
    """Whether something accepts connections on the unix socket (a killed node leaves the file behind)."""
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(_CONNECT_TIMEOUT)
        try:
            probe.connect(path)
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
        self._channel = grpc.insecure_channel(f"unix:{data_dir.socket}")
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

    def _call(self, method: Any, request: Any, timeout: float = _CALL_TIMEOUT) -> Any:
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as exc:
            status = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            details = exc.details() if hasattr(exc, "details") else None
            if status == grpc.StatusCode.UNAVAILABLE and not details:
                raise self._not_running from None
            if status == grpc.StatusCode.DEADLINE_EXCEEDED and not details:
                details = f"the node at {self.data_dir} did not answer within {timeout:g}s"
            raise NodeError(details or f"the node failed the call ({status.name})", from_status(status)) from None

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
