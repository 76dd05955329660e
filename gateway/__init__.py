"""The HTTP/JSON gateway into the mesh: `create_app(backend)` is an aiohttp application, `serve` runs it.

A `Backend` is what the gateway needs from a node (the registry and routed calls): `LocalApiBackend`
reaches a node through its local API, `DirectBackend` calls instances it was given directly.
"""

from .app import create_app, serve
from .backend import Backend, LocalApiBackend
from .direct import DirectBackend

__all__ = ["Backend", "DirectBackend", "LocalApiBackend", "create_app", "serve"]
