"""The HTTP/JSON gateway into the mesh: `create_app(backend)` is an aiohttp application, `serve` runs it.

A `Backend` is what the gateway needs from a node (the registry and routed calls), and a `PubsubBackend`
its pubsub: `LocalApiBackend` reaches a node through its local API (both), `DirectBackend` calls
instances it was given directly (no pubsub). A `LoggingBackend` (the node's own, for a gateway in a
node) also takes the gateway's failure records.
"""

from .app import create_app, serve
from .backend import Backend, LocalApiBackend, LoggingBackend, PubsubBackend
from .direct import DirectBackend

__all__ = [
    "Backend",
    "DirectBackend",
    "LocalApiBackend",
    "LoggingBackend",
    "PubsubBackend",
    "create_app",
    "serve",
]
