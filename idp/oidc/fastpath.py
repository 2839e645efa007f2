"""UserInfo, introspection and the token endpoint's common case answered in front of Flask, at the WSGI level.

Why: resource servers call UserInfo and introspection on every API request they serve, and API clients and
relying parties call the token endpoint for every access token. After :mod:`idp.oidc.direct` took Authlib's
request machinery out of them, Flask's own per-request work (request and app contexts, URL matching, the
request hooks, the ``Response`` object and its WSGI headers) was about 100 µs of CPU per request on the
development machine: more than the lookup itself on SQLite, as much as PostgreSQL's round trip, and a third
of a ``client_credentials`` grant (``bench/profile_endpoints.py``). This middleware sits directly around
Flask's ``wsgi_app`` (inside ``ProxyFix`` when ``IDP_TRUSTED_PROXIES`` is set, so it sees the environ Flask
would see) and answers the successful case of exactly three requests itself:

* ``GET /oauth/userinfo``, no query string, ``Authorization: Bearer`` → :func:`idp.oidc.direct.userinfo_claims`;
* ``POST /oauth/introspect``, no query string, ``Content-Type: application/x-www-form-urlencoded`` exactly,
  a ``Content-Length`` within ``MAX_CONTENT_LENGTH`` → :func:`idp.oidc.direct.introspection_payload`;
* ``POST /oauth/token``, the same kind of body → :func:`idp.oidc.direct.token_payload` (the direct answer
  of the ``client_credentials``, ``refresh_token`` and ``authorization_code`` grants), then the writes and
  the commit of the view (:func:`idp.oidc.views.token`: :func:`idp.oidc.tokens.run_deferred` under
  :func:`idp.oidc.sql.writing`, then the audit events published).

What it guarantees:

* the same work as the Flask route's direct path: the same functions, the same lookups (UserInfo and
  introspection on a read-only connection, :func:`idp.oidc.sql.read_only`; the token endpoint's lookups and
  writes apart, :func:`idp.oidc.sql.reads_apart`), inside an app context (``g``, ``current_app``,
  Flask-SQLAlchemy's teardown), the same JSON (``app.json.dumps``, as ``server.handle_response``);
* the same response, byte for byte: status, every header in Flask's order (Authlib's
  ``Content-Type``, ``Cache-Control: no-store``, ``Pragma: no-cache``, then ``Content-Length``, then what
  :func:`idp.app._install_request_hooks` adds to a JSON answer: ``X-Content-Type-Options``,
  ``Referrer-Policy``, ``Strict-Transport-Security`` in production, ``X-Request-ID`` from
  :func:`idp.ops.logs.request_id`), body;
* the same records: the token endpoint's rows and audit events, with the client's address and user agent
  (``g.fast_environ``, read by :func:`idp.oidc.hooks._origin`), and its log lines with the request's id
  (``g.request_id``, read by :class:`idp.ops.logs.RequestIdFilter`);
* the same metrics: one observation of ``idp_request_seconds`` with the route's endpoint name
  (``oidc.userinfo``, ``oidc.introspect``, ``oidc.token``) and method, as the request hook makes. Only the
  token endpoint's audit events log anything, here or through Flask;
* everything else goes to Flask untouched: other paths and methods (HEAD too), a query string, another
  content type, no or chunked body, and every answer that is not a success (no token, unknown,
  expired, revoked, wrong client secret …) or raises before anything was written (a database error:
  Flask's error handling answers and logs it). A body already read is handed on as the same bytes. A
  request it declined after looking is marked (:data:`DECLINED`) so the route does not try the same direct
  answer a second time and goes to Authlib's endpoint at once; the request keeps the id it was given
  (:data:`idp.ops.logs.REQUEST_ID`);
* a token request whose writes raised (a concurrent use of the same code or refresh token won: the alarm is
  recorded and committed; or a database error) is never answered from the start again: it goes to Flask
  marked :data:`WRITES_FAILED`, and the view raises that exception where its own writes would have, so the
  answer (``invalid_grant``, or the error page) is the view's;
* it checks once, on its first request, that the app's request pipeline is still the one it
  reproduces (the app's request hooks, no blueprint hooks on ``oidc``, no ``SERVER_NAME`` or
  ``TRUSTED_HOSTS``, the three routes' views), and on every request that nothing listens to Flask's
  request signals; if not, it stands aside (a warning is logged once).

Switch: ``app.extensions["idp.oidc.fastpath"].enabled = False`` (tests compare both ways). Tested by
``tests/oidc/test_fastpath.py``: every case of ``tests/oidc/test_direct.py``'s UserInfo and introspection and
more, through raw WSGI calls, with the fast path on and off (and with the direct path off), in development
and production mode, with ``ProxyFix``: status, header list and body equal, the same log records, the same
histogram counts, and whether Flask was reached at all; and by ``tests/oidc/test_direct.py``, which sends
every token-endpoint case three ways (fast path, Flask's direct answer, Authlib's path) and compares the
answers, log lines, rows and audit events.
"""
from __future__ import annotations

