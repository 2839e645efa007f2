"""The WSGI-level fast path of UserInfo, introspection and the token endpoint (idp.oidc.fastpath) answers as
Flask does.

Every case is a raw WSGI call (an environ from Werkzeug's EnvironBuilder, ``app(environ, start_response)``)
made three times: fast path on; fast path off (Flask's route with its direct answer, idp.oidc.direct);
both off (Authlib's endpoints). The three answers must be the same: status line, the list of headers
in order, body, the log records, and the requests counted by the ``idp_request_seconds`` histogram
(by label set). Development and production mode (HSTS), and behind ProxyFix (IDP_TRUSTED_PROXIES).
Whether the fast path answered itself or handed the request to Flask is checked too: it answers the
successes, and nothing else. Runs on SQLite, and on PostgreSQL with IDP_TEST_DATABASE_URL.

The token endpoint's grants are compared the three ways case by case in tests/oidc/test_direct.py (through the
test client); here: production mode, a proxy, request ids and database errors, through raw WSGI calls.
"""
from __future__ import annotations

import io
import logging
import secrets

import pytest
from flask import signals
from prometheus_client import REGISTRY
from sqlalchemy import exc as sa_exc
from werkzeug.test import EnvironBuilder

from idp.oidc import direct, records
from tests.oidc.test_direct import (INTROSPECTION_CASES, REQUEST_ID, USERINFO_CASES, _basic,  # noqa: F401
                                    client_auth, world)

PRODUCTION = dict(env="production", issuer="https://lk.example.test", secret_key=secrets.token_urlsafe(48),
                  bcrypt_rounds=10, delivery_mode="worker", email_transport="ses", sms_transport="sns")
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture(params=["development", "production"])
def mode(request):
    return request.param


@pytest.fixture
def app(request, make_app, mode):
    """The app in development or production mode (``mode``), or behind one proxy (``proxied``)."""
    if mode == "production":
        request.getfixturevalue("aws_unreachable")
        made = make_app(**PRODUCTION)
        assert made.extensions["idp"].settings.production
        return made
    if mode == "proxied":
        return make_app(trusted_proxies=1)
    return make_app()


