"""``web_origins`` in the admin API (CORS, idp.clients.web_origins): registered, replaced, derived again,
refused with ``invalid_client_metadata`` and the rule's code; every answer checked against the OpenAPI
document by :class:`tests.admin.conftest.Api`."""
from __future__ import annotations

import requests


def test_register_change_and_derive_web_origins(api, live_server):
    response = api.post("/api/admin/clients", json={"name": "SPA", "public": True,
                                                    "redirect_uris": ["https://spa.example/cb"]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["web_origins"] is None and body["allowed_web_origins"] == ["https://spa.example"]
    path = f"/api/admin/clients/{body['client_id']}"

    changed = api.patch(path, json={"web_origins": ["https://App.example/", "http://127.0.0.1:5173"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["web_origins"] == ["https://app.example", "http://127.0.0.1:5173"]
    # The protocol API allows the new origin at once, and no longer the derived one.
    jwks = live_server.url + "/.well-known/jwks.json"
    assert requests.get(jwks, headers={"Origin": "https://app.example"},
                        timeout=10).headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Origin" not in requests.get(jwks, headers={"Origin": "https://spa.example"},
                                                             timeout=10).headers

    assert api.patch(path, json={"name": "SPA 2"}).json()["web_origins"] == ["https://app.example",
                                                                            "http://127.0.0.1:5173"]
    assert api.patch(path, json={"web_origins": []}).json()["allowed_web_origins"] == []
    derived = api.patch(path, json={"web_origins": None}).json()
    assert derived["web_origins"] is None and derived["allowed_web_origins"] == ["https://spa.example"]

    confidential = api.post("/api/admin/clients", json={"name": "Portal", "redirect_uris": ["https://p.example/cb"],
                                                        "web_origins": ["https://p.example"]}).json()
    assert confidential["allowed_web_origins"] == ["https://p.example"] and confidential["client_secret"]


def test_bad_web_origins_are_invalid_client_metadata(api):
    created = api.post("/api/admin/clients", json={"name": "SPA", "public": True,
                                                   "redirect_uris": ["https://spa.example/cb"]}).json()
    path = f"/api/admin/clients/{created['client_id']}"
    for origins, code in ((["https://spa.example/app"], "client.web_origin.path"),
                          (["*"], "client.web_origin.wildcard"),
                          (["http://spa.example"], "client.web_origin.scheme"),
                          ([f"https://a{n}.example" for n in range(21)], "client.web_origin.too_many")):
        for response in (api.patch(path, json={"web_origins": origins}),
                         api.post("/api/admin/clients", json={"name": "X", "public": True, "web_origins": origins,
                                                              "redirect_uris": ["https://x.example/cb"]})):
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["error"] == "invalid_client_metadata" and body["error_code"] == code, body
    for wrong in ("https://spa.example", 5, [5], {"a": 1}):
        response = api.patch(path, json={"web_origins": wrong})
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert api.get(path).json()["web_origins"] is None  # nothing half-written
