"""Auth records in the simulator: a rule change, a revocation and a forgery on the real cores, and when
each is in force on every node.

The records are real (`identity.records`, ed25519), signed by the registry's mesh root (`auth_root`) and
by an `admin` account it signs. Each is written as a node writes what `micro auth` submits: a register of
the reserved `auth` database on one node, spread by the cores' own gossip and anti-entropy and checked by
every replica before it is installed (`SimVerifier.accepts`, the node's check). When an auth register is
installed on a node, the node rebuilds its `AuthState` from its replica at the same virtual instant (the
node does it on the next turn of its loop), and the model probes that state:

- the base records, at `BASE_AT` on one node: the admin account, the default rules, the accounts `probe`
  and `mallory` (scope `editor`), and the rule `sim-probe` granting any account `service:probe`; and a
  real access token for `probe`, issued by a node the root certified;
- a rule change on another node: `sim-probe` replaced by a deny. In force on a node once its decision for
  `probe` on `PROBE_RESOURCE` is that deny;
- a revocation of `probe`'s key on another: in force once the token fails `check_live` against the
  node's revocations;
- a forgery on a fourth: a rule granting scope `editor` everything, signed by `mallory`, who is no admin,
  written straight into that node's replica as a compromised node would (skipping its own check), and
  sent by it straight to every other node over a peer link. Every other node must refuse it (`kv_refused`
  of its core) and not hold it, and no node, not even the forger, may put it in force (`mallory`'s
  decision on `FORGED_PROBE`). The forger's replica keeps the record, so the replicas are never all
  identical again (`kv_convergence_s` stays None alongside `kv_writes`).

`summary` gives, for the rule change and the revocation, over the nodes up from the write to the end other
than its origin (the targets, as for a rumour): how many had it in force, and the delays p50/p99/max
(nearest rank); for the forgery, how many of its targets refused it, hold it, and put it in force.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from ..identity.authstate import AuthState, Principal, default_rules
from ..identity.claims import Certificate, Chain
from ..identity.errors import IdentityError
from ..identity.keys import KeyKind, SigningKey
from ..identity.records import (
    ADMIN_SCOPE,
    AUTH_DB,
    RULES,
    SECRETS_SCOPE,
    TABLES,
    Account,
    AccountType,
    Body,
    Record,
    Revocation,
)
from ..identity.rules import Access, Rule
from ..identity.tokens import AccessToken
from ..mesh.events import KvChanged
from ..mesh.messages import KvEntry
from .engine import UP, Simulation
from .metrics import percentile

__all__ = ["BASE_AT", "FORGED_PROBE", "MIN_DURATION", "PROBE_RESOURCE", "AuthModel"]

BASE_AT = 0.5
"""Virtual second at which the base records are written."""
MIN_DURATION = 10.0
"""Shortest run the scenario fits in: the changes come at a third, half and two thirds of the rumour window."""
PROBE_RESOURCE = "service:probe:Call"
FORGED_PROBE = "node:sim:kill"
_TTL = 86_400
_PROBE_RULE = "sim-probe"
_FORGED_RULE = "sim-forged"


def _key(seed: int, kind: KeyKind, label: str) -> SigningKey:
    return SigningKey.from_seed(kind, hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=32).digest())


@dataclass
class Change:
    """One record written at one node: where, when, and when each node first had it in force."""

    origin: int
    at: float
    in_force: dict[int, float] = field(default_factory=dict)


class AuthModel:
    """The auth records of one run, each node's state in force, and what the probes saw."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.root = sim.registry.auth_root
        self.mesh = self.root.public
        seed = sim.seed
        self._admin_key = _key(seed, KeyKind.ACCOUNT, "admin")
        self._probe_key = _key(seed, KeyKind.ACCOUNT, "probe")
        self._mallory_key = _key(seed, KeyKind.ACCOUNT, "mallory")
        self.probe = Principal(self._probe_key.public, "probe", frozenset())
        self.mallory = Principal(self._mallory_key.public, "mallory", frozenset({"editor"}))
        self.deny = Rule(_PROBE_RULE, "service:probe", "*", Access.DENY, 10)
        now = self._wall(BASE_AT)
        admin = Account(self._admin_key.public, "admin", AccountType.USER, (ADMIN_SCOPE, SECRETS_SCOPE))
        self._admin_chain = (Record.issue(self.root, (), self.mesh, admin, now),)
        probe = Account(self._probe_key.public, "probe", AccountType.USER, ())
        mallory = Account(self._mallory_key.public, "mallory", AccountType.USER, ("editor",))
        self._accounts = [self._by_admin(probe, now), self._by_admin(mallory, now)]
        issuer = _key(seed, KeyKind.NODE, "token-issuer")
        certificate = Certificate.issue(self.root, issuer.public, self.mesh, [], now, _TTL)
        self.token = AccessToken.issue(issuer, Chain((certificate,)), self.mesh, probe, now, _TTL)
        """`probe`'s token, issued with the base records by a node the root certified."""
        self.changes: dict[str, Change] = {}
        self.forged: Change | None = None
        self._refused_before: list[int] = []
        self._pending: set[int] = set()

    def _wall(self, t: float) -> int:
        return int(self.sim.clock.epoch + t)

    def _by_admin(self, body: Body, now: int) -> Record:
        return Record.issue(self._admin_key, self._admin_chain, self.mesh, body, now)

    def _write(self, node: int, at: float, records: list[Record]) -> None:
        for record in records:
            self.sim.kv_put(node, record.key, record.encode(), at, db=AUTH_DB, table=record.table)

    # -- scheduling --------------------------------------------------------------------------------------

    def base(self, node: int) -> None:
        """Write the base records on `node` at `BASE_AT`."""
        now = self._wall(BASE_AT)
        rules = [Record.issue(self.root, (), self.mesh, rule, now) for rule in default_rules()]
        probe_rule = self._by_admin(replace(self.deny, access=Access.GRANT), now)
        self._write(node, BASE_AT, [*self._admin_chain, *rules, *self._accounts, probe_rule])

    def change_rule(self, node: int, at: float) -> None:
        """Replace `sim-probe` by a deny on `node` at `at`."""
        self.changes["rule_change"] = Change(node, at)
        self._write(node, at, [self._by_admin(self.deny, self._wall(at))])

    def revoke(self, node: int, at: float) -> None:
        """Revoke `probe`'s key on `node` at `at`."""
        now = self._wall(at)
        self.changes["revocation"] = Change(node, at)
        self._write(node, at, [self._by_admin(Revocation(self._probe_key.public, now), now)])

    def forge(self, node: int, at: float) -> None:
        """Have `node` write a rule signed by `mallory` (no admin) into its own replica at `at`."""
        rule = Rule(_FORGED_RULE, "*", "editor", Access.GRANT, 1000)
        # A link of a chain travels without the links before it: those are the chain's earlier links.
        chain = (*self._admin_chain, replace(self._accounts[1], chain=()))
        forged = Record.issue(self._mallory_key, chain, self.mesh, rule, self._wall(at))
        self.forged = Change(node, at)
        self.sim.at(at, self._count_refusals)
        self.sim.kv_put(node, forged.key, forged.encode(), at, acked=self._send_to_all, db=AUTH_DB,
                        table=forged.table)

    def _count_refusals(self, t: float) -> None:
        self._refused_before = [core.stats.kv_refused if core is not None else 0 for core in self.sim.cores]

    def _send_to_all(self, entry: KvEntry) -> None:
        """The forger sends its register to every other node itself, rather than wait for gossip (which a
        node that refuses a register does not pass on)."""
        sim = self.sim
        assert self.forged is not None
        forger, t = self.forged.origin, sim.now
        for node in range(len(sim.status)):
            delay = sim.network.reliable_delay(forger, node, t) if node != forger else None
            if delay is not None:
                sim.deliver(node, sim.addresses[forger], [entry], t + delay, reliable=True)

    # -- the engine's calls ------------------------------------------------------------------------------

    def on_kv(self, node: int, t: float, event: KvChanged) -> None:
        """A register was installed on `node`: an auth one has it rebuild its state (once per instant)."""
        if event.entry.db == AUTH_DB and node not in self._pending:
            self._pending.add(node)
            self.sim.at(t, self._rebuild, node)

    def _rebuild(self, t: float, node: int) -> None:
        self._pending.discard(node)
        sim = self.sim
        core = sim.cores[node]
        if core is None:
            return
        now = sim.core_now(node)
        records = []
        for table in TABLES:
            for entry in core.kv_list(AUTH_DB, table, "", now):
                try:
                    records.append(Record.decode(entry.value))  # type: ignore[arg-type]  # listed: not deleted
                except IdentityError:
                    continue
        wall = self._wall(now)
        state = AuthState.build(self.mesh, records, wall)
        self._probe_state(node, t, state, wall)

    def _probe_state(self, node: int, t: float, state: AuthState, wall: int) -> None:
        rule_change = self.changes.get("rule_change")
        if rule_change is not None and state.authorize(self.probe, PROBE_RESOURCE).rule == self.deny:
            rule_change.in_force.setdefault(node, t)
        revocation = self.changes.get("revocation")
        if revocation is not None:
            try:
                self.token.check_live(wall, state.revocations)
            except IdentityError:
                revocation.in_force.setdefault(node, t)
        if self.forged is not None and state.authorize(self.mallory, FORGED_PROBE).allowed:
            self.forged.in_force.setdefault(node, t)

    # -- report ------------------------------------------------------------------------------------------

    def _targets(self, change: Change) -> list[int]:
        sim = self.sim
        return [i for i, status in enumerate(sim.status)
                if status == UP and i != change.origin and sim.up_since[i] <= change.at]

    def _delays(self, change: Change) -> list[float]:
        return sorted(change.in_force[i] - change.at for i in self._targets(change) if i in change.in_force)

    def delays(self) -> dict[str, list[float]]:
        """Per change, the sorted delays at which its targets had it in force."""
        return {name: self._delays(change) for name, change in self.changes.items()}

    def _in_force(self, change: Change) -> dict[str, Any]:
        delays = self._delays(change)
        return {
            "origin": change.origin,
            "at_s": change.at,
            "targets": len(self._targets(change)),
            "in_force": len(delays),
            "origin_in_force": change.origin in change.in_force,
            "delay_s": {name: None if value is None else round(value, 6) for name, value in (
                ("p50", percentile(delays, 0.5)), ("p99", percentile(delays, 0.99)),
                ("max", percentile(delays, 1.0)))},
        }

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: self._in_force(change) for name, change in sorted(self.changes.items())}
        forged = self.forged
        if forged is not None:
            sim = self.sim
            targets = self._targets(forged)
            cores = [sim.cores[i] for i in targets]
            out["forged"] = {
                "origin": forged.origin,
                "at_s": forged.at,
                "targets": len(targets),
                "refused_by": sum(1 for i, core in zip(targets, cores, strict=True)
                                  if core is not None and core.stats.kv_refused > self._refused_before[i]),
                "held_by": sum(1 for i, core in zip(targets, cores, strict=True) if core is not None
                               and core.kv_get(AUTH_DB, RULES, _FORGED_RULE, sim.core_now(i)) is not None),
                "in_force": len(forged.in_force),
            }
        return out
