"""A client's access-token format and audiences (RFC 9068, RFC 8707) through the admin REST API over real HTTP;
every answer checked against the OpenAPI document (:class:`tests.admin.conftest.Api`), and the document's
rules for the two fields checked against the domain's."""
from __future__ import annotations

import pytest

from tests.admin.test_openapi import _valid

API = "https://api.dms.example/"
PORTAL = {"name": "ДМС", "redirect_uris": ["https://dms.example/cb"]}


def test_register_and_change_the_format_and_audiences(api, app):
    response = api.post("/api/admin/clients", json={**PORTAL, "client_id": "dms-jwt", "access_token_format": "jwt",
                                                    "audiences": [API, "urn:dms:reports", API]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["access_token_format"] == "jwt" and body["audiences"] == [API, "urn:dms:reports"]

    changed = api.patch("/api/admin/clients/dms-jwt", json={"audiences": ["urn:dms:reports"]}).json()
    assert changed["audiences"] == ["urn:dms:reports"] and changed["access_token_format"] == "jwt"
    changed = api.patch("/api/admin/clients/dms-jwt", json={"access_token_format": "opaque", "audiences": []})
    assert changed.json()["access_token_format"] == "opaque" and changed.json()["audiences"] == []
    assert api.get("/api/admin/clients/dms-jwt").json()["access_token_format"] == "opaque"

    plain = api.post("/api/admin/clients", json=PORTAL).json()
    assert plain["access_token_format"] == "opaque" and plain["audiences"] == []

    from idp.audit import search

    with app.app_context():  # the trail names the format given at registration and each change of it
        trail = [(e.event, e.client_id, e.details.get("access_token_format"), e.details.get("fields"))
                 for e in reversed(search(event="client.*")) if e.client_id in ("dms-jwt", plain["client_id"])]
    assert trail == [("client.created", "dms-jwt", "jwt", None),
                     ("client.changed", "dms-jwt", None, ["audiences"]),
                     ("client.changed", "dms-jwt", "opaque", ["access_token_format", "audiences"]),
                     ("client.created", plain["client_id"], "opaque", None)]


@pytest.mark.parametrize("fields, code", [
    ({"access_token_format": "JWT"}, "client.access_token_format.invalid"),
    ({"access_token_format": None}, "request.type"),
    ({"audiences": ["https://api.example/#frag"]}, "client.audience.invalid"),
    ({"audiences": ["api.example"]}, "client.audience.invalid"),
    ({"audiences": [API] * 21}, "client.audience.too_many"),
    ({"audiences": API}, "request.type"),
])
def test_bad_values_are_400_with_their_code_and_break_the_document_too(api, openapi, fields, code):
    body = {**PORTAL, **fields}
    response = api.post("/api/admin/clients", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == code
    assert response.json()["error"] in ("invalid_client_metadata", "invalid_request")
    assert not _valid(openapi, "ClientCreate", body)


@pytest.mark.parametrize("audiences", [[API], ["urn:dms:reports"], ["https://api.example/v1?tenant=a"], []])
def test_values_the_domain_takes_are_valid_in_the_document(api, openapi, audiences):
    body = {**PORTAL, "access_token_format": "jwt", "audiences": audiences}
    assert _valid(openapi, "ClientCreate", body)
    assert api.post("/api/admin/clients", json=body).status_code == 201
