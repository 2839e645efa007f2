"""The machine endpoints answered directly (idp.oidc.direct) answer byte for byte as Authlib's endpoints do.

UserInfo and introspection: every case is sent twice, once with the direct path (and the WSGI-level fast
path in front of Flask, idp.oidc.fastpath) and once with both switched off, and the two answers (status,
every header in order, body) and log lines must be the same; tests/oidc/test_fastpath.py sends the same
cases through raw WSGI calls, the fast path on and off. The token endpoint: every case is sent the three
ways of TOKEN_WAYS (fast path, Flask's view with the direct answer, Authlib's path), and the answers, log
lines, rows written and audit events must be the same. Runs on SQLite, and on PostgreSQL with
IDP_TEST_DATABASE_URL."""
from __future__ import annotations

import base64
import logging
from datetime import timedelta
from urllib.parse import quote

import pytest

from idp.clients import create_client
from idp.extensions import db
from idp.oidc import direct, tokens
from idp.oidc.models import token_hash

REQUEST_ID = "req-direct-0001"


@pytest.fixture
def world(app, make_account, clock):
    services = app.extensions["idp"]
    now = services.clock.now()
    customer = make_account(email="direct@example.com", phone="+79161234567", full_name="Анна Иванова",
                            password="Polis2026")
    disabled = make_account(email="gone@example.com", password="Polis2026")
    with app.app_context():
        from idp.accounts import Account

        db.session.get(Account, customer.id).email_verified = True
        db.session.get(Account, disabled.id).disabled_at = now
        made = {}
        for name, fields in {"rp": {}, "other": {}, "off": {},
                             "public": {"public": True, "grant_types": ["authorization_code", "refresh_token"]}
                             }.items():
            created = create_client(services.settings, name=name, redirect_uris=["https://rp.example/cb"],
                                    scopes=["openid", "profile", "email", "phone", "offline_access", "bench.api"],
                                    now=now, **fields)
            made[name] = (created.client, created.secret)
        made["off"][0].disabled_at = now
        db.session.flush()
        rp, other, off = made["rp"][0], made["other"][0], made["off"][0]

        def token(name, client, account, scope="openid profile email phone", grant="authorization_code", **extra):
            values = dict(access_token_hash=token_hash("a-" + name), refresh_token_hash=token_hash("r-" + name),
                          client_pk=client.id, account_id=account.id if account else None, scope=scope,
                          grant_type=grant, family_id="f-" + name, code_id=None, issued_at=now - timedelta(seconds=30),
                          access_expires_at=now + timedelta(minutes=5), refresh_expires_at=now + timedelta(days=30),
                          auth_time=now - timedelta(seconds=60), amr="pwd")
            values.update(extra)
            tokens.add_token(**{k: v for k, v in values.items() if k in tokens.TOKEN_FIELDS})
            marks = {k: v for k, v in extra.items() if k not in tokens.TOKEN_FIELDS}
            if marks:
                from sqlalchemy import update

                from idp.oidc.models import OAuthToken

                db.session.execute(update(OAuthToken).where(OAuthToken.access_token_hash == token_hash("a-" + name))
                                   .values(**marks))

        token("full", rp, customer)
        token("openid", rp, customer, scope="openid")
        token("noopenid", rp, customer, scope="profile email")
        token("machine", rp, None, scope="bench.api", grant="client_credentials", refresh_token_hash=None,
              refresh_expires_at=None)
        token("expired", rp, customer, access_expires_at=now - timedelta(seconds=1))
        token("at-now", rp, customer, access_expires_at=now)
        token("access-revoked", rp, customer, access_revoked_at=now)
        token("revoked", rp, customer, revoked_at=now)
        token("refresh-used", rp, customer, refresh_used_at=now)
        token("other", other, customer)
        token("off", off, customer)
        token("gone", rp, disabled)
        ids = {name: (client.client_id, secret) for name, (client, secret) in made.items()}
        db.session.commit()
    return ids


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()


def _both(app, monkeypatch, caplog, method, path, **kwargs):
    answers = []
    for on in (True, False):
        with monkeypatch.context() as patch:
            if not on:
                patch.setattr(app.extensions["idp.oidc.fastpath"], "enabled", False)  # idp.oidc.fastpath
                patch.setattr(direct, "userinfo", lambda server: None)
                patch.setattr(direct, "introspection", lambda server: None)
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                headers = {"X-Request-ID": REQUEST_ID, **kwargs.pop("headers", {})} if on else answers[0][4]
                response = app.test_client().open(path, method=method, headers=headers, **kwargs)
            logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
            answers.append((response.status, list(response.headers.items()), response.get_data(), logs, headers))
    direct_answer, authlib_answer = answers
    assert direct_answer[:4] == authlib_answer[:4]
    return direct_answer


