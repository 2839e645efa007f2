"""A client's web origins: the browser origins allowed to call the provider's protocol endpoints (CORS).

Registered as ``web_origins`` (``idp clients create|update --web-origin``, the admin API's ``web_origins``):

* a list: exactly those origins (an empty list: none, even for a public client);
* ``None`` (the default): a public client's are the origins of its redirect URIs (a browser application
  runs on the origin it is redirected back to); a confidential client has none (its secret is not in a
  browser).

An origin is ``scheme://host[:port]`` as a browser sends it in ``Origin`` (RFC 6454 §6.2): ``https``, or
``http`` on a loopback host only (the redirect URIs' rule), no path, query, fragment, user name or wildcard.
It is stored serialised as a browser serialises it — scheme and host in lower case, no default port, no
trailing slash — so a request's ``Origin`` is matched by plain string comparison.

:func:`changes` counts committed changes of clients in this process (every session's commit that wrote an
``oauth_clients`` row): the protocol API's set of known origins reloads when it moves
(:mod:`idp.oidc.protocol.cors`).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.clients.redirect_uris import LOOPBACK_HOSTS
from idp.errors import BadRequest

#: At most this many origins per client.
MAX_ORIGINS = 20
MAX_LENGTH = 300
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: A host name, or the IPv6 loopback (no other address literal in brackets).
_HOST = re.compile(r"^(\[::1\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$")


class InvalidWebOrigin(BadRequest):
    """A web origin breaks a rule; ``code`` names the rule, the description names the origin."""

    code = "client.web_origin.invalid"


def validate_web_origin(value) -> str:
    """``value`` as a serialised origin (see the module's documentation), or :class:`InvalidWebOrigin`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidWebOrigin("empty web origin", code="client.web_origin.malformed")
    value = value.strip()
    if len(value) > MAX_LENGTH:
        raise InvalidWebOrigin(f"a web origin is at most {MAX_LENGTH} characters",
                               code="client.web_origin.too_long")
    shown = value[:100]
    if "*" in value:
        raise InvalidWebOrigin(f"{shown!r} has a wildcard: register each origin",
                               code="client.web_origin.wildcard")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidWebOrigin(f"{shown!r} is not scheme://host[:port]",
                               code="client.web_origin.malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not value.lower().startswith(scheme + "://"):
        raise InvalidWebOrigin(f"{shown!r} must be https://host[:port]", code="client.web_origin.scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidWebOrigin(f"{shown!r} carries credentials", code="client.web_origin.userinfo")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise InvalidWebOrigin(f"{shown!r}: an origin is scheme://host[:port], no path, query or fragment",
                               code="client.web_origin.path")
    host = (parts.hostname or "").lower()
    if not host or not _HOST.match(f"[{host}]" if ":" in host else host):
        raise InvalidWebOrigin(f"{shown!r} has no valid host", code="client.web_origin.host")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise InvalidWebOrigin(f"{shown!r}: http is allowed only on 127.0.0.1, localhost or [::1]",
                               code="client.web_origin.scheme")
    return _serialise(scheme, host, port)


def validate_web_origins(values) -> list[str]:
    """Each origin validated and serialised, duplicates dropped, order kept."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise InvalidWebOrigin("web_origins must be a list of origins", code="client.web_origin.malformed")
    result: list[str] = []
    for value in values:
        origin = validate_web_origin(value)
        if origin not in result:
            result.append(origin)
    if len(result) > MAX_ORIGINS:
        raise InvalidWebOrigin(f"at most {MAX_ORIGINS} web origins", code="client.web_origin.too_many")
    return result


def origin_of(uri: str) -> str | None:
    """The serialised origin of an ``http(s)`` URL, or None (another scheme, or not a URL)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return _serialise(scheme, host, port)


def _serialise(scheme: str, host: str, port: int | None) -> str:
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def effective_origins(public, redirect_uris, web_origins) -> frozenset[str]:
    """The origins a client's registration allows (an active client's; see the module's documentation)."""
    if web_origins is not None:
        return frozenset(web_origins)
    if not public:
        return frozenset()
    return frozenset(origin for origin in map(origin_of, redirect_uris or ()) if origin)


# -- changes of clients, counted at commit -------------------------------------------------------------------

_changes = [0]
_PENDING = "idp.clients.changed"


def changes() -> int:
    """How many commits in this process wrote a client (see the module's documentation)."""
    return _changes[0]


@event.listens_for(Session, "after_flush")
def _note_client_writes(session, _flush_context) -> None:
    if session.info.get(_PENDING):
        return
    for objects in (session.new, session.dirty, session.deleted):
        if any(getattr(obj, "__tablename__", None) == "oauth_clients" for obj in objects):
            session.info[_PENDING] = True
            return


@event.listens_for(Session, "after_commit")
def _count_client_commit(session) -> None:
    if session.info.pop(_PENDING, False):
        _changes[0] += 1


@event.listens_for(Session, "after_rollback")
def _forget_client_writes(session) -> None:
    session.info.pop(_PENDING, None)
