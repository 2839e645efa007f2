"""Validation of registered redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7.3, OIDC RP-Initiated Logout §3).

Rules, the same for ``redirect_uris`` and ``post_logout_redirect_uris``:

* an absolute URI with a host, at most :data:`MAX_LENGTH` characters, no whitespace or control characters;
* ``https``, or ``http`` only on a loopback host (``127.0.0.1``, ``localhost``, ``[::1]``) for
  development and native apps (RFC 8252 §7.3);
* no fragment (RFC 6749 §3.1.2), no user name or password in the authority, no wildcard;
* a query part is allowed (RFC 6749 §3.1.2) and is part of the exact match.

Authorization requests are matched against the registered list by exact string comparison
(OAuth 2.0 Security BCP, RFC 9700 §4.1.3): no prefix, no pattern, no port leniency.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from idp.errors import BadRequest

MAX_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: At most this many URIs per list: a registration, not a database of its own.
MAX_URIS = 20
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\<>\"{}|^`]")


class InvalidRedirectUri(BadRequest):
    """A redirect URI breaks a rule; ``code`` names the rule, the description names the URI."""

    code = "client.redirect_uri.invalid"


def validate_redirect_uri(uri: str) -> str:
    """``uri`` unchanged if it may be registered; raises :class:`InvalidRedirectUri` with the broken rule."""
    if not isinstance(uri, str) or not uri:
        raise InvalidRedirectUri("empty redirect URI", code="client.redirect_uri.malformed")
    if len(uri) > MAX_LENGTH:
        raise InvalidRedirectUri(f"longer than {MAX_LENGTH} characters", code="client.redirect_uri.too_long")
    shown = uri[:200]
    if _FORBIDDEN.search(uri):
        raise InvalidRedirectUri(f"{shown!r} has spaces or forbidden characters",
                                 code="client.redirect_uri.malformed")
    if "#" in uri:
        raise InvalidRedirectUri(f"{shown!r} has a fragment", code="client.redirect_uri.fragment")
    if "*" in uri:
        raise InvalidRedirectUri(f"{shown!r} has a wildcard", code="client.redirect_uri.wildcard")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise InvalidRedirectUri(f"{shown!r} is not a valid URL",
                                 code="client.redirect_uri.malformed") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidRedirectUri(f"{shown!r} must be an https:// URL", code="client.redirect_uri.scheme")
    if not host:
        raise InvalidRedirectUri(f"{shown!r} has no host", code="client.redirect_uri.host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidRedirectUri(f"{shown!r} carries credentials", code="client.redirect_uri.userinfo")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise InvalidRedirectUri(f"{shown!r}: http is allowed only on 127.0.0.1, localhost or [::1]",
                                 code="client.redirect_uri.scheme")
    return uri


def validate_redirect_uris(uris, *, required: bool = False) -> list[str]:
    """Each URI validated, duplicates dropped, order kept; ``required`` refuses an empty list."""
    if isinstance(uris, str):
        uris = [uris]
    result: list[str] = []
    for uri in uris or ():
        uri = validate_redirect_uri(uri.strip() if isinstance(uri, str) else uri)
        if uri not in result:
            result.append(uri)
    if required and not result:
        raise InvalidRedirectUri("at least one redirect URI is required", code="client.redirect_uri.required")
    if len(result) > MAX_URIS:
        raise InvalidRedirectUri(f"at most {MAX_URIS} URIs", code="client.redirect_uri.too_many")
    return result


def is_registered(uri: str | None, registered: list[str]) -> bool:
    """Exact, case-sensitive comparison with one of the registered URIs (RFC 9700 §4.1.3)."""
    return isinstance(uri, str) and uri in registered


def validate_backchannel_logout_uri(uri) -> str | None:
    """A back-channel logout URI (Back-Channel Logout 1.0 §2.2): the rules of a redirect URI (https, http
    only on loopback, no fragment); None or an empty string: none registered."""
    if uri is None or (isinstance(uri, str) and not uri.strip()):
        return None
    try:
        return validate_redirect_uri(uri.strip() if isinstance(uri, str) else uri)
    except InvalidRedirectUri as exc:
        raise InvalidRedirectUri(f"backchannel_logout_uri: {exc.description}",
                                 code=exc.code.replace("client.redirect_uri.",
                                                       "client.backchannel_logout_uri.")) from None
