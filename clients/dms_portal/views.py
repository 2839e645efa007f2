"""The portal's pages: home, sign in, callback, refresh, sign out. Thin: call ``provider``, render."""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for

from clients.dms_portal import backchannel, csrf, provider
from clients.dms_portal.provider import PortalError
from clients.dms_portal.texts import POLICY_KINDS, POLICY_PRODUCTS, POLICY_STATUSES

log = logging.getLogger(__name__)
bp = Blueprint("portal", __name__)

#: Moscow time (no daylight saving since 2014): the portal's customers read times in it.
MSK = timezone(timedelta(hours=3), "МСК")
#: Claims whose values are seconds since the epoch; the tables show them as dates too.
TIME_CLAIMS = {"iat", "exp", "nbf", "auth_time", "updated_at"}
#: The only prompt values the home page's buttons may ask for.
PROMPTS = {"none", "login"}
_ERROR_CODE = re.compile(r"^[a-z0-9_.]{1,64}$")


def _signins():
    return current_app.extensions["dms_portal"].signins


def _current() -> tuple[str | None, dict | None]:
    key = session.get("signin")
    return key, _signins().get(key)


def error_page(code: str, status: int = 400):
    """The polite page for anything that went wrong; the code is on it, the details are in the log."""
    return render_template("dms_portal/error.html", code=code if _ERROR_CODE.match(code) else "oauth.other",
                           signed_in=_current()[1] is not None), status


def _failed(exc: PortalError):
    log.warning("%s (HTTP %s)", exc, exc.status)
    return error_page(exc.code, exc.status)


@bp.get("/")
def home():
    if "state" in request.args:  # back from the provider's end_session_endpoint
        try:
            provider.finish_logout()
            flash("signout.done", "success")
        except PortalError as exc:
            log.warning("%s", exc)
            flash(exc.code, "warning")
        return redirect(url_for(".home"))
    key, record = _current()
    if record is None:
        if key:
            session.pop("signin", None)
        return render_template("dms_portal/home.html")
    return render_template("dms_portal/profile.html", **_profile(record))


@bp.post("/login")
def login():
    if not csrf.valid():
        return error_page("request.csrf", 400)
    prompt = request.form.get("prompt")
    try:
        return provider.start_sign_in(prompt=prompt if prompt in PROMPTS else None)
    except PortalError as exc:
        return _failed(exc)


@bp.get("/callback")
def callback():
    try:
        record = provider.finish_sign_in()
    except PortalError as exc:
        return _failed(exc)
    old_key = session.get("signin")
    if old_key:
        _signins().remove(old_key)
    # A fresh session at sign-in: nothing from before (an old CSRF token, an old sign-in) survives.
    session.clear()
    session["signin"] = _signins().add(record)
    flash("signin.done", "success")
    return redirect(url_for(".home"))


@bp.post("/refresh")
def refresh():
    if not csrf.valid():
        return error_page("request.csrf", 400)
    key, record = _current()
    if record is None:
        flash("session.none", "warning")
        return redirect(url_for(".home"))
    try:
        record = provider.refresh(record)
    except PortalError as exc:
        log.warning("%s", exc)
        if exc.code == "refresh.invalid_grant":
            # The provider ended this grant (sign-out elsewhere, revocation, expiry): so does the portal.
            _signins().remove(key)
            session.pop("signin", None)
        flash(exc.code, "error")
        return redirect(url_for(".home"))
    _signins().replace(key, record)
    flash("refresh.done", "success")
    return redirect(url_for(".home"))


@bp.post("/logout")
def logout():
    if not csrf.valid():
        return error_page("request.csrf", 400)
    key, record = _current()
    _signins().remove(key)
    session.pop("signin", None)
    if record is None:
        flash("session.none", "warning")
        return redirect(url_for(".home"))
    provider.revoke(record)
    try:
        return provider.logout_redirect(record)
    except PortalError as exc:
        log.warning("%s", exc)
        flash(exc.code, "warning")
        return redirect(url_for(".home"))


