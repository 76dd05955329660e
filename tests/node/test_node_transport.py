"""The node's UDP gossip socket."""

from __future__ import annotations

import asyncio
import io
import os
import socket

import pytest
from micro.node.log import Logger
from micro.node.transport import UDP_RECEIVE_BUFFER, NetTransport


@pytest.mark.skipif(os.geteuid() != 0, reason="past the system's cap only root may raise a buffer")
def test_the_gossip_socket_asks_for_a_receive_buffer_of_megabytes() -> None:
    async def buffer_size() -> int:
        transport = NetTransport(Logger(io.StringIO()))
        await transport.open_udp("127.0.0.1", 0, lambda data, source: None)
        try:
            assert transport._udp is not None
            sock = transport._udp.get_extra_info("socket")
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
        finally:
            transport.close_udp()

    # Linux reports twice the size asked for (the other half is its own bookkeeping).
    assert asyncio.run(buffer_size()) >= UDP_RECEIVE_BUFFER
