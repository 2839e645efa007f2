"""The grants this provider speaks, each Authlib's class plus the shared hooks (:mod:`idp.oidc.hooks`).

* authorization code (RFC 6749 §4.1) with OpenID Connect (OIDC Core §3.1) and PKCE (RFC 7636): only
  ``S256``; required for public clients, accepted from every client;
* refresh token (RFC 6749 §6) with rotation: every use returns a new refresh token and spends the old
  one; a spent one presented again revokes its whole family (RFC 9700 §4.14.2);
* client credentials (RFC 6749 §4.4), confidential clients only, never a refresh token.
"""
from __future__ import annotations

import secrets

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode, OpenIDToken

from idp.oidc.hooks import ProviderHooks
from idp.oidc.scopes import machine_scope

_SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


class AuthorizationCodeGrant(ProviderHooks, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _SECRET_METHODS + ["none"]

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)


class RefreshTokenGrant(ProviderHooks, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _SECRET_METHODS + ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True


class ClientCredentialsGrant(ProviderHooks, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _SECRET_METHODS

    def validate_token_request(self):
        super().validate_token_request()
        requested = self.request.payload.scope
        # Narrowing a request is allowed (the response then names the scope granted); granting nothing of it
        # is a refusal, not an empty token (RFC 6749 §5.2).
        if requested and not machine_scope(self.request.client.scopes, requested):
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")


class OpenIDCodeExtension(ProviderHooks, OpenIDCode):
    """ID token from the code exchange; ``nonce`` optional for the code flow (OIDC Core §3.1.2.1)."""


class OpenIDRefreshExtension(ProviderHooks, OpenIDToken):
    """A fresh ID token on refresh, same ``sub``/``aud``/``auth_time``, no ``nonce`` (OIDC Core §12.2)."""


class S256CodeChallenge(CodeChallenge):
    """PKCE with ``S256`` only (RFC 7636 §4.2; ``plain`` is for clients that cannot hash, RFC 9700 §2.1.1),
    required from public clients already at the authorization endpoint."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if grant.request.client.public and not challenge:
            raise InvalidRequestError("A public client must use PKCE: 'code_challenge' is required.")
        if challenge and method != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)


class AuthorizationResponseIssuer(ProviderHooks, IssuerParameter):
    """``iss`` in every authorization response (RFC 9207 §2), against mix-up attacks."""
