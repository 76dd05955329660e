"""Joining: what a user sees when an invite is missing, expired, altered or for another mesh."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from micro.identity import Invite
from node_harness import Cluster, micro, minted_invite, one_line_error


def test_join_without_a_token_is_a_clear_error(cluster: Cluster) -> None:
    a, b = cluster.add(2)

    result = micro("node", "join", a.address, data_dir=b.data_dir)

    one_line_error(result, "token")


@pytest.mark.parametrize("through", ["the issuer", "another member"])
def test_an_invite_made_for_1s_is_refused_32s_later(cluster: Cluster, through: str) -> None:
    a, b = cluster.form(2)
    (c,) = cluster.add(1)
    # What `micro node invite --ttl 1` on b made 32 s ago: expired 31 s ago, beyond the 30 s of skew.
    token = minted_invite(b, int(time.time()) - 32, 1)

    result = micro("node", "join", (b if through == "the issuer" else a).address, "--token", token,
                   data_dir=c.data_dir)

    one_line_error(result, "invite token expired")
    assert c.members().keys() == {c.address}
    assert c.address not in a.members()


def test_join_with_an_altered_invite_is_refused(cluster: Cluster) -> None:
    a, b = cluster.add(2)
    invite = Invite.from_token(a.invite())
    # What a holder would alter: a longer life.
    altered = replace(invite, expires_at=invite.expires_at + 86400).to_token()

    result = micro("node", "join", a.address, "--token", altered, data_dir=b.data_dir)

    one_line_error(result, "invite token signature does not verify")
    assert b.members().keys() == {b.address}


def test_join_with_a_truncated_invite_is_malformed(cluster: Cluster) -> None:
    a, b = cluster.add(2)

    result = micro("node", "join", a.address, "--token", a.invite()[:40], data_dir=b.data_dir)

    one_line_error(result, "invite token is malformed")


def test_invite_from_another_mesh_is_refused(cluster: Cluster) -> None:
    a, b, c = cluster.add(3)

    result = micro("node", "join", a.address, "--token", c.invite(), data_dir=b.data_dir)

    one_line_error(result, "invite is for another mesh")


def test_a_node_with_members_refuses_to_join_another_mesh(cluster: Cluster) -> None:
    a, b, c = cluster.add(3)
    b.join(a)
    cluster.wait_states([a, b], {a.address: "alive", b.address: "alive"})

    result = micro("node", "join", c.address, "--token", c.invite(), data_dir=b.data_dir)

    one_line_error(result, "already a member of mesh", "with 2 members", "micro node leave")


def test_joining_replaces_a_mesh_the_node_created_alone(cluster: Cluster) -> None:
    a, b = cluster.add(2)
    assert (b.data_dir / "root.seed").exists()

    result = micro("node", "join", a.address, "--token", a.invite(), data_dir=b.data_dir)

    assert result.returncode == 0, result.stderr
    assert not (b.data_dir / "root.seed").exists()
    assert b.status()["mesh_id"] == a.status()["mesh_id"]
    cluster.wait_states([a, b], {a.address: "alive", b.address: "alive"})


def test_invite_ttl_sets_the_token_expiry(cluster: Cluster) -> None:
    (a,) = cluster.add(1)
    result = micro("node", "invite", "--ttl", "1s", data_dir=a.data_dir)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    invite = Invite.from_token(token)
    assert invite.expires_at - invite.issued_at == 1
    assert abs(invite.issued_at - time.time()) < 60


def test_start_with_join_and_token(cluster: Cluster) -> None:
    (a,) = cluster.add(1)
    b = cluster.add_unstarted()

    b.start("--join", a.address, "--token", a.invite())

    cluster.wait_states([a, b], {a.address: "alive", b.address: "alive"})


def test_a_member_without_the_root_key_invites_with_its_own_chain(cluster: Cluster) -> None:
    a, b, c = cluster.add(3)
    b.join(a)
    assert not (b.data_dir / "root.seed").exists()

    token = b.invite()
    assert len(Invite.from_token(token).issuer_chain) == 1  # b's certificate, signed by the root
    result = micro("node", "join", b.address, "--token", token, data_dir=c.data_dir)

    assert result.returncode == 0, result.stderr
    cluster.wait_states([a, b, c], {n.address: "alive" for n in (a, b, c)})


def test_an_invite_admits_one_node_only(cluster: Cluster) -> None:
    a, b, c = cluster.add(3)
    token = a.invite()
    assert micro("node", "join", a.address, "--token", token, data_dir=b.data_dir).returncode == 0

    result = micro("node", "join", a.address, "--token", token, data_dir=c.data_dir)

    one_line_error(result, "already used")
