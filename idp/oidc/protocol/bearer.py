"""Bearer tokens at a protected resource (RFC 6750): reading one from a request and finding the access
token it names. UserInfo and the token-guarded APIs (:mod:`idp.oidc.bearer`) both use these.

A token comes in the ``Authorization: Bearer`` header (§2.1) or, in a form-encoded POST body, as
``access_token`` (§2.2) — never both (§2: a client MUST NOT use more than one method). A request
without a bearer token (none, or another scheme) is :class:`MissingToken`; a token that is unknown,
expired, revoked, or whose client or customer is disabled is :class:`InvalidToken`. A token is opaque or a
JWT (RFC 9068); either names its row (:func:`idp.oidc.access_tokens.read`) and the same rules apply.
"""
from __future__ import annotations

from datetime import datetime

from idp.keys import KeyStore
from idp.oidc import access_tokens
from idp.oidc.protocol.errors import BearerRequestError, InvalidToken, MissingToken
from idp.oidc.store import records
from idp.oidc.tokens import ACCESS, IssuedToken


def token_value(authorization: str | None, form: dict[str, str] | None = None) -> str:
    """The bearer token of a request (``form``: its form-encoded POST body, if any)."""
    in_body = (form or {}).get("access_token")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise MissingToken("The request carries no bearer token.")
        if in_body is not None:
            raise BearerRequestError("The token must be sent in one way only.")
        if not value.strip():
            raise InvalidToken("The access token is empty.")
        return value.strip()
    if in_body:
        return in_body
    raise MissingToken("The request carries no bearer token.")


def access_token(connection, value: str, now: datetime, *, keys: KeyStore, issuer: str) -> IssuedToken:
    """The live access token ``value`` names (one indexed lookup, its client and customer joined); ``keys``
    and ``issuer``: the provider's, which a JWT access token must have been signed with and name."""
    hashed, _ = access_tokens.read(value, keys, issuer=issuer)
    row = records.token(connection, hashed, refresh=False) if hashed is not None else None
    token = IssuedToken(row, ACCESS, now) if row is not None else None
    if token is None or not token.is_active():
        raise InvalidToken("The access token is unknown, expired or revoked.")
    return token
