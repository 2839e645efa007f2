"""A client's web origins (CORS) in the admin area's forms: register, edit, derive again, none, errors."""
from __future__ import annotations

import re

from tests.admin.conftest import client_row
from tests.admin.test_client_editing import edit
from tests.admin.test_web import field_codes, html, label_for, register


def test_register_with_web_origins(admin_client, app):
    page = html(admin_client.get("/admin/clients/new"))
    assert label_for(page, "Веб-источники (CORS)") == "web_origins"
    assert label_for(page, "Запретить запросы со страниц в браузере") == "no_web_origins"
    text = html(register(admin_client, web_origins="HTTPS://App.example/\r\nhttp://localhost:5173\r\n"))
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    assert client_row(app, client_id).web_origins == ["https://app.example", "http://localhost:5173"]
    text = html(register(admin_client))  # nothing given: derived
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    assert client_row(app, client_id).web_origins is None


def test_a_bad_web_origin_is_shown_under_its_field(admin_client):
    page = html(register(admin_client, web_origins="https://app.example/spa"))
    assert field_codes(page, "web_origins") == ["client.web_origin.path"]
    assert "У веб-источника нет пути" in page
    page = html(register(admin_client, web_origins="https://app.example", no_web_origins="on"))
    assert field_codes(page, "web_origins") == ["client.web_origin.exclusive"]


def test_edit_keeps_changes_clears_and_derives_web_origins(admin_client, make_client, app):
    client_id, _ = make_client(public=True, web_origins=["https://app.example"])
    form = html(admin_client.get(f"/admin/clients/{client_id}/edit"))
    assert ">https://app.example</textarea>" in form
    edit(admin_client, client_id, name="SPA")  # a post without the field leaves the origins alone
    assert client_row(app, client_id).web_origins == ["https://app.example"]
    edit(admin_client, client_id, name="SPA", web_origins="https://app.example\nhttps://beta.example")
    assert client_row(app, client_id).web_origins == ["https://app.example", "https://beta.example"]
    edit(admin_client, client_id, name="SPA", web_origins="", no_web_origins="on")
    assert client_row(app, client_id).web_origins == []
    assert re.search(r'id="no_web_origins" name="no_web_origins" checked',
                     html(admin_client.get(f"/admin/clients/{client_id}/edit")))
    edit(admin_client, client_id, name="SPA", web_origins="")  # empty, unticked: derived again
    assert client_row(app, client_id).web_origins is None
    page = html(edit(admin_client, client_id, name="SPA", web_origins="*"))
    assert field_codes(page, "web_origins") == ["client.web_origin.wildcard"]
    assert client_row(app, client_id).web_origins is None
