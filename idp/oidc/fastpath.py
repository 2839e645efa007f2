"""UserInfo and introspection's common case answered in front of Flask, at the WSGI level.

Why: resource servers call these two endpoints on every API request they serve, and after
:mod:`idp.oidc.direct` took Authlib's request machinery out of them, Flask's own per-request work (request
and app contexts, URL matching, the request hooks, the ``Response`` object and its WSGI headers) was
about 100 µs of CPU per request on the development machine: more than the lookup itself on SQLite, as
much as PostgreSQL's round trip (``bench/profile_endpoints.py``). This middleware sits directly around Flask's ``wsgi_app`` (inside
``ProxyFix`` when ``IDP_TRUSTED_PROXIES`` is set, so it sees the environ Flask would see) and answers the
successful case of exactly two requests itself:

* ``GET /oauth/userinfo``, no query string, ``Authorization: Bearer`` → :func:`idp.oidc.direct.userinfo_claims`;
* ``POST /oauth/introspect``, no query string, ``Content-Type: application/x-www-form-urlencoded`` exactly,
  a ``Content-Length`` within ``MAX_CONTENT_LENGTH`` → :func:`idp.oidc.direct.introspection_payload`.

What it guarantees:

* the same work as the Flask route's direct path: the same functions, the same single lookup on a
  read-only connection (:func:`idp.oidc.sql.read_only`), inside an app context (``g``, ``current_app``,
  Flask-SQLAlchemy's teardown), the same JSON (``app.json.dumps``, as ``server.handle_response``);
* the same response, byte for byte: status, every header in Flask's order (Authlib's
  ``Content-Type``, ``Cache-Control: no-store``, ``Pragma: no-cache``, then ``Content-Length``, then what
  :func:`idp.app._install_request_hooks` adds to a JSON answer: ``X-Content-Type-Options``,
  ``Referrer-Policy``, ``Strict-Transport-Security`` in production, ``X-Request-ID`` from
  :func:`idp.ops.logs.request_id`), body;
* the same metrics: one observation of ``idp_request_seconds`` with the route's endpoint name
  (``oidc.userinfo``, ``oidc.introspect``) and method, as the request hook makes. Neither success logs
  anything, here or through Flask;
* everything else goes to Flask untouched: other paths and methods (HEAD too), a query string, another
  content type, no or chunked body, and every answer that is not a success (no token, unknown,
  expired, revoked, wrong client secret …) or raises (a database error: Flask's error handling answers
  and logs it). A body already read is handed on as the same bytes. A request it declined after looking
  is marked (:data:`DECLINED`) so the route does not try the same direct answer a second time and goes
  to Authlib's endpoint at once;
* it checks once, on its first request, that the app's request pipeline is still the one it
  reproduces (the app's request hooks, no blueprint hooks on ``oidc``, no ``SERVER_NAME`` or
  ``TRUSTED_HOSTS``, the two routes' views), and on every request that nothing listens to Flask's
  request signals; if not, it stands aside (a warning is logged once).

Switch: ``app.extensions["idp.oidc.fastpath"].enabled = False`` (tests compare both ways). Tested by
``tests/oidc/test_fastpath.py``: every case of ``tests/oidc/test_direct.py`` and more, through raw WSGI
calls, with the fast path on and off (and with the direct path off), in development and production
mode, with ``ProxyFix``: status, header list and body equal, the same log records, the same histogram
counts, and whether Flask was reached at all.
"""
from __future__ import annotations

import io
import logging

from authlib.consts import default_json_headers
from flask import Flask, signals
from werkzeug.wsgi import get_input_stream

from idp.oidc import direct, sql
from idp.ops.logs import request_id
from idp.ops.metrics import RequestTimer

log = logging.getLogger(__name__)

USERINFO_PATH = "/oauth/userinfo"
INTROSPECTION_PATH = "/oauth/introspect"
_URLENCODED = "application/x-www-form-urlencoded"

#: Set in the environ of a request the fast path looked at and left to Flask: the route goes straight to
#: Authlib's endpoint (see :func:`idp.oidc.views._read_only_endpoint`).
DECLINED = "idp.oidc.fastpath.declined"

#: What the app's request hooks must be for the answers here to be theirs (checked on the first request).
_EXPECTED_BEFORE = ["_install_request_hooks.<locals>._start", "CSRFProtect.init_app.<locals>.csrf_protect"]
_EXPECTED_AFTER = ["_install_request_hooks.<locals>._finish"]
_VIEWS = {"oidc.userinfo": "idp.oidc.views.userinfo", "oidc.introspect": "idp.oidc.views.introspect"}


class FastPath:
    """The WSGI middleware (see the module's documentation). ``wsgi_app``: Flask's, to hand everything
    else to; ``production``: whether the hooks add HSTS (``settings.production``)."""

    def __init__(self, app: Flask, wsgi_app, *, production: bool):
        self.app = app
        self.wsgi_app = wsgi_app
        self.enabled = True
        self._checked = False
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
        request_id_ = request_id(environ)
        app = self.app
        body = None
        try:
            with app.app_context():
                payload = compute(app, environ)
                if payload is not None:
                    body = app.json.dumps(payload).encode("utf-8")
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
            log.warning("UserInfo/introspection fast path off: the app's %s changed", ", ".join(problems))
        self._checked = True


def _userinfo(app: Flask, environ) -> dict | None:
    with sql.read_only():
        return direct.userinfo_claims(app.extensions["idp.oidc"], environ)


def _introspection(app: Flask, environ) -> dict | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    limit = app.config["MAX_CONTENT_LENGTH"]
    if length <= 0 or (limit is not None and length > limit):
        return None  # no body (or a chunked one), or a 413: Flask's
    data = get_input_stream(environ, max_content_length=limit).read()  # Flask's own reading of the body
    environ["wsgi.input"] = io.BytesIO(data)  # for Flask, if it answers: the very same bytes
    form = direct.parse_form(data)
    if form is None:
        return None
    with sql.read_only():
        return direct.introspection_payload(app.extensions["idp.oidc"], environ, form)
