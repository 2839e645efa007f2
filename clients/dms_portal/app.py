"""The application factory of the demo ДМС portal, a relying party of the provider.

It imports nothing from ``idp``: it knows the provider only by its issuer URL, like any other relying
party, and uses Authlib's Flask client unmodified.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from werkzeug.exceptions import HTTPException

from clients.dms_portal import csrf
from clients.dms_portal.config import PortalConfig
from clients.dms_portal.provider import init_oauth
from clients.dms_portal.store import MemoryStore, SignIns
from clients.dms_portal.texts import text, title

#: How long a portal sign-in lasts without activity at most (the refresh token may allow less).
SESSION_LIFETIME = timedelta(hours=8)

log = logging.getLogger(__name__)


@dataclass
class Portal:
    """What the views need besides Flask: the settings and the server-side stores."""

    config: PortalConfig
    store: MemoryStore
    signins: SignIns


def create_app(config: PortalConfig | Mapping | None = None) -> Flask:
    """Build the portal; ``config`` is a PortalConfig, a mapping of its fields, or None for ``DMS_*``."""
    if config is None:
        config = PortalConfig.from_env()
    elif isinstance(config, Mapping):
        config = PortalConfig(**config).validated()
    else:
        config = config.validated()

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        # Not Flask's default "session": cookies ignore ports, and the provider on the same host has its own.
        SESSION_COOKIE_NAME="dms_portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the provider's redirects back to /callback and / are top-level navigations.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        MAX_CONTENT_LENGTH=16 * 1024,
    )
    store = MemoryStore()
    app.extensions["dms_portal"] = Portal(config, store, SignIns(store, SESSION_LIFETIME.total_seconds()))
    init_oauth(app, config, cache=store)

    from clients.dms_portal.views import bp, error_page

    app.register_blueprint(bp)
    app.jinja_env.globals.update(csrf_token=csrf.token, text=text, title=title)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = {404: "page.not_found", 405: "page.method"}.get(exc.code, "page.error")
        return error_page(code, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # A bug in the portal: logged with its traceback, the visitor still gets a page in Russian.
        log.exception("unexpected error")
        return error_page("page.error", 500)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # The callback URL carries the code and state: never leak it to another site in Referer.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Content-Security-Policy",
                               "default-src 'self'; style-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; object-src 'none'; form-action 'self' " + config.issuer)
        return response

    return app
