"""Ed25519 keys whose printed ids say what kind of key they are.

A `PublicKey` prints as one kind letter (`M` mesh root, `N` node, `A` account) followed by the unpadded
RFC 4648 base32 of its 32 raw bytes: 53 characters, e.g. `NABC...`. A `SigningKey` is kept as its 32-byte
seed in a file holding the same letter and the base32 seed, written atomically with mode 0600 and refused
on load when group or others may read it. Sealed boxes (`seal_to` / `SigningKey.unseal`) encrypt to an
ed25519 key by converting it to curve25519, so a joining node can receive secrets with the only key it has.
"""

import base64
import os
import secrets
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from .errors import BadSignature, DecryptFailed, InvalidId, Malformed

__all__ = ["KEY_SIZE", "SIGNATURE_SIZE", "KeyKind", "PublicKey", "SigningKey", "seal_to", "verify_raw"]

KEY_SIZE = 32
SIGNATURE_SIZE = 64
_ID_LENGTH = 53
_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# nacl raises its own errors for bad points or lengths and ValueError/TypeError for wrong argument types.
_NACL_ERRORS = (nacl.exceptions.CryptoError, ValueError, TypeError)


class KeyKind(Enum):
    """What a key belongs to; the value is the letter that starts its id."""

    MESH = "M"
    NODE = "N"
    ACCOUNT = "A"


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes | None:
    """The 32 bytes that `text` (52 base32 characters) encodes, or None if it encodes none exactly."""
    if len(text) != 52 or not _B32_ALPHABET.issuperset(text):
        return None
    raw = base64.b32decode(text + "====")
    # The last character carries 4 padding bits; insisting on the canonical text keeps one id per key.
    return raw if _b32(raw) == text else None


def verify_raw(raw_key: bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is `raw_key`'s signature of `data`; never raises (for per-packet checks)."""
    if type(signature) is not bytes or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + data, raw_key)
    except _NACL_ERRORS:
        return False
    return True


