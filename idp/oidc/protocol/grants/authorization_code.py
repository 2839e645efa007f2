"""The authorization code grant's token request (RFC 6749 §4.1.3, OIDC Core §3.1.3): a code exchanged
once, by the client it was issued to, at the redirect URI it was issued for, with its PKCE verifier
(:mod:`idp.oidc.pkce`).

The code is spent in the transaction that stores the tokens (a conditional UPDATE: of two concurrent
exchanges exactly one wins). A code presented again — or the loser of such a race — revokes every
token it gave (§4.1.2) and is recorded as ``token.reuse``. An error leaves the code unspent.
"""
from __future__ import annotations

import logging

from idp.audit import event_values
from idp.oidc import pkce, store
from idp.oidc.protocol import client_auth, issuing
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InvalidGrant, InvalidRequest, for_pkce
from idp.oidc.store import LostRace, records
from idp.oidc.tokens import hash_of

log = logging.getLogger(__name__)

GRANT_TYPE = "authorization_code"
METHODS = client_auth.TOKEN_METHODS


def exchange(provider: Provider, connection, call: Call) -> dict:
    form = call.form
    presented = client_auth.credentials(call.authorization, form)
    value = form.get("code")
    client, code = records.client_with_code(connection, presented.client_id, hash_of(value))
    client = client_auth.for_grant(connection, client, presented, grant_type=GRANT_TYPE, methods=METHODS,
                                   keys=provider.settings.secret_keys, log_extra=call.log)
    if not value:
        raise InvalidRequest("Missing 'code' in request.")
    now = provider.clock.now()
    if code is None or code.client_pk != client.id:
        raise InvalidGrant("Invalid 'code' in request.")
    if code.used_at is not None:
        raise replayed(provider, connection, call, client, code)
    if code.expires_at <= now:
        raise InvalidGrant("Invalid 'code' in request.")
    if code.redirect_uri and form.get("redirect_uri") != code.redirect_uri:
        raise InvalidGrant("Invalid 'redirect_uri' in request.")
    account = code.account
    if not issuing.may_receive_tokens(account):
        raise InvalidGrant("The account cannot receive tokens.")
    problem = pkce.verifier_problem(form.get("code_verifier"), code.code_challenge, required=client.requires_pkce)
    if problem is not None:
        raise for_pkce(problem)
    issued = issuing.tokens_for(provider, connection, client=client, account=account, grant_type=GRANT_TYPE,
                                scope=code.scope, origin=call.origin, now=now, code=code,
                                resource=call.form.get("resource"))
    try:
        return issuing.commit(connection, issued, spend=store.spend_code(code.id, now), log_extra=call.log)
    except LostRace:  # a concurrent exchange of the same code won
        raise replayed(provider, connection, call, client, code) from None


def replayed(provider: Provider, connection, call: Call, client, code) -> InvalidGrant:
    """A spent code presented again: the tokens it gave revoked, the alarm recorded; the error to raise."""
    now = provider.clock.now()
    event = event_values("token.reuse", at=now, origin=call.origin, account_id=code.account_id,
                         client_id=client.client_id, kind="authorization_code")
    revoked = issuing.alarm(connection, store.revoke_from_code(code.id, now), event, log_extra=call.log)
    log.warning("authorization code replayed by client %s: %d token grant(s) revoked", client.client_id, revoked,
                extra=call.log)
    return InvalidGrant("Invalid 'code' in request.")
