"""The provider's error tree, rendered in one place.

    IdpError                 code, status; the text lives in templates/i18n under ``error.<code>``
    ├── BadRequest           400 — the request cannot be understood
    ├── NotFound             404 — no such page or object
    └── Conflict             409 — the change would contradict stored data

OAuth protocol errors stay Authlib's ``OAuth2Error`` and are rendered by Authlib.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)


class IdpError(Exception):
    code = "error"
    status = 400

    def __init__(self, description: str | None = None, *, code: str | None = None):
        super().__init__(description or code or self.code)
        if code:
            self.code = code
        self.description = description


class BadRequest(IdpError):
    code = "bad_request"
    status = 400


class NotFound(IdpError):
    code = "not_found"
    status = 404


class Conflict(IdpError):
    code = "conflict"
    status = 409


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/oauth/", "/.well-known/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _render(code: str, status: int, description: str | None = None):
    if _wants_json():
        body = {"error": code}
        if description:
            body["error_description"] = description
        return jsonify(body), status
    return render_template("error.html", code=code, status=status), status


def allow_methods(response, exc: MethodNotAllowed):
    """A 405 names the methods the resource takes (RFC 9110 §15.5.6): the routing's ``valid_methods``,
    through Werkzeug's own ``Allow`` header. Pages and JSON APIs alike; ``response`` is returned."""
    for name, value in exc.get_headers():
        if name == "Allow":
            response.headers["Allow"] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(IdpError)
    def _idp_error(exc: IdpError):
        return _render(exc.code, exc.status, exc.description)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return _render("csrf", 400)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 429: "too_many_requests"}.get(status, "server_error")
        response = make_response(_render(code, status))
        if isinstance(exc, MethodNotAllowed):
            allow_methods(response, exc)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The one place an unexpected failure is logged with its traceback; the customer sees a polite page.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render("server_error", 500)
