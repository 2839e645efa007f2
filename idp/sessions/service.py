"""Starting, finding and ending sign-in sessions. The cookie holds a random token; the row, its hash."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from idp.accounts import Account
from idp.extensions import db
from idp.sessions.models import BrowserSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(account: Account, *, now: datetime, lifetime: int, amr: str = "pwd") -> str:
    """Open a session (committed) and return the token for the cookie; a new token every sign-in."""
    token = secrets.token_urlsafe(32)
    db.session.add(BrowserSession(token_hash=_hash(token), account_id=account.id, auth_time=now, amr=amr,
                                  expires_at=now + timedelta(seconds=lifetime), last_seen_at=now))
    db.session.commit()
    return token


#: Activity is written back at most this often, so a busy customer does not cost a write per request.
_TOUCH_EVERY = timedelta(minutes=1)


def find_session(token: str | None, *, now: datetime, idle_timeout: int) -> BrowserSession | None:
    """The live session behind a cookie token, marked as seen now; None if unknown, ended, expired or idle."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    row = db.session.execute(select(BrowserSession).where(BrowserSession.token_hash == _hash(token))
                             ).scalar_one_or_none()
    if row is None or not row.live(now, timedelta(seconds=idle_timeout)):
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return row


def end_session(token: str | None, *, now: datetime) -> None:
    if not token or not isinstance(token, str):
        return
    db.session.execute(update(BrowserSession).where(BrowserSession.token_hash == _hash(token),
                                                    BrowserSession.ended_at.is_(None)).values(ended_at=now))
    db.session.commit()


def end_all_sessions(account_id: int, *, now: datetime) -> int:
    """End every live session of an account (in the caller's transaction); returns how many."""
    return db.session.execute(update(BrowserSession).where(BrowserSession.account_id == account_id,
                                                           BrowserSession.ended_at.is_(None))
                              .values(ended_at=now)).rowcount
