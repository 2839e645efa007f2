"""The protocol API: a WSGI application of its own for the endpoints machines call — token, UserInfo,
introspection, revocation, discovery and the JWKS — mounted beside the pages application (:class:`Dispatcher`).

It has none of what the pages need (no browser session, no CSRF check, no templates, no page language, no
Flask request and application contexts): a Werkzeug request, one route per path, and the request given to
the endpoint as an argument. Each request gets its request id (``X-Request-ID``, and in every log line it
causes), its latency measurement (``idp_request_seconds``, endpoint names ``oidc.token`` …), one connection
of the store, and the security headers of every response (:func:`idp.headers.add_security_headers`, the
pages' own). Every answer is JSON: the endpoint's, an OAuth error (:mod:`.errors`), an HTTP error (404,
405 with ``Allow``, 413), or for anything unexpected a logged 500 ``server_error``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

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
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request"}


class ProtocolRequest(Request):
    max_content_length = MAX_CONTENT_LENGTH


@dataclass(frozen=True)
class Route:
    name: str  # the endpoint's name in metrics
    methods: frozenset
    answer: Callable  # (api, request, request id) → Response


class ProtocolAPI:
    """The WSGI application (see the module's documentation)."""

    def __init__(self, provider: Provider, *, production: bool):
        self.provider = provider
        self.production = production
        self.timer = RequestTimer()
        self.discovery = json.dumps(provider_metadata(provider.issuer)).encode("utf-8")

    def __call__(self, environ, start_response):
        started = self.timer.start()
        request = ProtocolRequest(environ)
        rid = request_id(environ)
        route = ROUTES.get(request.path)
        response = self.respond(route, request, rid)
        add_security_headers(response, production=self.production)
        response.headers["X-Request-ID"] = rid
        self.timer.observe(route.name if route is not None else None, request.method, started)
        return response(environ, start_response)

    def respond(self, route: Route | None, request: Request, rid: str) -> Response:
        try:
            if route is None:
                return _json({"error": "not_found"}, 404)
            if request.method not in route.methods:
                allowed = ", ".join(sorted(route.methods))
                return _json({"error": "method_not_allowed"}, 405, [("Allow", allowed)])
            return route.answer(self, request, rid)
        except OAuthError as error:
            return _json(error.body(), error.status, [*error.headers(), *NO_STORE])
        except HTTPException as error:  # 413 from reading the body
            status = error.code or 500
            return _json({"error": _HTTP_ERRORS.get(status, "invalid_request" if status < 500 else "server_error")},
                         status)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path, extra={"request_id": rid})
            return _json({"error": "server_error"}, 500, NO_STORE)

    def endpoint(self, run, request: Request, rid: str, *, form_required: bool) -> Response:
        """``run(provider, connection, call)`` for ``request`` on one connection of the store."""
        user_agent = request.headers.get("User-Agent", "")
        form = read_form(request.get_data(cache=False), request.content_type, required=form_required)
        call = Call(method=request.method, authorization=request.headers.get("Authorization"), form=form,
                    origin=Origin(ip=request.remote_addr, user_agent=user_agent[:300] or None), request_id=rid)
        provider = self.provider
        with provider.store.connect() as connection:
            payload = run(provider, connection, call)
        return _json(payload, 200, NO_STORE)

    def openid_configuration(self, request: Request, rid: str) -> Response:
        return _public(self.discovery, max_age=3600)

    def jwks(self, request: Request, rid: str) -> Response:
        # Short cache: after a rotation relying parties should see the new key within minutes.
        return _public(self.provider.keys.jwks_json(), max_age=JWKS_MAX_AGE)


def _json(body: dict, status: int, headers=()) -> Response:
    return Response(json.dumps(body), status, list(headers), mimetype="application/json")


def _public(body: bytes, *, max_age: int) -> Response:
    return Response(body, 200, [("Cache-Control", f"public, max-age={max_age}"),
                                ("Access-Control-Allow-Origin", "*")],  # public documents, read by browsers too
                    mimetype="application/json")


def _endpoint(run, *, form_required: bool = True) -> Callable:
    return lambda api, request, rid: api.endpoint(run, request, rid, form_required=form_required)


_GET, _POST = frozenset({"GET", "HEAD"}), frozenset({"POST"})
#: Every path of the protocol API; everything else is the pages application's.
ROUTES = {
    "/oauth/token": Route("oidc.token", _POST, _endpoint(token)),
    "/oauth/userinfo": Route("oidc.userinfo", _GET | _POST, _endpoint(userinfo, form_required=False)),
    "/oauth/introspect": Route("oidc.introspect", _POST, _endpoint(introspection)),
    "/oauth/revoke": Route("oidc.revoke", _POST, _endpoint(revocation)),
    "/.well-known/openid-configuration": Route("oidc.openid_configuration", _GET, ProtocolAPI.openid_configuration),
    "/.well-known/jwks.json": Route("oidc.jwks", _GET, ProtocolAPI.jwks),
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
