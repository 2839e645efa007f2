"""A blocked account on the sign-in page: a plain message, only after the right password."""
from __future__ import annotations

import pytest

from idp.support import block
from tests.support.conftest import account_of
from tests.web.test_pages import post_login


@pytest.fixture
def blocked(app, customer, operator):
    with app.app_context():
        services = app.extensions["idp"]
        account = account_of(customer)
        account.password_hash = services.hasher.hash("Polis2026")
        block(services, operator, account, reason="по просьбе клиента")


@pytest.mark.parametrize("lang, text", [("ru", "Вход в эту учётную запись закрыт"),
                                        ("en", "Sign-in to this account is closed")])
def test_right_password_shows_the_blocked_message(client, blocked, lang, text):
    client.get(f"/login?lang={lang}")
    page = post_login(client, login="ivan@example.com", password="Polis2026", action="signin")
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and text in html and "8 (800) 510 3 510" in html
    assert client.get("/account").status_code == 302


def test_wrong_password_reveals_nothing(client, blocked):
    page = post_login(client, login="ivan@example.com", password="Wrong2026", action="signin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Неверный логин или пароль" in html
    assert "закрыт" not in html
    unknown = post_login(client, login="nobody@example.com", password="Wrong2026", action="signin")
    assert unknown.status_code == page.status_code
