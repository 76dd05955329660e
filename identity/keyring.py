"""The gossip keyring: symmetric keys that encrypt and authenticate mesh traffic, with rotation.

Each key is 32 random bytes used with NaCl SecretBox (XSalsa20-Poly1305) and named by a 4-byte key id,
the first 4 bytes of its BLAKE2b hash. `encrypt` seals under the primary key and prefixes its id, so the
output is `key_id || nonce (24) || box (16-byte tag + plaintext)`; `decrypt` picks the key by id. Rotation
without a flag day: add the new key on every node, make it primary everywhere, then remove the old one.
"""

import hashlib
from collections.abc import Iterable

import nacl.exceptions
import nacl.secret
import nacl.utils

from . import _cbor
from .errors import DecryptFailed, Malformed

__all__ = ["KEY_ID_SIZE", "MAX_KEYS", "OVERHEAD", "Keyring", "generate_key"]

KEY_ID_SIZE = 4
OVERHEAD = KEY_ID_SIZE + nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES
MAX_KEYS = 16
_KEY_SIZE = nacl.secret.SecretBox.KEY_SIZE


def _key_id(key: bytes) -> bytes:
    return hashlib.blake2b(key).digest()[:KEY_ID_SIZE]


def generate_key() -> bytes:
    """A new random gossip key (a rotation seals one to every member, see `records.Seal`)."""
    return nacl.utils.random(_KEY_SIZE)


class Keyring:
    """Secret keys by id, one of them primary (the one `encrypt` uses)."""

    OVERHEAD = OVERHEAD

    def __init__(self, primary: bytes, others: Iterable[bytes] = ()) -> None:
        self._boxes: dict[bytes, nacl.secret.SecretBox] = {}
        self._keys: dict[bytes, bytes] = {}
        self._primary = self.add(primary)
        for key in others:
            self.add(key)

    @classmethod
    def generate(cls) -> "Keyring":
        """A keyring holding one new random key."""
        return cls(generate_key())

    @property
    def primary_id(self) -> bytes:
        """Id of the key `encrypt` uses."""
        return self._primary

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        """Ids of all keys, in the order they were added."""
        return tuple(self._keys)

    def add(self, key: bytes) -> bytes:
        """Add a 32-byte key (again adding a present key does nothing) and return its id."""
        if not isinstance(key, bytes) or len(key) != _KEY_SIZE:
            raise Malformed(f"a gossip key is {_KEY_SIZE} bytes")
        key_id = _key_id(key)
        if key_id in self._keys:
            if self._keys[key_id] != key:
                raise Malformed(f"key id {key_id.hex()} is already used by another key; generate a new key")
            return key_id
        if len(self._keys) >= MAX_KEYS:
            raise Malformed(f"a keyring holds at most {MAX_KEYS} keys; remove an old one first")
        self._keys[key_id] = key
        self._boxes[key_id] = nacl.secret.SecretBox(key)
        return key_id

    def use(self, key_id: bytes) -> None:
        """Make the key with `key_id` primary."""
        self._require(key_id)
        self._primary = key_id

    def remove(self, key_id: bytes) -> None:
        """Forget the key with `key_id`; the primary cannot be removed."""
        self._require(key_id)
        if key_id == self._primary:
            raise Malformed(f"key {key_id.hex()} is the primary key; make another key primary first")
        del self._keys[key_id]
        del self._boxes[key_id]

    def _require(self, key_id: bytes) -> None:
        if key_id not in self._keys:
            shown = key_id.hex() if isinstance(key_id, bytes) else repr(key_id)
            raise Malformed(f"no key with id {shown} in the keyring")

    def encrypt(self, plaintext: bytes) -> bytes:
        """`primary_id || nonce || box`: `OVERHEAD` bytes longer than `plaintext`."""
        return self._primary + bytes(self._boxes[self._primary].encrypt(plaintext))

    def decrypt(self, data: bytes) -> bytes:
        """Open `encrypt` output made with any key in the ring; raises `DecryptFailed`."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < OVERHEAD:
            raise DecryptFailed(f"ciphertext is shorter than the {OVERHEAD}-byte minimum")
        raw = bytes(data)
        box = self._boxes.get(raw[:KEY_ID_SIZE])
        if box is None:
            raise DecryptFailed(f"ciphertext uses unknown key id {raw[:KEY_ID_SIZE].hex()} (keyring out of date?)")
        try:
            return box.decrypt(raw[KEY_ID_SIZE:])
        except nacl.exceptions.CryptoError:
            raise DecryptFailed(f"ciphertext does not authenticate under key {raw[:KEY_ID_SIZE].hex()}") from None

    def to_bytes(self) -> bytes:
        """CBOR `{"keys": [key, ...], "primary": key_id}`; secret, so store it 0600 or seal it."""
        return _cbor.dumps({"keys": list(self._keys.values()), "primary": self._primary})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Keyring":
        """Parse `to_bytes` output; raises `Malformed`."""
        value = _cbor.loads(data, "keyring")
        if not isinstance(value, dict) or set(value) != {"keys", "primary"}:
            raise Malformed("keyring does not hold keys and a primary key id")
        keys, primary = value["keys"], value["primary"]
        if not isinstance(keys, list) or not 0 < len(keys) <= MAX_KEYS:
            raise Malformed(f"keyring must hold 1 to {MAX_KEYS} keys")
        if not all(isinstance(k, bytes) and len(k) == _KEY_SIZE for k in keys):
            raise Malformed(f"keyring keys must be {_KEY_SIZE} bytes each")
        if len({_key_id(k) for k in keys}) != len(keys):
            raise Malformed("keyring holds the same key id twice")
        by_id = {_key_id(k): k for k in keys}
        if not isinstance(primary, bytes) or primary not in by_id:
            raise Malformed("keyring primary key id names no key in it")
        ring = cls(keys[0], keys[1:])
        ring.use(primary)
        return ring
