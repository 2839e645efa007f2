"""Editing a client and rotating its secret from the admin area, as ``idp clients update|rotate-secret`` do."""
from __future__ import annotations

import re

import pytest

from tests.admin.conftest import client_row, csrf_of
from tests.admin.test_web import field_codes, html, label_for, secret_of
from tests.http import codes


def edit(client, client_id: str, **fields):
    """Post the «Изменить клиента» form: what the page shows, with ``fields`` changed (None drops one)."""
    page = html(client.get(f"/admin/clients/{client_id}/edit"))
    data = {"csrf_token": csrf_of(page),
            "name": re.search(r'id="name" name="name" value="([^"]*)"', page).group(1),
            "redirect_uris": re.search(r'id="redirect_uris"[^>]*>([^<]*)</textarea>', page).group(1),
            "post_logout_redirect_uris": re.search(r'id="post_logout_redirect_uris"[^>]*>([^<]*)</textarea>',
                                                   page).group(1),
            "scopes": re.findall(r'name="scopes" value="([^"]+)" checked', page)}
    for box in ("first_party", "pkce_optional"):
        if re.search(rf'id="{box}" name="{box}" checked', page):
            data[box] = "on"
    data.update(fields)
    return client.post(f"/admin/clients/{client_id}/edit", data={k: v for k, v in data.items() if v is not None})


def test_the_list_links_to_editing_and_the_form_shows_the_client(admin_client, make_client):
    client_id, _ = make_client(name="ДМС", redirect_uris=["https://dms.example/cb"], first_party=True,
                               post_logout_redirect_uris=["https://dms.example/"], scopes=["openid", "email"])
    listing = html(admin_client.get("/admin/"))
    assert f'href="/admin/clients/{client_id}/edit"' in listing
    page = html(admin_client.get(f"/admin/clients/{client_id}/edit"))
    assert "<h1>Изменить клиента</h1>" in page
    assert label_for(page, "Название") == "name" and 'value="ДМС"' in page
    assert label_for(page, "Адреса возврата (redirect URI)") == "redirect_uris"
    assert ">https://dms.example/cb</textarea>" in page and ">https://dms.example/</textarea>" in page
    assert label_for(page, "Собственное приложение компании") == "first_party"
    assert label_for(page, "Разрешить вход без PKCE") == "pkce_optional"
    assert re.search(r'id="first_party" name="first_party" checked', page)
    assert re.findall(r'name="scopes" value="([^"]+)" checked', page) == ["openid", "email"]
    inputs = re.findall(r'<(?:input|textarea)\b[^>]*\bid="([^"]+)"', page)
    assert inputs and all(f'<label for="{i}">' in page for i in inputs)
    assert 'id="public"' not in page  # the type is shown, not offered


def test_edit_changes_every_field_and_is_audited(admin_client, make_client, app, admin):
    from idp.audit import search

    client_id, _ = make_client(name="ДМС", redirect_uris=["https://dms.example/cb"])
    response = edit(admin_client, client_id, name="ДМС — новый портал",
                    redirect_uris="https://dms.example/cb\r\nhttps://dms.example/cb2",
                    post_logout_redirect_uris="https://dms.example/bye", scopes=["openid", "phone"],
                    first_party="on", pkce_optional="on")
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/#client-{client_id}"
    row = client_row(app, client_id)
    assert row.name == "ДМС — новый портал" and row.first_party and not row.pkce_required
    assert row.redirect_uris == ["https://dms.example/cb", "https://dms.example/cb2"]
    assert row.post_logout_redirect_uris == ["https://dms.example/bye"] and row.scopes == ["openid", "phone"]
    assert "admin.client.changed_done" in codes(html(admin_client.get("/admin/")))
    with app.app_context():
        (event,) = search(event="client.changed")
    assert event.client_id == client_id and event.account_id == admin.id
    assert event.details["via"] == "web" and event.details["change"] == "update"
    assert event.details["pkce_required"] is False

    # Back in: PKCE required again, first-party off.
    edit(admin_client, client_id, pkce_optional=None, first_party=None)
    row = client_row(app, client_id)
    assert row.pkce_required and not row.first_party


@pytest.mark.parametrize("fields, field, code", [
    ({"name": "  "}, "name", "client.name.required"),
    ({"redirect_uris": ""}, "redirect_uris", "client.redirect_uri.required"),
    ({"redirect_uris": "https://dms.example/cb#x"}, "redirect_uris", "client.redirect_uri.fragment"),
    ({"post_logout_redirect_uris": "javascript:alert(1)"}, "post_logout_redirect_uris", "client.redirect_uri.scheme"),
    ({"scopes": None}, "scopes", "admin.scopes.required"),
    ({"scopes": ["openid", "root"]}, "scopes", "client.scope.invalid"),
])
def test_each_broken_rule_is_shown_at_its_field_and_nothing_changes(admin_client, make_client, app, fields, field,
                                                                   code):
    from idp.audit import search

    client_id, _ = make_client(name="ДМС", redirect_uris=["https://dms.example/cb"])
    response = edit(admin_client, client_id, **fields)
    text = html(response)
    assert response.status_code == 400 and code in field_codes(text, field)
    if field != "scopes":
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-errors"[^>]*aria-invalid="true"', text)
    row = client_row(app, client_id)
    assert row.name == "ДМС" and row.redirect_uris == ["https://dms.example/cb"]
    with app.app_context():
        assert search(event="client.changed") == []


