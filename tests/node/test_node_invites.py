"""An invite admits at most one node mesh-wide: the member that made it decides which joiner it admits,
whichever members the joiners present it to, across its restarts; while it is down nobody joins with it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cbor2
import pytest
from micro.identity.redemption import Redemption
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError
from node_harness import MICRO, Cluster, NodeProcess, micro, one_line_error, wait_until

ALREADY_USED = "invite token was already used by another node"


def _join_at_once(joins: list[tuple[NodeProcess, NodeProcess]], token: str
                  ) -> list[subprocess.CompletedProcess[str]]:
    """`micro node join` of each (joiner, member) pair, all started before any is waited for."""
    procs = [subprocess.Popen([MICRO, "node", "join", member.address, "--token", token, "--data-dir",
                               str(joiner.data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for joiner, member in joins]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def _join(joiner: NodeProcess, member: NodeProcess, token: str) -> subprocess.CompletedProcess[str]:
    return micro("node", "join", member.address, "--token", token, data_dir=joiner.data_dir)


def _is_member(mesh: NodeProcess, node: NodeProcess) -> bool:
    return node.status()["mesh_id"] == mesh.status()["mesh_id"]


# (what, which of a (root holder) and b (a member) makes the invite, which one each joiner presents it to)
AT_ONCE = [
    ("the root holder's invite, to two members", 0, (0, 1)),
    ("a member's invite, to two members", 1, (0, 1)),
    ("a member's invite, both to the same other member", 1, (0, 0)),
    ("a member's invite, both to its issuer", 1, (1, 1)),
]


@pytest.mark.parametrize(("what", "issuer", "members"), AT_ONCE, ids=[row[0] for row in AT_ONCE])
def test_an_invite_presented_by_two_nodes_at_once_admits_exactly_one(cluster: Cluster, what: str, issuer: int,
                                                                    members: tuple[int, int]) -> None:
    mesh = cluster.form(2)
    c, d = cluster.add(2)
    token = mesh[issuer].invite()

    results = _join_at_once([(c, mesh[members[0]]), (d, mesh[members[1]])], token)

    assert sorted(r.returncode for r in results) == [0, 1], [(r.returncode, r.stderr) for r in results]
    winner, loser = (c, d) if results[0].returncode == 0 else (d, c)
    one_line_error(next(r for r in results if r.returncode), ALREADY_USED)
    assert _is_member(mesh[0], winner)
    cluster.wait_states(mesh, {winner.address: "alive"})
    assert not _is_member(mesh[0], loser)
    assert loser.members().keys() == {loser.address}


# (what, which of a (root holder) and b (a member) makes the invite, the member the first joiner presents it
# to, the second's)
ONE_AFTER_THE_OTHER = [
    ("a member's invite, to another member first, then to its issuer", 1, 0, 1),
    ("the root holder's invite, to another member first, then to its issuer", 0, 1, 0),
    ("a member's invite, to its issuer first, then to another member", 1, 1, 0),
]


@pytest.mark.parametrize(("what", "issuer", "first", "second"), ONE_AFTER_THE_OTHER,
                         ids=[row[0] for row in ONE_AFTER_THE_OTHER])
def test_an_invite_redeemed_through_one_member_is_refused_by_every_other(cluster: Cluster, what: str, issuer: int,
                                                                         first: int, second: int) -> None:
    mesh = cluster.form(2)
    c, d = cluster.add(2)
    token = mesh[issuer].invite()
    assert _join(c, mesh[first], token).returncode == 0

    one_line_error(_join(d, mesh[second], token), ALREADY_USED)
    assert not _is_member(mesh[0], d)
    # The node it admitted may present it again (a retry), to any member.
    assert _join(c, mesh[second], token).returncode == 0


@pytest.mark.parametrize("through", ["the issuer", "another member"])
def test_an_invite_stays_used_after_its_issuer_restarts(cluster: Cluster, through: str) -> None:
    a, b = cluster.form(2)
    c, d = cluster.add(2)
    token = b.invite()
    assert _join(c, a, token).returncode == 0
    generation = b.status()["generation"]

    b.kill()  # SIGKILL: the redemption was on disk before c was admitted, or it was not at all
    b.start()
    wait_until(lambda: a.members().get(b.address, {}).get("generation", 0) > generation
               and a.members()[b.address]["state"] == "alive", 30, "a to see b's new life")

    one_line_error(_join(d, b if through == "the issuer" else a, token), ALREADY_USED)
    assert not _is_member(a, d)


@pytest.mark.parametrize("issuer_state", ["just killed", "declared dead"])
def test_nobody_joins_with_an_invite_while_its_issuer_is_down(cluster: Cluster, issuer_state: str) -> None:
    a, b = cluster.form(2)
    (d,) = cluster.add(1)
    token = b.invite()
    b_id = b.status()["id"]
    b.kill()
    if issuer_state == "declared dead":
        cluster.wait_states([a], {b.address: "dead"})

    with d.client() as client, pytest.raises(NodeError) as refused:
        client.join(a.address, token)

    assert refused.value.code == "UNAVAILABLE"
    assert f"the node that issued this invite ({b_id[:12]}…) is unreachable; ask a live member for a new invite" \
        in refused.value.message
    assert "\n" not in refused.value.message
    assert not _is_member(a, d)
    assert d.address not in a.members()


def test_the_redemptions_file_round_trips_and_a_corrupt_one_is_refused_not_forgotten(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    assert data_dir.load_redemptions() == {}
    records = {b"n" * 16: Redemption(b"j" * 32, 1_800_000_030), b"m" * 16: Redemption(b"k" * 32, 1_800_000_060)}
    data_dir.save_redemptions(records)
    assert data_dir.load_redemptions() == records

    data_dir.invites_file.write_bytes(cbor2.dumps({"v": 1, "redeemed": [[b"n" * 16, b"j" * 32, "soon"]]}))
    with pytest.raises(NodeError, match="invites.cbor is corrupt") as refused:
        data_dir.load_redemptions()
    assert refused.value.code == "FAILED_PRECONDITION"
