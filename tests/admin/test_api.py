"""The admin REST API through real HTTP, with real tokens from /oauth/token (client_credentials, scope admin).

Every response is checked against the OpenAPI document by :class:`tests.admin.conftest.Api`: a status the
document does not list for the operation, or a body that does not match its schema, fails the test.
"""
from __future__ import annotations

import json
import pytest
import requests

from tests.admin.conftest import Api, client_row, token_for

DMS = {"name": "ДМС — портал", "redirect_uris": ["https://dms.example/callback"],
       "post_logout_redirect_uris": ["https://dms.example/"], "scopes": ["openid", "email"],
       "first_party": True}


def error_of(response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["error"], body.get("error_code")


# -- the happy paths -----------------------------------------------------------------------------------------


def test_register_returns_the_secret_once_with_201_and_location(api, live_server, app):
    response = api.post("/api/admin/clients", json=DMS)
    assert response.status_code == 201
    body = response.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert response.headers["Location"] == f"/api/admin/clients/{client_id}"
    assert response.headers["Cache-Control"] == "no-store"
    assert body["name"] == DMS["name"] and body["first_party"] is True and body["public"] is False
    assert body["redirect_uris"] == DMS["redirect_uris"] and body["scopes"] == ["openid", "email"]
    assert body["grant_types"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert body["active"] is True and "secret_hash" not in body

    shown = api.get(response.headers["Location"])
    assert shown.status_code == 200 and "client_secret" not in shown.json() and secret not in shown.text
    assert secret not in api.get("/api/admin/clients").text
    # The secret is the real one: the token endpoint takes it.
    assert token_for(live_server.url, client_id, secret, scope=None).status_code == 200


def test_register_with_chosen_id_and_defaults(api):
    body = api.post("/api/admin/clients", json={"name": "Портал", "client_id": "dms-portal",
                                                "redirect_uris": ["https://dms.example/cb"]}).json()
    assert body["client_id"] == "dms-portal"
    assert body["scopes"] == ["openid", "profile", "email", "phone", "offline_access"]
    assert body["first_party"] is False and body["post_logout_redirect_uris"] == []


def test_register_public_client_has_no_secret(api):
    response = api.post("/api/admin/clients", json={"name": "Приложение", "public": True,
                                                    "redirect_uris": ["http://127.0.0.1:8765/cb"]})
    assert response.status_code == 201
    body = response.json()
    assert body["public"] is True and "client_secret" not in body
    assert body["token_endpoint_auth_methods"] == ["none"]


def test_register_service_client_without_redirect_uris(api):
    response = api.post("/api/admin/clients", json={"name": "Отчёты", "grant_types": ["client_credentials"],
                                                    "scopes": ["reports"]})
    assert response.status_code == 201 and response.json()["redirect_uris"] == []


def test_list(api, make_client):
    first, _ = make_client(name="Первый")
    second, _ = make_client(name="Второй", public=True)
    response = api.get("/api/admin/clients")
    listed = [c["client_id"] for c in response.json()["clients"]]
    assert response.status_code == 200 and listed[-2:] == [first, second]  # the admin's own client is first


def test_get_one(api, make_client):
    client_id, secret = make_client(name="ДМС", first_party=True)
    body = api.get(f"/api/admin/clients/{client_id}").json()
    assert body["client_id"] == client_id and body["name"] == "ДМС" and body["first_party"] is True
    assert "client_secret" not in body and secret not in json.dumps(body)


def test_patch_changes_given_fields_only(api, make_client, app):
    client_id, _ = make_client(name="ДМС", redirect_uris=["https://dms.example/cb"],
                               post_logout_redirect_uris=["https://dms.example/"])
    twice = ["https://dms2.example/cb", "https://dms2.example/cb"]
    response = api.patch(f"/api/admin/clients/{client_id}",
                         json={"name": "ДМС 2", "redirect_uris": twice, "post_logout_redirect_uris": [],
                               "scopes": ["openid"], "first_party": True})
    body = response.json()
    assert response.status_code == 200 and body["name"] == "ДМС 2" and body["first_party"] is True
    assert body["redirect_uris"] == ["https://dms2.example/cb"] and body["post_logout_redirect_uris"] == []
    assert body["scopes"] == ["openid"] and body["updated_at"] is not None

    body = api.patch(f"/api/admin/clients/{client_id}", json={"first_party": False}).json()
    assert body["first_party"] is False and body["name"] == "ДМС 2" and body["scopes"] == ["openid"]
    row = client_row(app, client_id)
    assert row.name == "ДМС 2" and row.redirect_uris == ["https://dms2.example/cb"]


def test_patch_with_empty_object_changes_nothing(api, make_client):
    client_id, _ = make_client()
    response = api.patch(f"/api/admin/clients/{client_id}", json={})
    assert response.status_code == 200 and response.json()["updated_at"] is None


def test_rotate_secret(api, make_client, live_server):
    client_id, old = make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["reports"])
    response = api.post(f"/api/admin/clients/{client_id}/rotate-secret")
    new = response.json()["client_secret"]
    assert response.status_code == 200 and new != old and response.headers["Cache-Control"] == "no-store"
    assert response.json()["secret_rotated_at"] is not None
    assert token_for(live_server.url, client_id, old, scope=None).status_code == 401
    assert token_for(live_server.url, client_id, new, scope=None).status_code == 200
    assert new not in api.get(f"/api/admin/clients/{client_id}").text


def test_disable_and_enable(api, make_client, live_server):
    client_id, secret = make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["reports"])
    response = api.post(f"/api/admin/clients/{client_id}/disable")
    assert response.status_code == 200 and response.json()["active"] is False
    assert response.json()["disabled_at"] is not None
    assert token_for(live_server.url, client_id, secret, scope=None).status_code == 401
    assert api.post(f"/api/admin/clients/{client_id}/disable").json()["active"] is False  # idempotent

    response = api.post(f"/api/admin/clients/{client_id}/enable")
    assert response.status_code == 200 and response.json()["active"] is True
    assert token_for(live_server.url, client_id, secret, scope=None).status_code == 200


