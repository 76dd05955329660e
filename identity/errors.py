"""The identity package's errors.

Every error is an `IdentityError` carrying `code`, the name of the gRPC status it maps to, and a one-line
message that tells the user what is wrong with which input. Callers catch `IdentityError`; the subclasses
let tests and the node tell the causes apart.
"""

__all__ = [
    "BadSignature",
    "DecryptFailed",
    "Expired",
    "IdentityError",
    "InvalidChain",
    "InvalidId",
    "Malformed",
]


class IdentityError(Exception):
    """Base of every error raised by `identity`."""

    code = "INTERNAL"


class Malformed(IdentityError):
    """Bytes, text or a file that does not parse as what it claims to be."""

    code = "INVALID_ARGUMENT"


class BadSignature(IdentityError):
    """A signature that does not verify under the key it names."""

    code = "UNAUTHENTICATED"


class Expired(IdentityError):
    """A certificate or token used outside its validity period."""

    code = "UNAUTHENTICATED"


class InvalidChain(IdentityError):
    """Well-formed, correctly signed credentials that do not lead to the mesh root with the needed roles."""

    code = "PERMISSION_DENIED"


class InvalidId(IdentityError):
    """Text that is not a key id (wrong length, kind letter or alphabet)."""

    code = "INVALID_ARGUMENT"


class DecryptFailed(IdentityError):
    """A sealed or secret box that cannot be opened with the keys at hand."""

    code = "UNAUTHENTICATED"
