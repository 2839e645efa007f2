"""Reading admin API request bodies: JSON objects with known fields of known types, nothing else.

Only the shape is checked here (``invalid_request``); the rules of a client registration are the
domain's (:mod:`idp.clients`). Whatever arrives — another media type, broken or deeply nested JSON,
an array instead of an object, nulls, numbers for strings, lone surrogates — ends as a typed error,
never as an exception from deeper down.
"""
from __future__ import annotations

import json

from flask import request

from idp.clients.redirect_uris import MAX_URIS, InvalidRedirectUri
from idp.clients.web_origins import MAX_ORIGINS, InvalidWebOrigin
from idp.errors import BadRequest, IdpError

#: Longest list accepted in any field. URI lists take at most the domain's own limit (20) as sent, duplicates
#: included, so that the document's ``maxItems`` is the rule, whatever the domain would drop.
MAX_ITEMS = 100
URI_LISTS = ("redirect_uris", "post_logout_redirect_uris")

STRING, STRINGS, BOOLEAN = "string", "array of strings", "boolean"
#: A list of strings, or null (``web_origins``: null derives them, idp.clients.web_origins).
STRINGS_OR_NULL = "array of strings or null"

#: Fields of ``POST /api/admin/clients``; ``name`` is required (by the domain).
CREATE_FIELDS = {
    "client_id": STRING, "name": STRING, "redirect_uris": STRINGS, "post_logout_redirect_uris": STRINGS,
    "scopes": STRINGS, "grant_types": STRINGS, "public": BOOLEAN, "first_party": BOOLEAN, "pkce_required": BOOLEAN,
    "backchannel_logout_uri": STRING, "backchannel_logout_session_required": BOOLEAN,
    "web_origins": STRINGS_OR_NULL,
    "access_token_format": STRING, "audiences": STRINGS,
}
#: Fields of ``PATCH /api/admin/clients/{client_id}``: whether a client is public, and its id, never change.
UPDATE_FIELDS = {name: kind for name, kind in CREATE_FIELDS.items() if name not in ("client_id", "public")}


class InvalidRequest(BadRequest):
    """The body is not what the endpoint takes (shape, not registration rules)."""

    error = "invalid_request"
    code = "request.invalid"


class UnsupportedMediaType(IdpError):
    error = "unsupported_media_type"
    code = "request.media_type"
    status = 415


def read_object(fields: dict[str, str]) -> dict:
    """The request's JSON body as a dict of the given ``fields``, each of its declared type."""
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before anything is read
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidRequest("the body is not valid JSON", code="request.malformed") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", code="request.not_object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidRequest(f"unknown or read-only field {_shown(unknown[0])}; this endpoint takes "
                             f"{', '.join(fields)}", code="request.unknown_field")
    return {name: _typed(name, fields[name], value) for name, value in body.items()}


def _typed(name: str, kind: str, value):
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise _wrong_type(name, kind)
        return value
    if kind == STRINGS_OR_NULL:
        if value is None:
            return None
        if isinstance(value, list) and len(value) > MAX_ORIGINS:
            raise InvalidWebOrigin(f"{name}: at most {MAX_ORIGINS} origins", code="client.web_origin.too_many")
        kind = STRINGS
    if kind == STRING:
        if not isinstance(value, str):
            raise _wrong_type(name, kind)
        return _text(name, value)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _wrong_type(name, kind)
    if name in URI_LISTS and len(value) > MAX_URIS:
        raise InvalidRedirectUri(f"{name}: at most {MAX_URIS} URIs", code="client.redirect_uri.too_many")
    if len(value) > MAX_ITEMS:
        raise InvalidRequest(f"{name}: at most {MAX_ITEMS} items", code="request.too_many_items")
    return [_text(name, item) for item in value]


def _text(name: str, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) decodes from JSON but can never be stored
        raise InvalidRequest(f"{name}: not valid Unicode text", code="request.encoding") from None
    return value


def _wrong_type(name: str, kind: str) -> InvalidRequest:
    return InvalidRequest(f"{name} must be a {kind}" if kind != STRINGS else f"{name} must be an {kind}",
                          code="request.type")


def _shown(name: str) -> str:
    return json.dumps(name[:64], ensure_ascii=True)
