"""ID tokens (OIDC Core §2): built from the sign-in a code or refresh token remembers, signed RS256 with
the current key (its ``kid`` in the header), and read back when a client sends one as ``id_token_hint``.

Claims: ``iss sub aud exp iat auth_time amr`` always, ``sid`` (the provider session) when the customer
signed in through a session, ``nonce`` when the authorization request had one
(§3.1.2.1; never on a refresh, §12.2), ``at_hash`` when an access token is issued with it (§3.1.3.6).
Claims about the customer (e-mail, phone …) are served by UserInfo, not copied here (§5.4); the one
exception is the ``policies`` claim, which the portals read straight from the ID token (``extra``).
"""
from __future__ import annotations

from datetime import datetime

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.keys import ALG, KeyRecord
from idp.oidc.models import unix


def build_id_token(*, issuer: str, audience: str, subject: str, auth_time: datetime | None,
                   amr: str | None, nonce: str | None, access_token: str | None, now: datetime, ttl: int,
                   key: KeyRecord, extra: dict | None = None, sid: str | None = None) -> str:
    claims: dict = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": unix(now) + ttl,
        "iat": unix(now),
        "auth_time": unix(auth_time or now),
        "amr": (amr or "pwd").split(),
    }
    if nonce:
        claims["nonce"] = nonce
    if sid:  # the provider session (Back-Channel Logout 1.0 §2.4): a logout token names it too
        claims["sid"] = sid
    if access_token:
        claims["at_hash"] = create_half_hash(access_token, ALG).decode("ascii")
    for name, value in (extra or {}).items():
        claims.setdefault(name, value)  # never overrides a protocol claim
    return jwt.encode({"alg": ALG, "kid": key.kid}, claims, key.private_key, algorithms=[ALG])


class InvalidHint(ValueError):
    """The ``id_token_hint`` was not issued by this provider (bad signature, other issuer, damaged)."""


def read_hint(value: str, keyset: KeySet, *, issuer: str) -> dict:
    """The claims of an ID token this provider issued. Expiry is not checked: a hint may be old
    (OIDC Core §3.1.2.1, RP-Initiated Logout §2)."""
    if not isinstance(value, str) or len(value) > 8192 or value.count(".") != 2:
        raise InvalidHint("not a compact JWS")
    try:
        token = jwt.decode(value, keyset, algorithms=[ALG])
    except (JoseError, ValueError, KeyError, TypeError):
        raise InvalidHint("signature or format") from None
    claims = token.claims
    if claims.get("iss") != issuer or not isinstance(claims.get("sub"), str):
        raise InvalidHint("issuer or subject")
    return dict(claims)