USERINFO_CASES = [
    ("Bearer a-full", 200), ("Bearer a-openid", 200), ("bearer a-full", 200), ("BEARER   a-full  ", 200),
    ("Bearer a-noopenid", 403), ("Bearer a-machine", 403), ("Bearer a-expired", 401), ("Bearer a-at-now", 401),
    ("Bearer a-access-revoked", 401), ("Bearer a-revoked", 401), ("Bearer a-refresh-used", 200),
    ("Bearer a-other", 200), ("Bearer a-off", 401), ("Bearer a-gone", 401), ("Bearer r-full", 401),
    ("Bearer unknown", 401), ("Bearer " + "x" * 600, 401), ("Bearer", 401), ("Basic a-full", 401), ("", 401),
    ("Bearer a-full\x00", 401),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("auth, status", USERINFO_CASES)
def test_userinfo_answers_as_authlib_does(app, world, monkeypatch, caplog, method, auth, status):
    headers = {"Authorization": auth} if auth else {}
    answer = _both(app, monkeypatch, caplog, method, "/oauth/userinfo", headers=headers)
    assert int(answer[0].split()[0]) == status


def test_userinfo_with_token_in_body_answers_as_authlib_does(app, world, monkeypatch, caplog):
    answer = _both(app, monkeypatch, caplog, "POST", "/oauth/userinfo", data={"access_token": "a-full"})
    assert answer[0].startswith("200")


INTROSPECTION_CASES = [
    ("rp", {"token": "a-full"}, True), ("rp", {"token": "r-full"}, True),
    ("rp", {"token": "r-full", "token_type_hint": "refresh_token"}, True),
    ("rp", {"token": "a-full", "token_type_hint": "refresh_token"}, True),
    ("rp", {"token": "a-full", "token_type_hint": "access_token"}, True),
    ("rp", {"token": "r-full", "token_type_hint": "access_token"}, True),
    ("rp", {"token": "a-full", "token_type_hint": "id_token"}, None),
    ("rp", {"token": "a-full", "token_type_hint": ""}, True),
    ("rp", {}, None), ("rp", {"token": ""}, False), ("rp", {"token": "x" * 600}, False),
    ("rp", {"token": "a-machine"}, True), ("rp", {"token": "a-openid"}, True),
    ("rp", {"token": "a-expired"}, False), ("rp", {"token": "a-at-now"}, False),
    ("rp", {"token": "a-access-revoked"}, False), ("rp", {"token": "r-access-revoked"}, True),
    ("rp", {"token": "a-revoked"}, False), ("rp", {"token": "r-refresh-used"}, False),
    ("rp", {"token": "a-refresh-used"}, True), ("rp", {"token": "a-gone"}, False),
    ("rp", {"token": "a-other"}, False), ("other", {"token": "a-other"}, True), ("rp", {"token": "a-off"}, False),
    ("rp", {"token": "unknown"}, False), ("rp", {"token": "a-full\x00"}, False),
    ("off", {"token": "a-off"}, None), ("public", {"token": "a-full"}, None),
]


@pytest.mark.parametrize("who, data, active", INTROSPECTION_CASES)
def test_introspection_answers_as_authlib_does(app, world, monkeypatch, caplog, who, data, active):
    client_id, secret = world[who]
    headers = {"Authorization": _basic(client_id, secret or "none")}
    answer = _both(app, monkeypatch, caplog, "POST", "/oauth/introspect", headers=headers, data=data)
    if active is None:
        assert not answer[0].startswith("200")
    else:
        assert answer[0].startswith("200") and (b'"active": true' in answer[2]) is active


def client_auth(world, auth: str) -> tuple[dict, dict]:
    """Headers and form of an introspection request for ``token=a-full`` whose client authenticates as
    ``auth`` says (wrong or unknown credentials, malformed Basic, in the body, none, a bearer token)."""
    client_id, secret = world["rp"]
    data, headers = {"token": "a-full"}, {}
    basic = {"wrong-secret": lambda: _basic(client_id, secret + "x"),
             "unknown-client": lambda: _basic("nobody", secret),
             "no-colon": lambda: "Basic " + base64.b64encode(client_id.encode()).decode(),
             "bad-base64": lambda: "Basic !!!",
             "empty-secret": lambda: _basic(client_id, ""),
             "bearer": lambda: "Bearer a-full"}
    if auth in basic:
        headers["Authorization"] = basic[auth]()
    elif auth == "post":
        data.update(client_id=client_id, client_secret=secret)
    return headers, data


@pytest.mark.parametrize("auth", ["wrong-secret", "unknown-client", "no-colon", "bad-base64", "empty-secret",
                                  "post", "none"])
def test_introspection_client_failures_answer_as_authlib_does(app, world, monkeypatch, caplog, auth):
    headers, data = client_auth(world, auth)
    answer = _both(app, monkeypatch, caplog, "POST", "/oauth/introspect", headers=headers, data=data)
    assert answer[0].startswith("200" if auth == "post" else "401")


# -- the token endpoint's client_credentials grant ---------------------------------------------------------

def _machine_rows(app, since_id: int) -> tuple[list, list]:
    """The token rows and token.issued events written after ``since_id`` (an audit event id), without what
    differs between two issues of the same answer (ids, hashes of new random values)."""
    from sqlalchemy import select

    from idp.audit import AuditEvent
    from idp.oidc.models import OAuthToken

    with app.app_context():
        rows = db.session.execute(select(OAuthToken).order_by(OAuthToken.id)).scalars().all()
        events = db.session.execute(select(AuditEvent).where(AuditEvent.id > since_id,
                                                             AuditEvent.event == "token.issued")
                                    .order_by(AuditEvent.id)).scalars().all()
        return ([(r.client_pk, r.account_id, r.scope, r.grant_type, r.family_id, r.code_id, r.issued_at,
                  r.access_expires_at, r.refresh_token_hash, r.refresh_expires_at, r.auth_time, r.amr)
                 for r in rows if r.grant_type == "client_credentials" and not r.family_id],
                [(e.at, e.client_id, e.account_id, e.ip, e.user_agent, e.details) for e in events])


def _last_event_id(app) -> int:
    from sqlalchemy import func, select

    from idp.audit import AuditEvent

    with app.app_context():
        return db.session.execute(select(func.coalesce(func.max(AuditEvent.id), 0))).scalar()


#: The three ways a token request is sent: the WSGI-level fast path in front of Flask (idp.oidc.fastpath) with
#: the direct answer; Flask's view with the direct answer (the fast path off); Authlib's path (both off).
TOKEN_WAYS = ("fast", "flask", "authlib")


class _TokenWay:
    """Inside ``with``: the token endpoint set up to answer the ``way`` it was made with (see TOKEN_WAYS).
    Then ``answered``: whether the direct answer was given, and by whom: the fast path, not reaching Flask
    ("fast"), or Flask's view ("flask"); always False for "authlib"."""

    def __init__(self, app, monkeypatch, way: str):
        self.app, self.monkeypatch, self.way = app, monkeypatch, way
        self.payloads, self.reached = [], []

    def __enter__(self):
        self._context = self.monkeypatch.context()
        self.patch = self._context.__enter__()
        fast = self.app.extensions["idp.oidc.fastpath"]
        real_payload, flask_app = direct.token_payload, fast.wsgi_app

        def spy(server, environ, form):
            payload = real_payload(server, environ, form)
            self.payloads.append(payload is not None)
            return payload

        def to_flask(environ, start_response):
            self.reached.append(environ["PATH_INFO"])
            return flask_app(environ, start_response)

        self.patch.setattr(fast, "wsgi_app", to_flask)
        if self.way != "fast":
            self.patch.setattr(fast, "enabled", False)
        self.patch.setattr(direct, "token_payload", spy if self.way != "authlib" else lambda *args: None)
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    @property
    def answered(self) -> bool:
        if self.way == "fast":
            return self.payloads == [True] and not self.reached
        return self.payloads == [True] and bool(self.reached)


def _three_agree(answers: list, ways: list) -> bool:
    """The three ways' answers are the same; returns whether the direct answer was given (fast path and
    Flask's view alike)."""
    assert answers[0] == answers[1] == answers[2]
    assert ways[0].answered is ways[1].answered and not ways[2].answered
    return ways[0].answered


def _token_three_ways(app, monkeypatch, caplog, *, headers, data, path="/oauth/token", **kwargs):
    """The token request sent the three ways of TOKEN_WAYS: status, headers, body (the new access token's
    value masked: each issue makes its own), log lines and the rows written must be the same. Returns the
    answer and whether the direct answer was given."""
    import json

    answers, ways = [], []
    for name in TOKEN_WAYS:
        with _TokenWay(app, monkeypatch, name) as way:
            ways.append(way)
            before = _last_event_id(app)
            tokens_before = _machine_rows(app, before)[0]
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                response = app.test_client().post(path, headers={"X-Request-ID": REQUEST_ID, **headers},
                                                  data=data, **kwargs)
            logs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
            body = response.get_data()
            if response.status_code == 200:
                payload = json.loads(body)
                assert len(payload.pop("access_token")) == 43
                body = payload
            rows, events = _machine_rows(app, before)
            answers.append((response.status, list(response.headers.items()), body, logs,
                            rows[len(tokens_before):], events))
    return answers[0], _three_agree(answers, ways)


@pytest.fixture
def machines(app, world, clock):
    """``world`` and a confidential client not allowed the client_credentials grant ("nocc")."""
    services = app.extensions["idp"]
    with app.app_context():
        created = create_client(services.settings, name="nocc", redirect_uris=["https://rp.example/cb"],
                                scopes=["openid", "bench.api"], grant_types=["authorization_code"],
                                now=services.clock.now())
        nocc = (created.client.client_id, created.secret)
        db.session.commit()
    return {**world, "nocc": nocc}


CC = {"grant_type": "client_credentials"}
CLIENT_CREDENTIALS_CASES = [
    # who, form, query, status, answered directly
    ("rp", CC, "", 200, True),
    ("rp", {**CC, "scope": "bench.api"}, "", 200, True),
    ("rp", {**CC, "scope": "bench.api openid"}, "", 200, True),  # narrowed to bench.api
    ("rp", {**CC, "scope": ""}, "", 200, True),
    ("rp", {**CC, "scope": "openid profile"}, "", 400, False),  # customer scopes only: invalid_scope
    ("rp", {**CC, "scope": "admin"}, "", 400, False),
    ("rp", [("grant_type", "client_credentials"), ("grant_type", "client_credentials")], "", 200, False),
    ("rp", [("grant_type", "client_credentials"), ("scope", "bench.api"), ("scope", "openid")], "", 200, False),
    ("rp", {**CC, "audience": "x"}, "", 200, False),
    ("rp", CC, "scope=openid", 400, False),
    ("rp", {"grant_type": "password", "username": "a", "password": "b"}, "", 400, False),
    ("other", CC, "", 200, True),
    ("off", CC, "", 401, False),
    ("public", CC, "", 401, False),
    ("nocc", CC, "", 400, False),
]


@pytest.mark.parametrize("who, form, query, status, answered", CLIENT_CREDENTIALS_CASES)
def test_client_credentials_answers_as_authlib_does(app, machines, monkeypatch, caplog, who, form, query, status,
                                                   answered):
    from werkzeug.datastructures import MultiDict

    client_id, secret = machines[who]
    form = MultiDict(form) if isinstance(form, list) else form  # a field named twice
    answer, direct_answered = _token_three_ways(app, monkeypatch, caplog,
                                                headers={"Authorization": _basic(client_id, secret or "x")},
                                                data=form, path="/oauth/token" + ("?" + query if query else ""))
    assert int(answer[0].split()[0]) == status
    assert direct_answered is answered
    if status == 200:
        assert len(answer[4]) == 1 and len(answer[5]) == 1  # one token row, one token.issued event
        assert answer[4][0][2] == "bench.api" and answer[2]["scope"] == "bench.api"
        assert answer[5][0][5]["grant_type"] == "client_credentials"
    else:
        assert answer[4] == [] and answer[5] == []  # nothing written


@pytest.mark.parametrize("auth", ["wrong-secret", "unknown-client", "no-colon", "bad-base64", "empty-secret",
                                  "post", "none"])
def test_client_credentials_client_failures_answer_as_authlib_does(app, machines, monkeypatch, caplog, auth):
    headers, data = client_auth(machines, auth)
    data = {**CC, **{k: v for k, v in data.items() if k != "token"}}
    answer, direct_answered = _token_three_ways(app, monkeypatch, caplog, headers=headers, data=data)
    assert answer[0].startswith("200" if auth == "post" else "401")
    assert not direct_answered  # client_secret_post is Authlib's, as every failure


def test_client_credentials_json_body_is_authlib_s(app, machines, monkeypatch, caplog):
    client_id, secret = machines["rp"]
    answer, direct_answered = _token_three_ways(app, monkeypatch, caplog,
                                                headers={"Authorization": _basic(client_id, secret)},
                                                data=None, json=CC)
    assert not answer[0].startswith("200") and not direct_answered


def test_client_credentials_steps_aside_for_a_signal_listener(app, machines, monkeypatch, caplog):
    """Something listening to Authlib's client_authenticated signal gets it: the request is Authlib's."""
    from authlib.integrations.flask_oauth2.signals import client_authenticated

    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs["client"].client_id)

    client_id, secret = machines["rp"]
    client_authenticated.connect(listener)
    try:
        answer, direct_answered = _token_three_ways(app, monkeypatch, caplog,
                                                    headers={"Authorization": _basic(client_id, secret)}, data=CC)
    finally:
        client_authenticated.disconnect(listener)
    assert answer[0].startswith("200") and not direct_answered
    assert heard == [client_id] * 3  # one request each way, every one Authlib's


