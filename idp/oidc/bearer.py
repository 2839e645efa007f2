"""APIs guarded by the provider's own bearer tokens (RFC 6750): who may call them, and how a refusal reads.

One check for every token-guarded API (the admin API, the policy intake): a live access token from the
``client_credentials`` grant (RFC 6749 §4.4) carrying the API's scope, found by the protocol's bearer
check (:mod:`idp.oidc.protocol.bearer`, the one UserInfo uses: one indexed lookup of the token's hash).
Refusals, rendered by :mod:`idp.json_api`:

* no ``Authorization: Bearer`` credentials → 401 ``invalid_token`` with ``WWW-Authenticate: Bearer
  realm=…`` and no error attribute (RFC 6750 §3.1: a request without credentials gets no error code);
* an unknown, expired or revoked token, or one of a disabled client → 401 ``invalid_token``;
* a live token without the scope, or one issued to a customer (code or refresh grant) rather than to a
  client → 403 ``insufficient_scope`` naming the scope.
"""
from __future__ import annotations

from flask import current_app, request

from idp.errors import IdpError
from idp.oidc.protocol import bearer
from idp.oidc.protocol.errors import BearerRequestError, InvalidToken
from idp.oidc.protocol.errors import MissingToken as NoBearerToken
from idp.oidc.scopes import scope_list
from idp.oidc.setup import STORE
from idp.oidc.tokens import IssuedToken


class BearerError(IdpError):
    """The request's bearer credentials do not allow this API; carries its WWW-Authenticate header."""

    error = "invalid_token"
    code = "token.invalid"
    status = 401

    def __init__(self, description: str | None = None, *, realm: str = "idp", scope: str | None = None):
        super().__init__(description)
        self.realm, self.scope = realm, scope

    def www_authenticate(self) -> str:
        return f'Bearer realm="{self.realm}", error="{self.error}"'


class MissingToken(BearerError):
    code = "token.missing"

    def www_authenticate(self) -> str:
        return f'Bearer realm="{self.realm}"'


class InsufficientScope(BearerError):
    error = "insufficient_scope"
    code = "token.insufficient_scope"
    status = 403

    def www_authenticate(self) -> str:
        return f'Bearer realm="{self.realm}", error="{self.error}", scope="{self.scope}"'


def require_client_token(scope: str, *, realm: str, also: tuple[str, ...] = ()) -> IssuedToken:
    """The access token of this request; raises a :class:`BearerError`. The token must carry ``scope`` or one
    of ``also`` (a refusal names ``scope``, the least that suffices)."""
    services = current_app.extensions["idp"]
    try:
        value = bearer.token_value(request.headers.get("Authorization"))
        with current_app.extensions[STORE].connect() as connection:
            token = bearer.access_token(connection, value, services.clock.now(),
                                        keys=current_app.extensions["idp.keys"],
                                        issuer=services.settings.issuer)
    except (NoBearerToken, BearerRequestError):
        raise MissingToken("an 'Authorization: Bearer <access token>' header is required", realm=realm) from None
    except InvalidToken:
        raise BearerError("the access token is unknown, expired or revoked", realm=realm) from None
    if not {scope, *also} & set(scope_list(token.scope)):
        wanted = " or ".join(f"'{s}'" for s in (scope, *also))
        raise InsufficientScope(f"the access token lacks the {wanted} scope", realm=realm, scope=scope)
    if token.row.account_id is not None:
        # A customer's token never speaks for a machine, whatever scope its client was allowed.
        raise InsufficientScope("this API takes client_credentials tokens only", realm=realm, scope=scope)
    return token
