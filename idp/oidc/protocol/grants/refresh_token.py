"""The refresh token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).

Every use returns a new refresh token and spends the presented one, in the transaction that stores its
successor (a conditional UPDATE: of two concurrent uses exactly one wins). A spent refresh token presented
again — or the loser of such a race — revokes its whole family and is recorded as ``token.reuse``.
The scope may be narrowed, never widened (§6: ``invalid_scope``). A customer who may no longer receive
tokens (disabled, or made to change their password) gets ``invalid_grant``.
"""
from __future__ import annotations

import logging

from idp.audit import event_values
from idp.oidc import store
from idp.oidc.backchannel import end_session_by_sid
from idp.oidc.protocol import client_auth, issuing
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InvalidGrant, InvalidRequest, InvalidScope
from idp.oidc.scopes import scope_list
from idp.oidc.store import LostRace, records
from idp.oidc.tokens import REFRESH, IssuedToken, hash_of

log = logging.getLogger(__name__)

GRANT_TYPE = "refresh_token"
METHODS = client_auth.TOKEN_METHODS


def exchange(provider: Provider, connection, call: Call) -> dict:
    form = call.form
    presented = client_auth.credentials(call.authorization, form)
    value = form.get("refresh_token")
    client, row = records.client_with_token(connection, presented.client_id, hash_of(value), refresh=True)
    client = client_auth.for_grant(connection, client, presented, grant_type=GRANT_TYPE, methods=METHODS,
                                   keys=provider.settings.secret_keys, log_extra=call.log)
    if not value:
        raise InvalidRequest("Missing 'refresh_token' in request.")
    now = provider.clock.now()
    previous = IssuedToken(row, REFRESH, now) if row is not None else None
    if previous is None or not previous.belongs_to(client):
        raise InvalidGrant("Invalid 'refresh_token' in request.")
    if row.refresh_used_at is not None:
        raise reused(provider, connection, call, client, row)
    if previous.is_expired() or previous.is_revoked():
        raise InvalidGrant("Invalid 'refresh_token' in request.")
    scope = form.get("scope")
    if scope and not set(scope_list(scope)) <= set(scope_list(row.scope)):
        raise InvalidScope("The requested scope exceeds the scope granted.")
    account = row.account
    if not issuing.may_receive_tokens(account):
        raise InvalidGrant("The account cannot receive tokens.")
    issued = issuing.tokens_for(provider, connection, client=client, account=account, grant_type=GRANT_TYPE,
                                scope=scope or row.scope, origin=call.origin, now=now, previous=row,
                                resource=call.form.get("resource"))
    try:
        return issuing.commit(connection, issued, spend=store.spend_refresh(row.id, now), log_extra=call.log)
    except LostRace:  # a concurrent use won, or the family was revoked meanwhile
        raise reused(provider, connection, call, client, row) from None


def reused(provider: Provider, connection, call: Call, client, row) -> InvalidGrant:
    """A spent refresh token presented again: its family revoked, the alarm recorded; the error to raise."""
    now = provider.clock.now()
    event = event_values("token.reuse", at=now, origin=call.origin, account_id=row.account_id,
                         client_id=client.client_id, kind="refresh_token")
    revoked = issuing.alarm(connection, store.revoke_grant(row, now), event, log_extra=call.log)
    log.warning("refresh token reused by client %s: family revoked (%d grant(s))", client.client_id,
                        revoked, extra=call.log)
    # The session the stolen family came from ends too; its relying parties are told (Back-Channel Logout).
    told = end_session_by_sid(connection, sid=row.sid, settings=provider.settings, key_store=provider.keys,
                              now=now, log_extra=call.log)
    if told:
        log.warning("provider session of the reused refresh token ended: %d logout token(s) queued", told,
                    extra=call.log)
    return InvalidGrant("The refresh token was already used.")
