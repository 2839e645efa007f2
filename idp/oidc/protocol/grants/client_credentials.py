"""The client credentials grant (RFC 6749 §4.4): a confidential client asks for a token for itself.

The scope is what was asked (or else everything the client may have) minus customer scopes
(:func:`idp.oidc.scopes.machine_scope`); asking only for scopes the client may not have is
``invalid_scope``, not an empty token. Never a refresh token (§4.4.3).
"""
from __future__ import annotations

from idp.oidc.protocol import client_auth, issuing
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InvalidScope
from idp.oidc.scopes import machine_scope
from idp.oidc.store import records

GRANT_TYPE = "client_credentials"
#: Public clients cannot keep a secret, so they cannot use this grant (RFC 6749 §4.4).
METHODS = (client_auth.BASIC, client_auth.POST)


def exchange(provider: Provider, connection, call: Call) -> dict:
    presented = client_auth.credentials(call.authorization, call.form)
    client = client_auth.for_grant(connection, records.client(connection, presented.client_id), presented,
                                   grant_type=GRANT_TYPE, methods=METHODS, keys=provider.settings.secret_keys,
                                   log_extra=call.log)
    scope = call.form.get("scope")
    if scope and not machine_scope(client.scopes, scope):
        raise InvalidScope("None of the requested scopes is allowed for this client.")
    issued = issuing.tokens_for(provider, connection, client=client, account=None, grant_type=GRANT_TYPE,
                                scope=scope, origin=call.origin, now=provider.clock.now(),
                                resource=call.form.get("resource"))
    return issuing.commit(connection, issued, log_extra=call.log)
