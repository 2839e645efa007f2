"""Property: nothing sent to the protocol endpoints and the APIs causes a 500 or changes an account.

Requests start from valid ones (a registered client, a signed-in customer, live codes, tokens and an
ID token) and have each parameter kept, dropped, replaced by hostile text or repeated; or they are raw
bytes under any Content-Type. Every answer must be a page with a code, a redirect to this site or to the
client's registered URI, or JSON (an error with an OAuth or provider code).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.policies.conftest import policy_doc
from tests.security.fuzzing import (CONTENT_TYPES, FUZZ, LOGIN, PASSWORD, accounts_snapshot,
                                    authorization_headers, bodies, check_answer, encode, form_body, fuzz_app,
                                    mostly, mutated, nasty_text, query_string, weighted)

REDIRECT = "https://rp.example/cb"
SIGNED_OUT = "https://rp.example/bye"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    client_id: str
    secret: str
    public_id: str
    service_id: str
    service_secret: str
    service_token: str
    codes: list[str] = field(default_factory=list)
    access_token: str = ""
    refresh_token: str = ""
    id_token: str = ""

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()

    @property
    def service_basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.service_id}:{self.service_secret}".encode()).decode()


def sign_in(client, login: str = LOGIN, password: str = PASSWORD):
    token = unescape(_CSRF.search(client.get("/login").get_data(as_text=True)).group(1))
    response = client.post("/login", data={"csrf_token": token, "login": login, "password": password,
                                           "action": "signin"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


#: The PKCE verifier of every code in the world (every client must use PKCE) and its S256 challenge.
VERIFIER = "v" * 43
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def authorize_params(world: World, **extra) -> dict:
    params = {"response_type": "code", "client_id": world.client_id, "redirect_uri": REDIRECT,
              "scope": "openid profile email offline_access", "state": "st",
              "nonce": secrets.token_urlsafe(8),  # a fresh nonce each time: a repeated one is a replay
              "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    params.update(extra)
    return params


def code_for(client, world: World, **extra) -> str:
    response = client.get("/oauth/authorize?" + urlencode(authorize_params(world, **extra)))
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "code" in query, response.headers["Location"]
    return query["code"][0]


@pytest.fixture
def app(make_app):
    return fuzz_app(make_app)


@pytest.fixture
def world(app, make_account) -> World:
    from idp.clients import create_client
    from idp.extensions import db

    make_account(email=LOGIN, phone="+79161234567", password=PASSWORD)
    services = app.extensions["idp"]
    with app.app_context():
        now = services.clock.now()
        conf = create_client(services.settings, name="Портал", redirect_uris=[REDIRECT],
                             post_logout_redirect_uris=[SIGNED_OUT], first_party=True, now=now)
        public = create_client(services.settings, name="Приложение", redirect_uris=["http://127.0.0.1:9/cb"],
                               public=True, first_party=True, now=now)
        service = create_client(services.settings, name="Служебная система", redirect_uris=[],
                                scopes=["admin", "policies:write"], grant_types=["client_credentials"],
                                now=now)
        db.session.commit()
        world = World(conf.client.client_id, conf.secret, public.client.client_id, service.client.client_id,
                      service.secret, "")
    client = app.test_client()
    token = client.post("/oauth/token", headers={"Authorization": world.service_basic},
                        data={"grant_type": "client_credentials", "scope": "admin policies:write"})
    assert token.status_code == 200, token.get_data(as_text=True)
    world.service_token = token.get_json()["access_token"]
    sign_in(client)
    world.codes = [code_for(client, world) for _ in range(3)]
    tokens = client.post("/oauth/token", headers={"Authorization": world.basic},
                         data={"grant_type": "authorization_code", "code": code_for(client, world),
                               "redirect_uri": REDIRECT, "code_verifier": VERIFIER})
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    data = tokens.get_json()
    world.access_token, world.refresh_token, world.id_token = (data["access_token"], data["refresh_token"],
                                                               data["id_token"])
    return world


def send(client, method: str, path: str, pairs_or_raw, *, headers=None, as_query: bool = False):
    """GET with the pairs as the query, or POST them as a form; raw (bytes, content type) as they are."""
    headers = {k: v for k, v in (headers or {}).items() if v is not None}
    if isinstance(pairs_or_raw, tuple):
        body, content_type = pairs_or_raw
        return client.open(path, method=method, data=body, content_type=content_type or None, headers=headers)
    if method == "GET" or as_query:
        query = query_string(pairs_or_raw).decode("ascii")
        return client.open(path + "?" + query, method=method, headers=headers)
    return client.open(path, method=method, data=form_body(pairs_or_raw),
                       content_type="application/x-www-form-urlencoded", headers=headers)


def percent_encoded(text: str) -> str:
    """Every byte of ``text`` (lone surrogates as their invalid UTF-8) as %XX, for a path segment."""
    return "".join(f"%{b:02X}" for b in encode(text))


def raw_or(pairs_strategy, names):
    return weighted((4, pairs_strategy), (1, bodies(names)))


# -- /oauth/authorize -------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), method=st.sampled_from(["GET", "POST"]), signed_in=st.booleans())
def test_authorize_answers_everything(app, world, data, method, signed_in):
    valid = authorize_params(world, prompt="none",
                             max_age="60", login_hint=LOGIN, ui_locales="en", id_token_hint=world.id_token)
    request = data.draw(raw_or(mutated(valid), list(valid) + ["request", "request_uri", "response_mode"]))
    client = sign_in(app.test_client()) if signed_in else app.test_client()
    before = accounts_snapshot(app)
    response = send(client, method, "/oauth/authorize", request)
    check_answer(response, redirect_to=(REDIRECT + "?",))
    assert accounts_snapshot(app) == before


# -- /oauth/token, every grant ----------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), grant=st.sampled_from(["authorization_code", "refresh_token", "client_credentials"] * 3
                                             + ["password", "urn:ietf:params:oauth:grant-type:jwt-bearer"]))
def test_token_endpoint_answers_everything(app, world, data, grant):
    valid = {"grant_type": grant, "code": data.draw(st.sampled_from(world.codes)), "redirect_uri": REDIRECT,
             "code_verifier": VERIFIER, "refresh_token": world.refresh_token, "scope": "openid admin",
             "username": LOGIN, "password": PASSWORD,
             "client_id": data.draw(st.sampled_from([world.client_id, world.public_id]))}
    names = list(valid) + ["client_secret", "assertion", "device_code"]
    request = data.draw(raw_or(mutated(valid), names))
    auth = data.draw(weighted((3, st.just(world.basic)), (1, st.just(world.service_basic)),
                              (1, authorization_headers)))
    before = accounts_snapshot(app)
    response = send(app.test_client(), "POST", "/oauth/token", request, headers={"Authorization": auth})
    check_answer(response)
    assert response.mimetype == "application/json" or response.status_code == 413
    assert accounts_snapshot(app) == before


# -- /oauth/userinfo, /oauth/revoke, /oauth/introspect -------------------------------------------------------


@FUZZ
@given(data=st.data(), method=st.sampled_from(["GET", "POST"]))
def test_userinfo_answers_everything(app, world, data, method):
    auth = data.draw(mostly(f"Bearer {world.access_token}", authorization_headers, odds=2))
    valid = {"access_token": world.access_token, "scope": "openid"}
    request = data.draw(raw_or(mutated(valid), list(valid)))
    before = accounts_snapshot(app)
    response = send(app.test_client(), method, "/oauth/userinfo", request, headers={"Authorization": auth})
    check_answer(response)
    assert accounts_snapshot(app) == before


@FUZZ
@given(data=st.data(), path=st.sampled_from(["/oauth/revoke", "/oauth/introspect"]))
def test_revocation_and_introspection_answer_everything(app, world, data, path):
    token = data.draw(st.sampled_from([world.access_token, world.refresh_token, world.service_token]))
    valid = {"token": token, "token_type_hint": data.draw(st.sampled_from(["access_token", "refresh_token"])),
             "client_id": world.client_id, "client_secret": world.secret}
    request = data.draw(raw_or(mutated(valid), list(valid)))
    auth = data.draw(mostly(world.basic, authorization_headers))
    before = accounts_snapshot(app)
    response = send(app.test_client(), "POST", path, request, headers={"Authorization": auth})
    check_answer(response)
    assert accounts_snapshot(app) == before


# -- /oauth/logout ----------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), method=st.sampled_from(["GET", "POST"]), signed_in=st.booleans())
def test_logout_answers_everything(app, world, data, method, signed_in):
    client = sign_in(app.test_client()) if signed_in else app.test_client()
    token = unescape(_CSRF.search(client.get("/login?prompt=login").get_data(as_text=True)).group(1))
    valid = {"id_token_hint": world.id_token, "post_logout_redirect_uri": SIGNED_OUT,
             "client_id": world.client_id, "state": "st", "ui_locales": "ru", "confirm": "yes",
             "csrf_token": token}
    request = data.draw(raw_or(mutated(valid), list(valid) + ["logout_hint"]))
    before = accounts_snapshot(app)
    response = send(client, method, "/oauth/logout", request)
    check_answer(response, redirect_to=(SIGNED_OUT,))
    assert accounts_snapshot(app) == before


# -- the JSON APIs ----------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), nasty_text)
json_values = st.recursive(_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(nasty_text, children, max_size=3), max_leaves=10)


def json_bytes(value) -> bytes:
    """JSON as a client might send it, lone surrogates escaped (valid JSON, invalid Unicode)."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def api_bodies(template: dict):
    fields_ = st.sampled_from(sorted(template))
    mutated_doc = st.tuples(fields_, json_values).map(lambda fv: {**template, fv[0]: fv[1]})
    json_body = weighted((1, json_values), (3, mutated_doc)).map(json_bytes)
    json_types = st.sampled_from(["application/json", "application/json; charset=utf-8"])
    any_type = st.sampled_from(CONTENT_TYPES)
    return weighted((4, st.tuples(json_body, json_types)), (1, st.tuples(json_body, any_type)),
                    (1, bodies(sorted(template))))


