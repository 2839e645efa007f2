"""The admin API's ``pkce_required``: required by default, a legacy confidential client opted out (audited with
the API client that did it), a public client never."""
from __future__ import annotations

from tests.admin.conftest import client_row

LEGACY = {"name": "Старый портал", "redirect_uris": ["https://old.example/callback"]}


def test_pkce_is_required_unless_a_legacy_confidential_client_is_opted_out(api, app):
    from idp.audit import search

    required = api.post("/api/admin/clients", json={**LEGACY, "client_id": "new-portal"})
    assert required.status_code == 201 and required.json()["pkce_required"] is True
    legacy = api.post("/api/admin/clients", json={**LEGACY, "client_id": "old-portal", "pkce_required": False})
    assert legacy.status_code == 201 and legacy.json()["pkce_required"] is False
    assert not client_row(app, "old-portal").pkce_required

    back = api.patch("/api/admin/clients/old-portal", json={"pkce_required": True})
    assert back.status_code == 200 and back.json()["pkce_required"] is True
    assert client_row(app, "old-portal").pkce_required

    public = api.post("/api/admin/clients", json={**LEGACY, "redirect_uris": ["http://127.0.0.1:3000/cb"],
                                                  "public": True, "pkce_required": False})
    assert public.status_code == 400 and public.json()["error_code"] == "client.pkce.public"
    wrong = api.post("/api/admin/clients", json={**LEGACY, "pkce_required": "no"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"

    with app.app_context():
        trail = [(e.event, e.client_id, e.details.get("pkce_required"), e.details.get("via"))
                 for e in reversed(search(event="client.*"))]
    assert trail == [("client.created", "new-portal", True, "api"), ("client.created", "old-portal", False, "api"),
                     ("client.changed", "old-portal", True, "api")]
