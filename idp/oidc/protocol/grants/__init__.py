"""The grants of the token endpoint, one module each; every one is ``exchange(provider, connection, call)``
returning the token response, or raising an :class:`~idp.oidc.protocol.errors.OAuthError`.

    authorization_code   RFC 6749 §4.1.3, OIDC Core §3.1.3, PKCE (RFC 7636, idp.oidc.pkce)
    refresh_token        RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2)
    client_credentials   RFC 6749 §4.4, confidential clients only, never a refresh token
"""
from idp.oidc.protocol.grants import authorization_code, client_credentials, refresh_token

#: grant_type → the grant's exchange.
GRANTS = {
    "authorization_code": authorization_code.exchange,
    "refresh_token": refresh_token.exchange,
    "client_credentials": client_credentials.exchange,
}

__all__ = ["GRANTS"]
