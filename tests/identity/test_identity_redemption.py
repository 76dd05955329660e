"""Redemption: the invite's redeemer admits the first joiner it is asked about, that one again, no other."""

import pytest
from identity_fixtures import NOW
from micro.identity import INVITE_SKEW, Expired, KeyKind, SigningKey
from micro.identity.redemption import (
    MAX_REDEMPTIONS,
    InviteUsed,
    Redemption,
    RedemptionsFull,
    redeem,
)

NONCE = b"n" * 16
OTHER_NONCE = b"o" * 16
FIRST = SigningKey.generate(KeyKind.NODE).public.raw
SECOND = SigningKey.generate(KeyKind.NODE).public.raw
EXPIRES = NOW + 600
KEEP = EXPIRES + INVITE_SKEW
STALE = Redemption(SECOND, NOW - 1)  # another invite's record, kept until a second ago

DECISIONS = [
    # (what, records before, joiner, now, records after (None: unchanged) or the error raised)
    ("the first joiner is recorded until expiry plus the skew", {}, FIRST, NOW,
     {NONCE: Redemption(FIRST, KEEP)}),
    ("the same joiner again: admitted, nothing changes", {NONCE: Redemption(FIRST, KEEP)}, FIRST, NOW, None),
    ("another joiner: refused", {NONCE: Redemption(FIRST, KEEP)}, SECOND, NOW, InviteUsed),
    ("another joiner at the last second of the record: refused", {NONCE: Redemption(FIRST, KEEP)}, SECOND, KEEP,
     InviteUsed),
    ("a second past the record: expired, however the record stands", {}, SECOND, KEEP + 1, Expired),
    ("expired records are pruned with the next redemption", {OTHER_NONCE: STALE}, FIRST, NOW,
     {NONCE: Redemption(FIRST, KEEP)}),
    ("a retry prunes the expired records too", {NONCE: Redemption(FIRST, KEEP), OTHER_NONCE: STALE}, FIRST, NOW,
     {NONCE: Redemption(FIRST, KEEP)}),
    ("a record kept until now still counts", {OTHER_NONCE: Redemption(SECOND, NOW)}, FIRST, NOW,
     {OTHER_NONCE: Redemption(SECOND, NOW), NONCE: Redemption(FIRST, KEEP)}),
]


@pytest.mark.parametrize(("what", "records", "joiner", "now", "outcome"), DECISIONS, ids=[r[0] for r in DECISIONS])
def test_redemption_decides(what: str, records: dict[bytes, Redemption], joiner: bytes, now: int,
                            outcome: object) -> None:
    before = dict(records)
    if isinstance(outcome, type) and issubclass(outcome, Exception):
        with pytest.raises(outcome):
            redeem(records, NONCE, joiner, EXPIRES, now)
    else:
        assert redeem(records, NONCE, joiner, EXPIRES, now) == outcome
    assert records == before  # a decision, never a change to what it was given


def test_a_full_redeemer_refuses_new_invites_rather_than_forget_one() -> None:
    full = {i.to_bytes(16, "big"): Redemption(SECOND, KEEP) for i in range(MAX_REDEMPTIONS)}
    with pytest.raises(RedemptionsFull, match="try again later"):
        redeem(full, NONCE, FIRST, EXPIRES, NOW)
    assert redeem(full, (0).to_bytes(16, "big"), SECOND, EXPIRES, NOW) is None


def test_a_used_invite_is_a_permission_denied_and_a_full_redeemer_resource_exhausted() -> None:
    assert InviteUsed.code == "PERMISSION_DENIED"
    assert RedemptionsFull.code == "RESOURCE_EXHAUSTED"
