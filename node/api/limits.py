"""Limits the node enforces and clients check first, so a bad option fails before anything is sent."""

from __future__ import annotations

__all__ = ["MAX_ACK_WAIT", "MAX_BODY", "MAX_IN_FLIGHT", "MAX_RETRIES"]

MAX_ACK_WAIT = 86_400.0
"""Longest ack wait of a stream consumer, in seconds."""
MAX_RETRIES = 1000
"""Most deliveries of one event to a consumer group before it goes to the dead-letter topic."""
MAX_IN_FLIGHT = 10_000
"""Most unacked events one consumer may hold."""
MAX_BODY = 1 << 20
"""Bytes of a service call's request as a client sends it, at most: the gateway's HTTP body (its default
`max_body`) and `micro call`'s JSON."""
