"""Auth records in the simulator: real records checked by every replica as a node checks them, a rule
change and a revocation in force on every node, a forgery refused everywhere (see simulations/auth.py)."""

from __future__ import annotations

import gc
import json
from functools import cache
from typing import Any

from click.testing import CliRunner
from micro.cli.sim import sim as sim_command
from micro.identity.keys import KeyKind, SigningKey
from micro.identity.records import AUTH_DB, RULES, Record
from micro.identity.rules import Access, Rule
from micro.mesh.messages import KvEntry
from micro.simulations.agenda import VirtualClock
from micro.simulations.crypto import SimRegistry
from micro.simulations.engine import WALL_EPOCH, Simulation
from micro.simulations.scenario import Scenario, run_scenario

_RULE = Rule("r", "service:x", "*", Access.GRANT)


@cache
def _auth() -> dict[str, Any]:
    """The auth section of one seeded 32-node run (shared: the tests read different parts of it)."""
    report = run_scenario(Scenario(nodes=32, duration=20.0, seed=5, crashes=0, auth=True)).to_json()
    return report["auth"]  # type: ignore[no-any-return]


def _register(record: Record | None, table: str = RULES, key: str = "r") -> KvEntry:
    value = None if record is None else record.encode()
    return KvEntry(AUTH_DB, table, key, value, 0, int(WALL_EPOCH * 1000), 0, b"w" * 32, b"s" * 64)


def test_the_verifier_accepts_a_record_the_mesh_root_signed() -> None:
    registry = SimRegistry(1)
    record = Record.issue(registry.auth_root, (), registry.auth_root.public, _RULE, int(WALL_EPOCH))
    assert registry.verifier(VirtualClock(WALL_EPOCH)).accepts(_register(record), None)


def test_the_verifier_refuses_what_a_node_refuses_in_the_auth_database() -> None:
    registry = SimRegistry(1)
    verifier = registry.verifier(VirtualClock(WALL_EPOCH))
    stranger = SigningKey.from_seed(KeyKind.MESH, bytes(32))
    other_mesh = Record.issue(stranger, (), stranger.public, _RULE, int(WALL_EPOCH))
    own = Record.issue(registry.auth_root, (), registry.auth_root.public, _RULE, int(WALL_EPOCH))
    future = Record.issue(registry.auth_root, (), registry.auth_root.public, _RULE, int(WALL_EPOCH) + 3600)
    assert not verifier.accepts(_register(other_mesh), None)
    assert not verifier.accepts(_register(own, key="another"), None)  # stored under another rule's key
    assert not verifier.accepts(_register(future), None)  # issued an hour after the virtual clock
    assert not verifier.accepts(_register(None), _register(own))  # auth records are never deleted


def test_a_rule_change_is_in_force_on_every_node() -> None:
    change = _auth()["rule_change"]
    assert change["targets"] == 31
    assert change["in_force"] == 31 and change["origin_in_force"]
    assert 0 <= change["delay_s"]["p50"] <= change["delay_s"]["max"]


def test_a_revocation_kills_the_token_on_every_node() -> None:
    revocation = _auth()["revocation"]
    assert revocation["targets"] == 31
    assert revocation["in_force"] == 31 and revocation["origin_in_force"]


def test_a_record_forged_by_a_non_admin_is_refused_by_every_node_and_in_force_on_none() -> None:
    forged = _auth()["forged"]
    assert forged["targets"] == 31
    assert forged["refused_by"] == 31
    assert forged["held_by"] == 0
    assert forged["in_force"] == 0


def test_micro_sim_auth_reports_the_auth_section() -> None:
    result = CliRunner().invoke(sim_command, ["--nodes", "12", "--duration", "12", "--auth", "--json"])
    assert result.exit_code == 0, result.output
    auth = json.loads(result.stdout)["auth"]
    assert set(auth) == {"rule_change", "revocation", "forged"}
    table = CliRunner().invoke(sim_command, ["--nodes", "12", "--duration", "12", "--auth"])
    assert "forged auth record refused by" in table.stdout


def test_micro_sim_auth_refuses_a_run_too_short_for_it() -> None:
    result = CliRunner().invoke(sim_command, ["--duration", "5", "--auth"])
    assert result.exit_code == 2
    assert "--auth needs at least 10 s" in result.output


def test_an_auth_run_is_freed_without_the_cycle_collector() -> None:
    gc.collect()
    gc.disable()
    try:
        run_scenario(Scenario(nodes=12, duration=10.0, seed=2, auth=True))
        assert not [o for o in gc.get_objects() if isinstance(o, Simulation)]
    finally:
        gc.enable()


def test_auth_changes_are_in_force_everywhere_within_a_rumours_dissemination() -> None:
    # Seed 3 had a node that gossip missed and no map comparison picked until its periodic sync (12 s):
    # auth registers spread as rumours too (`kv_rumour_dbs`), so the pull repair on pings closes it.
    report = run_scenario(Scenario(nodes=32, duration=20.0, seed=3, preset="lan", crashes=0, auth=True))
    slowest_rumour = max(d for run in report.rumour_delays for d in run)
    for change in ("rule_change", "revocation"):
        assert len(report.auth_delays[change]) == 31
        assert max(report.auth_delays[change]) <= slowest_rumour
