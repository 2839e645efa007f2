"""Per-request helpers for views: the services, the signed-in account, safe redirect targets."""
from __future__ import annotations

import re

from flask import current_app, g, session

from idp.accounts import Account
from idp.extensions import db
from idp.services import Services
from idp.sessions import BrowserSession, find_session

#: A local path only: one leading slash, no scheme or host, no backslash, no control characters.
_SAFE_NEXT = re.compile(r"^/(?![/\\])[^\x00-\x1f\\]*$")


def services() -> Services:
    return current_app.extensions["idp"]


def current_session() -> BrowserSession | None:
    """The live sign-in session of this browser, looked up once per request."""
    if "idp_session" not in g:
        svc = services()
        g.idp_session = find_session(session.get("sid"), now=svc.clock.now(),
                                     idle_timeout=svc.settings.session_idle_timeout)
    return g.idp_session


def current_account() -> Account | None:
    row = current_session()
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    return account if account is not None and account.active else None


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a path on this site (never another host: no open redirects), else None."""
    if value and len(value) <= 4096 and _SAFE_NEXT.match(value):
        return value
    return None
