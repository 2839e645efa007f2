"""The protocol's pages: the authorization endpoint, consent, RP-initiated logout, and the customer's
connected applications. (The endpoints machines call are the protocol API's, :mod:`idp.oidc.protocol`.)

Views are thin: Authlib answers, the view owns the transaction. The authorization endpoint and logout may
be reached by a relying party's POST and are exempt from the CSRF check of the hosted forms; the
customer's own forms (consent, logout confirmation, withdrawing consent) are not.
"""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import ValidationError, validate_csrf

from idp.audit import Origin, record
from idp.clients import find_client
from idp.extensions import csrf, db
from idp.oidc import authorize as authorize_flow
from idp.oidc.consent import list_consents, revoke_consent
from idp.web.context import current_account

bp = Blueprint("oidc", __name__)


def _server():
    return current_app.extensions["idp.oidc"]


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@csrf.exempt
def authorize():
    return authorize_flow.handle(_server())


@bp.post("/oauth/consent")
def consent():
    decision = request.form.get("decision")
    if decision not in ("allow", "deny"):
        return authorize_flow.error_page("oauth.invalid_request")
    return authorize_flow.handle(_server(), decision=decision)


@bp.route("/oauth/logout", methods=["GET", "POST"])
@csrf.exempt  # a relying party may POST here; our own confirmation form is checked below
def logout():
    server = _server()
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error:
        return authorize_flow.error_page("oauth.logout_invalid")
    if request.values.get("post_logout_redirect_uri") and end_request.redirect_uri is None:
        return authorize_flow.error_page("oauth.post_logout_redirect_uri_mismatch")
    account = current_account()
    hinted = end_request.id_token_claims
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes" and _csrf_ok()
    if account is not None and not confirmed and (hinted is None or hinted.get("sub") != account.subject):
        # No proof the client speaks for this customer: ask before signing out (RP-Initiated Logout §6).
        params = [(k, v) for k, v in request.values.items(multi=True) if k not in ("csrf_token", "confirm")]
        return render_template("oidc/logout.html", client=end_request.client, params=params)
    response = server.create_endpoint_response("end_session", end_request)
    if response is not None:
        return response
    flash("signout.done", "info")
    return redirect(url_for("web.login"))


def _csrf_ok() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


@bp.get("/account/apps")
def apps():
    account = current_account()
    if account is None:
        return redirect(url_for("web.login", next=url_for("oidc.apps")))
    return render_template("oidc/apps.html", consents=list_consents(account.id))


@bp.post("/account/apps/revoke")
def revoke_app():
    account = current_account()
    if account is None:
        return redirect(url_for("web.login", next=url_for("oidc.apps")))
    client = find_client(request.form.get("client_id"))
    now = current_app.extensions["idp"].clock.now()
    if client is not None and revoke_consent(account.id, client.id, now=now):
        record("token.revoked", at=now, origin=Origin(request.remote_addr, request.user_agent.string[:300] or None),
               account_id=account.id, client_id=client.client_id, via="consent_withdrawn")
        db.session.commit()
        flash("apps.revoked", "success")
    return redirect(url_for("oidc.apps"))