def _call(app, method: str, path: str, *, headers=None, data=None, query_string=None, content_type=None,
          environ=None) -> tuple[str, list, bytes]:
    builder = EnvironBuilder(path=path, method=method, headers=headers, data=data, query_string=query_string,
                             content_type=content_type)
    try:
        env = builder.get_environ()
    finally:
        builder.close()
    env.update(environ or {})
    if isinstance(env["wsgi.input"], bytes):  # a body of its own for every call
        env["wsgi.input"] = io.BytesIO(env["wsgi.input"])
    started: list = []

    def start_response(status, response_headers, exc_info=None):
        started.append((status, list(response_headers)))

    iterable = app(env, start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return started[0][0], started[0][1], body


def _counts() -> dict:
    """Every label set of idp_request_seconds and its count."""
    return {tuple(sorted(s.labels.items())): s.value for metric in REGISTRY.collect()
            if metric.name == "idp_request_seconds" for s in metric.samples if s.name.endswith("_count")}


def _observed(before: dict, after: dict) -> dict:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


#: What the direct path is, per endpoint, switched off for the third way (Authlib's endpoints).
_DIRECT_OFF = {"userinfo": lambda server: None, "introspection": lambda server: None,
               "token_payload": lambda *args: None}


def _three(app, monkeypatch, caplog, method, path, *, written=None, **kwargs):
    """The answer with the fast path, checked against Flask's and Authlib's; and whether Flask was reached.
    ``written(since)``: what the request wrote (audit events after id ``since``), compared too and returned
    after the answer; a token response's new access token is compared by its length only."""
    import json

    from tests.oidc.test_direct import _last_event_id

    fast = app.extensions["idp.oidc.fastpath"]
    flask_app, reached = fast.wsgi_app, []

    def to_flask(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    monkeypatch.setattr(fast, "wsgi_app", to_flask)
    kwargs.setdefault("headers", {}).setdefault("X-Request-ID", REQUEST_ID)
    answers = {}
    for way in ("fast", "flask", "authlib"):
        with monkeypatch.context() as patch:
            if way != "fast":
                patch.setattr(fast, "enabled", False)
            if way == "authlib":
                for name, off in _DIRECT_OFF.items():
                    patch.setattr(direct, name, off)
            reached.clear()
            caplog.clear()
            before, since = _counts(), _last_event_id(app) if written else None
            with caplog.at_level(logging.DEBUG):
                status, headers, body = _call(app, method, path, **kwargs)
            if path == "/oauth/token" and status.startswith("200"):
                body = json.loads(body)
                assert len(body.pop("access_token")) == 43  # each issue makes its own
            logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
            answers[way] = (status, headers, body, logs, _observed(before, _counts()), bool(reached),
                            written(since) if written else None)
    compared = lambda answer: (*answer[:5], answer[6])  # noqa: E731 - all but whether Flask was reached
    assert compared(answers["fast"]) == compared(answers["flask"]) == compared(answers["authlib"])
    assert sum(answers["fast"][4].values()) == 1  # one request, counted once
    return answers["fast"] if written else answers["fast"][:6]


def _expect(answer, mode: str, *, answered: bool) -> None:
    status, headers, body, logs, observed, reached = answer
    assert reached is not answered
    if answered:
        assert status == "200 OK" and logs == []
        names = [name for name, _ in headers]
        assert names == ["Content-Type", "Cache-Control", "Pragma", "Content-Length", "X-Content-Type-Options",
                         "Referrer-Policy", *(["Strict-Transport-Security"] if mode == "production" else []),
                         "X-Request-ID"]
        assert ("X-Request-ID", REQUEST_ID) in headers and ("Cache-Control", "no-store") in headers
        assert (HSTS in headers) is (mode == "production")


@pytest.mark.parametrize("auth, status", USERINFO_CASES)
def test_userinfo_get(app, mode, world, monkeypatch, caplog, auth, status):
    headers = {"Authorization": auth} if auth else {}
    answer = _three(app, monkeypatch, caplog, "GET", "/oauth/userinfo", headers=headers)
    assert int(answer[0].split()[0]) == status
    _expect(answer, mode, answered=status == 200)
    assert answer[4] == {(("endpoint", "oidc.userinfo"), ("method", "GET")): 1}


@pytest.mark.parametrize("auth, status", USERINFO_CASES[:6])
def test_userinfo_post_is_flasks(app, world, monkeypatch, caplog, auth, status):
    answer = _three(app, monkeypatch, caplog, "POST", "/oauth/userinfo", headers={"Authorization": auth})
    assert int(answer[0].split()[0]) == status and answer[5]


@pytest.mark.parametrize("how", ["query", "head", "body-token", "trailing-slash"])
def test_userinfo_other_requests_are_flasks(app, world, monkeypatch, caplog, how):
    kwargs = {"headers": {"Authorization": "Bearer a-full"}}
    method, path = "GET", "/oauth/userinfo"
    if how == "query":
        kwargs["query_string"] = "lang=en"
    elif how == "head":
        method = "HEAD"
    elif how == "body-token":
        method, kwargs = "POST", {"data": {"access_token": "a-full"}}
    else:
        path += "/"
    answer = _three(app, monkeypatch, caplog, method, path, **kwargs)
    assert answer[5]  # Flask answered
    assert answer[0].startswith("404" if how == "trailing-slash" else "200")


@pytest.mark.parametrize("who, data, active", INTROSPECTION_CASES)
def test_introspection(app, mode, world, monkeypatch, caplog, who, data, active):
    client_id, secret = world[who]
    headers = {"Authorization": _basic(client_id, secret or "none")}
    answer = _three(app, monkeypatch, caplog, "POST", "/oauth/introspect", headers=headers, data=data)
    if active is None:
        assert not answer[0].startswith("200")
    else:
        assert (b'"active": true' in answer[2]) is active
    _expect(answer, mode, answered=active is not None)
    assert answer[4] == {(("endpoint", "oidc.introspect"), ("method", "POST")): 1}


@pytest.mark.parametrize("auth", ["wrong-secret", "unknown-client", "no-colon", "bad-base64", "empty-secret",
                                  "post", "none", "bearer"])
def test_introspection_client_failures_are_flasks(app, world, monkeypatch, caplog, auth):
    headers, data = client_auth(world, auth)
    answer = _three(app, monkeypatch, caplog, "POST", "/oauth/introspect", headers=headers, data=data)
    assert answer[0].startswith("200" if auth == "post" else "401") and answer[5]


@pytest.mark.parametrize("how", ["charset", "query", "not-utf8", "too-large", "no-length", "gunicorn",
                                 "gunicorn-chunked", "gunicorn-past-length", "short-body", "json", "get"])
def test_introspection_other_requests(app, world, monkeypatch, caplog, how):
    """Everything but a plain form post with a length goes to Flask; a body read here reaches it intact."""
    client_id, secret = world["rp"]
    kwargs = {"headers": {"Authorization": _basic(client_id, secret)}, "data": "token=a-full",
              "content_type": URLENCODED}
    method, answered, status = "POST", False, "200"
    if how == "charset":
        kwargs["content_type"] = URLENCODED + "; charset=utf-8"
    elif how == "query":
        kwargs["query_string"] = "token=a-other"
    elif how == "not-utf8":
        kwargs["data"] = b"token=a-full&x=\xff"
        status = "400"  # Werkzeug reads a body that is not UTF-8 as an empty form: no token, invalid_request
    elif how == "too-large":
        kwargs["data"] = "token=a-full&pad=" + "x" * (64 * 1024)
        status = "413"
    elif how == "no-length":
        kwargs["environ"] = {"CONTENT_LENGTH": ""}
        status = "401"  # an empty form: no client authenticated by Authlib's path either (invalid_request/401)
    elif how == "gunicorn":  # the server terminates the stream (as gunicorn does): read to its end
        kwargs["environ"] = {"wsgi.input_terminated": True}
        answered = True
    elif how == "gunicorn-chunked":
        kwargs["environ"] = {"wsgi.input_terminated": True, "CONTENT_LENGTH": "",
                             "wsgi.input": b"token=a-full"}
    elif how == "gunicorn-past-length":  # a server's stream longer than Content-Length: Flask reads it all
        kwargs["environ"] = {"wsgi.input_terminated": True, "CONTENT_LENGTH": "5"}
    elif how == "short-body":  # the client went away before sending all of it
        kwargs["environ"] = {"CONTENT_LENGTH": "100"}
        status = "400"
    elif how == "json":
        kwargs.update(data='{"token": "a-full"}', content_type="application/json")
        status = "400"
    else:
        method = "GET"
        status = "405"
    answer = _three(app, monkeypatch, caplog, method, "/oauth/introspect", **kwargs)
    if how == "no-length":
        status = answer[0][:3]  # whatever Flask answers, the three ways agree (checked by _three)
    assert answer[0].startswith(status), answer[:3]
    assert answer[5] is not answered


@pytest.mark.parametrize("target", ["userinfo", "introspection"])
def test_database_error_is_flasks(app, world, monkeypatch, caplog, target):
    def broken(self, params, *, lazy=False):
        raise sa_exc.OperationalError("SELECT …", {}, Exception("the database went away"))

    monkeypatch.setattr(type(records._TOKEN_BY_ACCESS_HASH), "first", broken)
    if target == "userinfo":
        answer = _three(app, monkeypatch, caplog, "GET", "/oauth/userinfo", headers={"Authorization": "Bearer a-full"})
    else:
        client_id, secret = world["rp"]
        answer = _three(app, monkeypatch, caplog, "POST", "/oauth/introspect", data={"token": "a-full"},
                        headers={"Authorization": _basic(client_id, secret)})
    assert not answer[0].startswith("200") and answer[5]


@pytest.mark.parametrize("incoming", [None, "short", "x" * 65, "bad id!"])
def test_request_ids(app, world, incoming):
    """Without a sane incoming X-Request-ID a new one is made, 16 hex digits, as the request hook does."""
    headers = {"Authorization": "Bearer a-full"}
    if incoming:
        headers["X-Request-ID"] = incoming
    fast = app.extensions["idp.oidc.fastpath"]
    ids = []
    for enabled in (True, False):
        fast.enabled = enabled
        status, response_headers, _ = _call(app, "GET", "/oauth/userinfo", headers=headers)
        assert status == "200 OK"
        ids.append(dict(response_headers)["X-Request-ID"])
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]


@pytest.mark.parametrize("mode", ["proxied"])
def test_behind_a_proxy(app, mode, world, monkeypatch, caplog):
    """Inside ProxyFix: the fast path sees (and hands on) the environ Flask would see."""
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "lk.example"}
    answer = _three(app, monkeypatch, caplog, "GET", "/oauth/userinfo",
                    headers={"Authorization": "Bearer a-full", **forwarded})
    _expect(answer, "development", answered=True)
    client_id, secret = world["rp"]
    for auth in (_basic(client_id, secret), _basic(client_id, "wrong")):
        answer = _three(app, monkeypatch, caplog, "POST", "/oauth/introspect", data={"token": "a-full"},
                        headers={"Authorization": auth, **forwarded})
        _expect(answer, "development", answered=auth == _basic(client_id, secret))


