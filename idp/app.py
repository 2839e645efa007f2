"""The application factory."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request, session
from flask.sessions import NullSession, SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import BadRequest, HTTPException

from idp.clock import Clock
from idp.database_file import prepare_sqlite_file
from idp.delivery import Courier
from idp.errors import register_error_handlers
from idp.extensions import csrf, db
from idp.headers import add_security_headers
from idp.i18n import Catalogue, pick_locale
from idp.oidc.store.connections import PING_AFTER_IDLE
from idp.ops import configure_logging, health_bp
from idp.ops.logs import request_id
from idp.ops.metrics import install as install_metrics
from idp.passwords.admission import AuditSink
from idp.services import Services
from idp.settings import Settings
from idp.startup import check_database, driver_error, engine_options

#: Form posts are small; anything larger is refused before it is parsed.
MAX_CONTENT_LENGTH = 64 * 1024

#: Machine-to-machine endpoints of this application: resource-owner APIs and load balancers call them, never
#: a browser page. They get no browser session (the cookie is neither read nor written) and no page language;
#: every other path is a page and gets all of it. (The OAuth/OIDC endpoints machines call are an application
#: of their own, :mod:`idp.oidc.protocol`; Prometheus scrapes a listener of its own, :mod:`idp.ops.metrics`,
#: and ``/metrics`` here is an unknown page like any other.)
MACHINE_PATHS = frozenset({"/healthz", "/readyz"})
MACHINE_PREFIXES = ("/api/",)


def is_machine_path(path: str) -> bool:
    return path in MACHINE_PATHS or path.startswith(MACHINE_PREFIXES)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               courier: Courier | None = None) -> Flask:
    settings = settings or Settings.from_env()
    templates = Path(settings.templates_dir)
    app = Flask("idp", template_folder=str(templates), static_folder=str(templates / "static"),
                static_url_path="/static", instance_path=settings.instance_dir)
    app.config.update(
        # The session cookie is signed with the current key and read with any accepted one (Flask's
        # fallbacks); so are CSRF tokens, whose signing key Flask-WTF takes from here (itsdangerous takes a
        # list of keys: the last signs, all verify).
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=settings.secret_keys.signing_keys[:-1],
        WTF_CSRF_SECRET_KEY=settings.secret_keys.signing_keys,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # In production the __Host- prefix: browsers take the cookie only Secure, with Path=/ and no Domain,
        # so neither a sibling subdomain nor plain HTTP can set or shadow it.
        SESSION_COOKIE_NAME="__Host-idp_session" if settings.production else "idp_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime),
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session; a slow customer is no attacker
        WTF_CSRF_SSL_STRICT=settings.production,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
    )
    try:
        db.init_app(app)  # makes the engine: imports the driver
    except (ImportError, sa_exc.NoSuchModuleError, sa_exc.ArgumentError) as exc:
        raise driver_error(settings.database_url, exc) from None
    with app.app_context():
        if settings.database_url.startswith("sqlite"):
            # The file (and its folder) before SQLite makes it world-readable; the path as Flask-SQLAlchemy
            # resolved it (a relative one is in the instance folder).
            prepare_sqlite_file(db.engine.url.database)
            event.listen(db.engine, "connect", _sqlite_pragmas)
        else:
            _ping_idle_connections(db.engine)
        check_database(db.engine)  # the database answers, or start-up stops saying so
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    app.extensions["idp"] = Services.build(settings, clock=clock, courier=courier,
                                           shedding_sink=AuditSink(app))
    catalogue = Catalogue(templates / "i18n")
    app.extensions["idp.catalogue"] = catalogue

    from idp.web import bp as web_bp

    app.register_blueprint(web_bp)
    from idp.oidc.setup import init_oidc

    protocol = init_oidc(app, production=settings.production)  # signing keys, OpenID Connect pages and API
    from idp.admin import init_app as init_admin

    init_admin(app)  # admin REST API (/api/admin) and web area (/admin)
    from idp.policies.api import init_app as init_policies_api

    init_policies_api(app)  # the policy system's REST API (/api/v1/policies)
    from idp.delivery.sns_endpoint import init_app as init_receipts

    init_receipts(app)  # delivery receipts from SNS (/api/delivery/sns)
    register_error_handlers(app)
    app.register_blueprint(health_bp)
    _install_request_hooks(app, settings, catalogue, install_metrics(app, hooks=False))
    from idp.oidc.protocol.app import Dispatcher

    # The protocol API (token, UserInfo, introspection, revocation, discovery, JWKS) beside the pages; a request
    # body that cannot be read is a 400 in both.
    app.wsgi_app = ReadableBody(Dispatcher(app.wsgi_app, protocol))
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    configure_logging(settings.log_format == "json")
    # botocore logs whole request bodies at DEBUG, and a request body may carry a temporary password.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger(noisy).getEffectiveLevel(), logging.INFO))
    return app


class ReadableBody:
    """WSGI middleware: an error raised while the application reads the request body (``wsgi.input``) is the
    client's, answered 400 by whichever application reads it. The server parses a chunked body as it is read:
    under gunicorn a bad chunk size, a chunk without its CRLF or a body cut off before its last chunk raises
    from ``read`` (its ``gunicorn.http.errors``, which are no ``OSError`` that Werkzeug would take for a
    disconnected client), and the applications answered 500. Here every such error becomes Werkzeug's
    :class:`~werkzeug.exceptions.BadRequest`: the pages show their 400 page, the JSON APIs and the protocol
    API answer ``invalid_request``. (gunicorn closes the connection after a body it failed to read.)"""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _BodyStream(stream)
        return self.app(environ, start_response)


class _BodyStream:
    """``wsgi.input`` whose read errors are :class:`BadRequest` (see :class:`ReadableBody`)."""

    __slots__ = ("_stream",)

    def __init__(self, stream):
        self._stream = stream

    def read(self, *args):
        return self._reading(self._stream.read, args)

    def readline(self, *args):
        return self._reading(self._stream.readline, args)

    def readlines(self, *args):
        return self._reading(self._stream.readlines, args)

    @staticmethod
    def _reading(method, args):
        try:
            return method(*args)
        except HTTPException:
            raise
        except Exception as exc:
            raise _unreadable(exc) from exc

    def __iter__(self):
        return iter(self.readline, b"")


def _unreadable(exc: Exception) -> BadRequest:
    return BadRequest(f"the request body could not be read ({type(exc).__name__})")


#: A pooled connection idle longer than this is tested before use (seconds).
# (The protocol store's kept connections are tested after the same idle time: one constant for both.)


def _ping_idle_connections(engine) -> None:
    """A server database (PostgreSQL) may drop idle connections or restart: a connection that sat in the
    pool for more than :data:`PING_AFTER_IDLE` is tested as it leaves it, and a dead one makes the pool
    start afresh (SQLAlchemy's ``pool_pre_ping``, for idle connections only). A connection given back a
    moment ago is not: testing it would be one more round trip on every request under load, and a
    connection that breaks between two requests fails its statement and has SQLAlchemy renew the pool
    as well. A SQLite file cannot go away under us: nothing to test."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        last_used = record.info.get("idp_last_used")
        if last_used is None or time.monotonic() - last_used <= PING_AFTER_IDLE:
            return  # just connected, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa_exc.InvalidatePoolError() from exc  # the pool reconnects, and renews the others
            raise

    @event.listens_for(engine, "checkin")
    def _mark_used(_dbapi_connection, record):
        record.info["idp_last_used"] = time.monotonic()


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


class _MachineSession(SecureCookieSession):
    """The session of a machine endpoint: always empty, never saved (see :data:`MACHINE_PATHS`)."""


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer made once per key rather than per request
    (building one runs a trial serialisation; the result is the same object every time). A cookie signed with
    a previous key (``SECRET_KEY_FALLBACKS``) is read, then saved again signed with the current one. Machine
    endpoints neither read nor write the cookie: they get an empty session that is never saved (and no
    ``Vary: Cookie``): nothing they answer depends on a browser session."""

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

    def open_session(self, app: Flask, request):
        if is_machine_path(request.path):
            return _MachineSession()
        session = super().open_session(app, request)
        if session and app.config["SECRET_KEY_FALLBACKS"] and not self._signed_with_current_key(app, request):
            # Read with a previous key (a rotation is under way): saved again, signed with the current key, so
            # the customer stays signed in once the previous key is dropped.
            session.modified = True
        return session

    def _signed_with_current_key(self, app: Flask, request) -> bool:
        signer = self._serializers.get(app.secret_key)
        if signer is None:
            signer = self._serializers[app.secret_key] = URLSafeTimedSerializer(
                app.secret_key, salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
            ).make_signer(self.salt)
        return signer.validate(request.cookies.get(self.get_cookie_name(app), ""))

    def is_null_session(self, obj) -> bool:
        return isinstance(obj, (_MachineSession, NullSession))


def _install_request_hooks(app: Flask, settings: Settings, catalogue: Catalogue, timer) -> None:
    """What every request gets, in one hook before and one after (every hook is a call on every request):

    * before anything else: its request id (logs, ``X-Request-ID``) and the start of its latency
      measurement (the Prometheus histogram ``idp_request_seconds``); then Flask-WTF's CSRF check of
      form posts (its own exemptions); then, on pages only, the language of the page (``?lang=``,
      ``ui_locales``, the session, ``Accept-Language``);
    * on the response: the security headers (:func:`idp.headers.add_security_headers`), ``X-Request-ID``,
      the latency.
    """

    # The CSRF check of Flask-WTF runs from the hook below (same exemptions, same order: before the page's
    # language), rather than from a hook of its own.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    config = app.config

    @app.before_request
    def _start():
        req = request
        context = g
        context.request_id = request_id(req.environ)
        context.request_started = timer.start()
        if req.method in config["WTF_CSRF_METHODS"] and config["WTF_CSRF_ENABLED"]:
            csrf.protect(apply_exemptions=True)  # raises CSRFError for a form without a valid token
        if is_machine_path(req.path):
            return  # machine endpoints answer in JSON, without texts: no language to pick
        # The authorization request may come as a POST form (OIDC Core §3.1.2.1): its ui_locales counts too.
        args = req.values if req.method == "POST" and req.endpoint == "oidc.authorize" else req.args
        requested = args.get("lang") or args.get("ui_locales")
        # No Accept-Language header (API clients): nothing to parse, the answer is the same as for an empty one.
        browser = req.accept_languages if "HTTP_ACCEPT_LANGUAGE" in req.environ else None
        context.locale = pick_locale(requested, session.get("lang"), browser)
        if requested and context.locale != session.get("lang"):
            session["lang"] = context.locale

    # First of all before-request hooks: a request refused by a blueprint's own check is logged and timed too.
    hooks = app.before_request_funcs[None]
    hooks.insert(0, hooks.pop(hooks.index(_start)))

    @app.context_processor
    def _texts():
        locale = g.get("locale", "ru")
        return {"locale": locale, "t": lambda code, **kw: catalogue.text(locale, code, **kw)}

    production = settings.production

    @app.after_request
    def _finish(response):
        add_security_headers(response, production=production)
        request_id_ = g.get("request_id")
        if request_id_ is not None:
            response.headers["X-Request-ID"] = request_id_
        started = g.get("request_started")
        if started is not None:
            timer.observe(request.endpoint, request.method, started)
        return response
