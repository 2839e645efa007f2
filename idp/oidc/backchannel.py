"""OpenID Connect Back-Channel Logout 1.0: when a provider session ends, every relying party that got a code
in it (and registered a ``backchannel_logout_uri``) is sent a logout token through the outbox.

The logout token (§2.4) is a JWT signed like ID tokens (RS256, the current key's ``kid``), ``typ``
``logout+jwt``, with ``iss aud iat exp jti events sid sub`` and never a ``nonce``. It is POSTed as the form
field ``logout_token`` (§2.5) by the outbox's HTTP channel (:mod:`idp.delivery.transports.http_post`),
sealed at rest like every payload, retried on a 5xx or a timeout, dead at once on a 4xx.

Which relying parties had a session is remembered when a code is issued in it
(:func:`idp.sessions.remember_client`); a session's ``sid`` is random, never its row id.

:func:`queue_logouts` is the one place that turns ended sessions into queued logout tokens; every way a
session ends calls it in the transaction that ends it (sign-out, RP-initiated logout, an operator's block
or sign-out everywhere, a password change through :func:`end_account_grants`); a reused refresh token ends its session through :func:`end_session_by_sid`, the
protocol API's way of writing the same rows.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from joserfc import jwt
from sqlalchemy import bindparam, insert, select, update

from idp.accounts import Account
from idp.audit import event_values, publish, record
from idp.clients import OAuthClient
from idp.delivery import HTTP, Delivery, dispatch_inline, enqueue
from idp.delivery.dispatcher import retry_window
from idp.delivery.outbox import row_values
from idp.extensions import db
from idp.keys import ALG, KeyRecord
from idp.oidc.models import unix
from idp.oidc.store import LostRace, insert_event
from idp.oidc.store.statements import Statement
from idp.oidc.tokens import revoke_for_account
from idp.sessions import BrowserSession, BrowserSessionClient, EndedSession

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
#: The audit event of each logout token queued.
AUDIT_EVENT = "session.logout_queued"
#: The outbox purpose (``deliveries.template``) of a logout token.
PURPOSE = "backchannel_logout"
#: A logout token is good this long after its last attempt could be made: short (§2.4), but every retry of
#: the outbox posts the token made when the session ended, so its ``exp`` is this much past the retry window
#: (:func:`idp.delivery.dispatcher.retry_window`; 5 minutes + 15.5 with the default 6 attempts and 30 s).
TTL = 300


def token_ttl(settings) -> int:
    """Seconds from ``iat`` to ``exp`` of a logout token: :data:`TTL` after the outbox's last retry."""
    return TTL + int(retry_window(settings).total_seconds())


def build_logout_token(*, issuer: str, audience: str, subject: str | None, sid: str | None, now: datetime,
                       key: KeyRecord, ttl: int = TTL) -> str:
    claims: dict = {"iss": issuer, "aud": audience, "iat": unix(now), "exp": unix(now) + ttl,
                    "jti": secrets.token_urlsafe(16), "events": {EVENT: {}}}
    if sid:
        claims["sid"] = sid
    if subject:
        claims["sub"] = subject
    return jwt.encode({"alg": ALG, "kid": key.kid, "typ": TYP}, claims, key.private_key, algorithms=[ALG])


def receivers(where):
    """(session id, sid, account id, subject, client_id, logout URI) of every enabled client with a
    back-channel logout URI that got a code in a session matching ``where`` (a condition on
    :class:`BrowserSession`)."""
    return (select(BrowserSession.id, BrowserSession.sid, BrowserSession.account_id, Account.subject,
                   OAuthClient.client_id, OAuthClient.backchannel_logout_uri)
            .select_from(BrowserSessionClient)
            .join(BrowserSession, BrowserSession.id == BrowserSessionClient.browser_session_id)
            .join(Account, Account.id == BrowserSession.account_id)
            .join(OAuthClient, OAuthClient.id == BrowserSessionClient.client_pk)
            .where(where, OAuthClient.backchannel_logout_uri.isnot(None), OAuthClient.disabled_at.is_(None))
            .order_by(BrowserSession.id, OAuthClient.client_id))


