"""Who may use the admin web area, checked on every request: an ``admin`` opens everything, a ``support``
operator (the contact centre) only the account pages.

A view a support operator may open is marked with :func:`for_support`; everything else (OAuth clients,
policy casework, messages, the audit trail) stays the admin's. The navigation asks :func:`may_open` so it
shows only what the role may open.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import g, redirect, render_template, request, url_for

from idp.accounts import Account
from idp.errors import IdpError
from idp.web.context import current_account, safe_next

ADMIN = "admin"
SUPPORT = "support"

#: Endpoints of the admin blueprint a support operator may open (filled by :func:`for_support`).
_SUPPORT_ENDPOINTS: set[str] = set()


class AdminOnly(IdpError):
    """Signed in, but the account is not an admin (``idp accounts grant-admin LOGIN`` makes one)."""

    code = "admin.forbidden"
    status = 403


def role_of(account: Account) -> str | None:
    """``admin``, ``support`` or None (a customer); an admin is everything a support operator is."""
    if account.is_admin:
        return ADMIN
    if account.is_support:
        return SUPPORT
    return None


def for_support(view: Callable) -> Callable:
    """Mark a view of the admin blueprint as open to support operators too."""
    _SUPPORT_ENDPOINTS.add(f"admin.{view.__name__}")
    return view


def may_open(account: Account, endpoint: str) -> bool:
    role = role_of(account)
    return role == ADMIN or (role == SUPPORT and endpoint in _SUPPORT_ENDPOINTS)


def require_admin():
    """A ``before_request`` hook: redirect to sign-in, refuse customers and support operators outside their
    pages, or remember the operator in ``g``."""
    account = current_account()
    if account is None:
        # Come back here after sign-in; a form post goes back to the list instead of repeating itself.
        here = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None
        return redirect(url_for("web.login", next=here or url_for("admin.clients")))
    role = role_of(account)
    if role is None:
        raise AdminOnly()
    g.admin = account
    if may_open(account, request.endpoint or ""):
        return None
    if request.endpoint == "admin.clients" and request.method == "GET":
        # The area's front door: a support operator's work starts at the account search.
        return redirect(url_for("admin.accounts"))
    # A page of the admin's, shown inside the area so the operator sees where they may go instead.
    return render_template("admin/forbidden.html", admin=account), 403


def current_admin() -> Account:
    """The signed-in operator (an admin or a support operator)."""
    return g.admin
