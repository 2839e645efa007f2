"""Roles in the admin web area: ``support`` opens the account pages only, ``admin`` everything; the navigation
shows only what the role may open."""
from __future__ import annotations

import re

import pytest

from tests.admin.conftest import PASSWORD, csrf_of, sign_in
from tests.http import codes

SUPPORT_LOGIN = "operator@example.com"

#: Every page of the admin's (GET), with what a support operator meets there instead.
ADMIN_PAGES = ["/admin/clients/new", "/admin/held", "/admin/refused", "/admin/deliveries", "/admin/audit",
               "/admin/policies/DMS-1"]


def html(response) -> str:
    return response.get_data(as_text=True)


def nav_links(page: str) -> list[str]:
    nav = re.search(r'<nav class="admin-nav".*?</nav>', page, re.S).group(0)
    return re.findall(r'<a href="([^"]+)"', nav)


@pytest.fixture
def make_support(app, make_account):
    """``make_support(email)``: an account with the support role, set on the model."""
    from idp.accounts import Account
    from idp.extensions import db

    def _make(email: str = SUPPORT_LOGIN):
        account = make_account(email=email, password=PASSWORD)
        with app.app_context():
            db.session.get(Account, account.id).is_support = True
            db.session.commit()
        return account

    return _make


@pytest.fixture
def support_client(client, make_support):
    make_support()
    assert sign_in(client, SUPPORT_LOGIN).status_code == 302
    return client


def test_support_opens_the_account_pages(support_client):
    page = support_client.get("/admin/accounts")
    assert page.status_code == 200 and "<h1>Учётные записи клиентов</h1>" in html(page)


def test_support_lands_on_the_account_search(support_client):
    response = support_client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/accounts"


def test_signing_in_from_the_area_brings_support_to_its_pages(client, make_support):
    make_support()
    response = client.get("/admin/")
    client.get(response.headers["Location"])
    signed_in = sign_in(client, SUPPORT_LOGIN)
    assert signed_in.headers["Location"] == "/admin/"
    assert client.get("/admin/").headers["Location"] == "/admin/accounts"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_support_gets_a_clear_403_on_the_admins_pages(support_client, path):
    page = support_client.get(path)
    text = html(page)
    assert page.status_code == 403 and codes(text) == ["admin.support.forbidden"]
    assert "Этот раздел доступен только администраторам." in text
    assert 'href="/admin/accounts"' in text
    assert nav_links(text) == ["/admin/accounts"]


def test_support_changes_nothing_of_the_admins(support_client, make_client, app):
    from idp.clients import list_clients
    from tests.admin.conftest import client_row

    client_id, _ = make_client()
    token = csrf_of(html(support_client.get("/admin/accounts")))
    assert support_client.post(f"/admin/clients/{client_id}/disable", data={"csrf_token": token}).status_code == 403
    assert client_row(app, client_id).active
    created = support_client.post("/admin/clients/new", data={"csrf_token": token, "name": "x",
                                                              "redirect_uris": "https://x.example/cb",
                                                              "scopes": ["openid"]})
    assert created.status_code == 403
    assert support_client.post("/admin/deliveries/1/requeue", data={"csrf_token": token}).status_code == 403
    assert support_client.post("/admin/policies/DMS-1/recheck", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert [c.client_id for c in list_clients()] == [client_id]


def test_support_nav_shows_only_the_account_pages(support_client):
    page = html(support_client.get("/admin/accounts"))
    assert nav_links(page) == ["/admin/accounts"]
    assert "Клиенты OAuth" not in page and "Журнал событий" not in page


def test_admin_nav_shows_everything_and_opens_it(admin_client):
    page = html(admin_client.get("/admin/"))
    assert nav_links(page) == ["/admin/accounts", "/admin/", "/admin/held", "/admin/refused", "/admin/deliveries",
                               "/admin/audit", "/admin/clients/new"]
    for path in ["/admin/accounts", *ADMIN_PAGES[:-1]]:
        assert admin_client.get(path).status_code == 200, path


def test_customer_is_refused_the_account_pages_too(client, customer):
    sign_in(client, customer.email)
    page = client.get("/admin/accounts")
    assert page.status_code == 403 and codes(html(page)) == ["admin.forbidden"]


def test_anonymous_visitor_is_sent_to_sign_in_from_the_account_pages(client):
    response = client.get("/admin/accounts")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/admin/accounts"


def test_revoked_support_role_closes_the_pages_at_once(support_client, app):
    from idp.accounts import Account, get_by_login
    from idp.extensions import db

    with app.app_context():
        db.session.get(Account, get_by_login(SUPPORT_LOGIN).id).is_support = False
        db.session.commit()
    page = support_client.get("/admin/accounts")
    assert page.status_code == 403 and codes(html(page)) == ["admin.forbidden"]


def test_english(support_client):
    page = html(support_client.get("/admin/held?lang=en"))
    assert "Only administrators may open this section." in page and "Customers and accounts" in page
