"""The admin REST API (``/api/admin``): OAuth clients, held policies and failed messages as JSON, described
by ``openapi.json``.

    GET    /api/admin/clients                          list
    POST   /api/admin/clients                          register (201, Location; the secret once)
    GET    /api/admin/clients/{client_id}              one client
    PATCH  /api/admin/clients/{client_id}              change name, URIs, scopes, grant types, first_party
    POST   /api/admin/clients/{client_id}/rotate-secret   a new secret (once); the old one dies at once
    POST   /api/admin/clients/{client_id}/disable      stop the client and its tokens
    POST   /api/admin/clients/{client_id}/enable
    GET    /api/admin/policies/held                    held policies, with whose accounts their contacts are
    GET    /api/admin/policies/refused                 policies refused by rule (?reason=credit_linked …)
    POST   /api/admin/policies/{number}/recheck        evaluate a policy again (``idp policies recheck``)
    GET    /api/admin/deliveries                       messages by state (?status=failed|all|queued|…)
    POST   /api/admin/deliveries/{id}/requeue          a dead letter back in the queue (409 if not dead)
    GET    /api/admin/openapi.json                     this API's OpenAPI 3.1 description (no token needed)

The calling client cannot lock itself out: disabling itself, rotating its own secret, or removing the
``admin`` scope or the ``client_credentials`` grant from itself is 409 ``client.self_lockout.*``
(:mod:`idp.admin.operations`); another admin client, the web area or ``idp clients`` may.

Lists are paged: ``?page=`` (from 1) and ``?per_page=`` (1–200, default 50); the body says ``total``
and ``next_page``. A query parameter that is not what the list takes — an empty one included — is
``invalid_request`` (``query.page``, ``query.per_page``, ``query.status``, ``query.reason``).

Errors are ``{"error", "error_description", "error_code"}``: ``error`` is the OAuth-style class
(``invalid_request``, ``invalid_redirect_uri``, ``invalid_client_metadata`` (RFC 7591 §3.2.2),
``invalid_token``, ``insufficient_scope`` (RFC 6750 §3.1), ``not_found``, ``conflict``,
``unsupported_media_type``, ``request_too_large``); ``error_code`` the exact rule
(``client.redirect_uri.fragment``, ``request.type`` …), the same code the CLI and the web area report.
"""
from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from idp.admin import casework, operations
from idp.admin.bearer import require_admin_token
from idp.admin.paging import MAX_PER_PAGE, PER_PAGE, InvalidQuery, choice_of, number_of
from idp.admin.payload import CREATE_FIELDS, UPDATE_FIELDS, read_object
from idp.audit import Origin
from idp.clients import (ClientWithSecret, InvalidClientSettings, InvalidRedirectUri, OAuthClient,
                         describe_client, get_client, list_clients)
from idp.delivery.failures import FAILED, FILTERS
from idp.delivery.failures import describe as describe_delivery
from idp.errors import IdpError
from idp.json_api import HTTP_ERRORS, install_error_handlers
from idp.json_api import error_of as json_error_of
from idp.policies.eligibility import REFUSED_REASONS
from idp.web.context import services

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")

_HTTP_ERRORS = HTTP_ERRORS  # what the OpenAPI document lists for errors raised by the framework


@bp.before_request
def _authorise():
    if request.endpoint != "admin_api.openapi":
        g.admin_token = require_admin_token()


@bp.after_request
def _no_store(response: Response) -> Response:
    # Secrets travel in some responses; no cache between here and the caller may keep any of them.
    if request.endpoint != "admin_api.openapi":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _actor() -> operations.Actor:
    origin = Origin(ip=request.remote_addr, user_agent=request.user_agent.string[:300] or None)
    return operations.Actor(via="api", origin=origin, client_id=g.admin_token.client.client_id)


def _with_secret(result: ClientWithSecret) -> dict:
    data = describe_client(result.client)
    if result.secret is not None:
        data["client_secret"] = result.secret
    return data


