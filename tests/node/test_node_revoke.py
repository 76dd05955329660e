"""`auth.Client.revoke` of a node, through real node processes on 127.0.0.1: the revoked node is cut off (dead
to the others, its frames and writes refused, the gossip keyring rotated to a key it never gets) and the
others keep working.

The tests share one four-node mesh in which the mesh's creator revoked the last node; they run in file
order, the restart last.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError
from micro.sdk import auth
from node_harness import PATIENCE, Cluster, NodeProcess, or_none, wait_each, wait_until

CUT_OFF = 20.0
"""Seconds within which the revoked node is cut off everywhere: in the local profile a revocation reaches
every member within a second and the two rotation steps take 2 s each; the rest is room for a loaded
machine."""


@dataclass
class Revoked:
    others: list[NodeProcess]
    revoked: NodeProcess
    old_primary: int
    """The gossip key id every member used before the revocation."""


def get(node: NodeProcess, key: str) -> dict[str, Any] | None:
    with node.client() as client:
        return or_none(lambda: client.kv_get(key))


def put(node: NodeProcess, key: str, value: bytes) -> None:
    with node.client() as client:
        client.kv_put(key, value)


def counters(node: NodeProcess) -> dict[str, int]:
    return dict(node.status()["counters"])


def revoke(via: NodeProcess, node_id: str) -> None:
    """`auth.Client.revoke` through `via`, signed with the admin account made with the mesh there."""
    async def run() -> None:
        client = auth.Client(via.data_dir)
        try:
            await client.revoke(auth.load_key(DataDir(via.data_dir).admin_creds), node_id)
        finally:
            await client.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def mesh() -> Iterator[Revoked]:
    with Cluster.temporary("mr-") as cluster:
        a, b, c, d = cluster.form(4)
        put(d, "before", b"written before the revocation")
        wait_each((a, b, c), lambda node: get(node, "before"), PATIENCE, "to read d's write")
        old_primary = counters(a)["keyring.primary"]
        revoke(a, d.status()["id"])
        yield Revoked([a, b, c], d, old_primary)


def rotated(node: NodeProcess, old_primary: int) -> int | None:
    """The node's primary gossip key id once its keyring holds it alone and it is not the old one."""
    seen = counters(node)
    return seen["keyring.primary"] if seen["keyring.keys"] == 1 and seen["keyring.primary"] != old_primary else None


def test_the_revoked_node_is_dead_to_every_other_member(mesh: Revoked) -> None:
    for node in mesh.others:
        wait_until(lambda node=node: node.members()[mesh.revoked.address]["state"] == "dead", CUT_OFF,
                   f"{node.name} to see the revoked node dead")
        assert counters(node)["revocation.nodes"] == 1
    alive = {node.address for node in mesh.others}
    for node in mesh.others:
        assert {a for a, m in node.members().items() if m["state"] == "alive"} == alive


def test_the_others_rotate_to_one_new_gossip_key_the_revoked_node_never_gets(mesh: Revoked) -> None:
    primaries = wait_each(mesh.others, lambda node: rotated(node, mesh.old_primary), CUT_OFF,
                          "to rotate its keyring")
    assert len(set(primaries)) == 1
    assert counters(mesh.revoked)["keyring.primary"] == mesh.old_primary


def test_the_revoked_node_s_gossip_is_dropped_unauthenticated_once_the_old_key_is_gone(mesh: Revoked) -> None:
    wait_each(mesh.others, lambda node: rotated(node, mesh.old_primary), CUT_OFF, "to rotate its keyring")
    before = {node.name: counters(node)["wire.dropped_unauthenticated"] for node in mesh.others}
    # The revoked node keeps probing and reconnecting to the members it thinks are there.
    wait_each(mesh.others, lambda node: counters(node)["wire.dropped_unauthenticated"] > before[node.name],
              PATIENCE, "to drop the revoked node's frames as unauthenticated")
    # Before the rotation its frames opened, and were refused by its sender id.
    assert sum(counters(node)["wire.dropped_revoked"] for node in mesh.others) > 0


def test_writes_of_the_revoked_node_do_not_reach_the_others(mesh: Revoked) -> None:
    wait_each(mesh.others, lambda node: rotated(node, mesh.old_primary), CUT_OFF, "to rotate its keyring")
    refused = lambda node: counters(node)["wire.dropped_unauthenticated"] + counters(node)["wire.dropped_revoked"]
    before = {node.name: refused(node) for node in mesh.others}
    put(mesh.revoked, "after", b"written after the revocation")
    # Its gossip of the write (or what followed it) reached each of them, and was dropped.
    wait_each(mesh.others, lambda node: refused(node) > before[node.name], PATIENCE,
              "to drop the revoked node's frames after its write")
    a, b, c = mesh.others
    put(b, "later", b"written by a member after the revoked node's write")
    wait_each((a, c), lambda node: get(node, "later"), PATIENCE, "to read b's later write")
    for node in mesh.others:
        assert get(node, "after") is None
        assert get(node, "before") is not None  # what it wrote before its revocation stays


def test_the_others_keep_replicating_among_themselves(mesh: Revoked) -> None:
    a, b, c = mesh.others
    for writer in (a, b, c):
        key = f"among/{writer.name}"
        put(writer, key, b"after the revocation")
        readers = [node for node in mesh.others if node is not writer]
        wait_each(readers, lambda node, key=key: get(node, key), PATIENCE, f"to read {writer.name}'s write")


def test_the_revoked_node_cannot_join_again_with_an_invite(mesh: Revoked) -> None:
    a = mesh.others[0]
    with pytest.raises(NodeError, match="revoked"):
        mesh.revoked.join(a)


def test_a_restarted_member_keeps_the_rotated_keyring(mesh: Revoked) -> None:
    a, b, _ = mesh.others
    primary = wait_each(mesh.others, lambda node: rotated(node, mesh.old_primary), CUT_OFF,
                        "to rotate its keyring")[0]
    b.kill(signal.SIGTERM)
    b.start()
    assert rotated(b, mesh.old_primary) == primary
    wait_until(lambda: a.members()[b.address]["state"] == "alive" and b.members()[a.address]["state"] == "alive",
               PATIENCE, "a and the restarted b to see each other alive")
    put(a, "after-restart", b"read by the restarted member")
    wait_until(lambda: get(b, "after-restart"), PATIENCE, "b to read a's write after its restart")