def test_changes_are_audited_with_the_calling_client(api, make_admin_token, live_server, openapi, app):
    from idp.audit import search

    token, admin_client_id, _ = make_admin_token()
    caller = Api(live_server.url, token, openapi)
    client_id = caller.post("/api/admin/clients", json=DMS).json()["client_id"]
    caller.patch(f"/api/admin/clients/{client_id}", json={"first_party": False})
    caller.post(f"/api/admin/clients/{client_id}/rotate-secret")
    caller.post(f"/api/admin/clients/{client_id}/disable")
    with app.app_context():
        events = search(client_id=client_id)
        assert [e.event for e in events] == ["client.changed"] * 3 + ["client.created"]
        assert [e.details.get("change") for e in events] == ["disable", "rotate_secret", "update", None]
        assert all(e.details["via"] == "api" and e.details["by_client"] == admin_client_id for e in events)
        assert events[2].details["fields"] == ["first_party"]


def test_openapi_document_is_served_without_a_token(anonymous_api, openapi):
    response = requests.get(anonymous_api.base_url + "/api/admin/openapi.json", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == openapi


# -- 401 invalid_token --------------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bare_bearer_challenge(anonymous_api):
    response = anonymous_api.get("/api/admin/clients")
    assert error_of(response) == (401, "invalid_token", "token.missing")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp-admin"'


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "Token abc"])
def test_other_authorization_schemes_are_401(anonymous_api, header):
    response = anonymous_api.get("/api/admin/clients", headers={"Authorization": header})
    assert error_of(response)[:2] == (401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("token", ["not-a-token", "x" * 5000, "Bearer"])
def test_unknown_token_is_401(live_server, openapi, token):
    response = Api(live_server.url, token, openapi).get("/api/admin/clients")
    assert error_of(response) == (401, "invalid_token", "token.invalid")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp-admin", error="invalid_token"'


def test_expired_token_is_401_at_its_exact_expiry(api, clock, app):
    clock.advance(seconds=app.extensions["idp"].settings.access_token_ttl - 1)
    assert api.get("/api/admin/clients").status_code == 200
    clock.advance(seconds=1)
    assert error_of(api.get("/api/admin/clients")) == (401, "invalid_token", "token.invalid")


def test_token_of_a_disabled_admin_client_is_401(api, make_admin_token, live_server, openapi, app):
    token, client_id, _ = make_admin_token()
    caller = Api(live_server.url, token, openapi)
    assert api.post(f"/api/admin/clients/{client_id}/disable").status_code == 200  # by another admin client
    assert error_of(caller.get("/api/admin/clients")) == (401, "invalid_token", "token.invalid")


def test_revoked_token_is_401(make_admin_token, live_server, openapi):
    token, client_id, secret = make_admin_token()
    revoked = requests.post(live_server.url + "/oauth/revoke", data={"token": token},
                            auth=(client_id, secret), timeout=10)
    assert revoked.status_code == 200
    response = Api(live_server.url, token, openapi).get("/api/admin/clients")
    assert error_of(response)[:2] == (401, "invalid_token")


def test_bad_token_is_refused_before_the_body_is_read(live_server, openapi):
    response = Api(live_server.url, "nope", openapi).post("/api/admin/clients", data="{not json",
                                                          headers={"Content-Type": "application/json"})
    assert error_of(response)[:2] == (401, "invalid_token")


# -- 403 insufficient_scope --------------------------------------------------------------------------------


def test_token_without_admin_scope_is_403(make_admin_token, live_server, openapi):
    token, _, _ = make_admin_token(scopes=("reports",), scope="reports")
    response = Api(live_server.url, token, openapi).get("/api/admin/clients")
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")
    assert response.headers["WWW-Authenticate"] == \
        'Bearer realm="idp-admin", error="insufficient_scope", scope="admin"'


def test_token_that_did_not_ask_for_admin_is_403(make_admin_token, live_server, openapi):
    token, _, _ = make_admin_token(scopes=("admin", "reports"), scope="reports")
    response = Api(live_server.url, token, openapi).get("/api/admin/clients")
    assert error_of(response)[:2] == (403, "insufficient_scope")


def test_customer_token_never_speaks_for_an_admin(live_server, make_client, make_account, openapi):
    """Even if a client may hold ``admin``, a token from a customer's sign-in does not open the API."""
    from tests.admin.conftest import code_flow_token

    make_account(email="client@example.com", password="Polis2026")
    client_id, secret = make_client(first_party=True, scopes=["openid", "admin"],
                                    redirect_uris=[live_server.url + "/rp/callback"])
    token = code_flow_token(live_server.url, client_id, secret, scope="openid admin",
                            login="client@example.com", password="Polis2026")
    assert token["scope"].split() == ["openid"]  # a customer's token carries customer scopes only
    response = Api(live_server.url, token["access_token"], openapi).get("/api/admin/clients")
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")


# -- 404, 405, 409 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/admin/clients/nope"), ("PATCH", "/api/admin/clients/nope"),
    ("POST", "/api/admin/clients/nope/rotate-secret"), ("POST", "/api/admin/clients/nope/disable"),
    ("POST", "/api/admin/clients/nope/enable"), ("GET", "/api/admin/clients/" + "x" * 300),
])
def test_unknown_client_is_404(api, method, path):
    kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
    assert error_of(api.request(method, path, **kwargs)) == (404, "not_found", "client.not_found")


