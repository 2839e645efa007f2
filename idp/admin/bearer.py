"""Who may call the admin API: a live bearer access token (RFC 6750) from the ``client_credentials``
grant (RFC 6749 §4.4) carrying the ``admin`` scope.

Tokens are checked by the provider's own resource protector (:func:`idp.oidc.endpoints.build_protector`,
one indexed lookup of the token's hash); this module only translates its verdict into the API's errors:

* no ``Authorization: Bearer`` credentials → 401 ``invalid_token``, ``WWW-Authenticate: Bearer realm=…``
  without an error attribute (RFC 6750 §3.1: a request without credentials gets no error code);
* an unknown, expired or revoked token, or one of a disabled client → 401 ``invalid_token``;
* a live token without the ``admin`` scope, or one issued to a customer rather than to a client
  (authorization code or refresh grant) → 403 ``insufficient_scope`` with ``scope="admin"``.
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Flask, current_app, request

from idp.errors import IdpError

#: The scope an admin API token must carry. A client gets it only if an admin lists it in its scopes.
ADMIN_SCOPE = "admin"
REALM = "idp-admin"
_EXTENSION = "idp.admin.protector"


class BearerError(IdpError):
    """The request's bearer credentials do not allow the admin API; carries its WWW-Authenticate header."""

    error = "invalid_token"
    code = "token.invalid"
    status = 401

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}", error="{self.error}"'


class MissingToken(BearerError):
    code = "token.missing"

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}"'


class InsufficientScope(BearerError):
    error = "insufficient_scope"
    code = "token.insufficient_scope"
    status = 403

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}", error="{self.error}", scope="{ADMIN_SCOPE}"'


def init_protector(app: Flask) -> None:
    from idp.oidc.endpoints import build_protector

    app.extensions[_EXTENSION] = build_protector()


def require_admin_token():
    """The access token of this request (Authlib's token object); raises a :class:`BearerError`."""
    protector = current_app.extensions[_EXTENSION]
    try:
        token = protector.validate_request(scopes=[ADMIN_SCOPE], request=FlaskJsonRequest(request))
    except (MissingAuthorizationError, UnsupportedTokenTypeError):
        raise MissingToken("an 'Authorization: Bearer <access token>' header is required") from None
    except InsufficientScopeError:
        raise InsufficientScope(f"the access token lacks the '{ADMIN_SCOPE}' scope") from None
    except OAuth2Error:
        raise BearerError("the access token is unknown, expired or revoked") from None
    if token.get_user() is not None:
        # A customer's token never speaks for an admin, whatever scope its client was allowed.
        raise InsufficientScope("the admin API takes client_credentials tokens only")
    return token