def test_stands_aside_for_request_signals(app, world, monkeypatch, caplog):
    seen = []

    def listener(sender, **extra):
        seen.append(sender)

    signals.request_started.connect(listener, app)
    try:
        answer = _three(app, monkeypatch, caplog, "GET", "/oauth/userinfo", headers={"Authorization": "Bearer a-full"})
    finally:
        signals.request_started.disconnect(listener, app)
    assert answer[0] == "200 OK" and answer[5] and len(seen) == 3


def test_stands_aside_when_the_request_hooks_change(make_app, caplog):
    app = make_app()

    @app.before_request
    def _another_hook():
        pass

    with caplog.at_level(logging.WARNING, logger="idp.oidc.fastpath"):
        _call(app, "GET", "/oauth/userinfo", headers={"Authorization": "Bearer unknown"})
    assert app.extensions["idp.oidc.fastpath"].enabled is False
    assert "before_request hooks" in caplog.text


def test_switched_off_it_only_hands_on(make_app):
    app = make_app()
    fast = app.extensions["idp.oidc.fastpath"]
    fast.enabled = False
    calls = []
    fast.wsgi_app = lambda environ, start_response: calls.append(environ) or [b""]
    env = EnvironBuilder(path="/oauth/userinfo", headers={"Authorization": "Bearer a"}).get_environ()
    assert fast(env, None) == [b""] and calls == [env]


