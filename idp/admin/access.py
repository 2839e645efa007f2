"""Who may use the admin web area: a signed-in account with the admin role, checked on every request."""
from __future__ import annotations

from flask import g, redirect, request, url_for

from idp.accounts import Account
from idp.errors import IdpError
from idp.web.context import current_account, safe_next


class AdminOnly(IdpError):
    """Signed in, but the account is not an admin (``idp accounts grant-admin LOGIN`` makes one)."""

    code = "admin.forbidden"
    status = 403


def require_admin():
    """A ``before_request`` hook: redirect to sign-in, refuse non-admins, or remember the admin in ``g``."""
    account = current_account()
    if account is None:
        # Come back here after sign-in; a form post goes back to the list instead of repeating itself.
        here = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None
        return redirect(url_for("web.login", next=here or url_for("admin.clients")))
    if not account.is_admin:
        raise AdminOnly()
    g.admin = account
    return None


def current_admin() -> Account:
    return g.admin