def test_a_public_client_cannot_be_let_go_without_pkce(admin_client, make_client, app):
    client_id, _ = make_client(public=True, redirect_uris=["http://127.0.0.1:8765/cb"])
    text = html(edit(admin_client, client_id, pkce_optional="on", public=None))
    assert field_codes(text, "pkce_optional") == ["client.pkce.public"]
    assert client_row(app, client_id).pkce_required and client_row(app, client_id).public


def test_a_posted_public_box_does_not_change_the_type(admin_client, make_client, app):
    client_id, _ = make_client()
    assert edit(admin_client, client_id, public="on").status_code == 302
    assert not client_row(app, client_id).public


def test_a_service_client_without_redirect_uris_keeps_its_other_scopes(admin_client, make_client, app):
    client_id, _ = make_client(name="Служебная", scopes=["admin", "policies"], grant_types=["client_credentials"],
                               redirect_uris=[])
    page = html(admin_client.get(f"/admin/clients/{client_id}/edit"))
    assert '<label for="scope-policies">' in page
    assert edit(admin_client, client_id, name="Служебная система").status_code == 302
    row = client_row(app, client_id)
    assert row.name == "Служебная система" and row.scopes == ["admin", "policies"] and row.redirect_uris == []


def test_edit_needs_csrf_and_an_existing_client(admin_client, make_client, app):
    client_id, _ = make_client(name="ДМС")
    response = admin_client.post(f"/admin/clients/{client_id}/edit", data={"name": "x", "scopes": ["openid"],
                                                                           "redirect_uris": "https://x.example/"})
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    assert client_row(app, client_id).name == "ДМС"
    page = admin_client.get("/admin/clients/nope/edit")
    assert page.status_code == 404 and codes(html(page)) == ["client.not_found"]


def test_rotate_secret_shows_the_new_one_once(admin_client, make_client, app, admin):
    from idp.audit import search
    from idp.clients import check_secret

    client_id, old = make_client(name="ДМС")
    listing = html(admin_client.get("/admin/"))
    assert f'action="/admin/clients/{client_id}/secret"' in listing
    response = admin_client.post(f"/admin/clients/{client_id}/secret", data={"csrf_token": csrf_of(listing)})
    text = html(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "<h1>Новый секрет клиента</h1>" in text and "admin.created.secret_once" in codes(text)
    assert label_for(text, "Секрет (client_secret)") == "client_secret"
    secret = secret_of(text)
    key = app.extensions["idp"].settings.secret_keys
    row = client_row(app, client_id)
    assert check_secret(secret, row.secret_hash, key) and not check_secret(old, row.secret_hash, key)
    assert secret not in html(admin_client.get("/admin/"))
    assert secret not in admin_client.get_cookie("idp_session").value
    with app.app_context():
        (event,) = search(event="client.changed")
    assert event.details["change"] == "rotate_secret" and event.details["via"] == "web"
    assert event.account_id == admin.id and secret not in str(event.details)


def test_rotate_needs_csrf_and_is_not_offered_to_a_public_client(admin_client, make_client, app):
    client_id, old = make_client()
    public_id, _ = make_client(public=True, redirect_uris=["http://127.0.0.1:8765/cb"])
    assert admin_client.post(f"/admin/clients/{client_id}/secret").status_code == 400
    assert admin_client.get(f"/admin/clients/{client_id}/secret").status_code == 405
    listing = html(admin_client.get("/admin/"))
    assert f'/admin/clients/{public_id}/secret' not in listing
    response = admin_client.post(f"/admin/clients/{public_id}/secret", data={"csrf_token": csrf_of(listing)})
    assert response.status_code == 400 and codes(html(response)) == ["client.public_has_no_secret"]


def test_english(admin_client, make_client):
    client_id, _ = make_client()
    page = html(admin_client.get(f"/admin/clients/{client_id}/edit?lang=en"))
    assert "<h1>Edit a client</h1>" in page and ">Save</button>" in page
    assert "Issue a new secret" in html(admin_client.get("/admin/"))


@pytest.mark.parametrize("junk", ["\x00", "\ufffd\ufeff", "x" * 40000, "😀" * 300, "\r\n" * 500, "{{ 7*7 }}",
                                  "https://ok.example/\x00", "<script>"])
def test_no_500_from_anything_typed(admin_client, make_client, junk):
    client_id, _ = make_client()
    for field in ("name", "redirect_uris", "post_logout_redirect_uris"):
        response = edit(admin_client, client_id, **{field: junk})
        assert response.status_code in (302, 400), (field, response.status_code)
    assert edit(admin_client, client_id, scopes=[junk]).status_code == 400
    assert admin_client.get("/admin/clients/" + junk[:500].replace("/", "") + "/edit").status_code in (404, 400)
