"""Fixtures for the admin surfaces: admins and customers signed in, registered clients, real admin tokens,
and an API client that checks every answer against the OpenAPI document."""
from __future__ import annotations

import json
import re
from importlib import resources

import jsonschema
import pytest
import requests

ADMIN_LOGIN = "admin@example.com"
PASSWORD = "Polis2026"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def admin(make_account):
    return make_account(email=ADMIN_LOGIN, password=PASSWORD, is_admin=True)


@pytest.fixture
def customer(make_account):
    return make_account(email="client@example.com", password=PASSWORD)


def sign_in(client, login: str, password: str = PASSWORD):
    """Sign a test client in through the real form; returns the response to the form post."""
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "login": login,
                                       "password": password, "action": "signin"})


@pytest.fixture
def admin_client(client, admin):
    """The Flask test client, signed in as an admin."""
    assert sign_in(client, ADMIN_LOGIN).status_code == 302
    return client


@pytest.fixture
def make_client(app):
    """``make_client(**fields)``: a client registered through ``idp.clients``; returns (client_id, secret)."""
    from idp.clients import create_client
    from idp.extensions import db

    counter = iter(range(1, 1000))

    def _make(**fields):
        n = next(counter)
        services = app.extensions["idp"]
        fields.setdefault("name", f"Портал {n}")
        fields.setdefault("redirect_uris", [f"https://rp{n}.example/callback"])
        with app.app_context():
            created = create_client(services.settings, now=services.clock.now(), **fields)
            db.session.commit()
            return created.client.client_id, created.secret

    return _make


def client_row(app, client_id: str):
    from idp.clients import find_client

    with app.app_context():
        row = find_client(client_id)
        if row is not None:
            from idp.extensions import db

            db.session.expunge(row)
        return row


# -- the REST API over real HTTP ----------------------------------------------------------------------------


def token_for(base_url: str, client_id: str, secret: str, scope: str | None = "admin") -> requests.Response:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return requests.post(base_url + "/oauth/token", data=data, auth=(client_id, secret), timeout=10)


@pytest.fixture
def make_admin_token(live_server, make_client):
    """``make_admin_token(scopes=[…])``: a real access token from /oauth/token (client_credentials) for a new
    service client allowed ``scopes`` (default: admin); returns (token, client_id, secret)."""

    def _make(scopes=("admin",), scope: str | None = "admin"):
        client_id, secret = make_client(name="Служебная система", scopes=list(scopes),
                                        grant_types=["client_credentials"], redirect_uris=[])
        response = token_for(live_server.url, client_id, secret, scope)
        assert response.status_code == 200, response.text
        return response.json()["access_token"], client_id, secret

    return _make


@pytest.fixture
def openapi() -> dict:
    return json.loads(resources.files("idp.admin").joinpath("openapi.json").read_text(encoding="utf-8"))


class Api:
    """``requests`` against /api/admin with a bearer token; every answer is checked against the OpenAPI
    document: its status must be documented for that operation and its body must match the schema."""

    def __init__(self, base_url: str, token: str | None, document: dict):
        self.base_url = base_url
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.document = document

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, self.base_url + path, timeout=10, **kwargs)
        conforms(self.document, method, path, response)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)


def operation_of(document: dict, method: str, path: str) -> dict | None:
    path = path.split("?")[0]
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return item.get(method.lower())
    return None


def _deref(document: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def conforms(document: dict, method: str, path: str, response: requests.Response) -> None:
    operation = operation_of(document, method, path)
    status = str(response.status_code)
    if operation is None:
        # An unknown path or method: the document's generic answers still describe the body.
        assert status in ("404", "405"), f"{method} {path} is not in the OpenAPI document but gave {status}"
        described = _deref(document, document["components"]["responses"]["NotFound" if status == "404"
                                                                          else "MethodNotAllowed"])
    else:
        assert status in operation["responses"], f"{method} {path} → {status} is not documented"
        described = _deref(document, operation["responses"][status])
    content = described.get("content", {}).get("application/json")
    assert content is not None and response.headers["Content-Type"].startswith("application/json"), \
        f"{method} {path} → {status}: not JSON"
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **content["schema"],
              "components": document["components"]}
    jsonschema.validate(response.json(), schema)
    for header in described.get("headers", {}):
        if header != "Location" or status == "201":
            assert header in response.headers, f"{method} {path} → {status}: no {header} header"


@pytest.fixture
def admin_token(make_admin_token):
    return make_admin_token()[0]


@pytest.fixture
def api(live_server, admin_token, openapi) -> Api:
    return Api(live_server.url, admin_token, openapi)


@pytest.fixture
def anonymous_api(live_server, openapi) -> Api:
    return Api(live_server.url, None, openapi)


def code_flow_token(base_url: str, client_id: str, secret: str, *, scope: str, login: str,
                    password: str) -> dict:
    """A customer's token through the real authorization code flow (PKCE S256) of a first-party client."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlencode, urlsplit

    from tests.http import PageClient

    redirect_uri = base_url + "/rp/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    browser = PageClient(base_url)
    page = browser.get("/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}))
    page = browser.submit("/login", {"login": login, "password": password, "action": "signin"})
    assert page.url.startswith(redirect_uri + "?"), page.url
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    response = requests.post(base_url + "/oauth/token", auth=(client_id, secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier})
    assert response.status_code == 200, response.text
    return response.json()