def test_unknown_path_is_404(api):
    assert api.get("/api/admin/nothing-here").status_code == 404


def test_wrong_method_is_405(api, make_client):
    client_id, _ = make_client()
    assert api.request("DELETE", f"/api/admin/clients/{client_id}").json()["error"] == "method_not_allowed"
    assert api.request("PUT", "/api/admin/clients").status_code == 405


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/admin/clients/some-client", {"GET", "HEAD", "PATCH", "OPTIONS"}),
    ("PUT", "/api/admin/clients", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("TRACE", "/api/admin/clients/some-client/disable", {"POST", "OPTIONS"}),
    ("GET", "/api/admin/deliveries/1/requeue", {"POST", "OPTIONS"}),
    ("POST", "/api/admin/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_405_says_which_methods_the_resource_takes(api, method, path, allowed):
    """RFC 9110 §15.5.6: a 405 carries ``Allow`` (the app-wide handler answered without it)."""
    response = api.request(method, path)
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_taken_client_id_is_409(api, make_client):
    make_client(client_id="dms-portal")
    response = api.post("/api/admin/clients", json={**DMS, "client_id": "dms-portal"})
    assert error_of(response) == (409, "conflict", "client.exists")


# -- 415 and 413 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, data", [
    ({"Content-Type": "application/x-www-form-urlencoded"}, "name=x"),
    ({"Content-Type": "text/plain"}, json.dumps(DMS)),
    ({}, json.dumps(DMS)),
    ({"Content-Type": "multipart/form-data; boundary=x"}, "--x--"),
])
def test_body_that_is_not_json_is_415(api, headers, data):
    response = api.post("/api/admin/clients", data=data.encode(), headers=headers)
    assert error_of(response) == (415, "unsupported_media_type", "request.media_type")


