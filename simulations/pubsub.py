"""Pubsub in the simulator: subscriptions spread as node-owned state, publishes go straight to the nodes
the publisher believes subscribe — what the node does, on the real cores' views, routed by the node's
own decisions (`node.pubsub.routes`).

A subscription is a node-owned key under `SUBSCRIPTION_PREFIX` written with `set_local`, as a node writes
one for its subscribers: it spreads by the cores' own gossip and anti-entropy, and a core drops it when
its owner dies or leaves. Each node's view of who subscribes is built from the `OwnedStateChanged` events
its core emits (what a node's pubsub module listens to), and a node's `Route` from its view. A publish
from node p at time t is sent once to each node its route names, over a peer link (the network model's
reliable delay: retried under loss, lost across a partition), so every delivery takes one hop; it is
delivered if the receiver is up on arrival and still subscribes.

Every node that subscribes and is up when a message is published (other than the publisher) is one
expected delivery. A miss is either `unknown` (the publisher's view did not hold the subscriber yet: a
subscription made moments before, or anti-entropy still catching up after a partition) or `lost` (sent,
but the link was cut or the receiver crashed or unsubscribed before it arrived). Sends to nodes that no
longer subscribe or are down are counted as `stale_sends`.
"""

from __future__ import annotations

from typing import Any

from ..mesh.events import OwnedStateChanged
from ..node.pubsub.routes import Route, Turns
from .engine import UP, Simulation

__all__ = ["SUBSCRIPTION_PREFIX", "PubsubModel"]

SUBSCRIPTION_PREFIX = "sub/"
TOPIC_KEY = SUBSCRIPTION_PREFIX + "sim.events"
"""The one subscription every simulated subscriber holds (matching is not what is simulated)."""


class PubsubModel:
    """Subscriptions, publishes and deliveries of one simulation run."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.subscribed: set[int] = set()
        """Ground truth: the nodes subscribing now."""
        self._views: dict[int, set[int]] = {}
        """Per node, the nodes its core has reported subscribing."""
        self._routes: dict[int, Route[int]] = {}
        """Per node, its route from its view, until the view changes (as a node keeps one per topic)."""
        self._turns: dict[int, Turns] = {}
        """Per node, its queue groups' round-robin positions."""
        self.published = 0
        self.expected = 0
        self.delivered = 0
        self.unknown = 0
        self.lost = 0
        self.stale_sends = 0
        self.hops: list[int] = []

    # -- scheduling --------------------------------------------------------------------------------------

    def subscribe(self, node: int, at: float) -> None:
        self.sim.at(at, self._set, node, True)

    def unsubscribe(self, node: int, at: float) -> None:
        self.sim.at(at, self._set, node, False)

    def publish(self, node: int, at: float) -> None:
        self.sim.at(at, self._publish, node)

    # -- the engine's calls ------------------------------------------------------------------------------

    def on_owned(self, observer: int, event: OwnedStateChanged) -> None:
        """`observer`'s core reported a change of someone's owned state."""
        if event.key != TOPIC_KEY:
            return
        owner = self.sim.index_of_id.get(event.node_id)
        if owner is None:
            return
        view = self._views.setdefault(observer, set())
        self._routes.pop(observer, None)
        if event.value is None:
            view.discard(owner)
        else:
            view.add(owner)

    def _set(self, t: float, node: int, on: bool) -> None:
        sim = self.sim
        if sim.status[node] != UP:
            return
        sim.set_local(node, TOPIC_KEY, b"1" if on else None, t)
        if on:
            self.subscribed.add(node)
        else:
            self.subscribed.discard(node)

    def _publish(self, t: float, publisher: int) -> None:
        sim = self.sim
        if sim.status[publisher] != UP:
            return
        self.published += 1
        view = self._views.get(publisher, set())
        expected = {n for n in self.subscribed if n != publisher and sim.status[n] == UP}
        self.expected += len(expected)
        self.unknown += len(expected - view)
        _, destinations = self._route(publisher).choose(self._turns.setdefault(publisher, Turns()))
        for target, _, _ in destinations:
            delay = sim.network.reliable_delay(publisher, target, t)
            if delay is None:
                if target in expected:
                    self.lost += 1
                continue
            sim.at(t + delay, self._arrive, target, target in expected)

    def _route(self, node: int) -> Route[int]:
        """Where `node` sends a message: every simulated subscription is a plain one of the one topic."""
        route = self._routes.get(node)
        if route is None:
            subscribers = self._views.get(node, ())
            route = self._routes[node] = Route(node, (), ((n, "", 1) for n in subscribers))
        return route

    def _arrive(self, t: float, target: int, expected: bool) -> None:
        if self.sim.status[target] == UP and target in self.subscribed:
            if expected:
                self.delivered += 1
                self.hops.append(1)
            return
        if expected:
            self.lost += 1
        else:
            self.stale_sends += 1

    # -- report ------------------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        hops = sorted(self.hops)
        return {
            "published": self.published,
            "expected": self.expected,
            "delivered": self.delivered,
            "delivery_ratio": round(self.delivered / self.expected, 6) if self.expected else None,
            "unknown": self.unknown,
            "lost": self.lost,
            "stale_sends": self.stale_sends,
            "hops": {"p50": hops[len(hops) // 2], "max": hops[-1]} if hops else {"p50": None, "max": None},
        }
