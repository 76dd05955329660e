"""Redemption: which one node an invite admits, decided by the one node the invite names.

An invite admits at most one node mesh-wide. The member a joiner contacts only checks the invite and
what it may certify (`admission`); which joiner the invite admits is decided by the invite's redeemer
(`Invite.redeemer`, the node that made it), and by no one else, with `redeem`. The redeemer records the
first joiner of each invite; that joiner may ask again (a retry), any other is refused (`InviteUsed`).

A record is kept until the invite's expiry plus `INVITE_SKEW`, the last second `Invite.verify` accepts the
invite on the redeemer's own clock, and pruned after: an invite asked about later is refused as expired
whatever its record, so pruning never re-opens one. The records are bounded (`MAX_REDEMPTIONS` live at
once); a redeemer that is full refuses new redemptions rather than forget one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .claims import INVITE_SKEW
from .errors import Expired, IdentityError, InvalidChain

__all__ = ["MAX_REDEMPTIONS", "InviteUsed", "Redemption", "RedemptionsFull", "redeem"]

# About 60 bytes each on disk: the records stay well inside the data dir's file bound (1 MiB).
MAX_REDEMPTIONS = 10_000


class InviteUsed(InvalidChain):
    """An invite already redeemed by another node."""


class RedemptionsFull(IdentityError):
    """A redeemer holding `MAX_REDEMPTIONS` live records: it admits again once some invites expire."""

    code = "RESOURCE_EXHAUSTED"


@dataclass(frozen=True, slots=True)
class Redemption:
    """The joiner (raw node key) an invite admitted, and until when (unix seconds) that is remembered."""

    joiner: bytes
    keep_until: int


def redeem(records: Mapping[bytes, Redemption], nonce: bytes, joiner: bytes, expires_at: int, now: int
           ) -> dict[bytes, Redemption] | None:
    """Whether the invite with `nonce`, expiring at `expires_at`, admits `joiner` at `now`, given the
    `records` by nonce: returns the records to keep (pruned, and with this redemption when it is the
    first), or None when they stay as they are. Raises `Expired`, `InviteUsed` or `RedemptionsFull`."""
    keep_until = expires_at + INVITE_SKEW
    if now > keep_until:
        raise Expired("invite token expired; ask for a new one")
    live = {n: r for n, r in records.items() if r.keep_until >= now}
    recorded = live.get(nonce)
    if recorded is not None:
        if recorded.joiner != joiner:
            raise InviteUsed("invite token was already used by another node; ask for a new one")
        return live if len(live) < len(records) else None
    if len(live) >= MAX_REDEMPTIONS:
        raise RedemptionsFull(f"the node that issued this invite holds {MAX_REDEMPTIONS} redeemed invites "
                              "that have not expired; try again later")
    live[nonce] = Redemption(joiner, keep_until)
    return live
