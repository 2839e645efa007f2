"""A per-session CSRF token for the portal's three buttons (sign in, refresh, sign out).

Without it another site could sign a visitor out, or start a sign-in they did not ask for.
"""
from __future__ import annotations

import hmac
import secrets

from flask import request, session

FIELD = "csrf_token"


def token() -> str:
    """This session's token, made on first use (templates call it as ``csrf_token()``)."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def valid() -> bool:
    sent, expected = request.form.get(FIELD, ""), session.get(FIELD, "")
    return bool(sent) and bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())
