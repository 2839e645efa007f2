"""Issuing tokens (RFC 6749 §5.1, OIDC Core §3.1.3.3), shared by every grant: the response, the token row,
the ``token.issued`` audit event, and the ID token.

A grant decides *whether* to issue and with what (:mod:`idp.oidc.protocol.grants`); :func:`tokens_for`
makes the response and the writes, and :func:`commit` writes them in one short transaction together with
the grant's spend (a code or refresh token), then counts and logs the audit events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from idp.audit import Origin, event_values, publish
from idp.oidc import access_tokens, store
from idp.oidc.id_token import build_id_token
from idp.oidc.models import token_hash
from idp.oidc.protocol.context import Provider
from idp.oidc.protocol.errors import InvalidTarget
from idp.oidc.scopes import customer_scope, id_token_claims, is_openid, machine_scope, scope_list
from idp.oidc.tokens import new_family, new_value

BEARER = "Bearer"


@dataclass
class Issued:
    """A token response and what must be written for it (``writes``) and published once written."""

    payload: dict
    writes: list = field(default_factory=list)
    events: list = field(default_factory=list)


def may_receive_tokens(account) -> bool:
    """Whether a customer may receive tokens: enabled, and not made to change their password first."""
    return account is not None and account.active and account.password_hash is not None


def tokens_for(provider: Provider, connection, *, client, account, grant_type: str, scope: str | None,
               origin: Origin, now: datetime, code=None, previous=None,
               resource: str | None = None) -> Issued:
    """The tokens ``client`` gets for ``account`` (None: the client itself) by ``grant_type``, from the
    authorization ``code`` or the ``previous`` refresh token row (the sign-in they remember); the access
    token in the client's format, for ``resource`` (RFC 8707) if given, else the resource the code or the
    previous row keeps (:func:`idp.oidc.access_tokens.resource_for`)."""
    settings = provider.settings
    kept = previous.resource if previous is not None else code.resource if code is not None else None
    try:
        resource = access_tokens.resource_for(kept, resource)
        audience = access_tokens.audience(client, resource)
    except access_tokens.InvalidResource as error:
        raise InvalidTarget(str(error)) from None
    if account is None:
        scope = machine_scope(client.scopes, scope)
    else:  # a customer's token carries customer scopes only, never "admin" or "policies:write"
        scope = customer_scope(client.get_allowed_scope(scope))
    signed_in = previous if previous is not None else code  # the sign-in behind the tokens
    policies = _once(lambda: store.policies(connection, account.id))
    handle = new_value()  # the opaque token, or the JWT's jti
    access, stored = handle, token_hash(handle)
    if client.access_token_format == access_tokens.JWT:
        stored = access_tokens.jti_hash(handle)
        access = access_tokens.build(
            issuer=provider.issuer, audience=audience,
            subject=account.subject if account is not None else client.client_id, client_id=client.client_id, scope=scope, jti=handle,
            auth_time=signed_in.auth_time if account is not None and signed_in is not None else None,
            now=now, ttl=settings.access_token_ttl, key=provider.keys.signing_key(),
            extra=id_token_claims(account, scope, policies) if account is not None else None)
    payload = {"token_type": BEARER, "access_token": access, "expires_in": settings.access_token_ttl}
    if scope:
        payload["scope"] = scope
    refresh = (account is not None and "offline_access" in scope_list(scope)
               and client.check_grant_type("refresh_token"))
    if refresh:
        payload["refresh_token"] = new_value()
    issued = Issued(payload)
    issued.writes.append(store.insert_token({
        "access_token_hash": stored,
        "refresh_token_hash": token_hash(payload["refresh_token"]) if refresh else None,
        "client_pk": client.id, "account_id": account.id if account is not None else None,
        "scope": scope, "grant_type": grant_type,
        "family_id": previous.family_id if previous is not None else new_family() if code is not None else None,
        "code_id": previous.code_id if previous is not None else code.id if code is not None else None,
        "issued_at": now, "access_expires_at": now + timedelta(seconds=settings.access_token_ttl),
        "refresh_expires_at": now + timedelta(seconds=settings.refresh_token_ttl) if refresh else None,
        "auth_time": signed_in.auth_time if signed_in is not None else None,
        "amr": signed_in.amr if signed_in is not None else None,
        "sid": signed_in.sid if signed_in is not None else None,
        "resource": resource,
    }))
    event = event_values("token.issued", at=now, origin=origin, client_id=client.client_id,
                         account_id=account.id if account is not None else None, grant_type=grant_type,
                         scope=scope, with_refresh=refresh)
    issued.writes.append(store.insert_event(event))
    issued.events.append(event)
    if account is not None and is_openid(scope):
        payload["id_token"] = build_id_token(
            issuer=provider.issuer, audience=client.client_id, subject=account.subject,
            auth_time=signed_in.auth_time, amr=signed_in.amr, sid=signed_in.sid,
            nonce=code.nonce if code is not None else None,  # never on a refresh (OIDC Core §12.2)
            access_token=access, now=now, ttl=settings.id_token_ttl, key=provider.keys.signing_key(),
            extra=id_token_claims(account, scope, policies))
    return issued


def _once(read):
    """``read`` called at most once, its answer kept (the policies go into the JWT and the ID token)."""
    kept: list = []

    def once():
        if not kept:
            kept.append(read())
        return kept[0]
    return once


def commit(connection, issued: Issued, spend: tuple | None = None, *, log_extra: dict) -> dict:
    """Write ``issued`` (after ``spend``, which must match its row: :class:`~idp.oidc.store.LostRace`
    otherwise, nothing written), publish its events, and return its response."""
    connection.transaction([spend] if spend is not None else [], issued.writes)
    for event in issued.events:
        publish(event, log_extra=log_extra)
    return issued.payload


def alarm(connection, revocation: tuple, event: dict, *, log_extra: dict) -> int:
    """A replayed code or a reused refresh token: revoke what it gave, then record ``event`` with the number
    of rows revoked (``revoked``). Both stand although the request fails. The revocation is committed
    first, on its own: if the event could not be written after it, the tokens are revoked all the same."""
    [revoked] = connection.transaction([], [revocation])
    event["details"] = {**event["details"], "revoked": revoked}
    connection.transaction([], [store.insert_event(event)])
    publish(event, log_extra=log_extra)
    return revoked