import io
import json
import logging

from authlib.consts import default_json_headers
from flask import Flask, g, signals
from flask.json.provider import DefaultJSONProvider

from idp.extensions import db
from idp.oidc import direct, sql, tokens
from idp.ops.logs import REQUEST_ID, request_id
from idp.ops.metrics import RequestTimer

log = logging.getLogger(__name__)

USERINFO_PATH = "/oauth/userinfo"
INTROSPECTION_PATH = "/oauth/introspect"
TOKEN_PATH = "/oauth/token"
_URLENCODED = "application/x-www-form-urlencoded"

#: Set in the environ of a request the fast path looked at and left to Flask: the route goes straight to
#: Authlib's endpoint (see :func:`idp.oidc.views._read_only_endpoint`).
DECLINED = "idp.oidc.fastpath.declined"
#: With DECLINED on a token request whose writes raised (see :class:`Written`): the exception.
WRITES_FAILED = "idp.oidc.fastpath.writes_failed"

#: What the app's request hooks must be for the answers here to be theirs (checked on the first request).
_EXPECTED_BEFORE = ["_install_request_hooks.<locals>._start", "CSRFProtect.init_app.<locals>.csrf_protect"]
_EXPECTED_AFTER = ["_install_request_hooks.<locals>._finish"]
_VIEWS = {"oidc.userinfo": "idp.oidc.views.userinfo", "oidc.introspect": "idp.oidc.views.introspect",
          "oidc.token": "idp.oidc.views.token"}


class FastPath:
    """The WSGI middleware (see the module's documentation). ``wsgi_app``: Flask's, to hand everything
    else to; ``production``: whether the hooks add HSTS (``settings.production``)."""

    def __init__(self, app: Flask, wsgi_app, *, production: bool):
        self.app = app
        self.wsgi_app = wsgi_app
        self.enabled = True
        self._checked = False
        self._dumps = None  # app.json.dumps, or the same encoder made once (see _check)
        self._timer = RequestTimer()  # the same histogram (its children are per label set, shared)
        # Authlib's headers, Content-Length, then the request hooks' (in their order) for a JSON answer.
        from idp.app import HSTS

        self._before_length = [tuple(h) for h in default_json_headers]
        self._after_length = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
        if production:
            self._after_length.append(("Strict-Transport-Security", HSTS))
        app.extensions["idp.oidc.fastpath"] = self

    def __call__(self, environ, start_response):
        if self.enabled and not environ.get("QUERY_STRING"):
            path = environ.get("PATH_INFO")
            if path == USERINFO_PATH:
                if environ.get("REQUEST_METHOD") == "GET" and "HTTP_AUTHORIZATION" in environ:
                    return self._answer(environ, start_response, "oidc.userinfo", "GET", _userinfo)
            elif path == TOKEN_PATH:
                if environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE") == _URLENCODED:
                    return self._answer(environ, start_response, "oidc.token", "POST", _token)
            elif path == INTROSPECTION_PATH:
                if (environ.get("REQUEST_METHOD") == "POST" and environ.get("CONTENT_TYPE") == _URLENCODED
                        and "HTTP_AUTHORIZATION" in environ):
                    return self._answer(environ, start_response, "oidc.introspect", "POST", _introspection)
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, start_response, endpoint: str, method: str, compute):
        if not self._checked:
            self._check()
            if not self.enabled:
                return self.wsgi_app(environ, start_response)
        if signals.request_started.receivers or signals.request_finished.receivers \
                or signals.request_tearing_down.receivers:
            return self.wsgi_app(environ, start_response)  # someone listens to Flask's requests
        started = self._timer.start()
        request_id_ = environ[REQUEST_ID] = request_id(environ)  # Flask's, too, if it answers
        app = self.app
        body = None
        try:
            with app.app_context():
                context = g._get_current_object()
                context.request_id, context.fast_environ = request_id_, environ  # for logs and audit events
                payload = compute(app, environ)
                if payload is not None:
                    body = self._dumps(payload).encode("utf-8")
        except Written as written:  # the token endpoint, its writes begun: Flask's view answers the error
            environ[WRITES_FAILED] = written.__cause__
        except Exception:  # noqa: BLE001 - Flask's path answers (and logs) it, from the start
            body = None
        if body is None:
            environ[DECLINED] = True
            return self.wsgi_app(environ, start_response)
        headers = [*self._before_length, ("Content-Length", str(len(body))), *self._after_length,
                   ("X-Request-ID", request_id_)]
        self._timer.observe(endpoint, method, started)
        start_response("200 OK", headers)
        return [body]

    def _check(self) -> None:
        """Is the app's request pipeline still the one the answers here reproduce? If not, stand aside."""
        app = self.app
        names = {key: [f.__qualname__ for f in funcs] for key, funcs in app.before_request_funcs.items()}
        after = {key: [f.__qualname__ for f in funcs] for key, funcs in app.after_request_funcs.items()}
        views = {name: f"{view.__module__}.{view.__name__}" for name, view in app.view_functions.items()
                 if name in _VIEWS}
        problems = [what for what, bad in (
            ("before_request hooks", names.get(None) != _EXPECTED_BEFORE or "oidc" in names),
            ("after_request hooks", after.get(None) != _EXPECTED_AFTER or "oidc" in after),
            ("teardown_request hooks", any(app.teardown_request_funcs.values())),
            ("url_value_preprocessors", any(app.url_value_preprocessors.values())),
            ("SERVER_NAME/TRUSTED_HOSTS", app.config.get("SERVER_NAME") or app.config.get("TRUSTED_HOSTS")),
            ("views", views != _VIEWS),
        ) if bad]
        if problems:
            self.enabled = False
            log.warning("UserInfo/introspection/token fast path off: the app's %s changed",
                        ", ".join(problems))
        self._dumps = _dumps_of(app.json)
        self._checked = True


