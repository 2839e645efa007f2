"""Registering and managing OAuth clients. Plain functions: the caller owns the transaction (they flush).

Every function raises an :class:`~idp.errors.IdpError` subclass with a stable ``code`` on bad input, so
the CLI, the admin REST API and the admin web area report the same rule the same way::

    created = create_client(settings, name="ДМС", redirect_uris=["https://dms.example/cb"], now=now)
    created.client, created.secret      # the secret is shown once and never stored
    update_client("dms-portal", first_party=True, now=now)
    rotate_secret(settings, "dms-portal", now=now).secret
    disable_client("dms-portal", now=now)   # its tokens stop working at once
"""
from __future__ import annotations

import re
import secrets as _random
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select

from idp.clients.models import ACCESS_TOKEN_FORMATS, GRANT_TYPES, STANDARD_SCOPES, OAuthClient
from idp.clients.redirect_uris import validate_backchannel_logout_uri, validate_redirect_uris
from idp.clients.secrets import generate_secret, hash_secret
from idp.clients.web_origins import validate_web_origins
from idp.errors import BadRequest, Conflict, NotFound
from idp.extensions import db
from idp.settings import Settings

#: A chosen client_id: readable, safe in URLs and on a command line (no leading dash).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{2,63}$")
#: RFC 6749 §3.3 scope-token, capped in length.
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,64}$")
MAX_NAME = 200
#: An audience (RFC 8707 resource): a scheme, then no fragment, space, control character or backslash.
_RESOURCE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^#\x00-\x20\x7f\\<>\"{}|^`]+$")
MAX_AUDIENCE_LENGTH, MAX_AUDIENCES = 2000, 20
#: ``update_client(web_origins=…)`` not given: the registered origins stay (None means: derive them).
UNCHANGED = object()


class ClientNotFound(NotFound):
    code = "client.not_found"


class ClientExists(Conflict):
    code = "client.exists"


class InvalidClientSettings(BadRequest):
    code = "client.invalid"


class ClientWithSecret(NamedTuple):
    """A client and its new secret in clear (None for a public client): show it once, then forget it."""

    client: OAuthClient
    secret: str | None


def create_client(settings: Settings, *, name: str, redirect_uris: Iterable[str] = (),
                  post_logout_redirect_uris: Iterable[str] = (), scopes: Iterable[str] | None = None,
                  grant_types: Iterable[str] | None = None, public: bool = False, first_party: bool = False,
                  pkce_required: bool = True, client_id: str | None = None,
                  web_origins: Iterable[str] | None = None, backchannel_logout_uri: str | None = None,
                  backchannel_logout_session_required: bool = False, access_token_format: str = "opaque",
                  audiences: Iterable[str] = (), now: datetime) -> ClientWithSecret:
    """Register a client (flushed, not committed).

    Defaults: all standard scopes; grant types ``authorization_code`` and ``refresh_token``, plus
    ``client_credentials`` for a confidential client; PKCE required. Redirect URIs are required when the
    client may use the authorization code flow. A confidential client gets a new secret, returned in clear.
    ``web_origins``: None derives them (:mod:`idp.clients.web_origins`), a list (empty too) is the list.
    ``access_token_format``: ``opaque`` or ``jwt`` (RFC 9068); ``audiences``: the resource URIs (RFC 8707)
    its access tokens may be for, the first the default.
    """
    grants = _grant_types(grant_types, public=public)
    _check_pkce(pkce_required, public=public)
    client = OAuthClient(
        client_id=_new_client_id(client_id),
        name=_name(name),
        redirect_uris=validate_redirect_uris(list(redirect_uris), required="authorization_code" in grants),
        post_logout_redirect_uris=validate_redirect_uris(list(post_logout_redirect_uris)),
        scopes=_scopes(scopes),
        grant_types=grants,
        public=bool(public),
        pkce_required=bool(pkce_required),
        first_party=bool(first_party),
        access_token_format=_access_token_format(access_token_format),
        audiences=_audiences(audiences),
        web_origins=_web_origins(web_origins),
        backchannel_logout_uri=validate_backchannel_logout_uri(backchannel_logout_uri),
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
        created_at=now,
    )
    secret = None
    if not client.public:
        secret = generate_secret()
        client.secret_hash = hash_secret(secret, settings.secret_keys)
    db.session.add(client)
    db.session.flush()
    return ClientWithSecret(client, secret)


