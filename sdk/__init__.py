"""The Python library services are written with: `from micro.sdk import Service, Client, Context, kv, config, pubsub, events, errors`.

`kv.Store` reads and writes the replicated key-value store, `config.Config` the mesh's configuration,
`pubsub.Pubsub` publishes and subscribes (at most once), `events.Events` publishes and consumes
durable event streams (at least once); all go through the local node's API on
`DATA_DIR/node.sock`. Every failure is an `errors.MicroError`.
`Service` serves endpoints and registers them with the node; `Client` calls any service in the mesh.
A handler's `Context` names the caller's account (`ctx.account`); `requires` marks a handler that needs
scopes of it. `auth.Client` makes accounts, rules and tokens.
"""

from . import config, errors, events, kv, pubsub
from .client import Client
from .context import Context
from .handlers import requires
from .service import Service

__all__ = ["Client", "Context", "Service", "config", "errors", "events", "kv", "pubsub", "requires"]
