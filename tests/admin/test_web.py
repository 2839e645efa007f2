"""The admin web area (/admin/): who gets in, listing, registering (the secret once), disabling, CSRF."""
from __future__ import annotations

import re

import pytest

from tests.admin.conftest import ADMIN_LOGIN, PASSWORD, client_row, csrf_of, sign_in
from tests.http import PageClient, codes

NEW_CLIENT = {"name": "ДМС — портал",
              "redirect_uris": "https://dms.example/callback\r\nhttps://dms.example/cb2",
              "post_logout_redirect_uris": "https://dms.example/", "scopes": ["openid", "profile", "email"]}


def html(response) -> str:
    return response.get_data(as_text=True)


def register(client, **overrides):
    """Post the «Зарегистрировать клиента» form with the CSRF token of the form page."""
    token = csrf_of(html(client.get("/admin/clients/new")))
    data = {**NEW_CLIENT, **overrides}
    return client.post("/admin/clients/new", data={"csrf_token": token, **{k: v for k, v in data.items()
                                                                             if v is not None}})


def field_codes(page: str, field: str) -> list[str]:
    """The error codes shown inside the block of one field (its ``…-errors`` container)."""
    block = re.search(rf'<div class="field-errors" id="{field}-errors">(.*?)</div>', page, re.S)
    return codes(block.group(1)) if block else []


def label_for(page: str, text: str) -> str:
    match = re.search(r'<label for="([^"]+)">' + re.escape(text), page)
    assert match, f"no <label for> with {text!r}"
    assert f'id="{match.group(1)}"' in page
    return match.group(1)


def secret_of(page: str) -> str:
    return re.search(r'<textarea id="client_secret"[^>]*>([^<]+)</textarea>', page).group(1)


def client_ids(page: str) -> list[str]:
    return re.findall(r'data-client-id="([^"]+)"', page)


