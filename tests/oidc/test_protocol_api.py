"""The protocol API as an application of its own (idp.oidc.protocol.app): which paths it owns, its answers to
what no endpoint accepts (methods, bodies, sizes, repeated or missing parameters), the headers every answer
carries, its request ids, metrics and log lines, and a failure inside an endpoint.
"""
from __future__ import annotations

import base64
import logging
import re

import pytest

from idp.oidc.protocol.app import PATHS
from idp.ops.metrics import LATENCY


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture
def machine(app):
    """A confidential client allowed client_credentials: (client_id, secret)."""
    from idp.clients import create_client
    from idp.extensions import db

    services = app.extensions["idp"]
    with app.app_context():
        created = create_client(services.settings, now=services.clock.now(), name="API",
                                redirect_uris=["https://rp.example/cb"],
                                grant_types=["client_credentials"], scopes=["openid", "reports.read"])
        db.session.commit()
        return created.client.client_id, created.secret


def test_the_protocol_api_owns_its_paths_and_the_pages_the_rest(client):
    assert PATHS == {"/oauth/token", "/oauth/userinfo", "/oauth/introspect", "/oauth/revoke",
                     "/.well-known/openid-configuration", "/.well-known/jwks.json"}
    token = client.post("/oauth/token")
    assert token.status_code == 400 and token.get_json()["error"] == "invalid_request"
    assert "Set-Cookie" not in token.headers  # no browser session here
    assert token.headers["Vary"] == "Origin"  # CORS (idp.oidc.protocol.cors), never Cookie
    authorize = client.get("/oauth/authorize")  # a page: the error page of a broken authorization request
    assert authorize.status_code == 400 and authorize.mimetype == "text/html"
    assert client.get("/oauth/token/").status_code == 404  # not the protocol API's: the pages' 404


def test_a_token_request_without_grant_type_is_invalid_request(client, machine):
    response = client.post("/oauth/token", data={"scope": "reports.read"}, headers=basic(*machine))
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request", "error_description": "Missing 'grant_type' in request."}
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"


def test_a_repeated_parameter_is_invalid_request(client, machine):
    response = client.post("/oauth/token", data="grant_type=client_credentials&scope=a&scope=b",
                           content_type="application/x-www-form-urlencoded", headers=basic(*machine))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert "scope" in response.get_json()["error_description"]


def test_a_body_that_is_not_a_form_is_invalid_request_at_the_token_endpoint(client, machine):
    response = client.post("/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(*machine))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_other_methods_are_405_with_allow(client, path):
    response = client.get(path)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert response.get_json() == {"error": "method_not_allowed"}


def test_a_body_over_the_limit_is_413_before_it_is_read(client):
    response = client.post("/oauth/token", data={"grant_type": "x" * (70 * 1024)})
    assert response.status_code == 413 and response.get_json() == {"error": "invalid_request"}


def test_every_answer_carries_the_security_headers_and_a_request_id(client, machine):
    for response in (client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(*machine)),
                     client.post("/oauth/token", data={}),
                     client.get("/.well-known/jwks.json", headers={"X-Request-ID": "rp-request-0001"})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Content-Security-Policy" not in response.headers  # JSON, not a page
        assert re.fullmatch(r"[0-9a-f]{16}|rp-request-0001", response.headers["X-Request-ID"])
    assert response.headers["X-Request-ID"] == "rp-request-0001"


def test_each_endpoint_is_timed_under_its_name(client, machine):
    def count() -> float:
        return sum(s.value for metric in LATENCY.collect() for s in metric.samples
                   if s.name.endswith("_count") and s.labels == {"endpoint": "oidc.token", "method": "POST"})

    before = count()
    client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(*machine))
    assert count() == before + 1


def test_log_lines_of_a_protocol_request_carry_its_request_id(client, machine, caplog):
    client_id, _ = machine
    with caplog.at_level(logging.INFO, logger="idp.oidc.protocol.client_auth"):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers={**basic(client_id, "wrong"), "X-Request-ID": "rp-request-0002"})
    assert response.status_code == 401
    [line] = [r for r in caplog.records if r.name == "idp.oidc.protocol.client_auth"]
    assert line.request_id == "rp-request-0002" and "wrong" not in line.getMessage()


def test_a_failure_inside_an_endpoint_is_a_logged_500_in_json(app, client, machine, caplog, monkeypatch):
    from idp.oidc.protocol import grants

    def broken(provider, connection, call):
        raise RuntimeError("boom")

    monkeypatch.setitem(grants.GRANTS, "client_credentials", broken)
    with caplog.at_level(logging.ERROR, logger="idp.oidc.protocol.app"):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(*machine))
    assert response.status_code == 500 and response.get_json() == {"error": "server_error"}
    assert response.headers["Cache-Control"] == "no-store"
    [line] = [r for r in caplog.records if r.name == "idp.oidc.protocol.app"]
    assert line.exc_info and line.request_id == response.headers["X-Request-ID"]


def test_the_connection_of_a_failed_request_goes_back_unused_by_a_transaction(app, client, machine, monkeypatch):
    """A failure between a lookup and the writes leaves no transaction open on the kept connection."""
    from idp.oidc.protocol import issuing

    def broken(*args, **kwargs):
        raise RuntimeError("between the lookup and the writes")

    monkeypatch.setattr(issuing, "tokens_for", broken)
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers=basic(*machine)).status_code == 500
    monkeypatch.undo()
    ok = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(*machine))
    assert ok.status_code == 200 and ok.get_json()["scope"] == "reports.read"


def test_a_user_agent_with_nul_is_recorded_without_it(app, client, machine):
    from sqlalchemy import select

    from idp.audit import AuditEvent
    from idp.extensions import db

    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers={**basic(*machine), "User-Agent": "robot\x00/1.0"})
    assert response.status_code == 200
    with app.app_context():
        agents = db.session.execute(select(AuditEvent.user_agent).where(AuditEvent.event == "token.issued")).scalars()
        assert list(agents) == ["robot/1.0"]
