"""The provider's protocol endpoints and its two customer pages (consent, connected applications).

Views are thin: Authlib answers, the view owns the transaction (commit on success, roll back
otherwise). Machine-to-machine endpoints are exempt from the CSRF check of the hosted forms; the
customer's own forms (consent, logout confirmation, withdrawing consent) are not.
"""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import ValidationError, validate_csrf

from idp.audit import Origin, record
from idp.clients import find_client
from idp.extensions import csrf, db
from idp.keys import JWKS_MAX_AGE
from idp.oidc import authorize as authorize_flow
from idp.oidc import direct, fastpath, sql, tokens
from idp.oidc.consent import list_consents, revoke_consent
from idp.oidc.discovery import provider_metadata
from idp.web.context import current_account

bp = Blueprint("oidc", __name__)


def _server():
    return current_app.extensions["idp.oidc"]


def _finish(response):
    """Commit what the endpoint wrote if it succeeded; forget it otherwise."""
    if response is not None and 200 <= response.status_code < 300:
        db.session.commit()
    else:
        db.session.rollback()
    return response


def _json(body: bytes, *, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # public documents, read by browser clients too
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    cached = current_app.extensions.get("idp.oidc.discovery")
    if cached is None:
        import json

        cached = json.dumps(provider_metadata(current_app.extensions["idp"].settings.issuer)).encode("utf-8")
        current_app.extensions["idp.oidc.discovery"] = cached
    return _json(cached, max_age=3600)


@bp.get("/.well-known/jwks.json")
def jwks():
    # Short cache: after a rotation relying parties should see the new key within minutes.
    return _json(current_app.extensions["idp.keys"].jwks_json(), max_age=JWKS_MAX_AGE)


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


@bp.post("/oauth/token")
@csrf.exempt
def token():
    """The token endpoint. Its writes (the new tokens, the spent code or refresh token) are made together
    right before the commit (:func:`idp.oidc.tokens.deferred_writes`); on PostgreSQL its lookups and
    those writes share a connection of their own and few round trips (:func:`idp.oidc.sql.reads_apart`)."""
    server = _server()
    environ = request.environ
    with tokens.deferred_writes(), sql.reads_apart():
        try:
            if fastpath.WRITES_FAILED in environ:  # the fast path's writes raised: raised here, as ours would
                raise environ[fastpath.WRITES_FAILED]
            # The grants' common cases without Authlib's request machinery (unless the WSGI-level fast path
            # looked at the request already); anything else is Authlib's.
            response = direct.token(server) if fastpath.DECLINED not in environ else None
            if response is None:
                response = server.create_token_response()
            if response is not None and 200 <= response.status_code < 300:
                with sql.writing():
                    tokens.run_deferred()
                    if sql.session_began():
                        db.session.commit()
                tokens.committed()
                return response
        except OAuth2Error as error:
            response = server.handle_error_response(None, error)
        return _finish(response)


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return _read_only_endpoint("userinfo", direct.userinfo)


@bp.post("/oauth/revoke")
@csrf.exempt
def revoke():
    return _endpoint("revocation")


@bp.post("/oauth/introspect")
@csrf.exempt
def introspect():
    return _read_only_endpoint("introspection", direct.introspection)


def _endpoint(name: str):
    server = _server()
    try:
        return _finish(server.create_endpoint_response(name))
    except OAuth2Error as error:
        return _finish(server.handle_error_response(None, error))


def _read_only_endpoint(name: str, answer_directly):
    """An endpoint that writes nothing (UserInfo, introspection): its lookups run on a connection of their
    own in autocommit mode (:func:`idp.oidc.sql.read_only`), so there is no transaction to end.

    ``answer_directly`` answers the common case without Authlib's request machinery (:mod:`idp.oidc.direct`);
    anything it does not answer, Authlib's endpoint does, from the start. A request the WSGI-level fast path
    (:mod:`idp.oidc.fastpath`, the same direct answer in front of Flask) looked at and declined goes to
    Authlib's endpoint at once."""
    server = _server()
    with sql.read_only():
        if fastpath.DECLINED not in request.environ:
            response = answer_directly(server)
            if response is not None:
                return response
        try:
            return server.create_endpoint_response(name)
        except OAuth2Error as error:
            return server.handle_error_response(None, error)


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