# -- the token endpoint ---------------------------------------------------------------------------------------

def _token_events(app, since_id: int) -> list:
    from sqlalchemy import select

    from idp.audit import AuditEvent
    from idp.extensions import db

    with app.app_context():
        return [(e.event, e.client_id, e.ip, e.user_agent, e.details) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.id > since_id).order_by(AuditEvent.id)).scalars()]


@pytest.mark.parametrize("mode", ["development", "production", "proxied"])
def test_token(app, mode, world, monkeypatch, caplog):
    """client_credentials through the fast path: the response of Flask's view byte for byte (HSTS in
    production), the token.issued event with the client's address and user agent (behind a proxy: the
    forwarded address, as ProxyFix makes it), one observation of the endpoint's latency."""
    client_id, secret = world["rp"]
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"} if mode == "proxied" else {}
    headers = {"Authorization": _basic(client_id, secret), "User-Agent": "api-client/1.0", **forwarded}
    answer = _three(app, monkeypatch, caplog, "POST", "/oauth/token", data={"grant_type": "client_credentials"},
                    headers=headers, environ={"REMOTE_ADDR": "198.51.100.4"},
                    written=lambda since: _token_events(app, since))
    status, headers, body, logs, observed, reached, events = answer
    assert status == "200 OK" and not reached and body["token_type"] == "Bearer"
    assert [name for name, _ in headers] == [
        "Content-Type", "Cache-Control", "Pragma", "Content-Length", "X-Content-Type-Options", "Referrer-Policy",
        *(["Strict-Transport-Security"] if mode == "production" else []), "X-Request-ID"]
    assert (HSTS in headers) is (mode == "production") and ("X-Request-ID", REQUEST_ID) in headers
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [
        ("token.issued", client_id, "203.0.113.7" if mode == "proxied" else "198.51.100.4", "api-client/1.0")]
    assert [m for _, _, m in logs] and all(name == "idp.audit" for name, _, _ in logs)
    assert observed == {(("endpoint", "oidc.token"), ("method", "POST")): 1}


