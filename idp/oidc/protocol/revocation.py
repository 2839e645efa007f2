"""Token revocation (RFC 7009): a client revokes a token issued to it.

Confidential clients authenticate, public clients name themselves (``none``). Revoking a refresh token
revokes its whole grant — the family's access and refresh tokens (§2.1); revoking an access token revokes
that access token. An unknown token is answered 200 all the same (§2.2: the client cannot tell); a token of
another client is ``invalid_grant``. Each revocation is recorded as ``token.revoked``.
"""
from __future__ import annotations

from idp.audit import event_values, publish
from idp.oidc import store
from idp.oidc.protocol import client_auth
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InvalidGrant
from idp.oidc.protocol.introspection import client_and_token
from idp.oidc.tokens import REFRESH


def revocation(provider: Provider, connection, call: Call) -> dict:
    client, token, _ = client_and_token(provider, connection, call, methods=client_auth.REVOCATION_METHODS)
    if token is None:
        return {}
    if not token.belongs_to(client):
        raise InvalidGrant("The token was not issued to this client.")
    now = provider.clock.now()
    row = token.row
    revoke = store.revoke_grant(row, now) if token.kind == REFRESH else store.revoke_access(row, now)
    event = event_values("token.revoked", at=now, origin=call.origin, account_id=row.account_id,
                         client_id=client.client_id, kind=token.kind, via="revocation")
    connection.transaction([], [revoke, store.insert_event(event)])
    publish(event, log_extra=call.log)
    return {}
