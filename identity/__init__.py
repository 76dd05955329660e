"""Identity for Micro mesh: keys, certificates and chains, invite tokens, and the gossip keyring.

Pure functions and small value classes over PyNaCl and cbor2: nothing here reads a clock, touches the
network or keeps global state, and every decoder is bounded and raises only `IdentityError` subclasses.
"""

from .claims import (
    CLOCK_SKEW,
    INVITE_SKEW,
    ISSUER_ROLE,
    MAX_CHAIN_DEPTH,
    NONCE_SIZE,
    Certificate,
    Chain,
    Invite,
)
from .errors import BadSignature, DecryptFailed, Expired, IdentityError, InvalidChain, InvalidId, Malformed
from .keyring import KEY_ID_SIZE, MAX_KEYS, OVERHEAD, Keyring
from .keys import KEY_SIZE, SIGNATURE_SIZE, KeyKind, PublicKey, SigningKey, seal_to, verify_raw

__all__ = [
    "CLOCK_SKEW",
    "INVITE_SKEW",
    "ISSUER_ROLE",
    "KEY_ID_SIZE",
    "KEY_SIZE",
    "MAX_CHAIN_DEPTH",
    "MAX_KEYS",
    "NONCE_SIZE",
    "OVERHEAD",
    "SIGNATURE_SIZE",
    "BadSignature",
    "Certificate",
    "Chain",
    "DecryptFailed",
    "Expired",
    "IdentityError",
    "InvalidChain",
    "InvalidId",
    "Invite",
    "KeyKind",
    "Keyring",
    "Malformed",
    "PublicKey",
    "SigningKey",
    "seal_to",
    "verify_raw",
]
