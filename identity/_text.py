"""Printed tokens: URL-safe base64 without padding of a canonical CBOR encoding.

Only the canonical text is accepted (the last character carries unused bits), so every changed character
is detected rather than silently ignored.
"""

import base64
import binascii
import re

from . import _cbor
from .errors import Malformed

__all__ = ["from_text", "to_text"]

# Base64 of the largest accepted encoding, plus room for surrounding whitespace.
_MAX_CHARS = (_cbor.MAX_SIZE * 4 + 2) // 3 + 16
_TEXT_RE = re.compile(r"[A-Za-z0-9_-]*")


def to_text(data: bytes) -> str:
    """URL-safe base64 of `data`, without padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def from_text(text: object, what: str) -> bytes:
    """The bytes `to_text` printed as `text` (surrounding whitespace ignored); raises `Malformed`."""
    if not isinstance(text, str):
        raise Malformed(f"an {what} is text, not {type(text).__name__}")
    if len(text) > _MAX_CHARS:
        raise Malformed(f"{what} is {len(text)} characters; the limit is {_MAX_CHARS}")
    token = text.strip()
    if not token or not _TEXT_RE.fullmatch(token) or len(token) % 4 == 1:
        raise Malformed(f"{what} is not URL-safe base64 (truncated or mistyped?)")
    try:
        data = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise Malformed(f"{what} is not URL-safe base64 (truncated or mistyped?)") from None
    if to_text(data) != token:
        raise Malformed(f"{what} is corrupt (altered or mistyped)")
    return data
