"""Factories for policy documents, and a helper that issues them against the test's app."""
from __future__ import annotations

import copy
import itertools

import pytest

_numbers = itertools.count(1)


def policy_doc(**overrides) -> dict:
    """A valid individual life policy of Иванов Иван Иванович; ``person``/``employer`` keys merge."""
    doc = {
        "number": f"LF-2026-{next(_numbers):06d}",
        "kind": "individual",
        "product": "life",
        "status": "active",
        "start_date": "2026-01-15",
        "end_date": "2027-01-14",
        "person": {"full_name": "Иванов Иван Иванович", "birth_date": "1980-05-17",
                   "email": "ivan@example.com", "phone": "+7 916 123-45-67"},
    }
    for key, value in overrides.items():
        if key == "person" and isinstance(value, dict):
            merged = {**doc["person"], **value}
            doc["person"] = {k: v for k, v in merged.items() if v is not DROP}
        elif value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
    return doc


DROP = object()


@pytest.fixture
def issue(app):
    """``issue(**overrides)`` → the outcome dict of one policy issued through the domain (source ``test``)."""
    from idp.policies import issue_policy

    def _issue(document=None, **overrides):
        with app.app_context():
            document = document or policy_doc(**overrides)
            return issue_policy(app.extensions["idp"], document, source="test").as_dict()

    return _issue


# -- the REST API over real HTTP ----------------------------------------------------------------------------


@pytest.fixture
def openapi() -> dict:
    import json
    from importlib import resources

    return json.loads(resources.files("idp.policies").joinpath("openapi.json").read_text(encoding="utf-8"))


@pytest.fixture
def make_token(app, live_server):
    """``make_token(scopes=[…], scope=…)``: a real access token from /oauth/token (client_credentials) for a
    new service client registered through ``idp.clients``; returns (token, client_id)."""
    import requests

    from idp.clients import create_client
    from idp.extensions import db

    counter = itertools.count(1)

    def _make(scopes=("policies:write",), scope: str | None = "policies:write"):
        services = app.extensions["idp"]
        with app.app_context():
            created = create_client(services.settings, name=f"Полисная система {next(counter)}",
                                    scopes=list(scopes), grant_types=["client_credentials"], redirect_uris=[],
                                    now=services.clock.now())
            db.session.commit()
            client_id, secret = created.client.client_id, created.secret
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope is not None else {})}
        response = requests.post(live_server.url + "/oauth/token", data=data, auth=(client_id, secret),
                                 timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["access_token"], client_id

    return _make


class Api:
    """``requests`` against /api/v1 with a bearer token; every answer is checked against the OpenAPI document:
    its status must be documented for the operation, and its body must match the schema."""

    def __init__(self, base_url: str, token: str | None, document: dict):
        import requests

        self.base_url = base_url
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        self.document = document

    def request(self, method: str, path: str, **kwargs):
        response = self.http.request(method, self.base_url + path, timeout=10, **kwargs)
        conforms(self.document, method, path, response)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)


def conforms(document: dict, method: str, path: str, response) -> None:
    import re

    import jsonschema

    operation = None
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^?]+", re.escape(template)) + "$"
        if re.match(pattern, path.split("?")[0]):
            operation = item.get(method.lower())
            break
    status = str(response.status_code)
    if operation is None:
        assert status in ("404", "405"), f"{method} {path} is not in the OpenAPI document but gave {status}"
        described = document["components"]["responses"]["NotFound" if status == "404" else "MethodNotAllowed"]
    else:
        assert status in operation["responses"], f"{method} {path} → {status} is not documented"
        described = operation["responses"][status]
    while "$ref" in described:
        described = document["components"]["responses"][described["$ref"].rsplit("/", 1)[-1]]
    assert response.headers["Content-Type"].startswith("application/json"), f"{method} {path}: not JSON"
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **described["content"]["application/json"]["schema"], "components": document["components"]}
    jsonschema.validate(response.json(), schema)
    for header in described.get("headers", {}):
        assert header in response.headers, f"{method} {path} → {status}: no {header} header"


@pytest.fixture
def api(live_server, make_token, openapi) -> Api:
    return Api(live_server.url, make_token()[0], openapi)


@pytest.fixture
def anonymous_api(live_server, openapi) -> Api:
    return Api(live_server.url, None, openapi)