def get_client(client_id: str) -> OAuthClient:
    """The client with this ``client_id``, enabled or not; raises :class:`ClientNotFound`."""
    client = find_client(client_id)
    if client is None:
        raise ClientNotFound(f"no client {str(client_id)[:64]!r}")
    return client


def find_client(client_id: str | None) -> OAuthClient | None:
    """One indexed lookup; None for anything that is not a registered ``client_id``."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None  # PostgreSQL refuses NUL in text: never let one reach the query
    return db.session.execute(_BY_CLIENT_ID, {"client_id": client_id}).scalar_one_or_none()


#: Built once: the token endpoint looks a client up on every request.
_BY_CLIENT_ID = select(OAuthClient).where(OAuthClient.client_id == bindparam("client_id"))


def find_active_client(client_id: str | None) -> OAuthClient | None:
    """The client if it exists and is not disabled: what the protocol endpoints may talk to."""
    client = find_client(client_id)
    return client if client is not None and client.active else None


def list_clients(*, include_disabled: bool = True) -> list[OAuthClient]:
    query = select(OAuthClient).order_by(OAuthClient.id)
    if not include_disabled:
        query = query.where(OAuthClient.disabled_at.is_(None))
    return list(db.session.execute(query).scalars())


def update_client(client_id: str, *, name: str | None = None, redirect_uris: Iterable[str] | None = None,
                  post_logout_redirect_uris: Iterable[str] | None = None, scopes: Iterable[str] | None = None,
                  grant_types: Iterable[str] | None = None, first_party: bool | None = None,
                  pkce_required: bool | None = None, web_origins=UNCHANGED, backchannel_logout_uri=UNCHANGED,
                  backchannel_logout_session_required: bool | None = None,
                  access_token_format: str | None = None, audiences: Iterable[str] | None = None,
                  now: datetime) -> OAuthClient:
    """Change what is given (None leaves a field alone; a list replaces the whole list). Flushed.
    ``web_origins`` is left alone unless given: a list (empty too) replaces them, None derives them again.

    Whether a client is public cannot change: register a new client instead.
    """
    client = get_client(client_id)
    if name is not None:
        client.name = _name(name)
    if grant_types is not None:
        client.grant_types = _grant_types(grant_types, public=client.public)
    if redirect_uris is not None:
        client.redirect_uris = validate_redirect_uris(list(redirect_uris))
    if "authorization_code" in client.grant_types and not client.redirect_uris:
        validate_redirect_uris([], required=True)
    if post_logout_redirect_uris is not None:
        client.post_logout_redirect_uris = validate_redirect_uris(list(post_logout_redirect_uris))
    if scopes is not None:
        client.scopes = _scopes(scopes)
    if first_party is not None:
        client.first_party = bool(first_party)
    if pkce_required is not None:
        _check_pkce(pkce_required, public=client.public)
        client.pkce_required = bool(pkce_required)
    if access_token_format is not None:
        client.access_token_format = _access_token_format(access_token_format)
    if audiences is not None:
        client.audiences = _audiences(audiences)
    if web_origins is not UNCHANGED:
        client.web_origins = _web_origins(web_origins)
    if backchannel_logout_uri is not UNCHANGED:  # None or "" removes it
        client.backchannel_logout_uri = validate_backchannel_logout_uri(backchannel_logout_uri)
    if backchannel_logout_session_required is not None:
        client.backchannel_logout_session_required = bool(backchannel_logout_session_required)
    client.updated_at = now
    db.session.flush()
    return client


def rotate_secret(settings: Settings, client_id: str, *, now: datetime) -> ClientWithSecret:
    """A new secret for a confidential client; the old one stops working at once. Flushed."""
    client = get_client(client_id)
    if client.public:
        raise InvalidClientSettings("a public client has no secret", code="client.public_has_no_secret")
    secret = generate_secret()
    client.secret_hash = hash_secret(secret, settings.secret_keys)
    client.secret_rotated_at = client.updated_at = now
    db.session.flush()
    return ClientWithSecret(client, secret)


def disable_client(client_id: str, *, now: datetime) -> OAuthClient:
    """Stop the client: no new codes or tokens, and its issued tokens are refused from now on. Flushed."""
    client = get_client(client_id)
    if client.disabled_at is None:
        client.disabled_at = client.updated_at = now
    db.session.flush()
    return client


def enable_client(client_id: str, *, now: datetime) -> OAuthClient:
    client = get_client(client_id)
    client.disabled_at = None
    client.updated_at = now
    db.session.flush()
    return client


def _web_origins(origins) -> list[str] | None:
    return None if origins is None else validate_web_origins(list(origins) if not isinstance(origins, str)
                                                              else [origins])


def describe_client(client: OAuthClient) -> dict:
    """The operator's view of a client (``--json``, admin API): never the secret or its hash."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "pkce_required": client.requires_pkce,
        "first_party": client.first_party,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "scopes": list(client.scopes),
        "grant_types": list(client.grant_types),
        "access_token_format": client.access_token_format,
        "audiences": list(client.audiences or ()),
        # As registered (None: derived), and what CORS allows now (idp.clients.web_origins).
        "web_origins": list(client.web_origins) if client.web_origins is not None else None,
        "allowed_web_origins": sorted(client.cors_origins),
        "token_endpoint_auth_methods": list(client.auth_methods),
        "active": client.active,
        "created_at": _iso(client.created_at),
        "updated_at": _iso(client.updated_at),
        "secret_rotated_at": _iso(client.secret_rotated_at),
        "disabled_at": _iso(client.disabled_at),
    }