# -- the token endpoint's refresh_token grant ---------------------------------------------------------------
# A refresh token is single use, so each case is sent with one of three identical tokens, one for each of
# TOKEN_WAYS: "<name>-1" through the fast path, "<name>-2" through Flask's direct answer, "<name>-3" through
# Authlib's path. The answers (status, headers, body with the new values masked and the ID token's claims
# but at_hash compared), their log lines, the rows they wrote (the new token, the presented one's marks) and
# their audit events must be the same, each in its own family.

FULL = "openid offline_access profile email phone"


def _pair_accounts(make_account, prefix: str) -> tuple:
    """The customer of a pair fixture, one who must set a password first, and one who will be disabled."""
    return (make_account(email=f"{prefix}@example.com", password="Polis2026"),
            make_account(email=f"{prefix}-unset@example.com"),
            make_account(email=f"{prefix}-gone@example.com", password="Polis2026"))


def _pair_setup(app, machines, gone, now) -> dict:
    """Inside an app context: ``gone`` disabled, the development signing key made (it logs a warning once,
    before any compared request), and the client records of ``machines`` by name."""
    from idp.accounts import Account
    from idp.clients import find_client

    db.session.get(Account, gone.id).disabled_at = now
    app.extensions["idp.keys"].signing_key()
    return {who: find_client(client_id) for who, (client_id, _) in machines.items()}