def _messages(settings, key: KeyRecord, found, now: datetime) -> list[dict]:
    """The outbox message (``enqueue``'s keyword arguments) of each receiver row of :func:`receivers`."""
    ttl = token_ttl(settings)
    return [{"purpose": PURPOSE, "channel": HTTP, "recipient": client_id, "account_id": account_id,
             "params": {"url": uri, "form": {"logout_token": build_logout_token(
                 issuer=settings.issuer, audience=client_id, subject=subject, sid=sid, now=now, key=key,
                 ttl=ttl)}}}
            for _session_id, sid, account_id, subject, client_id, uri in found]


def queue_logouts(services, ended: list[EndedSession], *, now: datetime, via: str) -> list[Delivery]:
    """A logout token queued (in the caller's transaction) for every relying party of every session in
    ``ended``, signed with the provider's current key (``services.keys``), each recorded as
    ``session.logout_queued`` with ``via`` (why the session ended). Returns the outbox rows, for
    :func:`send_now` once committed."""
    if not ended:
        return []
    found = db.session.execute(receivers(BrowserSession.id.in_([session.id for session in ended]))).all()
    if not found:
        return []
    rows = []
    for message in _messages(services.settings, services.keys.signing_key(), found, now):
        row = enqueue(services, message.pop("purpose"), **message)
        record(AUDIT_EVENT, at=now, account_id=row.account_id, client_id=row.recipient, delivery_id=row.id,
               via=via)
        rows.append(row)
    return rows


def end_account_grants(services, account_id: int, ended: list[EndedSession], *, now: datetime,
                       via: str) -> tuple[int, list[Delivery]]:
    """What the account's ended sessions gave out, ended in the caller's transaction: every token of the account
    revoked and a logout token queued for each relying party of ``ended``. Returns (grants revoked, outbox rows
    for :func:`send_now`) — the form :class:`idp.passwords.change.RevokeTokens` asks for."""
    return revoke_for_account(account_id, now=now), queue_logouts(services, ended, now=now, via=via)


def send_now(services, rows: list[Delivery]) -> None:
    """After the commit: in ``inline`` delivery mode, post the logout tokens at once (else the worker
    does)."""
    if rows:
        dispatch_inline(services, rows)


# -- the protocol API's way (no ORM session): a reused refresh token ends the session it came from -----------

_sessions = BrowserSession.__table__
_END_BY_SID = Statement(update(_sessions)
                        .where(_sessions.c.sid == bindparam("sid"), _sessions.c.ended_at.is_(None))
                        .values(ended_at=bindparam("now")))
_RECEIVERS_BY_SID = Statement(receivers(BrowserSession.sid == bindparam("sid")))
_DELIVERY_FIELDS = ("account_id", "channel", "recipient", "template", "payload", "status", "attempts",
                    "next_attempt_at", "created_at")
_INSERT_DELIVERY = Statement(insert(Delivery.__table__), column_keys=_DELIVERY_FIELDS)


def end_session_by_sid(connection, *, sid: str | None, settings, key_store, now: datetime,
                       log_extra: dict | None = None) -> int:
    """End the provider session ``sid`` (if still live) and queue a logout token for each of its relying
    parties, in one transaction on the protocol API's ``connection``; returns how many were queued. The
    worker (``idp deliveries run``) posts them."""
    if not sid:
        return 0
    found = connection.all(_RECEIVERS_BY_SID, {"sid": sid})
    messages = _messages(settings, key_store.signing_key(), found, now) if found else []
    inserts, events = [], []
    for message in messages:
        values = row_values(settings.secret_keys, message.pop("purpose"), now=now, **message)
        inserts.append((_INSERT_DELIVERY, values))
        events.append(event_values(AUDIT_EVENT, at=now, account_id=message["account_id"],
                                   client_id=message["recipient"], via="refresh_reuse"))
    try:
        connection.transaction([(_END_BY_SID, {"sid": sid, "now": now})],
                               inserts + [insert_event(event) for event in events])
    except LostRace:  # already over: whoever ended it told the relying parties
        return 0
    for event in events:
        publish(event, log_extra=log_extra)
    return len(inserts)
