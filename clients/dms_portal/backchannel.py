"""The portal's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0, section 2.6).

The provider POSTs a logout token when the customer's provider session ends; the portal validates it and
ends its own sign-ins of that session (``sid``) or, without a ``sid``, of that customer (``sub``):

1. a JWS signed RS256 by a key of the provider's JWKS (fetched again once for a ``kid`` not yet known);
   ``typ``, when present, is ``logout+jwt``;
2. ``iss`` is the provider, ``aud`` names this client, ``iat`` present, ``exp`` not past (a minute of leeway
   for the clocks);
3. ``events`` holds the back-channel logout event, a JSON object;
4. ``sid`` or ``sub`` (or both); never a ``nonce``;
5. ``jti`` not seen before (kept until the token expires).

Any failure is a 400 with ``invalid_request`` and a description; success is 200, with ``Cache-Control:
no-store`` either way.
"""
from __future__ import annotations

from collections.abc import Callable

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
ALGORITHMS = ["RS256"]
LEEWAY = 60
MAX_LENGTH = 8192


class LogoutTokenError(ValueError):
    """The logout token is refused; the message says why (it goes back in ``error_description``)."""


def validate(token, *, jwks: Callable[[bool], dict], issuer: str, client_id: str, now: int,
             first_use: Callable[[str, int], bool]) -> dict:
    """The claims of a valid logout token. ``jwks(force)`` gives the provider's JWKS (``force``: fetch it
    again); ``first_use(jti, seconds)`` records a ``jti`` for ``seconds`` and says whether it is new."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH or token.count(".") != 2:
        raise LogoutTokenError("logout_token is missing or not a compact JWS")
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeEncodeError):
        raise LogoutTokenError("logout_token is not a compact JWS") from None
    if header.get("alg") not in ALGORITHMS:
        raise LogoutTokenError(f"unexpected alg {str(header.get('alg'))[:20]!r}")
    if header.get("typ") not in (None, TYP):
        raise LogoutTokenError("typ is not logout+jwt")
    claims = _verified(token, header.get("kid"), jwks)
    if claims.get("iss") != issuer:
        raise LogoutTokenError("iss is not the provider")
    audience = claims.get("aud")
    if not (audience == client_id or isinstance(audience, list) and client_id in audience):
        raise LogoutTokenError("aud does not name this client")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not _number(iat) or iat > now + LEEWAY:
        raise LogoutTokenError("iat is missing or in the future")
    if not _number(exp) or exp + LEEWAY < now:
        raise LogoutTokenError("the logout token has expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutTokenError("events has no back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenError("a logout token must not carry a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise LogoutTokenError("neither sid nor sub")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise LogoutTokenError("jti is missing")
    if not first_use(jti, int(max(exp - now, 0)) + LEEWAY):
        raise LogoutTokenError("this logout token was already used (jti replayed)")
    return claims


def _verified(token: str, kid, jwks: Callable[[bool], dict]) -> dict:
    for force in (False, True):
        keyset = KeySet.import_key_set(jwks(force))
        if force is False and kid is not None and not any(key.kid == kid for key in keyset.keys):
            continue  # a key the provider published after we fetched its JWKS
        try:
            return dict(jwt.decode(token, keyset, algorithms=ALGORITHMS).claims)
        except (JoseError, ValueError, KeyError, TypeError):
            if force:
                break
            continue
    raise LogoutTokenError("the signature does not verify with the provider's keys")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