@pytest.fixture
def refreshes(app, machines, make_account, clock):
    """Pairs of identical refresh tokens (see above) for the customer, at the clients of ``machines``."""
    now = app.extensions["idp"].clock.now()
    customer, unset, gone = _pair_accounts(make_account, "refresh")
    with app.app_context():
        clients = _pair_setup(app, machines, gone, now)

        def pair(name, who="rp", account=customer, scope=FULL, **marks):
            from sqlalchemy import update

            from idp.oidc.models import OAuthToken

            for n in (1, 2, 3):
                tokens.add_token(access_token_hash=token_hash(f"ra-{name}-{n}"),
                                 refresh_token_hash=token_hash(f"{name}-{n}"), client_pk=clients[who].id,
                                 account_id=account.id, scope=scope, grant_type="authorization_code",
                                 family_id=f"rf-{name}-{n}", code_id=None, issued_at=now - timedelta(hours=1),
                                 access_expires_at=now - timedelta(minutes=55),
                                 refresh_expires_at=now + timedelta(days=29), auth_time=now - timedelta(hours=1),
                                 amr="pwd otp")
                if marks:
                    db.session.execute(update(OAuthToken).where(OAuthToken.refresh_token_hash
                                                                == token_hash(f"{name}-{n}")).values(**marks))

        pair("full")
        pair("noopenid", scope="offline_access profile")
        pair("public", who="public")
        pair("other", who="other")
        pair("off", who="off")
        pair("nocc", who="nocc", scope="openid offline_access")
        pair("used", refresh_used_at=now - timedelta(minutes=1))
        pair("revoked", revoked_at=now - timedelta(minutes=1))
        pair("expired", refresh_expires_at=now)
        pair("unset", account=unset)
        pair("gone", account=gone)
        db.session.commit()
    return machines


