"""The UserInfo endpoint (OIDC Core §5.3): the claims the access token's scope releases about its customer.

GET or POST, the bearer token in the ``Authorization`` header or a form-encoded POST body (RFC 6750 §2.1,
§2.2, :mod:`.bearer`); scope ``openid`` required (403 ``insufficient_scope`` otherwise); a token of a
machine (``client_credentials``) has no customer and gets ``invalid_token``. Never signed: clients register
no ``userinfo_signed_response_alg``.
"""
from __future__ import annotations

from idp.oidc.protocol import bearer
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InsufficientScope, InvalidToken
from idp.oidc.scopes import is_openid, user_claims
from idp.oidc.store import policies

SCOPE = "openid"


def userinfo(provider: Provider, connection, call: Call) -> dict:
    value = bearer.token_value(call.authorization, call.form if call.method == "POST" else None)
    token = bearer.access_token(connection, value, provider.clock.now(), keys=provider.keys,
                                issuer=provider.issuer)
    if not is_openid(token.scope):
        raise InsufficientScope("The access token lacks the 'openid' scope.", scope=SCOPE)
    account = token.account
    if account is None:
        raise InvalidToken("The access token was not issued for a customer.")
    return user_claims(account, token.scope, lambda: policies(connection, account.id))
