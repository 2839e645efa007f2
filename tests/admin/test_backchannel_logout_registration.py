"""A client's back-channel logout URI (OpenID Connect Back-Channel Logout 1.0) in the admin API and the admin
pages: registered, changed, removed, refused by the redirect-URI rules with the rule's code; the API's answers
are checked against the OpenAPI document by :class:`tests.admin.conftest.Api`."""
from __future__ import annotations

import re

from tests.admin.conftest import client_row
from tests.admin.test_client_editing import edit
from tests.admin.test_web import field_codes, html, label_for, register


def test_the_api_registers_changes_and_removes_the_uri(api):
    created = api.post("/api/admin/clients", json={
        "name": "Portal", "redirect_uris": ["https://p.example/cb"],
        "backchannel_logout_uri": "https://p.example/backchannel-logout",
        "backchannel_logout_session_required": True})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["backchannel_logout_uri"] == "https://p.example/backchannel-logout"
    assert body["backchannel_logout_session_required"] is True
    path = f"/api/admin/clients/{body['client_id']}"
    assert api.patch(path, json={"name": "Portal 2"}).json()["backchannel_logout_uri"] == body[
        "backchannel_logout_uri"]
    changed = api.patch(path, json={"backchannel_logout_uri": "http://127.0.0.1:8081/bc",
                                    "backchannel_logout_session_required": False}).json()
    assert changed["backchannel_logout_uri"] == "http://127.0.0.1:8081/bc"
    assert changed["backchannel_logout_session_required"] is False
    assert api.patch(path, json={"backchannel_logout_uri": ""}).json()["backchannel_logout_uri"] is None
    assert api.post("/api/admin/clients", json={"name": "Plain", "redirect_uris": ["https://q.example/cb"]}
                    ).json()["backchannel_logout_uri"] is None


def test_the_api_refuses_a_bad_uri_as_invalid_client_metadata(api):
    created = api.post("/api/admin/clients", json={
        "name": "Portal", "redirect_uris": ["https://p.example/cb"],
        "backchannel_logout_uri": "https://p.example/bc"}).json()
    path = f"/api/admin/clients/{created['client_id']}"
    for uri, code in (("http://p.example/bc", "client.backchannel_logout_uri.scheme"),
                      ("https://p.example/bc#frag", "client.backchannel_logout_uri.fragment"),
                      ("https://*.example/bc", "client.backchannel_logout_uri.wildcard"),
                      ("https://p.example/" + "a" * 2000, "client.backchannel_logout_uri.too_long")):
        for response in (api.patch(path, json={"backchannel_logout_uri": uri}),
                         api.post("/api/admin/clients", json={"name": "X", "backchannel_logout_uri": uri,
                                                              "redirect_uris": ["https://x.example/cb"]})):
            assert response.status_code == 400, response.text
            assert response.json()["error_code"] == code, response.json()
    for wrong in (5, ["https://p.example/bc"], None):
        response = api.patch(path, json={"backchannel_logout_uri": wrong})
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert api.get(path).json()["backchannel_logout_uri"] == "https://p.example/bc"  # nothing half-written


def test_the_admin_pages_register_and_edit_the_uri(admin_client, app):
    page = html(admin_client.get("/admin/clients/new"))
    assert label_for(page, "Адрес для выхода по обратному каналу") == "backchannel_logout_uri"
    assert label_for(page, "Приложению нужен идентификатор сеанса") == "backchannel_logout_session_required"
    refused = html(register(admin_client, backchannel_logout_uri="http://portal.example/bc"))
    assert field_codes(refused, "backchannel_logout_uri") == ["client.backchannel_logout_uri.scheme"]
    assert register(admin_client, backchannel_logout_uri="https://portal.example/bc",
                    backchannel_logout_session_required="on").status_code in (200, 302)
    client_id = re.search(r'/admin/clients/([^/"]+)/edit', html(admin_client.get("/admin/"))).group(1)
    row = client_row(app, client_id)
    assert row.backchannel_logout_uri == "https://portal.example/bc"
    assert row.backchannel_logout_session_required
    listing = html(admin_client.get("/admin/"))
    assert 'data-field="backchannel_logout_uri"><code>https://portal.example/bc</code>' in listing
    form = html(admin_client.get(f"/admin/clients/{client_id}/edit"))
    assert 'value="https://portal.example/bc"' in form
    edit(admin_client, client_id, backchannel_logout_uri="https://portal.example/bc2")
    assert client_row(app, client_id).backchannel_logout_uri == "https://portal.example/bc2"
    assert not client_row(app, client_id).backchannel_logout_session_required  # unticked
    page = html(edit(admin_client, client_id, backchannel_logout_uri="https://portal.example/bc#x"))
    assert field_codes(page, "backchannel_logout_uri") == ["client.backchannel_logout_uri.fragment"]
    edit(admin_client, client_id, backchannel_logout_uri="")
    assert client_row(app, client_id).backchannel_logout_uri is None


def test_the_deliveries_page_names_a_logout_token(admin_client, app):
    from idp.delivery import HTTP, enqueue
    from idp.extensions import db

    with app.app_context():
        enqueue(app.extensions["idp"], "backchannel_logout", channel=HTTP, recipient="dms-portal", account_id=None,
                params={"url": "https://dms.example/bc", "form": {"logout_token": "x.y.z"}})
        db.session.commit()
    page = html(admin_client.get("/admin/deliveries?status=all"))
    assert "выход по обратному каналу (logout token приложению)" in page
    assert "HTTP (обратный канал приложения)" in page and "x.y.z" not in page
    english = html(admin_client.get("/admin/deliveries?status=all&lang=en"))
    assert "back-channel logout (a logout token to an application)" in english