def _one(client: OAuthClient):
    return jsonify(describe_client(client))


@bp.get("/clients")
def list_():
    return jsonify({"clients": [describe_client(c) for c in list_clients()]})


@bp.post("/clients")
def create():
    fields = read_object(CREATE_FIELDS)
    fields.setdefault("name", "")  # the domain names the missing name (client.name.required)
    created = operations.register(services(), _actor(), **fields)
    response = jsonify(_with_secret(created))
    response.status_code = 201
    response.headers["Location"] = url_for("admin_api.show", client_id=created.client.client_id)
    return response


@bp.get("/clients/<client_id>")
def show(client_id: str):
    return _one(get_client(client_id))


@bp.patch("/clients/<client_id>")
def update(client_id: str):
    fields = read_object(UPDATE_FIELDS)
    if not fields:
        return _one(get_client(client_id))  # nothing to change: not even updated_at moves
    return _one(operations.change(services(), _actor(), client_id, **fields))


@bp.post("/clients/<client_id>/rotate-secret")
def rotate_secret(client_id: str):
    return jsonify(_with_secret(operations.new_secret(services(), _actor(), client_id)))


@bp.post("/clients/<client_id>/disable")
def disable(client_id: str):
    return _one(operations.disable(services(), _actor(), client_id))


@bp.post("/clients/<client_id>/enable")
def enable(client_id: str):
    return _one(operations.enable(services(), _actor(), client_id))


@bp.get("/policies/held")
def held_policies():
    found = casework.held_policies(*_paging())
    return jsonify({"policies": casework.policy_reports(found.items), **found.as_dict()})


@bp.get("/policies/refused")
def refused_policies():
    reason = choice_of(_query("reason"), REFUSED_REASONS, name="reason")
    found = casework.refused_policies(reason, *_paging())
    return jsonify({"policies": casework.policy_reports(found.items), **found.as_dict()})


@bp.post("/policies/<path:number>/recheck")
def recheck_policy(number: str):
    return jsonify(casework.recheck_policy(services(), _actor(), number).as_dict())


@bp.get("/deliveries")
def failed_deliveries():
    which = choice_of(_query("status"), FILTERS, name="status", default=FAILED)
    found = casework.deliveries(which, *_paging())
    return jsonify({"deliveries": [describe_delivery(row) for row in found.items], **found.as_dict()})


@bp.post("/deliveries/<delivery_id>/requeue")
def requeue_delivery(delivery_id: str):
    return jsonify(describe_delivery(casework.requeue_delivery(services(), _actor(), delivery_id)))


def _paging() -> tuple[int, int]:
    return (number_of(_query("page")),
            number_of(_query("per_page"), name="per_page", default=PER_PAGE, maximum=MAX_PER_PAGE))


def _query(name: str) -> str | None:
    """A query parameter as the document describes it: absent gives the default, but a present one must have
    a value (``?status=`` is no status; the web area's filter forms send empty fields, the API takes none)."""
    raw = request.args.get(name)
    if raw is not None and not raw.strip():
        raise InvalidQuery(f"{name} is empty: leave it out for the default", code=f"query.{name}")
    return raw


@bp.get("/openapi.json")
def openapi():
    document = current_app.extensions.get("idp.admin.openapi")
    if document is None:
        document = resources.files("idp.admin").joinpath("openapi.json").read_bytes()
        current_app.extensions["idp.admin.openapi"] = document
    response = Response(document, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# -- errors ---------------------------------------------------------------------------------------------


def error_of(exc: IdpError) -> str:
    """The OAuth-style ``error`` of a typed error; registration rules use RFC 7591's names."""
    if isinstance(exc, InvalidRedirectUri):
        return "invalid_redirect_uri"
    if isinstance(exc, InvalidClientSettings):
        return "invalid_client_metadata"
    return json_error_of(exc)


install_error_handlers(bp, error_of)
