"""The application factory."""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event

from idp.clock import Clock
from idp.delivery import Courier
from idp.errors import register_error_handlers
from idp.extensions import csrf, db
from idp.i18n import Catalogue, pick_locale
from idp.ops import configure_logging, health_bp, install_request_ids
from idp.ops.metrics import install as install_metrics
from idp.services import Services
from idp.settings import Settings

#: Form posts are small; anything larger is refused before it is parsed.
MAX_CONTENT_LENGTH = 64 * 1024


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               courier: Courier | None = None) -> Flask:
    settings = settings or Settings.from_env()
    templates = Path(settings.templates_dir)
    app = Flask("idp", template_folder=str(templates), static_folder=str(templates / "static"),
                static_url_path="/static", instance_path=settings.instance_dir)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        SESSION_COOKIE_NAME="idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime),
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session; a slow customer is no attacker
        WTF_CSRF_SSL_STRICT=settings.production,
    )
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    db.init_app(app)
    if settings.database_url.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    app.extensions["idp"] = Services.build(settings, clock=clock, courier=courier)
    catalogue = Catalogue(templates / "i18n")
    app.extensions["idp.catalogue"] = catalogue

    from idp.web import bp as web_bp

    app.register_blueprint(web_bp)
    from idp.oidc.server import init_oidc

    init_oidc(app)  # OpenID Connect endpoints, signing keys
    from idp.admin import init_app as init_admin

    init_admin(app)  # admin REST API (/api/admin) and web area (/admin)
    from idp.policies.api import init_app as init_policies_api

    init_policies_api(app)  # the policy system's REST API (/api/v1/policies)
    register_error_handlers(app)
    _install_locale(app, catalogue)
    _install_security_headers(app, settings)
    app.register_blueprint(health_bp)
    install_metrics(app)
    install_request_ids(app)
    configure_logging(settings.log_format == "json")
    # botocore logs whole request bodies at DEBUG, and a request body may carry a temporary password.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).getEffectiveLevel(), logging.INFO))
    return app


def _engine_options(database_url: str) -> dict:
    """A server database (PostgreSQL) may drop idle connections or restart: test each connection as it
    leaves the pool. A SQLite file cannot go away under us, so the test would be a wasted statement per
    request."""
    return {} if database_url.startswith("sqlite") else {"pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL``, the setting SQLite documents for WAL: readers and
    the writer no longer block each other, and a commit appends to the log without an fsync (the log is
    synced at checkpoints). A crash of the process loses nothing; a power cut may lose the last commits
    but never corrupts the file. Without it every token request paid an fsync (~1.5 ms here)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer made once per key rather than per request
    (building one runs a trial serialisation; the result is the same object every time)."""

    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            return None
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = self._serializers[key] = super().get_signing_serializer(app)
        return serializer


def _install_locale(app: Flask, catalogue: Catalogue) -> None:
    @app.before_request
    def _pick_locale():
        # The authorization request may come as a POST form (OIDC Core §3.1.2.1): its ui_locales counts too.
        args = request.values if request.method == "POST" and request.endpoint == "oidc.authorize" else request.args
        requested = args.get("lang") or args.get("ui_locales")
        # No Accept-Language header (API clients): nothing to parse, the answer is the same as for an empty one.
        browser = request.accept_languages if "Accept-Language" in request.headers else None
        g.locale = pick_locale(requested, session.get("lang"), browser)
        if requested and g.locale != session.get("lang"):
            session["lang"] = g.locale

    @app.context_processor
    def _texts():
        locale = g.get("locale", "ru")
        return {"locale": locale, "t": lambda code, **kw: catalogue.text(locale, code, **kw)}


def _install_security_headers(app: Flask, settings: Settings) -> None:
    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy",
                               "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Cache-Control", "no-store")
        if settings.production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
