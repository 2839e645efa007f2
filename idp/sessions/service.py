"""Starting, finding and ending sign-in sessions. The cookie holds a random token; the row, its hash."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from idp.accounts import Account
from idp.extensions import db
from idp.sessions.models import BrowserSession, BrowserSessionClient


@dataclass(frozen=True)
class EndedSession:
    """A provider session that has just ended: who gets a logout token is looked up by its row id."""

    id: int
    sid: str | None
    account_id: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(account: Account, *, now: datetime, lifetime: int, amr: str = "pwd") -> str:
    """Open a session (committed) and return the token for the cookie; a new token every sign-in."""
    token = secrets.token_urlsafe(32)
    db.session.add(BrowserSession(token_hash=_hash(token), sid=secrets.token_urlsafe(24),
                                  account_id=account.id, auth_time=now, amr=amr, expires_at=now + timedelta(seconds=lifetime),
                                  last_seen_at=now))
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


def end_session(token: str | None, *, now: datetime) -> list[EndedSession]:
    """End the session behind a cookie token (in the caller's transaction); returns it if it was live."""
    if not token or not isinstance(token, str):
        return []
    return _end(BrowserSession.token_hash == _hash(token), now)


def end_all_sessions(account_id: int, *, now: datetime) -> int:
    """End every live session of an account (in the caller's transaction); returns how many."""
    return len(end_account_sessions(account_id, now=now))


def end_account_sessions(account_id: int, *, now: datetime) -> list[EndedSession]:
    """End every live session of an account (in the caller's transaction); returns those ended. The account's
    device epoch moves on with them: no browser is trusted as its device any more (:mod:`idp.passwords.devices`)."""
    db.session.execute(update(Account).where(Account.id == account_id)
                       .values(device_epoch=Account.device_epoch + 1).execution_options(synchronize_session=False))
    return _end(BrowserSession.account_id == account_id, now)


def _end(where, now: datetime) -> list[EndedSession]:
    rows = db.session.execute(update(BrowserSession).where(where, BrowserSession.ended_at.is_(None))
                              .values(ended_at=now)
                              .returning(BrowserSession.id, BrowserSession.sid, BrowserSession.account_id)
                              .execution_options(synchronize_session=False)).all()
    return [EndedSession(row.id, row.sid, row.account_id) for row in rows]


def remember_client(session: BrowserSession, client_pk: int, *, now: datetime) -> None:
    """Note (in the caller's transaction) that a code went to client ``client_pk`` in ``session``: it gets a
    logout token when the session ends. Once per session and client."""
    known = exists().where(BrowserSessionClient.browser_session_id == session.id,
                           BrowserSessionClient.client_pk == client_pk)
    if db.session.execute(select(known)).scalar():
        return
    try:
        with db.session.begin_nested():
            db.session.execute(insert(BrowserSessionClient).values(browser_session_id=session.id,
                                                                   client_pk=client_pk, first_at=now))
    except IntegrityError:  # the same browser asked twice at once: one row is enough
        pass