def _dumps_of(provider):
    """``provider.dumps``; for Flask's own provider, the very encoder it makes on every call (its
    ``default``, ``ensure_ascii``, ``sort_keys``), made once: a microsecond of every answer here."""
    if type(provider) is not DefaultJSONProvider:
        return provider.dumps
    return json.JSONEncoder(default=provider.default, ensure_ascii=provider.ensure_ascii,
                            sort_keys=provider.sort_keys).encode


def _userinfo(app: Flask, environ) -> dict | None:
    with sql.read_only():
        return direct.userinfo_claims(app.extensions["idp.oidc"], environ)


def _introspection(app: Flask, environ) -> dict | None:
    form = _form(app, environ, unique=False)
    if form is None:
        return None
    with sql.read_only():
        return direct.introspection_payload(app.extensions["idp.oidc"], environ, form)


class Written(Exception):
    """Raised from the token endpoint's writes (its ``__cause__``: what they raised): they may have
    committed something (a lost race's alarm commits itself, :func:`idp.oidc.tokens.run_deferred`), so the
    request must not be answered again from the start. It goes to Flask marked :data:`WRITES_FAILED`, and
    the view raises the error where its own writes would have raised it."""


def _token(app: Flask, environ) -> dict | None:
    """The token endpoint's view (:func:`idp.oidc.views.token`) for the requests its direct path answers:
    the same direct answer, the same writes and commit; None (nothing written) for anything else."""
    form = _form(app, environ, unique=True)
    if form is None:
        return None
    with tokens.deferred_writes(), sql.reads_apart():
        payload = direct.token_payload(app.extensions["idp.oidc"], environ, form)
        if payload is None:
            return None
        try:
            with sql.writing():
                tokens.run_deferred()
                if sql.session_began():
                    db.session.commit()
            tokens.committed()
        except Exception as error:  # noqa: BLE001 - the view raises it again (see Written); the session
            raise Written() from error  # is rolled back as the app context ends, as after the view's error
    return payload


def _form(app: Flask, environ, *, unique: bool) -> dict[str, str] | None:
    """The form-encoded body of a request with a ``Content-Length`` (:func:`idp.oidc.direct.parse_form`),
    read as Flask reads it and put back for Flask; None for anything Flask must answer."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    limit = app.config["MAX_CONTENT_LENGTH"]
    if length <= 0 or (limit is not None and length > limit):
        return None  # no body (or a chunked one), or a 413: Flask's
    # What Flask would read (werkzeug's get_input_stream), read here without werkzeug's LimitedStream, which
    # cost more than parsing the form: Content-Length bytes; from a server that ends the stream itself
    # (``wsgi.input_terminated``, as gunicorn does at the body's end) all of it, up to the limit + 1.
    stream = environ["wsgi.input"]
    terminated = "wsgi.input_terminated" in environ
    data = stream.read(length + 1 if terminated else length)
    if terminated and len(data) > length:  # the stream goes on past Content-Length: Flask would read on
        data += stream.read() if limit is None else stream.read(limit + 1 - len(data))
    environ["wsgi.input"] = io.BytesIO(data)  # for Flask, if it answers: the very same bytes
    if len(data) != length:
        return None  # shorter (the client went away: a 400) or longer than Content-Length: Flask answers
    return direct.parse_form(data, unique=unique)
