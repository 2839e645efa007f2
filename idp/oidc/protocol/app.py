"""The protocol API: a small Flask application of its own for the endpoints machines call — token,
UserInfo, introspection, revocation, discovery and the JWKS — mounted beside the pages application
(:class:`Dispatcher`).

It has none of what pages need (no browser session, no CSRF check, no templates, no page language): each
request gets its request id and latency measurement, one connection of the store for the endpoint, and
the security headers of every response (:func:`idp.headers.add_security_headers`). Every answer is JSON:
the endpoint's, or an OAuth error (:mod:`.errors`), or for anything unexpected a logged 500
``server_error``.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from idp.audit import Origin
from idp.headers import add_security_headers
from idp.keys import JWKS_MAX_AGE
from idp.oidc.discovery import provider_metadata
from idp.oidc.protocol.context import Call, Provider, read_form
from idp.oidc.protocol.errors import OAuthError
from idp.oidc.protocol.introspection import introspection
from idp.oidc.protocol.revocation import revocation
from idp.oidc.protocol.token import token
from idp.oidc.protocol.userinfo import userinfo
from idp.ops.logs import request_id
from idp.ops.metrics import RequestTimer

log = logging.getLogger(__name__)

#: Form posts are small; anything larger is refused (413) before it is read.
MAX_CONTENT_LENGTH = 64 * 1024
#: RFC 6749 §5.1: token responses (and every other answer here that carries a token or claims) are not cached.
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
#: The paths this application answers; everything else is the pages application's.
PATHS = frozenset({"/oauth/token", "/oauth/userinfo", "/oauth/introspect", "/oauth/revoke",
                   "/.well-known/openid-configuration", "/.well-known/jwks.json"})
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request"}

bp = Blueprint("oidc", __name__)  # the endpoints keep the names they are measured by: oidc.token …


def create_protocol_app(provider: Provider, *, production: bool) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.extensions["idp.oidc.provider"] = provider
    app.extensions["idp.oidc.discovery"] = json.dumps(provider_metadata(provider.issuer)).encode("utf-8")
    app.register_blueprint(bp)
    timer = RequestTimer()

    @app.before_request
    def _start():
        g.request_id = request_id(request.environ)
        g.request_started = timer.start()

    @app.after_request
    def _finish(response):
        add_security_headers(response, production=production)
        response.headers["X-Request-ID"] = g.request_id
        timer.observe(request.endpoint, request.method, g.request_started)
        return response

    @app.errorhandler(OAuthError)
    def _oauth_error(error: OAuthError):
        return _json(error.body(), error.status, [*error.headers(), *NO_STORE])

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        headers = [(k, v) for k, v in error.get_headers() if k == "Allow"]
        return _json({"error": _HTTP_ERRORS.get(status, "invalid_request" if status < 500 else "server_error")},
                     status, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _json({"error": "server_error"}, 500, list(NO_STORE))

    return app


def _json(body: dict, status: int, headers) -> Response:
    return Response(json.dumps(body), status, headers, mimetype="application/json")


def _answer(endpoint) -> Response:
    """Run ``endpoint(provider, connection, call)`` for this request on one connection of the store."""
    provider: Provider = current_app.extensions["idp.oidc.provider"]
    user_agent = request.headers.get("User-Agent", "")
    call = Call(method=request.method, authorization=request.headers.get("Authorization"),
                form=read_form(request.get_data(cache=False), request.content_type),
                origin=Origin(ip=request.remote_addr, user_agent=user_agent[:300] or None))
    with provider.store.connect() as connection:
        payload = endpoint(provider, connection, call)
    return _json(payload, 200, NO_STORE)


@bp.post("/oauth/token")
def token_endpoint():
    return _answer(token)


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo_endpoint():
    return _answer(userinfo)


@bp.post("/oauth/introspect")
def introspection_endpoint():
    return _answer(introspection)


@bp.post("/oauth/revoke")
def revocation_endpoint():
    return _answer(revocation)


def _public(body: bytes, *, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # public documents, read by browser clients too
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    return _public(current_app.extensions["idp.oidc.discovery"], max_age=3600)


@bp.get("/.well-known/jwks.json")
def jwks():
    # Short cache: after a rotation relying parties should see the new key within minutes.
    provider: Provider = current_app.extensions["idp.oidc.provider"]
    return _public(provider.keys.jwks_json(), max_age=JWKS_MAX_AGE)


class Dispatcher:
    """The provider's WSGI application: requests for :data:`PATHS` go to the protocol API, every other
    request to the pages application. Each path has exactly one owner; nothing is tried twice."""

    def __init__(self, pages, protocol):
        self.pages, self.protocol = pages, protocol

    def __call__(self, environ, start_response):
        app = self.protocol if environ.get("PATH_INFO") in PATHS else self.pages
        return app(environ, start_response)
