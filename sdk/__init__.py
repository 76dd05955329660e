"""The Python library services are written with: `from micro.sdk import kv, config, errors`.

`kv.Store` reads and writes the replicated key-value store, `config.Config` the mesh's configuration;
both go through the local node's API on `DATA_DIR/node.sock`. Every failure is an `errors.MicroError`.
"""

from . import config, errors, kv

__all__ = ["config", "errors", "kv"]