def _family_rows(app, family: str) -> list:
    """The token rows of a family, without what differs between two issues of the same answer."""
    from sqlalchemy import select

    from idp.oidc.models import OAuthToken

    with app.app_context():
        rows = db.session.execute(select(OAuthToken).where(OAuthToken.family_id == family)
                                  .order_by(OAuthToken.id)).scalars().all()
        return [_token_row(r) for r in rows]


def _token_row(r) -> tuple:
    """A token row without what differs between two issues of the same answer (ids, hashes, family names):
    [7] whether it has a refresh token, [9] its spend, [10] its revocation."""
    return (r.client_pk, r.account_id, r.scope, r.grant_type, r.code_id is not None, r.issued_at,
            r.access_expires_at, r.refresh_token_hash is not None, r.refresh_expires_at, r.refresh_used_at,
            r.revoked_at, r.auth_time, r.amr, r.family_id is not None)


def _events_since(app, since_id: int) -> list:
    from sqlalchemy import select

    from idp.audit import AuditEvent

    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.id > since_id)
                                    .order_by(AuditEvent.id)).scalars().all()
        return [(e.event, e.at, e.client_id, e.account_id, e.ip, e.user_agent, e.details) for e in events]


def _masked(body: bytes) -> dict | bytes:
    """A token response with its new random values replaced by their shape, the ID token by its header
    and claims (but ``at_hash``, which follows the access token); any other body as it is."""
    import json

    from joserfc import jws

    try:
        payload = json.loads(body)
    except ValueError:
        return body
    for name in ("access_token", "refresh_token"):
        if name in payload:
            assert len(payload[name]) == 43
            payload[name] = "<43>"
    if "id_token" in payload:
        decoded = jws.extract_compact(payload["id_token"].encode())
        claims = json.loads(decoded.payload)
        assert len(claims.pop("at_hash")) == 22
        payload["id_token"] = (decoded.protected, claims)
    return payload


def _pair_three_ways(app, monkeypatch, caplog, *, name, base: dict, rows, headers=None, data=None, query="",
                     as_json=False):
    """The request of pair ``name`` (form ``base`` with ``<name>-1``/``-2``/``-3`` in it, then ``data``; a
    None value leaves a field out) sent as described above; ``rows(value)`` reads what the pair's item wrote.
    Returns the answer (status, headers, body, logs, rows, events) and whether the direct answer was given."""
    answers, ways = [], []
    for n, name_of_way in enumerate(TOKEN_WAYS, start=1):
        value = f"{name}-{n}"
        with _TokenWay(app, monkeypatch, name_of_way) as way:
            ways.append(way)
            before = _last_event_id(app)
            form = {k: (value if v == "<item>" else v) for k, v in {**base, **(data or {})}.items() if v is not None}
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                response = app.test_client().post("/oauth/token" + ("?" + query if query else ""),
                                                  headers={"X-Request-ID": REQUEST_ID, **(headers or {})},
                                                  **({"json": form} if as_json else {"data": form}))
            logs = [(r.name, r.levelname, r.getMessage().replace(value, f"{name}-N")) for r in caplog.records]
            answers.append((response.status, list(response.headers.items()), _masked(response.get_data()), logs,
                            rows(value), _events_since(app, before)))
    return answers[0], _three_agree(answers, ways)


def _refresh_three_ways(app, monkeypatch, caplog, *, name, **kwargs):
    """A refresh request of pair ``name`` (see :func:`_pair_three_ways`); its rows are the token's family."""
    return _pair_three_ways(app, monkeypatch, caplog, name=name, **kwargs,
                            base={"grant_type": "refresh_token", "refresh_token": "<item>"},
                            rows=lambda value: _family_rows(app, "rf-" + value))