@bp.post("/backchannel-logout")
def backchannel_logout():
    """OpenID Connect Back-Channel Logout 1.0: the provider says a session ended; so do its sign-ins here.
    A server-to-server call: no cookie, no CSRF token (the signed logout token is the proof)."""
    portal = current_app.extensions["dms_portal"]
    config = portal.config
    if (request.mimetype or "") != "application/x-www-form-urlencoded":
        return _logout_answer("the body must be application/x-www-form-urlencoded")
    try:
        claims = backchannel.validate(
            request.form.get("logout_token"), jwks=provider.jwks, issuer=config.issuer,
            client_id=config.client_id, now=int(time.time()),
            first_use=lambda jti, seconds: portal.store.add("jti:" + jti, True, seconds))
    except backchannel.LogoutTokenError as exc:
        log.warning("back-channel logout refused: %s", exc)
        return _logout_answer(str(exc))
    except PortalError as exc:  # the provider's JWKS cannot be had: it may try again later
        log.warning("back-channel logout: %s", exc)
        return _logout_answer("the provider's keys cannot be fetched", error="temporarily_unavailable",
                              status=503)
    ended = _signins().end(sid=claims.get("sid"), sub=claims.get("sub"))
    log.info("back-channel logout: %d sign-in(s) ended", ended)
    response = current_app.response_class(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _logout_answer(description: str, *, error: str = "invalid_request", status: int = 400):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


# -- what the signed-in page shows ------------------------------------------------------------------

def _profile(record: dict) -> dict:
    id_claims, userinfo = record["id_claims"], record.get("userinfo") or {}
    merged = {**id_claims, **userinfo}
    name = merged.get("name") or " ".join(filter(None, (merged.get("given_name"), merged.get("family_name"))))
    token = record["token"]
    expires_at = token.get("expires_at")
    return {
        "who": {"name": name or None, "email": merged.get("email"), "phone": merged.get("phone_number"),
                "sub": id_claims.get("sub")},
        "id_rows": _rows(id_claims),
        "userinfo_rows": _rows(userinfo) if record.get("userinfo") is not None else None,
        "userinfo_error": record.get("userinfo_error"),
        "policies": _policies(merged.get("policies")),
        "has_policies_claim": "policies" in merged,
        "scope": token.get("scope"),
        "has_refresh_token": bool(token.get("refresh_token")),
        "expires_at": _when(expires_at) if expires_at else None,
        "expires_in": max(0, int(expires_at - time.time())) if expires_at else None,
        "signed_in_at": _when(record.get("signed_in_at")),
        "refreshed_at": _when(record["refreshed_at"]) if record.get("refreshed_at") else None,
    }


def _when(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), MSK).strftime("%d.%m.%Y %H:%M:%S МСК")


def _rows(claims: dict) -> list[tuple[str, str, str | None]]:
    """(claim, value as text, the value as a date when it is a time claim)."""
    rows = []
    for name in sorted(claims):
        value = claims[name]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        date = _when(value) if name in TIME_CLAIMS and isinstance(value, int | float) else None
        rows.append((name, shown, date))
    return rows


def _policies(value) -> list[dict] | None:
    """The ``policies`` claim as rows for the table; None when absent or not a list of objects."""
    if not isinstance(value, list):
        return None
    rows = []
    for item in value:
        if not isinstance(item, dict):
            continue
        kind, product, status = item.get("kind"), item.get("product"), item.get("status")
        # The dates as the issue names them (start, end) or as the provider sends them (start_date, end_date).
        rows.append({"number": item.get("number"), "kind": POLICY_KINDS.get(kind, kind),
                     "product": POLICY_PRODUCTS.get(product, product),
                     "status": POLICY_STATUSES.get(status, status), "status_code": status,
                     "start": _date(item.get("start_date", item.get("start"))),
                     "end": _date(item.get("end_date", item.get("end")))})
    return rows


def _date(value):
    """``2026-11-25`` → ``25.11.2026``; anything else as sent."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        year, month, day = value.split("-")
        return f"{day}.{month}.{year}"
    return value