@pytest.mark.parametrize("how", ["wrong-secret", "query", "charset", "json", "twice", "no-length"])
def test_token_other_requests_are_flasks(app, world, monkeypatch, caplog, how):
    from werkzeug.datastructures import MultiDict

    client_id, secret = world["rp"]
    headers, data, environ = {"Authorization": _basic(client_id, secret)}, {"grant_type": "client_credentials"}, None
    fast = app.extensions["idp.oidc.fastpath"]
    if how == "wrong-secret":
        headers["Authorization"] = _basic(client_id, "wrong")
    elif how == "query":
        environ = {"QUERY_STRING": "scope=bench.api"}
    elif how == "charset":
        environ = {"CONTENT_TYPE": URLENCODED + "; charset=utf-8"}
    elif how == "json":
        environ = {"CONTENT_TYPE": "application/json"}
    elif how == "twice":
        data = MultiDict([("grant_type", "client_credentials"), ("grant_type", "client_credentials")])
    else:
        environ = {"CONTENT_LENGTH": ""}
    answers = []
    for enabled in (True, False):
        with monkeypatch.context() as patch:
            patch.setattr(fast, "enabled", enabled)
            reached = []
            flask_app = fast.wsgi_app
            patch.setattr(fast, "wsgi_app", lambda env, sr: reached.append(1) or flask_app(env, sr))
            status, headers_, body = _call(app, "POST", "/oauth/token", headers=headers, data=data, environ=environ)
            answers.append((status, [h for h in headers_ if h[0] != "X-Request-ID"],
                            body if not status.startswith("200") else b"", bool(reached)))
    assert answers[0] == answers[1] and answers[0][3]  # Flask answered, as with the fast path off
    assert answers[0][0].startswith({"wrong-secret": "401", "json": "400", "no-length": "400"}.get(how, "200"))


@pytest.mark.parametrize("stage", ["lookup", "writes"])
def test_token_database_error(app, world, monkeypatch, caplog, stage):
    """A database error before anything is written: Flask's path answers the request from the start. One
    in the writes: Flask's view raises that very error where its own writes would have (no second attempt,
    no second log of it), so the answer is the same error page either way."""
    from idp.oidc import sql

    client_id, secret = world["rp"]
    calls = []
    if stage == "lookup":
        def broken(self, params, *, lazy=False):
            calls.append(stage)
            raise sa_exc.OperationalError("SELECT …", {}, Exception("the database went away"))

        monkeypatch.setattr(type(records._CLIENT_BY_CLIENT_ID), "first", broken)
    else:
        def broken(checked, rest):
            calls.append(stage)
            raise sa_exc.OperationalError("INSERT …", {}, Exception("the database went away"))

        monkeypatch.setattr(sql, "transaction", broken)
        monkeypatch.setattr(sql, "can_batch", lambda: True)
    fast = app.extensions["idp.oidc.fastpath"]
    answers = []
    for enabled in (True, False):
        fast.enabled = enabled
        calls.clear()
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            status, headers, body = _call(app, "POST", "/oauth/token", data={"grant_type": "client_credentials"},
                                          headers={"Authorization": _basic(client_id, secret),
                                                   "X-Request-ID": REQUEST_ID})
        answers.append((status, headers, body, [(r.name, r.getMessage()) for r in caplog.records], list(calls)))
    assert answers[0][:4] == answers[1][:4]
    assert answers[0][0].startswith("500") and len(answers[0][3]) == 1
    # Before writing, the fast path's attempt is followed by Flask's; the writes are attempted once.
    assert answers[0][4] == (["lookup", "lookup"] if stage == "lookup" else ["writes"])