REFRESH_CASES = [
    # name, who, extra form fields, status, answered directly
    ("full", "rp", {}, 200, True),
    ("full", "rp", {"scope": "openid offline_access"}, 200, True),  # narrowed
    ("full", "rp", {"scope": "openid"}, 200, True),  # narrowed: no new refresh token
    ("full", "rp", {"scope": "profile offline_access"}, 200, True),  # no openid: no ID token
    ("full", "rp", {"scope": ""}, 200, True),
    ("full", "rp", {"scope": "openid admin"}, 400, False),  # more than granted: invalid_scope
    ("noopenid", "rp", {}, 200, True),
    ("full", "rp", {"audience": "x"}, 200, False),
    ("full", "rp", {"refresh_token": None}, 400, False),  # invalid_request
    ("full", "rp", {"refresh_token": ""}, 400, False),
    ("full", "rp", {"client_id": "rp-itself"}, 200, False),  # Basic and client_id: Authlib's
    ("full", "other", {}, 400, False),  # another client's token: invalid_grant
    ("other", "other", {}, 200, True),
    ("off", "off", {}, 401, False),
    ("nocc", "nocc", {}, 400, False),  # not allowed the grant: unauthorized_client
    ("used", "rp", {}, 400, False),  # reuse: the alarm revokes the family
    ("revoked", "rp", {}, 400, False),
    ("expired", "rp", {}, 400, False),
    ("unset", "rp", {}, 400, False),
    ("gone", "rp", {}, 400, False),
    ("public", "public", {}, 200, True),  # the public client names itself (none)
    ("public", "public-basic", {}, 401, False),
    ("public", "public", {"client_secret": "x"}, 401, False),
    ("full", "rp-post", {}, 200, False),  # client_secret_post is Authlib's
]


@pytest.mark.parametrize("name, who, extra, status, answered", REFRESH_CASES)
def test_refresh_answers_as_authlib_does(app, refreshes, monkeypatch, caplog, name, who, extra, status, answered):
    headers, data = {}, dict(extra)
    if who == "public":
        data["client_id"] = refreshes["public"][0]
    elif who == "public-basic":
        headers["Authorization"] = _basic(refreshes["public"][0], "x")
    elif who == "rp-post":
        data.update(client_id=refreshes["rp"][0], client_secret=refreshes["rp"][1])
    else:
        headers["Authorization"] = _basic(*refreshes[who])
    if data.get("client_id") == "rp-itself":
        data["client_id"] = refreshes["rp"][0]
    answer, direct_answered = _refresh_three_ways(app, monkeypatch, caplog, name=name, headers=headers,
                                                  data=data)
    assert int(answer[0].split()[0]) == status
    assert direct_answered is answered
    rows, events = answer[4], answer[5]
    if status == 200:
        assert len(rows) == 2 and rows[0][9] is not None  # the presented one spent, its successor issued
        assert [e[0] for e in events] == ["token.issued"] and events[0][6]["grant_type"] == "refresh_token"
        body = answer[2]
        assert ("id_token" in body) is ("openid" in body["scope"].split())
        assert ("refresh_token" in body) is ("offline_access" in body["scope"].split()) is rows[1][7]
        if "id_token" in body:
            assert body["id_token"][1]["amr"] == ["pwd", "otp"] and "nonce" not in body["id_token"][1]
    elif name == "used":
        assert [e[0] for e in events] == ["token.reuse"] and all(r[10] is not None for r in rows)
    else:
        assert len(rows) == 1 and events == []  # nothing written


@pytest.mark.parametrize("case", ["twice", "query", "json"])
def test_refresh_unusual_requests_are_authlib_s(app, refreshes, monkeypatch, caplog, case):
    from werkzeug.datastructures import MultiDict

    headers = {"Authorization": _basic(*refreshes["rp"])}
    if case == "json":
        answer, direct_answered = _refresh_three_ways(app, monkeypatch, caplog, name="full", headers=headers,
                                                      as_json=True)
        assert answer[0].startswith("400") and not direct_answered
        return
    if case == "twice":
        answers = []
        for n, way in enumerate(TOKEN_WAYS, start=1):
            with _TokenWay(app, monkeypatch, way) as taken:
                form = MultiDict([("grant_type", "refresh_token"), ("refresh_token", f"full-{n}"),
                                  ("scope", "openid"), ("scope", "profile")])
                response = app.test_client().post("/oauth/token", headers=headers, data=form)
                answers.append((response.status, _masked(response.get_data()), _family_rows(app, f"rf-full-{n}")))
            assert not taken.answered  # a field named twice: Authlib's path
        assert answers[0] == answers[1] == answers[2] and answers[0][0].startswith("200")
        assert answers[0][1]["scope"] == "openid"  # the first value, as Authlib reads the form
        return
    answer, direct_answered = _refresh_three_ways(app, monkeypatch, caplog, name="full", headers=headers,
                                                  query="scope=openid")
    assert answer[0].startswith("200") and not direct_answered


# -- the token endpoint's authorization_code grant ------------------------------------------------------------
# As for refresh: each case is sent with one of three identical codes, "<name>-1" through the fast path,
# "<name>-2" through Flask's direct answer, "<name>-3" through Authlib's path; the answers, logs, the rows
# written (the code's spend, the tokens issued from it) and the audit events must be the same.

VERIFIER = "v" * 20 + "-._~" + "A1b2C3d4E5f6G7h8I9j0K"  # 45 characters of RFC 7636 §4.1's alphabet