# -- who gets in ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/clients/new"])
def test_anonymous_visitor_is_sent_to_sign_in_and_back(client, admin, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={path}"
    client.get(response.headers["Location"])
    signed_in = sign_in(client, ADMIN_LOGIN)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == path


def test_anonymous_post_changes_nothing(client, make_client, app):
    client_id, _ = make_client()
    token = csrf_of(html(client.get("/login")))  # a session with a CSRF token, but nobody signed in
    response = client.post(f"/admin/clients/{client_id}/disable", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/admin/")
    assert client_row(app, client_id).active


def test_signed_in_customer_gets_403(client, customer, make_client, app):
    client_id, _ = make_client()
    sign_in(client, customer.email)
    page = client.get("/admin/")
    assert page.status_code == 403 and codes(html(page)) == ["admin.forbidden"]
    assert "Этот раздел доступен только администраторам." in html(page)
    token = csrf_of(html(client.get("/account")))
    assert client.post(f"/admin/clients/{client_id}/disable", data={"csrf_token": token}).status_code == 403
    assert client.post("/admin/clients/new", data={"csrf_token": token, **NEW_CLIENT}).status_code == 403
    assert client_row(app, client_id).active


def test_admin_role_from_the_cli_opens_the_area(client, customer, run_cli):
    sign_in(client, customer.email)
    assert client.get("/admin/").status_code == 403
    assert run_cli("accounts", "grant-admin", customer.email).exit_code == 0
    page = client.get("/admin/")
    assert page.status_code == 200 and "<h1>Клиенты OAuth</h1>" in html(page)


def test_disabled_admin_is_out_at_once(admin_client, app, admin):
    from idp.accounts import Account
    from idp.extensions import db

    with app.app_context():
        db.session.get(Account, admin.id).disabled_at = app.extensions["idp"].clock.now()
        db.session.commit()
    assert admin_client.get("/admin/").status_code == 302


# -- the list ---------------------------------------------------------------------------------------------


def test_list_shows_every_client_with_its_facts(admin_client, make_client, app):
    web_id, _ = make_client(name="ДМС", client_id="dms-portal", first_party=True,
                            redirect_uris=["https://dms.example/cb"])
    app_id, _ = make_client(name="Мобильное приложение", public=True,
                            redirect_uris=["http://127.0.0.1:8765/cb"])
    page = html(admin_client.get("/admin/"))
    assert client_ids(page) == [web_id, app_id]
    dms = page[page.index('id="client-dms-portal"'):page.index(f'id="client-{app_id}"')]
    assert "ДМС" in dms and "https://dms.example/cb" in dms
    assert 'data-field="type" data-value="confidential"' in dms
    assert 'data-field="first_party" data-value="yes"' in dms
    assert "status-active" in dms and "Отключить" in dms
    mobile = page[page.index(f'id="client-{app_id}"'):]
    assert 'data-value="public"' in mobile and 'data-field="first_party" data-value="no"' in mobile
    assert "http://127.0.0.1:8765/cb" in mobile


def test_empty_list_says_so(admin_client):
    assert "admin.clients.empty" in codes(html(admin_client.get("/admin/")))


def test_names_and_uris_are_escaped(admin_client, make_client):
    make_client(name='<script>alert("x")</script>', redirect_uris=["https://rp.example/cb?a=1&b='2'"])
    page = html(admin_client.get("/admin/"))
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "b=&#39;2&#39;" in page and "a=1&amp;b" in page


def test_english(admin_client, make_client):
    make_client()
    page = html(admin_client.get("/admin/?lang=en"))
    assert '<html lang="en">' in page and "<h1>OAuth clients</h1>" in page and "Disable" in page
    form = html(admin_client.get("/admin/clients/new"))
    assert label_for(form, "Name") == "name" and "<h1>Register a client</h1>" in form


# -- registering -----------------------------------------------------------------------------------------


def test_form_has_a_real_label_for_every_input(admin_client):
    page = html(admin_client.get("/admin/clients/new"))
    assert "<h1>Зарегистрировать клиента</h1>" in page and 'name="viewport"' in page
    assert label_for(page, "Название") == "name"
    assert label_for(page, "Адреса возврата (redirect URI)") == "redirect_uris"
    assert label_for(page, "Адреса после выхода") == "post_logout_redirect_uris"
    assert label_for(page, "Публичный клиент") == "public"
    assert label_for(page, "Собственное приложение компании") == "first_party"
    inputs = re.findall(r'<(?:input|textarea)\b[^>]*\bid="([^"]+)"', page)
    assert inputs and all(f'<label for="{i}">' in page for i in inputs)
    for scope in ("openid", "profile", "email", "phone", "offline_access", "admin"):
        assert f'<label for="scope-{scope}">' in page
    assert re.search(r'id="scope-openid"[^>]*checked', page)
    assert not re.search(r'id="scope-admin"[^>]*checked', page)


def test_register_shows_the_secret_once(admin_client, app):
    from idp.clients import check_secret

    page = register(admin_client, first_party="on")
    text = html(page)
    assert page.status_code == 200 and "<h1>Клиент зарегистрирован</h1>" in text
    assert "admin.created.secret_once" in codes(text) and "показан один раз" in text
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    secret = secret_of(text)
    assert label_for(text, "Секрет (client_secret)") == "client_secret"
    assert page.headers["Cache-Control"] == "no-store"

    row = client_row(app, client_id)
    assert row.name == NEW_CLIENT["name"] and row.first_party and not row.public
    assert row.redirect_uris == ["https://dms.example/callback", "https://dms.example/cb2"]
    assert row.post_logout_redirect_uris == ["https://dms.example/"]
    assert row.scopes == ["openid", "profile", "email"]
    assert check_secret(secret, row.secret_hash, app.extensions["idp"].settings.secret_keys)
    assert secret not in (row.secret_hash or "")

    # Not retrievable afterwards: not in the list, not in the session cookie, not in a second look.
    assert secret not in html(admin_client.get("/admin/"))
    assert secret not in admin_client.get_cookie("idp_session").value
    assert secret not in html(admin_client.get("/admin/clients/new"))


def test_register_public_client_has_no_secret(admin_client, app):
    text = html(register(admin_client, public="on", redirect_uris="http://127.0.0.1:8765/cb"))
    assert "admin.created.public" in codes(text) and 'id="client_secret"' not in text
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    row = client_row(app, client_id)
    assert row.public and row.secret_hash is None and "client_credentials" not in row.grant_types


def test_pkce_is_required_unless_ticked_off_for_a_legacy_confidential_client(admin_client, app):
    from idp.audit import search

    text = html(register(admin_client))
    required = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    assert client_row(app, required).pkce_required
    assert label_for(html(admin_client.get("/admin/clients/new")),
                     "Разрешить вход без PKCE") == "pkce_optional"
    text = html(register(admin_client, pkce_optional="on"))
    legacy = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    assert not client_row(app, legacy).pkce_required
    listing = html(admin_client.get("/admin/"))
    assert f'id="client-{legacy}"' in listing
    shown = dict(re.findall(r'id="client-([^"]+)".*?data-field="pkce" data-value="(\w+)"', listing, re.S))
    assert shown[required] == "required" and shown[legacy] == "optional"
    with app.app_context():
        created = {e.client_id: e.details for e in search(event="client.created")}
    assert created[required]["pkce_required"] is True and created[legacy]["pkce_required"] is False
    # A public client cannot go without it: the form says so under the box.
    page = html(register(admin_client, public="on", pkce_optional="on", redirect_uris="http://127.0.0.1:8765/cb"))
    assert field_codes(page, "pkce_optional") == ["client.pkce.public"] and "всегда должно использовать PKCE" in page


def test_admin_scope_can_be_given(admin_client, app):
    text = html(register(admin_client, scopes=["admin"]))
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    assert client_row(app, client_id).scopes == ["admin"]


def test_registration_is_audited_without_the_secret(admin_client, app, admin):
    import json

    from idp.audit import describe, search

    text = html(register(admin_client))
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', text).group(1)
    with app.app_context():
        (event,) = search(event="client.created")
        assert event.client_id == client_id and event.account_id == admin.id and event.details["via"] == "web"
        assert secret_of(text) not in json.dumps(describe(event))


@pytest.mark.parametrize("overrides, field, code", [
    ({"name": "   "}, "name", "client.name.required"),
    ({"name": "x" * 201}, "name", "client.name.invalid"),
    ({"name": "a\x01b"}, "name", "client.name.invalid"),
    ({"redirect_uris": ""}, "redirect_uris", "client.redirect_uri.required"),
    ({"redirect_uris": "https://dms.example/cb#frag"}, "redirect_uris", "client.redirect_uri.fragment"),
    ({"redirect_uris": "http://dms.example/cb"}, "redirect_uris", "client.redirect_uri.scheme"),
    ({"redirect_uris": "https://*.example/cb"}, "redirect_uris", "client.redirect_uri.wildcard"),
    ({"redirect_uris": "https://user:pw@dms.example/cb"}, "redirect_uris", "client.redirect_uri.userinfo"),
    ({"redirect_uris": "https://dms.example/" + "a" * 2000}, "redirect_uris", "client.redirect_uri.too_long"),
    ({"redirect_uris": "\n".join(f"https://dms.example/{i}" for i in range(21))}, "redirect_uris",
     "client.redirect_uri.too_many"),
    ({"post_logout_redirect_uris": "javascript:alert(1)"}, "post_logout_redirect_uris",
     "client.redirect_uri.scheme"),
    ({"scopes": None}, "scopes", "admin.scopes.required"),
    ({"scopes": ["openid", "root"]}, "scopes", "client.scope.invalid"),
])
def test_each_broken_rule_is_shown_at_its_field(admin_client, app, overrides, field, code):
    from idp.clients import list_clients

    page = register(admin_client, **overrides)
    text = html(page)
    assert page.status_code == 400 and code in field_codes(text, field)
    assert re.search(rf'id="{field if field != "scopes" else "scope-openid"}"', text)
    if field != "scopes":
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-errors"[^>]*aria-invalid="true"',
                         text)
    with app.app_context():
        assert list_clients() == []


def test_all_mistakes_show_together_and_input_is_kept(admin_client):
    text = html(register(admin_client, name="", redirect_uris="https://a.example/#x\nftp://b.example/",
                         post_logout_redirect_uris="http://c.example/"))
    assert field_codes(text, "name") == ["client.name.required"]
    assert field_codes(text, "redirect_uris") == ["client.redirect_uri.fragment",
                                                  "client.redirect_uri.scheme"]
    assert field_codes(text, "post_logout_redirect_uris") == ["client.redirect_uri.scheme"]
    assert "https://a.example/#x\nftp://b.example/" in text  # the textarea keeps what was typed
    assert 'id="form-errors"' in text


def test_form_without_csrf_token_is_refused(admin_client, app):
    from idp.clients import list_clients

    response = admin_client.post("/admin/clients/new", data=NEW_CLIENT)
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    with app.app_context():
        assert list_clients() == []


@pytest.mark.parametrize("junk", ["\x00", "\ufffd\ufeff", "x" * 40000, "😀" * 300, "\r\n" * 500, "%00",
                                  "https://ok.example/\x00", "{{ 7*7 }}", "<script>"])
def test_no_500_from_anything_typed(admin_client, junk):
    for field in ("name", "redirect_uris", "post_logout_redirect_uris"):
        response = register(admin_client, **{field: junk})
        assert response.status_code in (200, 400), (field, response.status_code)
    response = register(admin_client, scopes=[junk])
    assert response.status_code == 400


# -- disabling and enabling -------------------------------------------------------------------------------


def test_disable_and_enable(admin_client, make_client, app):
    from idp.audit import search

    client_id, _ = make_client(name="ДМС")
    token = csrf_of(html(admin_client.get("/admin/")))
    response = admin_client.post(f"/admin/clients/{client_id}/disable", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/#client-{client_id}"
    assert not client_row(app, client_id).active
    page = html(admin_client.get("/admin/"))
    assert "admin.client.disabled_done" in codes(page)
    assert f'data-client-id="{client_id}" data-status="disabled"' in page and "Включить" in page

    admin_client.post(f"/admin/clients/{client_id}/enable", data={"csrf_token": token})
    assert client_row(app, client_id).active
    assert "admin.client.enabled_done" in codes(html(admin_client.get("/admin/")))
    with app.app_context():
        assert [e.details["change"] for e in search(event="client.changed")] == ["enable", "disable"]


def test_disable_needs_csrf(admin_client, make_client, app):
    client_id, _ = make_client()
    response = admin_client.post(f"/admin/clients/{client_id}/disable")
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    assert client_row(app, client_id).active


def test_disable_unknown_client_is_404(admin_client):
    token = csrf_of(html(admin_client.get("/admin/")))
    response = admin_client.post("/admin/clients/nope/disable", data={"csrf_token": token})
    assert response.status_code == 404 and codes(html(response)) == ["client.not_found"]


def test_disable_is_get_proof(admin_client, make_client, app):
    client_id, _ = make_client()
    assert admin_client.get(f"/admin/clients/{client_id}/disable").status_code == 405
    assert client_row(app, client_id).active


# -- the whole journey through real HTTP --------------------------------------------------------------------


def test_admin_journey_over_http(live_server, admin, app):
    from idp.clients import check_secret

    browser = PageClient(live_server.url)
    page = browser.get("/admin/")
    assert page.url == live_server.url + "/login?next=/admin/"
    page = browser.submit("/login", {"login": ADMIN_LOGIN, "password": PASSWORD, "action": "signin"})
    assert page.url == live_server.url + "/admin/" and "<h1>Клиенты OAuth</h1>" in page.text

    browser.get("/admin/clients/new")
    page = browser.submit("/admin/clients/new", {"name": "ДМС", "redirect_uris": "https://dms.example/cb",
                                                 "scopes": ["openid", "email"], "first_party": "on"})
    assert page.status_code == 200 and "admin.created.secret_once" in codes(page.text)
    client_id = re.search(r'<code data-field="client_id">([^<]+)</code>', page.text).group(1)
    secret = secret_of(page.text)
    key = app.extensions["idp"].settings.secret_keys
    assert check_secret(secret, client_row(app, client_id).secret_hash, key)

    page = browser.get("/admin/")
    assert client_id in page.text and secret not in page.text
    page = browser.submit(f"/admin/clients/{client_id}/disable", {})
    assert page.url == f"{live_server.url}/admin/#client-{client_id}"
    assert "admin.client.disabled_done" in codes(page.text)
    assert not client_row(app, client_id).active
    assert secret not in page.text


def test_audit_page_lists_and_filters_events(admin_client, customer, client):
    page = admin_client.get("/admin/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Журнал событий безопасности" in html
    assert 'data-event="signin.success"' in html and 'data-event="account.created"' in html
    assert '<label for="event">' in html and '<label for="login">' in html and '<label for="since">' in html
    only = admin_client.get("/admin/audit", query_string={"event": "account.*"}).get_data(as_text=True)
    assert 'data-event="account.created"' in only and 'data-event="signin.success"' not in only
    later = admin_client.get("/admin/audit", query_string={"since": "2099-01-01"}).get_data(as_text=True)
    assert 'data-code="admin.audit.empty"' in later


@pytest.mark.parametrize("query, code", [({"since": "yesterday"}, "admin.audit.bad_date"),
                                         ({"login": "nobody@example.com"}, "admin.audit.unknown_login"),
                                         ({"event": "drop table"}, "admin.audit.unknown_event")])
def test_audit_page_refuses_bad_filters_clearly(admin_client, query, code):
    page = admin_client.get("/admin/audit", query_string=query)
    assert page.status_code == 400 and f'data-code="{code}"' in page.get_data(as_text=True)


def test_audit_page_is_for_admins_only(client, customer):
    from tests.admin.conftest import sign_in
    assert client.get("/admin/audit").status_code == 302
    sign_in(client, customer.email)
    assert client.get("/admin/audit").status_code == 403


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/admin/clients/some-client/disable", {"POST", "OPTIONS"}),
    ("DELETE", "/admin/clients/new", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("PUT", "/login", {"GET", "HEAD", "POST", "OPTIONS"}),
])
def test_pages_answer_405_with_allow(admin_client, method, path, allowed):
    """A page that does not take the method says which it takes (RFC 9110 §15.5.6), on its HTML error page."""
    response = admin_client.open(path, method=method)
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
