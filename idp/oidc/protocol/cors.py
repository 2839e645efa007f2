"""CORS (the Fetch standard's CORS protocol) for browser applications at the protocol API, in one place.

Discovery, the JWKS, the token endpoint, UserInfo and revocation answer cross-origin requests from the web
origins registered for clients (:mod:`idp.clients.web_origins`), and from nowhere else:

* an actual request with an ``Origin`` allowed gets ``Access-Control-Allow-Origin: <that origin>`` and
  ``Access-Control-Expose-Headers: WWW-Authenticate`` (a page reads the Bearer challenge of a 401);
  any other origin gets no CORS header at all, so the browser hides the answer from the page;
* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an allowed origin is
  204 with the origin, the route's methods, the request headers allowed (``Authorization``,
  ``Content-Type``) and ``Access-Control-Max-Age``; from another origin 403 ``access_denied`` without any
  CORS header; an ``OPTIONS`` that is no preflight is 204 with ``Allow``;
* never ``Access-Control-Allow-Credentials``: no cookie or TLS client certificate is ever read here, and a
  browser sends none with such a request;
* every answer of these routes carries ``Vary: Origin`` (discovery and the JWKS are cacheable).

Which origins are allowed:

* discovery and the JWKS (no client in the request), and every preflight (a browser sends no body and no
  credentials with one, so the client is not known yet): the origins of every active client, held in this
  process by :class:`KnownOrigins`;
* the actual request to the token endpoint, UserInfo or revocation: the origins of the client the request
  concerns — the client it names (token, revocation) or the client its access token was issued to
  (UserInfo) — read with that client's record by the endpoint's own lookup (no query of its own); an
  answer where no client could be identified (an unknown token, a malformed request) allows any known
  origin, like the preflight, so that the page can read its error.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Callable

from sqlalchemy import select

from idp.clients import OAuthClient
from idp.clients.web_origins import changes, effective_origins
from idp.oidc.store.records import CLIENTS_LOADED
from idp.oidc.store.statements import Pending, Statement

log = logging.getLogger(__name__)

#: Request headers a page may send (beyond the CORS-safelisted ones).
ALLOW_HEADERS = "Authorization, Content-Type"
#: Response headers a page may read (beyond the CORS-safelisted ones).
EXPOSE_HEADERS = "WWW-Authenticate"
#: How long a browser may keep a preflight's answer (seconds).
MAX_AGE = 600
#: The known origins are read again after this long (seconds), and after a commit in this process that
#: changed a client; an origin not among them at once if they were read more than MISS_RELOAD_INTERVAL ago.
RELOAD_INTERVAL = 30.0
MISS_RELOAD_INTERVAL = 2.0

DENIED = "Cross-origin requests are not allowed from this origin."
_DENIED_BODY = json.dumps({"error": "access_denied", "error_description": DENIED}).encode()
PUBLIC, CLIENT = "public", "client"  # Route.cors: whose origins an actual request's answer is for

_clients = OAuthClient.__table__
_ACTIVE_CLIENTS = Statement(select(_clients.c.public, _clients.c.redirect_uris, _clients.c.web_origins)
                            .where(_clients.c.disabled_at.is_(None)))


class KnownOrigins:
    """The web origins of every active client, read from ``store`` and kept in this process.

    Read again when a commit in this process changed a client (:func:`idp.clients.web_origins.changes`),
    every :data:`RELOAD_INTERVAL` seconds (changes made by another process or instance), and when an origin
    is asked about that is not among them and they are older than :data:`MISS_RELOAD_INTERVAL` (an origin
    just registered elsewhere works within seconds; unknown origins cost at most one query per interval).
    A request without ``Origin`` never asks."""

    def __init__(self, store, *, clock: Callable[[], float] = time.monotonic):
        self.store, self.clock = store, clock
        self.origins: frozenset[str] = frozenset()
        self.loaded_at: float | None = None
        self.generation = -1

    def __contains__(self, origin: str) -> bool:
        now = self.clock()
        loaded_at = self.loaded_at
        if (loaded_at is None or self.generation != changes() or now - loaded_at >= RELOAD_INTERVAL
                or (origin not in self.origins and now - loaded_at >= MISS_RELOAD_INTERVAL)):
            self.reload(now)
        return origin in self.origins

    def reload(self, now: float) -> None:
        generation = changes()  # before reading: a commit meanwhile makes the next question read again
        try:
            with self.store.connect() as connection:
                rows = connection.all(_ACTIVE_CLIENTS, {})
        except Exception:  # the database is away: keep what is known, ask again after a while
            log.warning("could not read the clients' web origins; keeping the %d known", len(self.origins),
                        exc_info=True)
            self.generation, self.loaded_at = generation, now
            return
        origins: set[str] = set()
        for public, redirect_uris, web_origins in rows:
            origins |= effective_origins(public, _decoded(redirect_uris), _decoded(web_origins))
        self.origins, self.generation, self.loaded_at = frozenset(origins), generation, now


def _decoded(value):
    return value.process(value.raw) if type(value) is Pending else value


class Cors:
    """The protocol API's CORS (see the module's documentation): :meth:`serve` answers every request to a
    route with ``cors`` set."""

    def __init__(self, store, *, answer: Callable, clock: Callable[[], float] = time.monotonic):
        self.known = KnownOrigins(store, clock=clock)
        self.answer = answer  # the protocol API's Answer(status, body, headers)

    def serve(self, route, method: str, environ, respond: Callable):
        """The answer of ``respond()`` with its CORS headers, or the answer to a preflight."""
        origin = environ.get("HTTP_ORIGIN")
        if method == "OPTIONS":
            answer = self.preflight(route, origin, environ)
        elif origin is None:
            answer = respond()
        else:
            loaded: list = []
            watching = CLIENTS_LOADED.set(loaded)
            try:
                answer = respond()
            finally:
                CLIENTS_LOADED.reset(watching)
            if route.cors == CLIENT and loaded:
                allowed = origin in loaded[0].cors_origins  # the client the request concerns
            else:
                allowed = origin in self.known
            if allowed:
                answer.headers += [("Access-Control-Allow-Origin", origin),
                                   ("Access-Control-Expose-Headers", EXPOSE_HEADERS)]
        answer.headers.append(("Vary", "Origin"))
        return answer

    def preflight(self, route, origin: str | None, environ):
        Answer = self.answer
        methods = ", ".join(sorted(route.methods | {"OPTIONS"}))
        if origin is None or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in environ:
            return Answer(204, b"", [("Allow", methods)])  # a plain OPTIONS request, not a preflight
        if origin not in self.known:
            return Answer(403, _DENIED_BODY, [])
        return Answer(204, b"", [("Allow", methods), ("Access-Control-Allow-Origin", origin),
                                 ("Access-Control-Allow-Methods", ", ".join(sorted(route.methods))),
                                 ("Access-Control-Allow-Headers", ALLOW_HEADERS),
                                 ("Access-Control-Max-Age", str(MAX_AGE))])