def _challenge(verifier: str) -> str:
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def codes(app, machines, make_account, clock):
    """Pairs of identical authorization codes (see above) for the customer, at the clients of ``machines``."""
    from idp.oidc.models import AuthorizationCode

    now = app.extensions["idp"].clock.now()
    customer, unset, gone = _pair_accounts(make_account, "code")
    with app.app_context():
        clients = _pair_setup(app, machines, gone, now)

        def pair(name, who="rp", account=customer, scope=FULL, challenge=_challenge(VERIFIER), **fields):
            for n in (1, 2, 3):
                values = dict(code_hash=token_hash(f"{name}-{n}"), client_pk=clients[who].id, account_id=account.id,
                              redirect_uri="https://rp.example/cb", scope=scope, nonce=None,
                              code_challenge=challenge, code_challenge_method="S256" if challenge else None,
                              auth_time=now - timedelta(seconds=20), amr="pwd", created_at=now - timedelta(seconds=5),
                              expires_at=now + timedelta(seconds=55))
                values.update(fields)
                db.session.add(AuthorizationCode(**values))

        pair("pkce")
        pair("plain", challenge=None)
        pair("nonce", nonce="n-0S6_WzA2Mj")
        pair("noopenid", scope="profile offline_access")
        pair("nocc", who="nocc", scope="openid")  # a client without the refresh grant
        pair("public", who="public")
        pair("public-plain", who="public", challenge=None)
        pair("off", who="off")
        pair("used", used_at=now - timedelta(seconds=1))
        pair("expired", expires_at=now)
        pair("unset", account=unset)
        pair("gone", account=gone)
        db.session.commit()
    return machines


def _code_rows(app, code_value: str) -> tuple:
    """The code's spend mark and the token rows issued from it, without what differs between two issues."""
    from sqlalchemy import select

    from idp.oidc.models import AuthorizationCode, OAuthToken

    with app.app_context():
        code = db.session.execute(select(AuthorizationCode).where(AuthorizationCode.code_hash
                                                                  == token_hash(code_value))).scalar_one()
        rows = db.session.execute(select(OAuthToken).where(OAuthToken.code_id == code.id)
                                  .order_by(OAuthToken.id)).scalars().all()
        return code.used_at, [_token_row(r) for r in rows]


def _code_three_ways(app, monkeypatch, caplog, *, name, **kwargs):
    """A code exchange of pair ``name`` (see :func:`_pair_three_ways`); its rows are the code's spend and
    tokens."""
    return _pair_three_ways(app, monkeypatch, caplog, name=name, **kwargs,
                            base={"grant_type": "authorization_code", "code": "<item>",
                                  "redirect_uri": "https://rp.example/cb", "code_verifier": VERIFIER},
                            rows=lambda value: _code_rows(app, value))


CODE_CASES = [
    # name, who, form fields changed (None: left out), status, answered directly
    ("pkce", "rp", {}, 200, True),
    ("plain", "rp", {"code_verifier": None}, 200, True),  # no PKCE: allowed for a confidential client
    ("plain", "rp", {}, 400, False),  # a verifier without a challenge
    ("pkce", "rp", {"code_verifier": None}, 400, False),
    ("pkce", "rp", {"code_verifier": VERIFIER[:-1] + "x"}, 400, False),  # wrong: invalid_grant
    ("pkce", "rp", {"code_verifier": "short"}, 400, False),
    ("pkce", "rp", {"code_verifier": VERIFIER + "%"}, 400, False),
    ("pkce", "rp", {"redirect_uri": "https://rp.example/other"}, 400, False),
    ("pkce", "rp", {"redirect_uri": None}, 400, False),
    ("pkce", "rp", {"code": None}, 400, False),
    ("pkce", "rp", {"scope": "openid"}, 200, False),  # a field the grant does not read: Authlib's
    ("pkce", "other", {}, 400, False),  # another client's code
    ("nonce", "rp", {}, 200, True),
    ("noopenid", "rp", {}, 200, True),
    ("nocc", "nocc", {}, 200, True),  # no refresh token for a client without the grant
    ("public", "public", {}, 200, True),
    ("public-plain", "public", {"code_verifier": None}, 400, False),  # a public client must use PKCE
    ("public", "public-basic", {}, 401, False),
    ("off", "off", {}, 401, False),
    ("used", "rp", {}, 400, False),  # a replay: the alarm
    ("expired", "rp", {}, 400, False),
    ("unset", "rp", {}, 400, False),
    ("gone", "rp", {}, 400, False),
    ("pkce", "rp-post", {}, 200, False),
]


@pytest.mark.parametrize("name, who, changed, status, answered", CODE_CASES)
def test_code_exchange_answers_as_authlib_does(app, codes, monkeypatch, caplog, name, who, changed, status,
                                              answered):
    headers, data = {}, dict(changed)
    if who == "public":
        data["client_id"] = codes["public"][0]
    elif who == "public-basic":
        headers["Authorization"] = _basic(codes["public"][0], "x")
    elif who == "rp-post":
        data.update(client_id=codes["rp"][0], client_secret=codes["rp"][1])
    else:
        headers["Authorization"] = _basic(*codes[who])
    answer, direct_answered = _code_three_ways(app, monkeypatch, caplog, name=name, headers=headers,
                                               data=data)
    assert int(answer[0].split()[0]) == status
    assert direct_answered is answered
    used_at, rows = answer[4]
    events = answer[5]
    if status == 200:
        assert used_at is not None and len(rows) == 1 and rows[0][13]  # a new family
        assert [e[0] for e in events] == ["token.issued"] and events[0][6]["grant_type"] == "authorization_code"
        body = answer[2]
        scopes = body["scope"].split()
        assert ("id_token" in body) is ("openid" in scopes)
        assert ("refresh_token" in body) is ("offline_access" in scopes and who != "nocc") is rows[0][7]
        if "id_token" in body:
            claims = body["id_token"][1]
            assert claims.get("nonce") == ("n-0S6_WzA2Mj" if name == "nonce" else None)
    elif name == "used":
        assert [e[0] for e in events] == ["token.reuse"]
    else:
        assert rows == [] and events == [] and used_at is None  # nothing written