@FUZZ
@given(data=st.data(), how=st.sampled_from(["post", "post", "get"]))
def test_policies_api_answers_everything(app, world, data, how):
    auth = data.draw(mostly(f"Bearer {world.service_token}", authorization_headers))
    client, before = app.test_client(), accounts_snapshot(app)
    if how == "get":
        number = data.draw(nasty_text)
        path = "/api/v1/policies/" + percent_encoded(number)
        response = client.get(path, headers={"Authorization": auth} if auth is not None else {})
    else:
        body, content_type = data.draw(api_bodies(policy_doc(number=f"SEC-{secrets.token_hex(4)}")))
        response = send(client, "POST", "/api/v1/policies", (body, content_type),
                        headers={"Authorization": auth})
    check_answer(response)
    if response.status_code >= 300:  # only an accepted policy may create or change an account
        assert accounts_snapshot(app) == before


@FUZZ
@given(data=st.data(), how=st.sampled_from(["post", "post", "patch", "get"]))
def test_admin_clients_api_answers_everything(app, world, data, how):
    auth = data.draw(mostly(f"Bearer {world.service_token}", authorization_headers))
    template = {"name": "Портал", "redirect_uris": ["https://portal.example/cb"], "scopes": ["openid"],
                "grant_types": ["authorization_code"], "first_party": False, "post_logout_redirect_uris": []}
    client, before = app.test_client(), accounts_snapshot(app)
    target = data.draw(mostly(world.client_id, nasty_text, odds=1))
    path = "/api/admin/clients/" + percent_encoded(target)
    headers = {"Authorization": auth}
    if how == "get":
        response = client.get(path, headers={k: v for k, v in headers.items() if v is not None})
    else:
        document = {**template, "public": False} if how == "post" else template  # "public" never changes
        body, content_type = data.draw(api_bodies(document))
        response = send(client, how.upper(), "/api/admin/clients" if how == "post" else path,
                        (body, content_type), headers=headers)
    check_answer(response)
    assert accounts_snapshot(app) == before
