"""Membership through real node processes: join with invites, failure, restart, graceful leave."""

from __future__ import annotations

import json
import signal

from micro.node.api.datadir import DataDir
from node_harness import PATIENCE, Cluster, micro, wait_until


def test_five_nodes_joined_with_invites_all_list_five_alive(cluster: Cluster) -> None:
    nodes = cluster.form(5)

    everyone = {n.address: "alive" for n in nodes}
    cluster.wait_states(nodes, everyone)
    mesh_ids = {n.status()["mesh_id"] for n in nodes}
    assert len(mesh_ids) == 1
    shown = micro("node", "members", "--json", data_dir=nodes[3].data_dir)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert {r["address"] for r in rows} == set(everyone)
    for row in rows:
        assert {"id", "address", "state", "incarnation", "generation"} <= set(row)
        assert row["state"] == "alive"
        assert row["id"].startswith("N") and len(row["id"]) == 53


def test_killed_node_is_declared_dead_then_rejoins_on_restart_without_join(cluster: Cluster) -> None:
    nodes = cluster.form(5)
    victim, others = nodes[2], [n for n in nodes if n is not nodes[2]]
    generation = victim.status()["generation"]
    # The node writes the members it knows to members.cbor shortly after they change.
    wait_until(lambda: set(DataDir(victim.data_dir).load_members()) == {n.address for n in others}, PATIENCE,
               "the victim to remember the other members")

    victim.kill(signal.SIGKILL)
    cluster.wait_states(others, {victim.address: "dead"})

    # Same data dir and port, no --join: the node rejoins the members it remembered.
    victim.start()
    assert victim.status()["generation"] == generation + 1
    cluster.wait_states(nodes, {n.address: "alive" for n in nodes})
    assert {m["generation"] for m in others[0].members().values() if m["address"] == victim.address} == {
        generation + 1
    }


def test_leave_stops_the_node_and_the_others_show_it_left(cluster: Cluster) -> None:
    nodes = cluster.form(3)
    leaver = nodes[1]

    result = micro("node", "leave", data_dir=leaver.data_dir)

    assert result.returncode == 0, result.stderr
    assert leaver.wait_exit(timeout=10) == 0
    cluster.wait_states([nodes[0], nodes[2]], {leaver.address: "left"})


def test_sigterm_leaves_gracefully_and_exits_zero(cluster: Cluster) -> None:
    nodes = cluster.form(2)

    nodes[1].kill(signal.SIGTERM)

    assert not nodes[1].alive()
    assert nodes[1].proc is not None and nodes[1].proc.returncode == 0
    cluster.wait_states([nodes[0]], {nodes[1].address: "left"})