def test_code_exchange_twice_in_a_form_is_authlib_s(app, codes, monkeypatch):
    from werkzeug.datastructures import MultiDict

    answers = []
    for n, way in enumerate(TOKEN_WAYS, start=1):
        with _TokenWay(app, monkeypatch, way) as taken:
            form = MultiDict([("grant_type", "authorization_code"), ("code", f"pkce-{n}"), ("code", "x"),
                              ("redirect_uri", "https://rp.example/cb"), ("code_verifier", VERIFIER)])
            response = app.test_client().post("/oauth/token", data=form,
                                              headers={"Authorization": _basic(*codes["rp"])})
            answers.append((response.status, _masked(response.get_data()), _code_rows(app, f"pkce-{n}")))
        assert not taken.answered  # a field named twice: Authlib's path
    assert answers[0] == answers[1] == answers[2] and answers[0][0].startswith("200")  # the first value, as Authlib reads it


def _lost_race(app, monkeypatch, caplog, way: str, *, spend_first, headers: dict, data: dict):
    """Send a token request the ``way`` of TOKEN_WAYS while ``spend_first`` (an UPDATE) commits on another
    connection between the direct answer's lookup and its writes; returns the response and the request ids of
    its log records, after checking the direct answer was given, that it failed as invalid_grant, and that
    Flask's view answered the error (the fast path hands on a request whose writes raised: they commit the
    alarm, so nothing may answer it again from the start)."""
    import json

    from idp.ops.logs import RequestIdFilter

    real_run = tokens.run_deferred

    def other_use_first():
        with db.engine.begin() as other:
            other.execute(spend_first)
        real_run()

    with _TokenWay(app, monkeypatch, way) as taken:
        monkeypatch.setattr(tokens, "run_deferred", other_use_first)
        caplog.clear()
        caplog.handler.addFilter(RequestIdFilter())
        try:
            with caplog.at_level(logging.INFO):
                response = app.test_client().post("/oauth/token", headers=headers, data=data)
        finally:
            caplog.handler.filters.clear()
            monkeypatch.setattr(tokens, "run_deferred", real_run)
    assert taken.payloads == [True] and taken.reached == ["/oauth/token"]
    assert response.status_code == 400 and json.loads(response.get_data())["error"] == "invalid_grant"
    return response, [r.request_id for r in caplog.records]


@pytest.mark.parametrize("way", TOKEN_WAYS[:2])
def test_lost_races_raise_the_alarm_on_the_direct_path(app, refreshes, codes, monkeypatch, caplog, way):
    """A concurrent use of the same refresh token, or exchange of the same code, that commits between the
    direct answer's lookup and its writes: the spend finds it spent, nothing of this request is written, the
    alarm is recorded once (the refresh token's family revoked) and the answer is invalid_grant, with the
    headers of every token error; its log lines carry the request id the answer gives."""
    from sqlalchemy import update

    from idp.oidc.models import AuthorizationCode, OAuthToken

    now = app.extensions["idp"].clock.now()
    headers = {"Authorization": _basic(*codes["rp"])}
    before = _last_event_id(app)
    response, ids = _lost_race(app, monkeypatch, caplog, way, headers=headers,
                               data={"grant_type": "refresh_token", "refresh_token": "full-1"},
                               spend_first=update(OAuthToken).where(OAuthToken.refresh_token_hash
                                                                    == token_hash("full-1")).values(refresh_used_at=now))
    rows = _family_rows(app, "rf-full-1")
    assert len(rows) == 1 and rows[0][10] is not None  # no successor; the family revoked
    assert [e[0] for e in _events_since(app, before)] == ["token.reuse"]
    assert [name for name, _ in response.headers.items()] == [
        "Content-Type", "Cache-Control", "Pragma", "Content-Length", "X-Content-Type-Options", "Referrer-Policy",
        "X-Request-ID"]
    assert ids and set(ids) == {response.headers["X-Request-ID"]}  # a new id, the same in the logs and the answer

    before = _last_event_id(app)
    response, ids = _lost_race(app, monkeypatch, caplog, way, headers={**headers, "X-Request-ID": REQUEST_ID},
                               data={"grant_type": "authorization_code", "code": "pkce-1",
                                     "redirect_uri": "https://rp.example/cb", "code_verifier": VERIFIER},
                               spend_first=update(AuthorizationCode).where(AuthorizationCode.code_hash
                                                                           == token_hash("pkce-1")).values(used_at=now))
    assert _code_rows(app, "pkce-1")[1] == []  # no token issued from it
    assert [e[0] for e in _events_since(app, before)] == ["token.reuse"]
    assert ids and set(ids) == {REQUEST_ID} and response.headers["X-Request-ID"] == REQUEST_ID
