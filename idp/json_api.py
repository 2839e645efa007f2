"""JSON APIs' errors, rendered the same way everywhere: ``{"error", "error_description", "error_code"}``.

``error`` is the OAuth-style class a program switches on (``invalid_request``, ``invalid_token``,
``insufficient_scope``, ``not_found``, ``conflict``, ``unsupported_media_type``…); ``error_code`` the
exact rule broken (``client.redirect_uri.fragment``, ``policy.invalid_date``…), the same code the CLI
and the pages report. Errors roll the transaction back: nothing half-written stays.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from idp.errors import BadRequest, Conflict, IdpError, NotFound, allow_methods
from idp.extensions import db
from idp.oidc.bearer import BearerError

HTTP_ERRORS = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               415: "unsupported_media_type"}


def error_of(exc: IdpError) -> str:
    """The OAuth-style ``error`` of a typed error: its own ``error`` attribute, else by its kind."""
    explicit = getattr(exc, "error", None)
    if explicit:
        return explicit
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, BadRequest):
        return "invalid_request"
    return "server_error" if exc.status >= 500 else "invalid_request"


def error_response(error: str, status: int, description: str | None, code: str | None, **extra) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    if code:
        body["error_code"] = code
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def install_error_handlers(bp: Blueprint, classify: Callable[[IdpError], str] = error_of,
                           details: Callable[[IdpError], dict] = lambda exc: {}) -> None:
    """Render every error raised under ``bp`` as JSON; ``classify`` and ``details`` refine the body."""

    @bp.errorhandler(IdpError)
    def _idp_error(exc: IdpError):
        db.session.rollback()
        response = error_response(classify(exc), exc.status, exc.description or exc.code, exc.code, **details(exc))
        if isinstance(exc, BearerError):
            response.headers["WWW-Authenticate"] = exc.www_authenticate()
        return response

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        response = error_response(HTTP_ERRORS.get(status, "invalid_request" if status < 500 else "server_error"),
                                  status, exc.description, None)
        if isinstance(exc, MethodNotAllowed):  # say which methods the resource takes (RFC 9110 §15.5.6)
            allow_methods(response, exc)
        return response
