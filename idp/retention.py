"""Removing what has expired: authorization codes, tokens, temporary passwords and browser sessions.

Nothing here is needed once it has expired, except briefly as evidence: a spent code presented again must
still revoke what it gave (RFC 6749 §4.1.2) and a spent refresh token must still revoke its family, so a
row goes only ``grace`` after the last moment it could have been used. Accounts, clients, consents, policies,
deliveries and the audit trail are kept. Run ``idp purge`` daily (cron, a systemd timer, a Kubernetes
CronJob); it is safe on several instances at once and while they serve.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func

from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken
from idp.passwords.models import TemporaryPassword
from idp.sessions.models import BrowserSession

#: How long past its expiry a row is kept as evidence against replay.
DEFAULT_GRACE = timedelta(days=1)


def purge_expired(now: datetime, grace: timedelta = DEFAULT_GRACE) -> dict[str, int]:
    """Delete every row that expired before ``now - grace``; the counts by kind. One transaction."""
    cutoff = now - grace
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
            delete(BrowserSession).where((BrowserSession.expires_at < cutoff)
                                         | (BrowserSession.ended_at < cutoff))).rowcount,
    }
    db.session.commit()
    return removed
