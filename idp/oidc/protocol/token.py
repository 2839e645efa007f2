"""The token endpoint (RFC 6749 §3.2): the grant the request names answers it (:mod:`.grants`)."""
from __future__ import annotations

from idp.oidc.protocol.context import Call, Provider, printable
from idp.oidc.protocol.errors import InvalidRequest, UnsupportedGrantType
from idp.oidc.protocol.grants import GRANTS


def token(provider: Provider, connection, call: Call) -> dict:
    """The token response of ``call``; an :class:`~idp.oidc.protocol.errors.OAuthError` otherwise."""
    grant_type = call.form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("Missing 'grant_type' in request.")
    exchange = GRANTS.get(grant_type)
    if exchange is None:
        raise UnsupportedGrantType(f"grant_type {printable(grant_type)!r} is not supported.")
    return exchange(provider, connection, call)
