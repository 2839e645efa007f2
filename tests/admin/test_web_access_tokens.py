"""A client's access-token format and audiences in the admin area's forms (register, edit, the list)."""
from __future__ import annotations

import re

from tests.admin.conftest import client_row
from tests.admin.test_client_editing import edit
from tests.admin.test_web import field_codes, html, label_for, register

API = "https://api.dms.example/"


def test_register_a_jwt_client_with_audiences(admin_client, app):
    page = html(admin_client.get("/admin/clients/new"))
    assert label_for(page, "Формат токена доступа") == "access_token_format"
    assert label_for(page, "Аудитории токена доступа") == "audiences"
    text = html(register(admin_client, access_token_format="jwt", audiences=f"{API}\r\nurn:dms:reports\r\n"))
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    row = client_row(app, client_id)
    assert row.access_token_format == "jwt" and row.audiences == [API, "urn:dms:reports"]
    listing = html(admin_client.get("/admin/"))
    shown = re.search(rf'id="client-{client_id}".*?data-field="access_token_format" data-value="(\w+)">([^<]*)',
                      listing, re.S)
    assert shown.group(1) == "jwt" and "JWT" in shown.group(2)


def test_a_bad_audience_or_format_is_shown_under_its_field(admin_client, app):
    page = html(register(admin_client, access_token_format="jwt", audiences="https://api.example/#top"))
    assert field_codes(page, "audiences") == ["client.audience.invalid"]
    assert "абсолютным URI без фрагмента" in page
    page = html(register(admin_client, access_token_format="paseto"))
    assert field_codes(page, "access_token_format") == ["client.access_token_format.invalid"]


def test_edit_keeps_and_changes_the_format_and_audiences(admin_client, make_client, app):
    client_id, _ = make_client(access_token_format="jwt", audiences=[API])
    form = html(admin_client.get(f"/admin/clients/{client_id}/edit"))
    assert '<option value="jwt" selected>' in form and f">{API}</textarea>" in form
    edit(admin_client, client_id, name="ДМС", access_token_format="jwt", audiences=API)  # as shown: unchanged
    assert client_row(app, client_id).audiences == [API]
    edit(admin_client, client_id, name="ДМС")  # a post without the two fields leaves them alone
    row = client_row(app, client_id)
    assert row.access_token_format == "jwt" and row.audiences == [API]
    edit(admin_client, client_id, name="ДМС", access_token_format="opaque", audiences="")
    row = client_row(app, client_id)
    assert row.access_token_format == "opaque" and row.audiences == []
