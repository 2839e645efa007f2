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
                                  expires_at=now + timedelta(seconds=lifetime)))
    db.session.commit()
    return token


def find_session(token: str | None, *, now: datetime) -> BrowserSession | None:
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    row = db.session.execute(select(BrowserSession).where(BrowserSession.token_hash == _hash(token))
                             ).scalar_one_or_none()
    return row if row is not None and row.live(now) else None


def end_session(token: str | None, *, now: datetime) -> None:
    if not token or not isinstance(token, str):
        return
    db.session.execute(update(BrowserSession).where(BrowserSession.token_hash == _hash(token),
                                                    BrowserSession.ended_at.is_(None)).values(ended_at=now))
    db.session.commit()
