"""The policy system's REST API (``/api/v1``), described by ``openapi.json``.

    POST /api/v1/policies              a policy was issued or changed: 201 (new number) or 200 (known)
    GET  /api/v1/policies/{number}     what became of a policy, and why
    GET  /api/v1/openapi.json          this API's OpenAPI 3.1 description (no token needed)

Authorised by a bearer access token (RFC 6750) from the ``client_credentials`` grant carrying the scope
``policies:write``, checked by the provider's own resource protector. Idempotent by policy number: the
same policy again answers 200 ``unchanged`` and changes nothing; corrected data is evaluated afresh.

Errors follow the admin API: ``{"error", "error_description", "error_code"}`` — ``error`` the
OAuth-style class (``invalid_request``, ``invalid_token``, ``insufficient_scope``, ``not_found``,
``conflict``, ``unsupported_media_type``, ``request_too_large``, ``method_not_allowed``),
``error_code`` the exact rule (``policy.invalid_date`` …); a bad policy also lists every problem in
``errors`` (``field``, ``code``, ``description``).
"""
from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from sqlalchemy import select

from idp.errors import IdpError, NotFound
from idp.json_api import HTTP_ERRORS, error_of, install_error_handlers
from idp.oidc.bearer import require_client_token
from idp.extensions import db
from idp.policies.facts import InvalidPolicy
from idp.policies.intake import issue_policy
from idp.policies.models import Policy
from idp.policies.report import describe_policy

bp = Blueprint("policies_api", __name__, url_prefix="/api/v1")

#: The scope the policy system's token must carry; a client gets it only if an admin lists it in its scopes.
WRITE_SCOPE = "policies:write"
REALM = "idp-policies"
_OPENAPI = "idp.policies.openapi"
_HTTP_ERRORS = HTTP_ERRORS  # what the OpenAPI document lists for errors raised by the framework


class UnsupportedMediaType(IdpError):
    error = "unsupported_media_type"
    code = "request.media_type"
    status = 415


class MalformedBody(IdpError):
    error = "invalid_request"
    code = "request.malformed"
    status = 400


class PolicyNotFound(NotFound):
    code = "policy.not_found"


def init_app(app: Flask) -> None:
    """Register the API (after ``init_oidc``: tokens are checked by the provider's protector).

    CSRF-exempt: bearer-authorised, it never reads a cookie.
    """
    from idp.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)


@bp.before_request
def _authorise():
    if request.endpoint != "policies_api.openapi":
        require_client_token(WRITE_SCOPE, realm=REALM)


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.endpoint != "policies_api.openapi":
        response.headers["Cache-Control"] = "no-store"  # answers carry personal data
    return response


@bp.post("/policies")
def issue():
    outcome = issue_policy(current_app.extensions["idp"], _json_body(), source="api")
    response = jsonify(outcome.as_dict())
    response.status_code = 201 if outcome.new else 200
    response.headers["Location"] = url_for("policies_api.show", number=outcome.number)
    return response


@bp.get("/policies/<path:number>")
def show(number: str):
    # No stored number is longer than 64 or holds NUL (which PostgreSQL refuses in a query): not found.
    policy = None
    if len(number) <= 64 and "\x00" not in number:
        policy = db.session.execute(select(Policy).where(Policy.number == number)).scalar_one_or_none()
    if policy is None:
        raise PolicyNotFound(f"no policy {number[:64]!r}")
    return jsonify(describe_policy(policy))


@bp.get("/openapi.json")
def openapi():
    document = current_app.extensions.get(_OPENAPI)
    if document is None:
        document = resources.files("idp.policies").joinpath("openapi.json").read_bytes()
        current_app.extensions[_OPENAPI] = document
    response = Response(document, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _json_body():
    if not request.is_json:
        raise UnsupportedMediaType("send the policy as application/json")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before anything is read
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedBody("the body is not valid JSON") from None


# -- errors ---------------------------------------------------------------------------------------------


def _problems(exc: IdpError) -> dict:
    """A bad policy lists every problem, field by field."""
    return {"errors": [p.as_dict() for p in exc.problems]} if isinstance(exc, InvalidPolicy) else {}


install_error_handlers(bp, error_of, _problems)
