"""The gossip keyring: encryption under the primary key, lookup by key id, and rotation."""

import hashlib

import pytest
from cbor2 import dumps
from micro.identity import OVERHEAD, DecryptFailed, Keyring, Malformed


def test_ciphertext_is_key_id_then_box_and_overhead_is_44_bytes() -> None:
    ring = Keyring.generate()
    data = ring.encrypt(b"ping")
    assert OVERHEAD == Keyring.OVERHEAD == 4 + 24 + 16
    assert len(data) == len(b"ping") + OVERHEAD
    assert data[:4] == ring.primary_id
    assert ring.decrypt(data) == b"ping"


def test_key_id_is_the_first_4_bytes_of_the_keys_blake2b() -> None:
    key = bytes(range(32))
    assert Keyring(key).primary_id == hashlib.blake2b(key).digest()[:4]


def test_old_ciphertext_decrypts_after_rotation_until_the_old_key_is_removed() -> None:
    ring = Keyring.generate()
    old_id = ring.primary_id
    old = ring.encrypt(b"before")
    new_id = ring.add(bytes(32))
    ring.use(new_id)
    assert ring.encrypt(b"after")[:4] == new_id
    assert ring.decrypt(old) == b"before"
    ring.remove(old_id)
    assert ring.key_ids == (new_id,)
    with pytest.raises(DecryptFailed, match="unknown key id"):
        ring.decrypt(old)


def test_a_node_that_only_has_the_new_key_cannot_read_old_traffic() -> None:
    sender, receiver = Keyring.generate(), Keyring.generate()
    with pytest.raises(DecryptFailed, match="unknown key id"):
        receiver.decrypt(sender.encrypt(b"hello"))


def test_primary_key_cannot_be_removed() -> None:
    ring = Keyring.generate()
    with pytest.raises(Malformed, match="primary"):
        ring.remove(ring.primary_id)


def test_use_and_remove_refuse_unknown_ids() -> None:
    ring = Keyring.generate()
    with pytest.raises(Malformed, match="00000000"):
        ring.use(b"\x00" * 4)
    with pytest.raises(Malformed):
        ring.remove(b"\x00" * 4)


def test_adding_a_present_key_again_changes_nothing() -> None:
    ring = Keyring(bytes(32))
    assert ring.add(bytes(32)) == ring.primary_id
    assert ring.key_ids == (ring.primary_id,)


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(Malformed):
        Keyring(b"short")


def test_keyring_holds_at_most_16_keys() -> None:
    ring = Keyring(bytes(32), [bytes([i]) * 32 for i in range(1, 16)])
    with pytest.raises(Malformed, match="at most 16"):
        ring.add(b"\xff" * 32)


@pytest.mark.parametrize("data", [b"", b"\x00" * (OVERHEAD - 1)])
def test_short_ciphertext_fails_to_decrypt(data: bytes) -> None:
    with pytest.raises(DecryptFailed, match="shorter"):
        Keyring.generate().decrypt(data)


def test_altered_ciphertext_fails_to_decrypt() -> None:
    ring = Keyring.generate()
    data = bytearray(ring.encrypt(b"alive"))
    data[-1] ^= 1
    with pytest.raises(DecryptFailed, match="does not authenticate"):
        ring.decrypt(bytes(data))


def test_serialised_keyring_keeps_keys_order_and_primary() -> None:
    ring = Keyring(bytes(32), [b"\x01" * 32, b"\x02" * 32])
    ring.use(ring.key_ids[2])
    copy = Keyring.from_bytes(ring.to_bytes())
    assert copy.key_ids == ring.key_ids
    assert copy.primary_id == ring.primary_id
    assert copy.decrypt(ring.encrypt(b"x")) == b"x"


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"keys": [], "primary": b"\x00" * 4},
        {"keys": [b"short"], "primary": b"\x00" * 4},
        {"keys": [bytes(32)], "primary": b"\x00" * 4},
        {"keys": [bytes(32), bytes(32)], "primary": hashlib.blake2b(bytes(32)).digest()[:4]},
        {"keys": [bytes(32)] * 17, "primary": hashlib.blake2b(bytes(32)).digest()[:4]},
        {"keys": [bytes(32)], "primary": 7},
        {"keys": [bytes(32)], "primary": hashlib.blake2b(bytes(32)).digest()[:4], "extra": 1},
    ],
)
def test_bad_serialised_keyring_is_malformed(value: object) -> None:
    with pytest.raises(Malformed):
        Keyring.from_bytes(dumps(value, canonical=True))
