"""The protocol API: a WSGI application of its own for the endpoints machines call — token, UserInfo,
introspection, revocation, discovery and the JWKS — mounted beside the pages application (:class:`Dispatcher`).

It has none of what the pages need (no browser session, no CSRF check, no templates, no page language, no
Flask request and application contexts, no response object): a route per path, and the request's parts
given to the endpoint as arguments. Each request gets its request id (``X-Request-ID``, and in every log
line it causes), its latency measurement (``idp_request_seconds``, endpoint names ``oidc.token`` …), one
connection of the store, and the security headers of every response (:func:`idp.headers.security_headers`,
the pages' own). Every answer is JSON: the endpoint's, an OAuth error (:mod:`.errors`), an HTTP error (404,
405 with ``Allow``, 413), or for anything unexpected a logged 500 ``server_error``. The body is read through
Werkzeug's input stream (its limit, chunked bodies); headers come from the WSGI environ.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Callable

from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from idp.audit import Origin
from idp.headers import security_headers
from idp.keys import JWKS_MAX_AGE
from idp.oidc.discovery import provider_metadata
from idp.oidc.protocol.context import Call, Provider, read_form
from idp.oidc.protocol.cors import CLIENT, PUBLIC, Cors
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
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request"}
_JSON = "application/json"


@dataclass
class Answer:
    """A response: its status, JSON body and own headers (the security headers are added to every one)."""

    status: int
    body: bytes
    headers: list = field(default_factory=list)


def json_answer(body: dict, status: int = 200, headers=()) -> Answer:
    return Answer(status, json.dumps(body).encode("utf-8"), list(headers))


@dataclass(frozen=True)
class Route:
    name: str  # the endpoint's name in metrics
    methods: frozenset
    answer: Callable  # (api, environ, request id) → Answer
    cors: str | None = None  # browsers may call it (idp.oidc.protocol.cors): PUBLIC or CLIENT origins


class ProtocolAPI:
    """The WSGI application (see the module's documentation)."""

    def __init__(self, provider: Provider, *, production: bool):
        self.provider = provider
        self.timer = RequestTimer()
        self.discovery = json.dumps(provider_metadata(provider.issuer)).encode("utf-8")
        self.security = security_headers(_JSON, production=production)
        self.cors = Cors(provider.store, answer=Answer)

    def __call__(self, environ, start_response):
        started = self.timer.start()
        rid = request_id(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        route = ROUTES.get(environ.get("PATH_INFO"))
        if route is not None and route.cors is not None:
            answer = self.cors.serve(route, method, environ, lambda: self.respond(route, method, environ, rid))
        else:
            answer = self.respond(route, method, environ, rid)
        headers = [("Content-Type", _JSON), ("Content-Length", str(len(answer.body))), *answer.headers,
                   *self.security, ("X-Request-ID", rid)]
        self.timer.observe(route.name if route is not None else None, method, started)
        start_response(f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, '')}", headers)
        return [answer.body] if method != "HEAD" else []

    def respond(self, route: Route | None, method: str, environ, rid: str) -> Answer:
        try:
            if route is None:
                return json_answer({"error": "not_found"}, 404)
            if method not in route.methods:
                return json_answer({"error": "method_not_allowed"}, 405, [("Allow", ", ".join(sorted(route.methods)))])
            return route.answer(self, environ, rid)
        except OAuthError as error:
            return json_answer(error.body(), error.status, [*error.headers(), *NO_STORE])
        except HTTPException as error:  # 413 from reading the body
            status = error.code or 500
            code = _HTTP_ERRORS.get(status, "invalid_request" if status < 500 else "server_error")
            return json_answer({"error": code}, status)
        except Exception:
            log.exception("unhandled error on %s %s", method, environ.get("PATH_INFO"), extra={"request_id": rid})
            return json_answer({"error": "server_error"}, 500, NO_STORE)

    def endpoint(self, run, environ, rid: str, *, form_required: bool) -> Answer:
        """``run(provider, connection, call)`` for the request of ``environ`` on one connection of the store."""
        body = get_input_stream(environ, max_content_length=MAX_CONTENT_LENGTH).read()
        user_agent = environ.get("HTTP_USER_AGENT", "")
        call = Call(method=environ.get("REQUEST_METHOD", "GET"), authorization=environ.get("HTTP_AUTHORIZATION"),
                    form=read_form(body, environ.get("CONTENT_TYPE"), required=form_required),
                    origin=Origin(ip=environ.get("REMOTE_ADDR"), user_agent=user_agent[:300] or None), request_id=rid)
        provider = self.provider
        with provider.store.connect() as connection:
            payload = run(provider, connection, call)
        return json_answer(payload, 200, NO_STORE)

    def openid_configuration(self, environ, rid: str) -> Answer:
        return _public(self.discovery, max_age=3600)

    def jwks(self, environ, rid: str) -> Answer:
        # Short cache: after a rotation relying parties should see the new key within minutes.
        return _public(self.provider.keys.jwks_json(), max_age=JWKS_MAX_AGE)


def _public(body: bytes, *, max_age: int) -> Answer:
    # Public documents; browsers may read them from the clients' web origins (idp.oidc.protocol.cors).
    return Answer(200, body, [("Cache-Control", f"public, max-age={max_age}")])


def _endpoint(run, *, form_required: bool = True) -> Callable:
    return lambda api, environ, rid: api.endpoint(run, environ, rid, form_required=form_required)


_GET, _POST = frozenset({"GET", "HEAD"}), frozenset({"POST"})
#: Every path of the protocol API; everything else is the pages application's.
ROUTES = {
    "/oauth/token": Route("oidc.token", _POST, _endpoint(token), cors=CLIENT),
    "/oauth/userinfo": Route("oidc.userinfo", _GET | _POST, _endpoint(userinfo, form_required=False),
                             cors=CLIENT),
    "/oauth/introspect": Route("oidc.introspect", _POST, _endpoint(introspection)),  # resource servers only
    "/oauth/revoke": Route("oidc.revoke", _POST, _endpoint(revocation), cors=CLIENT),
    "/.well-known/openid-configuration": Route("oidc.openid_configuration", _GET,
                                               ProtocolAPI.openid_configuration, cors=PUBLIC),
    "/.well-known/jwks.json": Route("oidc.jwks", _GET, ProtocolAPI.jwks, cors=PUBLIC),
}
PATHS = frozenset(ROUTES)


class Dispatcher:
    """The provider's WSGI application: requests for :data:`PATHS` go to the protocol API, every other
    request to the pages application. Each path has exactly one owner; nothing is tried twice."""

    def __init__(self, pages, protocol):
        self.pages, self.protocol = pages, protocol

    def __call__(self, environ, start_response):
        app = self.protocol if environ.get("PATH_INFO") in PATHS else self.pages
        return app(environ, start_response)
