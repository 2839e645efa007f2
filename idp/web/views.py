"""Views: parse the form, call the domain, render or redirect. No business rules here."""
from __future__ import annotations

import math
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from idp.accounts import Account, InvalidLogin, display_phone, parse_login
from idp.audit import Origin, record
from idp.extensions import db
from idp.oidc.backchannel import end_account_grants, queue_logouts, send_now
from idp.passwords import RULES, devices
from idp.passwords.change import change_with_temporary
from idp.passwords.reset import request_temporary_password
from idp.passwords.signin import BLOCKED, CHANGE_REQUIRED, OK, SHED, THROTTLED, authenticate
from idp.sessions import end_session, start_session
from idp.web.context import current_account, current_session, safe_next, services

bp = Blueprint("web", __name__)


def _origin() -> Origin:
    return Origin(ip=request.remote_addr, user_agent=request.user_agent.string[:300] or None)


def _field(name: str, limit: int = 1024) -> str:
    """A form field as text, cut to a sane length (the domain refuses what is too long)."""
    return (request.form.get(name) or "")[:limit]


def _login_page(*, login: str = "", errors: tuple[str, ...] = (), info: str | None = None,
                error_params: dict | None = None, status: int = 200, ticket: str | None = None):
    return render_template("web/login.html", login=login, errors=errors, info=info,
                           error_params=error_params or {}, ticket=ticket), status


def _remember_next() -> None:
    target = safe_next(request.values.get("next"))
    if target:
        session["next"] = target


@bp.get("/")
def index():
    return redirect(url_for("web.account" if current_account() else "web.login"))


@bp.get("/login")
def login():
    _remember_next()
    if current_account() is not None and not request.args.get("prompt") == "login":
        return redirect(session.pop("next", None) or url_for("web.account"))
    prefill = request.args.get("login_hint") or session.pop("login_prefill", "")
    return _login_page(login=prefill[:254])


@bp.post("/login")
def login_submit():
    _remember_next()
    raw_login, password = _field("login", 300), _field("password")
    if request.form.get("action") == "forgot":
        return _forgot(raw_login)
    if not raw_login.strip() or not password:
        return _login_page(login=raw_login, errors=tuple(
            code for code, missing in (("login.required", not raw_login.strip()),
                                       ("password.required", not password)) if missing))
    svc = services()
    result = authenticate(raw_login, password, svc, _origin(),
                          device=request.cookies.get(devices.cookie_name(svc.settings.production)),
                          ticket=request.form.get("ticket"))
    if result.outcome == SHED:
        # The same page for a login that exists and one that does not; the ticket lets the next try through.
        page, status = _login_page(login=raw_login, errors=("signin.busy",), ticket=result.ticket,
                                   error_params={"seconds": result.retry_after}, status=429)
        return page, status, {"Retry-After": str(result.retry_after)}
    if result.outcome == THROTTLED:
        page, status = _login_page(login=raw_login,
                                   errors=("signin.login_ceiling" if result.login_ceiling else "signin.throttled",),
                                   error_params={"minutes": max(1, math.ceil(result.retry_after / 60))}, status=429)
        return page, status, {"Retry-After": str(result.retry_after)}
    if result.outcome == OK:
        response = _signed_in(result.account)
        # HttpOnly, a year, Lax (it must come with the form's POST; it is never needed cross-site).
        response.set_cookie(devices.cookie_name(svc.settings.production), result.device,
                            max_age=devices.DEVICE_MAX_AGE, path="/", secure=svc.settings.production,
                            httponly=True, samesite="Lax")
        return response
    if result.outcome == BLOCKED:  # only after the right password: nobody else learns it is blocked
        return _login_page(login=raw_login, errors=("signin.blocked",), status=403)
    if result.outcome == CHANGE_REQUIRED:
        session.pop("sid", None)
        session["pw_change"] = result.account.id
        # The login the customer typed (their phone, say) is the one shown and pre-filled afterwards.
        session["pw_change_via"] = "email" if parse_login(raw_login).is_email else "phone"
        return redirect(url_for("web.change_password"))
    return _login_page(login=raw_login, errors=("signin.invalid",))


def _signed_in(account: Account):
    svc = services()
    next_url = session.get("next")
    lang = session.get("lang")
    session.clear()  # a fresh session at sign-in: nothing from before survives
    session["sid"] = start_session(account, now=svc.clock.now(), lifetime=svc.settings.session_lifetime)
    if lang:
        session["lang"] = lang
    return redirect(next_url or url_for("web.account"))


def _forgot(raw_login: str):
    if not raw_login.strip():
        return _login_page(errors=("login.required_for_reset",))
    try:
        result = request_temporary_password(raw_login, services(), _origin())
    except InvalidLogin:
        return _login_page(login=raw_login, errors=("login.invalid",))
    if result.login_ceiling:
        return _login_page(login=raw_login, errors=("reset.login_ceiling",), status=429)
    if not result.delivered:
        # The message is queued and will be retried; the customer is told it may take a while.
        return _login_page(login=raw_login, errors=("reset.delayed",))
    info = "reset.sent_email" if result.login.is_email else "reset.sent_phone"
    return _login_page(login=raw_login, info=info)


@bp.route("/password/change", methods=["GET", "POST"])
def change_password():
    account_id = session.get("pw_change")
    account = db.session.get(Account, account_id) if isinstance(account_id, int) else None
    if account is None or not account.active:
        return redirect(url_for("web.login"))
    errors: list[str] = []
    if request.method == "POST":
        errors = change_with_temporary(account, _field("temporary"), _field("new"), _field("confirm"), services(),
                                       _origin(), revoke_tokens=partial(end_account_grants, services(),
                                                                        via="password_change"))
        if not errors:
            session.pop("pw_change", None)
            session["login_prefill"] = _login_of(account, session.pop("pw_change_via", None))
            flash("password.changed", "success")
            return redirect(url_for("web.login"))
    return render_template("web/change_password.html", errors=errors, rules=RULES,
                           login=_login_of(account, session.get("pw_change_via")))


def _login_of(account: Account, via: str | None) -> str:
    """The account's login of the kind the customer signed in with (else its e-mail, else its phone)."""
    if via == "phone" and account.phone:
        return display_phone(account.phone)
    return account.email or display_phone(account.phone or "")


@bp.get("/account")
def account():
    acct = current_account()
    if acct is None:
        return redirect(url_for("web.login", next=url_for("web.account")))
    return render_template("web/account.html", account=acct,
                           phone=display_phone(acct.phone) if acct.phone else None)


@bp.post("/logout")
def logout():
    row = current_session()
    now = services().clock.now()
    if row is not None:
        record("signout", at=now, origin=_origin(), account_id=row.account_id)
    logouts = queue_logouts(services(), end_session(session.get("sid"), now=now), now=now, via="signout")
    db.session.commit()
    send_now(services(), logouts)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash("signout.done", "info")
    return redirect(url_for("web.login"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code not in ("ru", "en"):
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("web.login"))