def test_patch_without_json_is_415(api, make_client):
    client_id, _ = make_client()
    response = api.patch(f"/api/admin/clients/{client_id}", data=b"name=x",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert error_of(response)[:2] == (415, "unsupported_media_type")


def test_huge_body_is_413(api):
    response = api.post("/api/admin/clients", json={"name": "x" * 100_000})
    assert error_of(response)[:2] == (413, "request_too_large")


# -- 400 invalid_request: the body's shape -----------------------------------------------------------------


@pytest.mark.parametrize("raw, code", [
    (b"{not json", "request.malformed"),
    (b"", "request.malformed"),
    (b"\xff\xfe\x00garbage", "request.malformed"),
    (b"[" * 30_000 + b"]" * 30_000, "request.malformed"),
    (b"[]", "request.not_object"),
    (b'[{"name": "x"}]', "request.not_object"),
    (b'"name"', "request.not_object"),
    (b"null", "request.not_object"),
    (b"42", "request.not_object"),
])
def test_body_that_is_not_an_object_is_400(api, raw, code):
    response = api.post("/api/admin/clients", data=raw, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "invalid_request", code)


@pytest.mark.parametrize("body", [
    {"name": None}, {"name": 42}, {"name": ["ДМС"]}, {"name": {"ru": "ДМС"}}, {"name": True},
    {"name": "x", "redirect_uris": "https://dms.example/cb"}, {"name": "x", "redirect_uris": [None]},
    {"name": "x", "redirect_uris": [1, 2]}, {"name": "x", "redirect_uris": None},
    {"name": "x", "redirect_uris": {"0": "https://dms.example/cb"}}, {"name": "x", "scopes": "openid email"},
    {"name": "x", "scopes": [["openid"]]}, {"name": "x", "public": "true"}, {"name": "x", "public": 1},
    {"name": "x", "first_party": None}, {"name": "x", "first_party": 0}, {"name": "x", "grant_types": None},
    {"name": "x", "client_id": 12345}, {"name": 1.5e308},
])
def test_wrong_type_is_400(api, body):
    assert error_of(api.post("/api/admin/clients", json=body)) == (400, "invalid_request", "request.type")


@pytest.mark.parametrize("body", [{"name": "x", "secret": "s"}, {"name": "x", "client_secret": "s"},
                                  {"name": "x", "active": False}, {"name": "x", "Name": "y"}, {"": 1}])
def test_unknown_field_is_400(api, body):
    response = api.post("/api/admin/clients", json=body)
    assert error_of(response) == (400, "invalid_request", "request.unknown_field")


@pytest.mark.parametrize("body", [{"public": True}, {"client_id": "other"}, {"client_secret": "s"},
                                  {"created_at": "2026-01-01T00:00:00Z"}])
def test_read_only_fields_cannot_be_patched(api, make_client, body):
    client_id, _ = make_client()
    response = api.patch(f"/api/admin/clients/{client_id}", json=body)
    assert error_of(response) == (400, "invalid_request", "request.unknown_field")


def test_too_many_items_is_400(api):
    response = api.post("/api/admin/clients", json={"name": "x", "scopes": ["openid"] * 101})
    assert error_of(response) == (400, "invalid_request", "request.too_many_items")


def test_lone_surrogate_is_400(api):
    raw = b'{"name": "\\ud800 broken", "redirect_uris": ["https://dms.example/cb"]}'
    response = api.post("/api/admin/clients", data=raw, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "invalid_request", "request.encoding")


def test_nan_is_not_a_boolean(api):
    raw = b'{"name": "x", "redirect_uris": ["https://dms.example/cb"], "first_party": NaN}'
    response = api.post("/api/admin/clients", data=raw, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "invalid_request", "request.type")


# -- 400 invalid_redirect_uri and invalid_client_metadata: the registration rules ---------------------------


@pytest.mark.parametrize("uri, code", [
    ("https://dms.example/cb#x", "client.redirect_uri.fragment"),
    ("http://dms.example/cb", "client.redirect_uri.scheme"),
    ("javascript:alert(1)", "client.redirect_uri.scheme"),
    ("https://*.example/cb", "client.redirect_uri.wildcard"),
    ("https://user:pw@dms.example/cb", "client.redirect_uri.userinfo"),
    ("https://dms.example/a b", "client.redirect_uri.malformed"),
    ("", "client.redirect_uri.malformed"),
    ("https://dms.example:99999/cb", "client.redirect_uri.malformed"),
    ("https://:443/cb", "client.redirect_uri.host"),
    ("https://dms.example/" + "a" * 2000, "client.redirect_uri.too_long"),
])
def test_bad_redirect_uri_is_400(api, uri, code):
    response = api.post("/api/admin/clients", json={"name": "x", "redirect_uris": [uri]})
    assert error_of(response) == (400, "invalid_redirect_uri", code)
    response = api.post("/api/admin/clients", json={"name": "x", "redirect_uris": ["https://dms.example/cb"],
                                                    "post_logout_redirect_uris": [uri]})
    assert error_of(response) == (400, "invalid_redirect_uri", code)


def test_missing_redirect_uris_for_the_code_flow_is_400(api, make_client):
    response = api.post("/api/admin/clients", json={"name": "x"})
    assert error_of(response) == (400, "invalid_redirect_uri", "client.redirect_uri.required")
    client_id, _ = make_client()
    response = api.patch(f"/api/admin/clients/{client_id}", json={"redirect_uris": []})
    assert error_of(response) == (400, "invalid_redirect_uri", "client.redirect_uri.required")


def test_too_many_redirect_uris_is_400(api):
    uris = [f"https://dms.example/{i}" for i in range(21)]
    response = api.post("/api/admin/clients", json={"name": "x", "redirect_uris": uris})
    assert error_of(response) == (400, "invalid_redirect_uri", "client.redirect_uri.too_many")


@pytest.mark.parametrize("body, code", [
    ({}, "client.name.required"),
    ({"name": "   "}, "client.name.required"),
    ({"name": "x" * 201}, "client.name.invalid"),
    ({"name": "a\x00b"}, "client.name.invalid"),
    ({"name": "x", "client_id": "-bad"}, "client.client_id.invalid"),
    ({"name": "x", "client_id": "a/b"}, "client.client_id.invalid"),
    ({"name": "x", "scopes": ["bad scope\\"]}, "client.scope.invalid"),
    ({"name": "x", "scopes": ["x" * 65]}, "client.scope.invalid"),
    ({"name": "x", "grant_types": ["password"]}, "client.grant_type.invalid"),
    ({"name": "x", "grant_types": []}, "client.grant_type.required"),
    ({"name": "x", "public": True, "grant_types": ["client_credentials"]},
     "client.grant_type.public_client_credentials"),
])
def test_bad_registration_is_400(api, body, code, app):
    body = {"redirect_uris": ["https://dms.example/cb"], **body}
    response = api.post("/api/admin/clients", json=body)
    assert error_of(response) == (400, "invalid_client_metadata", code)


def test_rotating_a_public_client_is_400(api, make_client):
    client_id, _ = make_client(public=True)
    response = api.post(f"/api/admin/clients/{client_id}/rotate-secret")
    assert error_of(response) == (400, "invalid_client_metadata", "client.public_has_no_secret")


def test_nothing_half_written_after_an_error(api, make_client, app):
    client_id, _ = make_client(name="ДМС", redirect_uris=["https://dms.example/cb"])
    response = api.patch(f"/api/admin/clients/{client_id}",
                         json={"name": "Новое имя", "redirect_uris": ["https://dms.example/cb#x"]})
    assert response.status_code == 400
    row = client_row(app, client_id)
    assert row.name == "ДМС" and row.updated_at is None
    from idp.audit import search

    with app.app_context():
        assert search(event="client.changed") == []


def test_operator_path_from_the_readme(run_cli, live_server, openapi):
    """``idp clients create … --scope admin``, a token from /oauth/token, then the API: as the README says."""
    result = run_cli("clients", "create", "--name", "Admin automation", "--grant-type", "client_credentials",
                     "--scope", "admin", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output[result.output.index("{"):])
    response = token_for(live_server.url, created["client_id"], created["client_secret"])
    assert response.status_code == 200 and response.json()["scope"] == "admin"
    listed = Api(live_server.url, response.json()["access_token"], openapi).get("/api/admin/clients")
    assert listed.status_code == 200
    assert created["client_id"] in [c["client_id"] for c in listed.json()["clients"]]


# -- an admin client cannot lock itself out ------------------------------------------------------------


@pytest.mark.parametrize("method, suffix, body, code", [
    ("POST", "/disable", None, "client.self_lockout.disable"),
    ("POST", "/rotate-secret", None, "client.self_lockout.secret"),
    ("PATCH", "", {"scopes": ["openid"]}, "client.self_lockout.scope"),
    ("PATCH", "", {"grant_types": ["refresh_token"]}, "client.self_lockout.grant_type"),
])
def test_the_calling_client_cannot_lock_itself_out(make_admin_token, live_server, openapi, app, method,
                                                   suffix, body, code):
    token, client_id, secret = make_admin_token()
    caller = Api(live_server.url, token, openapi)
    before = client_row(app, client_id)
    response = caller.request(method, f"/api/admin/clients/{client_id}{suffix}",
                              **({"json": body} if body is not None else {}))
    assert error_of(response) == (409, "conflict", code)
    assert "lock itself out" in response.json()["error_description"]
    after = client_row(app, client_id)
    assert (after.active, after.secret_hash, after.scopes, after.grant_types) == (
        before.active, before.secret_hash, before.scopes, before.grant_types)
    # Still in: the same token works, and the old secret still gets new ones.
    assert caller.get("/api/admin/clients").status_code == 200
    assert token_for(live_server.url, client_id, secret).status_code == 200


def test_another_admin_client_may_disable_rotate_and_narrow_it(api, make_admin_token, live_server, openapi):
    token, client_id, secret = make_admin_token()
    narrowed = api.patch(f"/api/admin/clients/{client_id}", json={"scopes": ["admin", "openid"],
                                                                   "grant_types": ["client_credentials"]})
    assert narrowed.status_code == 200
    caller = Api(live_server.url, token, openapi)
    # Changes that keep it in are its own to make.
    assert caller.patch(f"/api/admin/clients/{client_id}", json={"name": "Переименована",
                                                                  "scopes": ["admin"]}).status_code == 200
    assert api.post(f"/api/admin/clients/{client_id}/rotate-secret").status_code == 200
    assert token_for(live_server.url, client_id, secret).status_code == 401
    assert api.post(f"/api/admin/clients/{client_id}/disable").json()["active"] is False
