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
    GET    /api/admin/accounts?q=…[&birth_date=…]      find a customer's account (contact centre: ``support``)
    GET    /api/admin/accounts/{ref}                   the account as an operator sees it (the look is audited)
    POST   /api/admin/accounts/{ref}/{action}          send-temporary-password, resend-welcome, unlock, block,
                                                       unblock, sign-out: ``{"reason": …}``, ``Idempotency-Key``
    GET    /api/admin/openapi.json                     this API's OpenAPI 3.1 description (no token needed)

Every route takes a token with the ``admin`` scope; the contact centre's routes (``/accounts…``) take one with
``support`` as well (:func:`idp.admin.bearer.require_support_token`), and nothing else does. ``{ref}`` is any
login (an e-mail, a phone in any usual writing), a policy number (a ``/`` in it as is or as ``%2F``) or a
``sub``; the rules are the contact centre's own (:mod:`idp.support`), shared with ``/admin/accounts`` and
``idp support``.

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

from datetime import date
from hashlib import sha256
from importlib import resources

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from werkzeug.routing import PathConverter

from idp import support
from idp.admin import casework, operations
from idp.admin.bearer import require_admin_token, require_support_token
from idp.admin.paging import MAX_PER_PAGE, PER_PAGE, InvalidQuery, choice_of, number_of
from idp.admin.payload import CREATE_FIELDS, STRING, UPDATE_FIELDS, InvalidRequest, read_object
from idp.audit import Origin
from idp.clients import (ClientWithSecret, InvalidClientSettings, InvalidRedirectUri, OAuthClient,
                         describe_client, get_client, list_clients)
from idp.clients.web_origins import InvalidWebOrigin
from idp.delivery.failures import FAILED, FILTERS
from idp.delivery.failures import describe as describe_delivery
from idp.delivery.message import mask_recipient
from idp.errors import IdpError
from idp.extensions import db
from idp.json_api import HTTP_ERRORS, install_error_handlers
from idp.json_api import error_of as json_error_of
from idp.policies.eligibility import REFUSED_REASONS
from idp.web.context import services

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")

_HTTP_ERRORS = HTTP_ERRORS  # what the OpenAPI document lists for errors raised by the framework


#: The contact centre's endpoints: a ``support`` token will do (an ``admin`` one too); every other needs ``admin``.
_SUPPORT_ENDPOINTS: set[str] = set()


@bp.before_request
def _authorise():
    if request.endpoint in _SUPPORT_ENDPOINTS:
        g.admin_token = require_support_token()
    elif request.endpoint != "admin_api.openapi":
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


# -- the contact centre: /accounts… (scope support or admin) --------------------------------------------------

#: ``POST /accounts/{ref}/{action}``: the path's action and the rule of :mod:`idp.support` behind it.
ACTIONS = ("send-temporary-password", "resend-welcome", "unlock", "block", "unblock", "sign-out")
#: The body of an action: the reason, for the audit (its rules: :func:`idp.support.check_reason`).
ACTION_FIELDS = {"reason": STRING}
#: ``Idempotency-Key``: printable ASCII, as long as a form's one-time token may be.
MAX_IDEMPOTENCY_KEY = 64


class AccountRef(PathConverter):
    """``{ref}`` of the account routes: any text, ``/`` included (a policy number may have one), but never
    ending in ``/<action>`` — that is the action's path, so ``GET …/{ref}/unlock`` is a 405, not a lookup."""

    regex = r"[^/](?:(?!/(?:" + "|".join(ACTIONS) + r")$).)*"


bp.record_once(lambda state: state.app.url_map.converters.setdefault("account_ref", AccountRef))


def _support(view):
    _SUPPORT_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
    return view


def _operator() -> support.Operator:
    client_id = g.admin_token.client.client_id
    origin = Origin(ip=request.remote_addr, user_agent=request.user_agent.string[:300] or None)
    return support.Operator(login=client_id, via="api", origin=origin, client_id=client_id)


def _account_summary(account) -> dict:
    """An account in a list of found ones: enough to pick the right customer (contacts masked) and its ``sub``
    to open it by."""
    return {"subject": account.subject, "full_name": account.full_name,
            "email": mask_recipient(account.email) if account.email else None,
            "phone": mask_recipient(account.phone) if account.phone else None,
            "blocked": account.disabled_at is not None}


def _action_result(result, account) -> dict:
    """What an action did; ``repeated`` when the ``Idempotency-Key`` was used before (done then, not again)."""
    return {"action": result.action, "account": account.subject, "repeated": bool(result.repeated),
            "details": dict(result.details or {})}


@bp.get("/accounts")
@_support
def find_accounts():
    query = _query("q")
    if query is None:
        raise InvalidQuery("q is required: an e-mail, a phone, a policy number, a sub or a name", code="query.q")
    birth = _query("birth_date")
    found = support.find_accounts(query, birth_date=_date_of(birth) if birth is not None else None)
    return jsonify({"accounts": [_account_summary(account) for account in found]})


@bp.get("/accounts/<account_ref:ref>")
@_support
def show_account(ref: str):
    account = support.resolve_account(ref)
    now = services().clock.now()
    view = support.account_view(services(), account, now)
    support.record_view(_operator(), account, now)
    db.session.commit()
    return jsonify(view)


def _account_action(ref: str, action: str):
    fields = read_object(ACTION_FIELDS)
    token = _idempotency_token()
    account = support.resolve_account(ref)
    result = support.perform(services(), _operator(), account, action.replace("-", "_"),
                             reason=fields.get("reason", ""), token=token)
    return jsonify(_action_result(result, account))


for _action in ACTIONS:
    _endpoint = "account_" + _action.replace("-", "_")
    bp.add_url_rule(f"/accounts/<account_ref:ref>/{_action}", endpoint=_endpoint, methods=["POST"],
                    view_func=lambda ref, _action=_action: _account_action(ref, _action))
    _SUPPORT_ENDPOINTS.add(f"{bp.name}.{_endpoint}")


def _idempotency_token() -> str | None:
    """The ``Idempotency-Key`` header as the token that makes an action happen once. Keyed by the calling client
    too, so two clients never share one (hashed to fit ``operator_actions.token``)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not all("\x21" <= ch <= "\x7e" for ch in key):
        raise InvalidRequest(f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters, no spaces",
                             code="request.idempotency_key")
    client_id = g.admin_token.client.client_id
    return "api:" + sha256(f"{client_id}\n{key}".encode("utf-8")).hexdigest()[:60]


def _date_of(raw: str) -> date:
    text = raw.strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidQuery("birth_date must be a date: YYYY-MM-DD", code="query.birth_date") from None


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
    if isinstance(exc, (InvalidClientSettings, InvalidWebOrigin)):
        return "invalid_client_metadata"
    return json_error_of(exc)


install_error_handlers(bp, error_of)