def _new_client_id(chosen: str | None) -> str:
    if chosen is None or chosen == "":
        return _random.token_hex(16)
    if not isinstance(chosen, str) or not _CLIENT_ID.match(chosen):
        raise InvalidClientSettings("client_id: 3-64 letters, digits, '.', '_', '~' or '-', "
                                    "not starting with a symbol", code="client.client_id.invalid")
    if find_client(chosen) is not None:
        raise ClientExists(f"client {chosen!r} exists")
    return chosen


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidClientSettings("a client needs a name", code="client.name.required")
    if len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise InvalidClientSettings(f"a name is at most {MAX_NAME} printable characters",
                                    code="client.name.invalid")
    return name


def _scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return list(STANDARD_SCOPES)
    if isinstance(scopes, str):
        scopes = [scopes]
    result: list[str] = []
    for item in scopes:
        for scope in str(item).split():
            if not _SCOPE_TOKEN.match(scope):
                raise InvalidClientSettings(f"not a valid scope: {scope[:64]!r}", code="client.scope.invalid")
            if scope not in result:
                result.append(scope)
    return result


def _grant_types(grant_types: Iterable[str] | None, *, public: bool) -> list[str]:
    if grant_types is None:
        return ["authorization_code", "refresh_token"] + ([] if public else ["client_credentials"])
    if isinstance(grant_types, str):
        grant_types = grant_types.split()
    result: list[str] = []
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise InvalidClientSettings(f"unknown grant type {str(grant)[:40]!r}; "
                                        f"use {', '.join(GRANT_TYPES)}", code="client.grant_type.invalid")
        if grant not in result:
            result.append(grant)
    if not result:
        raise InvalidClientSettings("a client needs at least one grant type",
                                    code="client.grant_type.required")
    if public and "client_credentials" in result:
        # RFC 6749 §4.4: only confidential clients may use client_credentials.
        raise InvalidClientSettings("a public client cannot use client_credentials",
                                    code="client.grant_type.public_client_credentials")
    return result


def _access_token_format(value) -> str:
    if value not in ACCESS_TOKEN_FORMATS:
        raise InvalidClientSettings(f"access_token_format: {' or '.join(ACCESS_TOKEN_FORMATS)}",
                                    code="client.access_token_format.invalid")
    return value


def _audiences(audiences: Iterable[str]) -> list[str]:
    """Resource URIs (RFC 8707 §2): absolute, no fragment, no spaces or control characters; in order, once."""
    audiences = [audiences] if isinstance(audiences, str) else list(audiences)
    if len(audiences) > MAX_AUDIENCES:  # as sent, duplicates included (the admin API document's maxItems)
        raise InvalidClientSettings(f"at most {MAX_AUDIENCES} audiences", code="client.audience.too_many")
    result: list[str] = []
    for uri in audiences:
        if not isinstance(uri, str) or not _RESOURCE_URI.match(uri) or len(uri) > MAX_AUDIENCE_LENGTH:
            raise InvalidClientSettings(f"not an absolute URI without a fragment: {str(uri)[:200]!r}",
                                        code="client.audience.invalid")
        if uri not in result:
            result.append(uri)
    return result


def _check_pkce(pkce_required: bool, *, public: bool) -> None:
    if public and not pkce_required:
        # RFC 9700 §2.1.1: without a secret, PKCE is what binds the code to the app that asked for it.
        raise InvalidClientSettings("a public client must use PKCE; only a confidential client may be opted out",
                                    code="client.pkce.public")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None
