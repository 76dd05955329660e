"""The HTTP/JSON gateway into the mesh: `create_app(backend)` is an aiohttp application, `serve` runs it.

A `Backend` is what the gateway needs from a node (the registry and routed calls), and a `PubsubBackend`
its pubsub: `LocalApiBackend` reaches a node through its local API (both), `DirectBackend` calls
instances it was given directly (no pubsub).
"""

from .app import create_app, serve
from .backend import Backend, LocalApiBackend, PubsubBackend
from .direct import DirectBackend

__all__ = ["Backend", "DirectBackend", "LocalApiBackend", "PubsubBackend", "create_app", "serve"]
