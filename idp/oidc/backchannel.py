"""OpenID Connect Back-Channel Logout 1.0: when a provider session ends, every relying party that got a code
in it (and registered a ``backchannel_logout_uri``) is sent a logout token through the outbox.

The logout token (§2.4) is a JWT signed like ID tokens (RS256, the current key's ``kid``), ``typ``
``logout+jwt``, with ``iss aud iat exp jti events sid sub`` and never a ``nonce``. It is POSTed as the form
field ``logout_token`` (§2.5) by the outbox's HTTP channel (:mod:`idp.delivery.transports.http_post`),
sealed at rest like every payload, retried on a 5xx or a timeout, dead at once on a 4xx.

:func:`queue_logouts` is the one place that turns ended sessions into queued logout tokens; every way a
session ends calls it in the transaction that ends it (sign-out, RP-initiated logout, an operator's block
or sign-out everywhere).
"""
from __future__ import annotations

import secrets
from datetime import datetime

from joserfc import jwt
from sqlalchemy import select

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.delivery import HTTP, Delivery, dispatch_inline, enqueue
from idp.extensions import db
from idp.keys import ALG, KeyRecord
from idp.oidc.models import unix
from idp.sessions import BrowserSession, BrowserSessionClient, EndedSession

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
#: The outbox purpose (``deliveries.template``) of a logout token.
PURPOSE = "backchannel_logout"
#: A logout token is good this long after it is made (§2.4 recommends a short lifetime). Retries after an
#: outage post the token made when the session ended, so the receiver's leeway must cover its own clock only.
TTL = 300


def build_logout_token(*, issuer: str, audience: str, subject: str | None, sid: str | None, now: datetime,
                       key: KeyRecord, ttl: int = TTL) -> str:
    claims: dict = {"iss": issuer, "aud": audience, "iat": unix(now), "exp": unix(now) + ttl,
                    "jti": secrets.token_urlsafe(16), "events": {EVENT: {}}}
    if sid:
        claims["sid"] = sid
    if subject:
        claims["sub"] = subject
    return jwt.encode({"alg": ALG, "kid": key.kid, "typ": TYP}, claims, key.private_key, algorithms=[ALG])


def receivers(session_ids: list[int]):
    """(session id, sid, subject, client_id, logout URI, session required) of every client with a back-channel
    logout URI that got a code in one of the sessions ``session_ids``."""
    return (select(BrowserSession.id, BrowserSession.sid, Account.subject, OAuthClient.client_id,
                   OAuthClient.backchannel_logout_uri, OAuthClient.backchannel_logout_session_required)
            .select_from(BrowserSessionClient)
            .join(BrowserSession, BrowserSession.id == BrowserSessionClient.browser_session_id)
            .join(Account, Account.id == BrowserSession.account_id)
            .join(OAuthClient, OAuthClient.id == BrowserSessionClient.client_pk)
            .where(BrowserSessionClient.browser_session_id.in_(session_ids),
                   OAuthClient.backchannel_logout_uri.isnot(None), OAuthClient.disabled_at.is_(None))
            .order_by(BrowserSession.id, OAuthClient.client_id))


def queue_logouts(services, ended: list[EndedSession], *, now: datetime) -> list[Delivery]:
    """A logout token queued (in the caller's transaction) for every relying party of every session in
    ``ended``, signed with the provider's current key (``services.keys``). Returns the outbox rows, for
    :func:`send_now` once committed."""
    if not ended:
        return []
    key = None
    accounts = {session.id: session.account_id for session in ended}
    rows = []
    for session_id, sid, subject, client_id, uri, _required in db.session.execute(receivers(list(accounts))):
        key = key or services.keys.signing_key()
        token = build_logout_token(issuer=services.settings.issuer, audience=client_id, subject=subject, sid=sid,
                                   now=now, key=key)
        rows.append(enqueue(services, PURPOSE, channel=HTTP, recipient=client_id,
                            account_id=accounts[session_id],
                            params={"url": uri, "form": {"logout_token": token}}))
    return rows


def send_now(services, rows: list[Delivery]) -> None:
    """After the commit: in ``inline`` delivery mode, post the logout tokens at once (else the worker does)."""
    if rows:
        dispatch_inline(services, rows)
