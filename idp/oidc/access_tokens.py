"""Access tokens in the format each client chose: ``opaque`` (a random handle) or ``jwt`` (RFC 9068).

Both kinds are rows of ``oauth_tokens`` and obey the same rules (:class:`idp.oidc.tokens.IssuedToken`). An
opaque token's row keeps the SHA-256 of the token; a JWT's row keeps a SHA-256 of its ``jti`` (256 random
bits, like an opaque value) that no presented opaque value hashes to (:func:`jti_hash`: the ``jti`` is
no secret — resource servers see and log it — so it must never work as an opaque token). :func:`read`
turns whatever a client presents into the row's hash, so UserInfo, introspection, revocation and the
token-guarded APIs find either format with the same lookup:

* a value with two dots is a JWT: it counts only if this provider signed it (a published key), with
  ``typ: at+jwt`` and our ``iss``; then its ``jti`` names the row;
* anything else is an opaque value.

A JWT access token carries ``iss sub aud client_id scope exp iat jti``, ``auth_time`` when a person signed
in, and the ``policies`` claim when that scope was granted (as the ID token does). ``sub`` is the customer's
subject, or the client's ``client_id`` for a machine's own token (RFC 9068 §2.2). The audience is the
``resource`` (RFC 8707) the token is for (:func:`resource_for`), which must be one of the client's registered
audiences (``invalid_target`` otherwise), or else the client's first audience — or its ``client_id`` if it
has none. A resource named at the authorization request is kept by its code, and the resource a token was
issued for by its refresh token family: a later token request may repeat it or omit it, never name another.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.clients.models import ACCESS_TOKEN_FORMATS
from idp.keys import ALG, KeyRecord, KeyStore
from idp.oidc.models import unix
from idp.oidc.tokens import hash_of

OPAQUE, JWT = ACCESS_TOKEN_FORMATS
#: RFC 9068 §2.1: the ``typ`` header of a JWT access token.
TYP = "at+jwt"
#: Longer than any JWT access token this provider signs (the policies claim included).
MAX_JWT_LENGTH = 16384


class InvalidResource(ValueError):
    """A ``resource`` the client may not have a token for (RFC 8707 §2: ``invalid_target``)."""


#: Prefixed to a jti before hashing: 0xFF is in no UTF-8 text, so no presented string hashes the same.
_JTI_DOMAIN = b"\xffat+jwt\x00"


def jti_hash(jti: str) -> str:
    """What the row of a JWT access token keeps (see the module's documentation)."""
    return hashlib.sha256(_JTI_DOMAIN + jti.encode("utf-8")).hexdigest()


def is_jwt(value) -> bool:
    return isinstance(value, str) and value.count(".") == 2


def audience(client, resource: str | None) -> str:
    """The audience of ``client``'s access token: ``resource`` if given (an absolute URI without a fragment,
    registered for the client), else the client's default audience."""
    registered = list(client.audiences or ())
    if resource is None:
        return registered[0] if registered else client.client_id
    if resource not in registered:  # registered ones are absolute URIs without a fragment (idp.clients)
        raise InvalidResource("The resource is not one this client may have tokens for.")
    return resource


def resource_for(kept: str | None, requested: str | None) -> str | None:
    """The resource a token is issued for: the token request's ``resource`` (``requested``), else the one
    ``kept`` by the code or the refresh token presented; naming another than the one kept is refused."""
    if requested is None:
        return kept
    if kept is not None and requested != kept:
        raise InvalidResource("The resource is not the one this grant is for.")
    return requested


def build(*, issuer: str, audience: str, subject: str, client_id: str, scope: str | None, jti: str,
          auth_time: datetime | None, now: datetime, ttl: int, key: KeyRecord,
          extra: dict | None = None) -> str:
    """A JWT access token (RFC 9068 §2.2) signed with ``key`` (its ``kid`` in the header)."""
    claims: dict = {"iss": issuer, "sub": subject, "aud": audience, "client_id": client_id,
                    "exp": unix(now) + ttl, "iat": unix(now), "jti": jti}
    if scope:
        claims["scope"] = scope
    if auth_time is not None:
        claims["auth_time"] = unix(auth_time)
    for name, value in (extra or {}).items():
        claims.setdefault(name, value)  # never overrides a protocol claim
    return jwt.encode({"typ": TYP, "alg": ALG, "kid": key.kid}, claims, key.private_key, algorithms=[ALG])


def read(value, keys: KeyStore, *, issuer: str) -> tuple[str | None, dict | None]:
    """The stored hash naming the access token ``value`` (None if it cannot name one) and, for a JWT, its
    verified claims (``keys``: the provider's, asked for the published key set only then)."""
    if not is_jwt(value):
        return hash_of(value), None
    claims = verified_claims(value, keys.public_keyset(), issuer=issuer)
    if claims is None:
        return None, None
    return jti_hash(claims["jti"]), claims


def verified_claims(value: str, keyset: KeySet, *, issuer: str) -> dict | None:
    """The claims of a JWT access token this provider signed (expiry not checked: the row decides)."""
    if len(value) > MAX_JWT_LENGTH:
        return None
    try:
        token = jwt.decode(value, keyset, algorithms=[ALG])
    except (JoseError, ValueError, KeyError, TypeError):
        return None
    if str(token.header.get("typ", "")).lower() not in (TYP, "application/" + TYP):
        return None  # an ID token or a logout token is not an access token
    claims = token.claims
    jti = claims.get("jti")
    if claims.get("iss") != issuer or not isinstance(jti, str) or not jti or len(jti) > 512:
        return None
    return dict(claims)
