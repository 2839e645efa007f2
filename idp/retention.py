"""Removing what has expired: authorization codes, tokens, temporary passwords and browser sessions, and
the temporary passwords still sealed in unsent messages (or reset requests) older than their lifetime.

Nothing here is needed once it has expired, except briefly as evidence: a spent code presented again must
still revoke what it gave (RFC 6749 §4.1.2) and a spent refresh token must still revoke its family, so a
row goes only ``grace`` after the last moment it could have been used. Accounts, clients, consents, policies,
deliveries and the audit trail are kept. Run ``idp purge`` daily (cron, a systemd timer, a Kubernetes
CronJob); it is safe on several instances at once and while they serve.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from idp.delivery.models import DEAD, QUEUED, SUPERSEDED, Delivery
from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken
from idp.passwords.models import ResetRequest, TemporaryPassword
from idp.sessions.models import BrowserSession, BrowserSessionClient

#: How long past its expiry a row is kept as evidence against replay.
DEFAULT_GRACE = timedelta(days=1)


def purge_expired(now: datetime, grace: timedelta = DEFAULT_GRACE,
                  temp_password_ttl: timedelta = timedelta(hours=24)) -> dict[str, int]:
    """Delete every row that expired before ``now - grace``; the counts by kind. One transaction.

    A message that carries a temporary password and was not sent within that password's lifetime (a dead
    letter, or one still retrying) is withdrawn and its sealed payload erased at once, no grace: the
    password in it no longer works, and nothing readable should outlive it. Reset requests that waited
    as long (no delivery worker ran) go too.
    """
    cutoff = now - grace
    stale = now - temp_password_ttl
    over = (BrowserSession.expires_at < cutoff) | (BrowserSession.ended_at < cutoff)
    # Which clients had the sessions that go (back-channel logout): removed with them, on SQLite too (whose
    # foreign keys are not enforced, so ON DELETE CASCADE does nothing there).
    db.session.execute(delete(BrowserSessionClient).where(
        BrowserSessionClient.browser_session_id.in_(select(BrowserSession.id).where(over))))
    removed = {
        "authorization_codes": db.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff)).rowcount,
        # A token row lives as long as its longer-lived half (the refresh token, when there is one).
        "tokens": db.session.execute(
            delete(OAuthToken).where(func.coalesce(OAuthToken.refresh_expires_at, OAuthToken.access_expires_at)
                                     < cutoff)).rowcount,
        "temporary_passwords": db.session.execute(
            delete(TemporaryPassword).where(TemporaryPassword.expires_at < cutoff)).rowcount,
        # Ended or past their absolute lifetime (an idle session also ends by its absolute lifetime).
        "sessions": db.session.execute(
            delete(BrowserSession).where(over)).rowcount,
        "expired_messages": db.session.execute(
            update(Delivery).where(Delivery.template == "temporary_password", Delivery.status.in_((QUEUED, DEAD)),
                                   Delivery.created_at <= stale)
            .values(status=SUPERSEDED, payload=None, claimed_until=None,
                    last_error="withdrawn: the temporary password in it has expired")).rowcount,
        "reset_requests": db.session.execute(delete(ResetRequest).where(ResetRequest.created_at < stale)).rowcount,
    }
    db.session.commit()
    return removed
