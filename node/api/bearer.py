"""`Authorization: Bearer TOKEN`: the one credential a request carries (the gateway's HTTP header, the
local API's call metadata), read the same way by both."""

from __future__ import annotations

from .errors import Unauthenticated

__all__ = ["bearer"]


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` value (None when there is no such header); raises
    `Unauthenticated` for any other scheme or an empty token."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization is not `Bearer TOKEN`")
    return token.strip()