@dataclass(frozen=True)
class PublicKey:
    """An ed25519 public key and its kind; equal and hashable by both."""

    kind: KeyKind
    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kind, KeyKind):
            raise InvalidId(f"key kind must be a KeyKind, not {self.kind!r}")
        if not isinstance(self.raw, bytes) or len(self.raw) != KEY_SIZE:
            raise InvalidId(f"a public key is {KEY_SIZE} raw bytes")

    def __hash__(self) -> int:
        # The raw key alone: equal keys have equal bytes, and an enum's hash is a Python-level call
        # (keys are looked up per request: revocations, the decisions of a principal).
        return hash(self.raw)

    @property
    def id(self) -> str:
        """The printed form: kind letter + unpadded base32 of the raw key (53 characters)."""
        return self.kind.value + _b32(self.raw)

    @classmethod
    def from_id(cls, text: str) -> "PublicKey":
        """Parse an id printed by `.id`; raises `InvalidId` naming what is wrong."""
        if not isinstance(text, str):
            raise InvalidId(f"a key id is text, not {type(text).__name__}")
        shown = text if len(text) <= 60 else text[:57] + "..."
        if len(text) != _ID_LENGTH:
            raise InvalidId(f"key id {shown!r} has {len(text)} characters; expected {_ID_LENGTH}")
        try:
            kind = KeyKind(text[0])
        except ValueError:
            raise InvalidId(f"key id {shown!r} starts with {text[0]!r}; expected M, N or A") from None
        raw = _unb32(text[1:])
        if raw is None:
            raise InvalidId(f"key id {shown!r} is not upper-case base32 of a 32-byte key")
        return cls(kind, raw)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Raise `BadSignature` unless `signature` is this key's signature of `data`."""
        if not verify_raw(self.raw, data, signature):
            raise BadSignature(f"signature does not verify under {self.id}")

    def verify_ok(self, data: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `data`; never raises."""
        return verify_raw(self.raw, data, signature)

    def __str__(self) -> str:
        return self.id


def seal_to(public: PublicKey, data: bytes) -> bytes:
    """Encrypt `data` so only the holder of `public`'s signing key can read it (anonymous sender)."""
    try:
        curve = nacl.signing.VerifyKey(public.raw).to_curve25519_public_key()
    except _NACL_ERRORS:
        raise InvalidId(f"{public.id} is not a usable ed25519 public key") from None
    return nacl.public.SealedBox(curve).encrypt(data)


class SigningKey:
    """An ed25519 signing key of one kind, made from (and saved as) its 32-byte seed."""

    __slots__ = ("_key", "_secret", "kind", "public")

    kind: KeyKind
    public: PublicKey

    def __init__(self, kind: KeyKind, key: nacl.signing.SigningKey) -> None:
        self.kind = kind
        self._key = key
        self._secret = nacl.bindings.crypto_sign_seed_keypair(bytes(key))[1]
        self.public = PublicKey(kind, bytes(key.verify_key))

    @classmethod
    def generate(cls, kind: KeyKind) -> "SigningKey":
        """A new random key."""
        return cls(kind, nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, kind: KeyKind, seed: bytes) -> "SigningKey":
        """The key derived from a 32-byte seed; raises `Malformed` for any other length."""
        if not isinstance(seed, bytes) or len(seed) != KEY_SIZE:
            raise Malformed(f"a key seed is {KEY_SIZE} bytes")
        return cls(kind, nacl.signing.SigningKey(seed))

    @property
    def seed(self) -> bytes:
        """The 32-byte seed; whoever holds it holds the key."""
        return bytes(self._key)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte detached signature of `data`."""
        # The binding directly: the SignedMessage wrapper costs a third of a signature (every KV write).
        return nacl.bindings.crypto_sign(data, self._secret)[:SIGNATURE_SIZE]

    def unseal(self, data: bytes) -> bytes:
        """Open a box made by `seal_to(self.public, ...)`; raises `DecryptFailed` otherwise."""
        try:
            box = nacl.public.SealedBox(self._key.to_curve25519_private_key())
            return box.decrypt(data)
        except _NACL_ERRORS:
            raise DecryptFailed(f"sealed box does not open with key {self.public.id}") from None

    def save(self, path: str | os.PathLike[str], exclusive: bool = False) -> None:
        """Write the seed to `path` with mode 0600, replacing any file there atomically (with `exclusive`,
        never: `FileExistsError` if there is one, however late it appeared)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        text = f"{self.kind.value}{_b32(self.seed)}\n".encode("ascii")
        # Created 0600 from the start so the seed is never readable by others, not even briefly.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            if exclusive:
                os.link(tmp, target)
                tmp.unlink()
            else:
                os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        # Sync the directory too, so the rename itself survives a crash.
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str], kind: KeyKind | None = None) -> "SigningKey":
        """Read a key written by `save`; with `kind`, also insist on that kind. Raises `Malformed`."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise Malformed(f"cannot read key file {os.fspath(path)}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise Malformed(f"key file {os.fspath(path)} has mode {mode:04o}; expected 0600")
            content = f.read(4096)
        try:
            text = content.decode("ascii").strip()
        except UnicodeDecodeError:
            text = ""
        seed = _unb32(text[1:]) if len(text) == _ID_LENGTH else None
        found = {k.value: k for k in KeyKind}.get(text[:1])
        if seed is None or found is None:
            raise Malformed(f"key file {os.fspath(path)} does not hold a key seed (corrupt or not a key file)")
        if kind is not None and found is not kind:
            raise Malformed(
                f"key file {os.fspath(path)} holds a {found.name.lower()} key; expected a {kind.name.lower()} key"
            )
        return cls.from_seed(found, seed)

    def __repr__(self) -> str:
        # Never show the seed in logs or tracebacks.
        return f"SigningKey({self.public.id})"
