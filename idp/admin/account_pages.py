"""The contact centre's pages (``/admin/accounts…``), open to support operators and admins, on the rules of
:mod:`idp.support`:

    /admin/accounts                       find an account: e-mail, phone, policy number or sub; or name + birth date
    /admin/accounts/<sub>                 the account (masked), every look audited (``support.viewed``)
    /admin/accounts/<sub>/<action>        an action with its reason; the form's one-time token makes a double
                                          submit do it once
"""
from __future__ import annotations

import secrets
from datetime import date, datetime

from flask import abort, flash, redirect, render_template, request, url_for

from idp import support
from idp.admin.access import current_admin, for_support
from idp.admin.views import bp
from idp.audit import Origin
from idp.delivery import mask_recipient
from idp.errors import BadRequest
from idp.extensions import db
from idp.web.context import services

#: Accepted writings of a birth date in the search form.
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def _operator() -> support.Operator:
    admin = current_admin()
    origin = Origin(ip=request.remote_addr, user_agent=request.user_agent.string[:300] or None)
    return support.Operator(login=admin.login, via="web", origin=origin, account_id=admin.id)


def _birth_date(text: str) -> date | None:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


@bp.get("/accounts")
@for_support
def accounts():
    """The search form and, once asked, what it found (nothing found is a plain answer)."""
    query = (request.args.get("q") or "").strip()[:300]
    name = (request.args.get("name") or "").strip()[:300]
    birth_text = (request.args.get("birth_date") or "").strip()[:10]
    errors: dict[str, str] = {}
    found = None
    if query or name or birth_text:
        birth = _birth_date(birth_text) if birth_text else None
        if birth_text and birth is None:
            errors["birth_date"] = "admin.accounts.bad_birth_date"
        elif not query and name and birth is None:
            errors["birth_date"] = "support.query.too_broad"
        elif not query and not name:
            errors["q"] = "support.query.empty"
        else:
            try:
                found = support.find_accounts(query or name, birth_date=None if query else birth)
            except support.InvalidQuery as exc:
                errors["q" if query else "name"] = exc.code
    return render_template("admin/accounts.html", query=query, name=name, birth_date=birth_text, errors=errors,
                           found=found, mask=mask_recipient, admin=current_admin()), 400 if errors else 200


@bp.get("/accounts/<sub>")
@for_support
def account(sub: str):
    return _account_page(sub)


@bp.post("/accounts/<sub>/<action>")
@for_support
def account_action(sub: str, action: str):
    if action not in support.ACTIONS:
        abort(404)
    target = support.resolve_account(sub)
    # A textarea wraps and may carry line breaks; the audit keeps the reason as one line.
    reason = (request.form.get("reason") or "")[:2000].replace("\r\n", " ").replace("\n", " ")
    try:
        result = support.perform(services(), _operator(), target, action, reason=reason,
                                 token=request.form.get("token") or None)
    except support.InvalidReason as exc:
        db.session.rollback()
        return _account_page(sub, errors={action: exc.code}, reason=reason[:500], status=400)
    except BadRequest as exc:  # a used or malformed token; an account with no contact to send to
        db.session.rollback()
        flash(f"error.{exc.code}", "error")
    else:
        flash(*_outcome(action, result))
    return redirect(url_for("admin.account", sub=target.subject, _anchor=f"action-{action}"))


def _outcome(action: str, result: support.ActionResult) -> tuple[str, str]:
    """The flash after an action: done, done before (a double submit), or a temporary password the
    customer's limits held back or the failing channel delays."""
    if result.repeated:
        return f"admin.account.{action}.repeated", "info"
    if result.details.get("limited"):
        return f"admin.account.{action}.limited", "error"
    if result.details.get("delivered") is False:
        return f"admin.account.{action}.delayed", "info"
    return f"admin.account.{action}.done", "success"


def _account_page(sub: str, *, errors: dict | None = None, reason: str = "", status: int = 200):
    found = support.resolve_account(sub)
    now = services().clock.now()
    view = support.account_view(services(), found, now)
    support.record_view(_operator(), found, now)
    db.session.commit()
    # A fresh one-time token per rendered form: a double submit of one form carries one token, done once.
    tokens = {action: secrets.token_urlsafe(24) for action in support.ACTIONS}
    return render_template("admin/account.html", view=view, actions=_offered(view), tokens=tokens,
                           errors=errors or {}, reason=reason, admin=current_admin()), status


def _offered(view: dict) -> list[str]:
    """The actions that make sense for the account as it stands (block or unblock, not both)."""
    blocked = view["state"] == "blocked"
    return [a for a in support.ACTIONS
            if not (a == support.BLOCK and blocked) and not (a == support.UNBLOCK and not blocked)]
