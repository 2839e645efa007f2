"""The seed's journey through real HTTP: temporary password, forced change, sign in, «Личный кабинет»."""
from __future__ import annotations

import pytest

from tests.http import PageClient, codes


@pytest.fixture
def browser(live_server):
    return PageClient(live_server.url)


@pytest.mark.parametrize("login_typed, channel_key", [
    ("Client@Example.com", "email"),
    ("8 (916) 123 45 67", "phone"),
])
def test_first_sign_in_journey(browser, make_account, mailbox, login_typed, channel_key):
    account = make_account(email="client@example.com", phone="+79161234567")
    page = browser.get("/login")
    assert page.status_code == 200 and "Вход в личный кабинет" in page.text

    # «Забыли пароль?» with the login typed: the page says where the password went.
    page = browser.submit("/login", {"login": login_typed, "password": "", "action": "forgot"})
    assert page.status_code == 200
    assert ("reset.sent_email" if channel_key == "email" else "reset.sent_phone") in codes(page.text)
    recipient = account.email if channel_key == "email" else account.phone
    message = mailbox.last(recipient)
    assert message["channel"] == ("email" if channel_key == "email" else "sms")
    temporary = mailbox.temporary_password(recipient)

    # Signing in with it leads only to «Изменение пароля».
    page = browser.submit("/login", {"login": login_typed, "password": temporary, "action": "signin"})
    assert page.url.endswith("/password/change") and "Изменение пароля" in page.text
    assert browser.get("/account").url.split("?")[0].endswith("/login")
    page = browser.get("/password/change")

    # Each broken rule gets its own message.
    page = browser.submit("/password/change", {"temporary": temporary, "new": "abc", "confirm": "abd"})
    assert set(codes(page.text)) >= {"password.rule.length", "password.rule.upper", "password.rule.digit",
                                     "password.confirm_mismatch"}

    page = browser.submit("/password/change", {"temporary": temporary, "new": "Polis2026", "confirm": "Polis2026"})
    assert page.url.split("?")[0].endswith("/login")
    assert "password.changed" in codes(page.text)

    # The temporary password is spent; the permanent one opens «Личный кабинет».
    page = browser.submit("/login", {"login": login_typed, "password": temporary, "action": "signin"})
    assert "signin.invalid" in codes(page.text)
    page = browser.submit("/login", {"login": login_typed, "password": "Polis2026", "action": "signin"})
    assert page.url.endswith("/account") and "Личный кабинет" in page.text
    assert "client@example.com" in page.text and "Выйти" in page.text

    page = browser.submit("/logout", {})
    assert page.url.split("?")[0].endswith("/login") and "signout.done" in codes(page.text)
    assert browser.get("/account").url.split("?")[0].endswith("/login")
