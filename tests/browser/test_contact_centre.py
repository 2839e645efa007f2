"""The contact centre in headless Chromium on a phone-sized screen: a support operator finds a customer by a
phone written «8 (916) …», sees the welcome SMS, sends a temporary password and watches it go from queued to
sent (the dispatcher run between looks), and lifts a sign-in lockout — axe-core on every page, screenshots
under artifacts/screenshots/<test>/.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

from tests.admin.conftest import PASSWORD  # noqa: E402
from tests.browser.test_admin_pages import PHONE_SCREEN, assert_accessible, check_phone_layout  # noqa: E402
from tests.policies.conftest import policy_doc  # noqa: E402

pytestmark = pytest.mark.browser

OPERATOR = "operator@example.com"
PHONE = "+79161234567"


@pytest.fixture
def app(make_app):
    """Messages wait in the outbox for the dispatcher, so the page can show them queued, then sent."""
    return make_app(delivery_mode="worker")


def dispatch(app) -> None:
    """What ``idp deliveries run --once`` does: pending «Забыли пароль?» requests issued, due messages sent."""
    from idp.delivery import Dispatcher
    from idp.extensions import db
    from idp.passwords.reset import issue_pending

    with app.app_context():
        services = app.extensions["idp"]
        issue_pending(services)
        Dispatcher(services).run_due()
        db.session.remove()


def issue(app) -> None:
    """Only the first half of the dispatcher's pass: the «Забыли пароль?» request becomes a queued message."""
    from idp.extensions import db
    from idp.passwords.reset import issue_pending

    with app.app_context():
        issue_pending(app.extensions["idp"])
        db.session.remove()


def lock_out(app) -> None:
    """A stranger's wrong passwords at one address until the customer's login is locked there."""
    from idp.audit import Origin
    from idp.passwords.signin import authenticate

    with app.test_request_context():
        for _ in range(6):
            authenticate(PHONE, "Wrong1234", app.extensions["idp"], Origin(ip="203.0.113.7"))


def test_support_finds_a_customer_by_phone_sends_a_password_and_lifts_a_lockout(
        browsers, make_account, axe_source, shot, app, mailbox):
    from idp.accounts import Account
    from idp.extensions import db
    from idp.policies import issue_policy

    operator = make_account(email=OPERATOR, password=PASSWORD)
    with app.app_context():
        db.session.get(Account, operator.id).is_support = True
        db.session.commit()
        issue_policy(app.extensions["idp"], policy_doc(number="LF-CC-000001"), source="test")
    dispatch(app)  # the welcome e-mail and SMS go out
    lock_out(app)

    page = browsers.new_page(bypass_csp=True, **PHONE_SCREEN)
    page.goto("/admin/")
    page.get_by_label("Логин", exact=True).fill(OPERATOR)
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Войти", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Учётные записи клиентов")).to_be_visible()
    expect(page.get_by_role("link", name="Клиенты OAuth")).to_have_count(0)
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the account search")
    shot(page, "search")

    # A malformed phone: a clear message at the field.
    page.get_by_label("E-mail, телефон, номер полиса или sub", exact=True).fill("8 (916) 123-45")
    page.get_by_role("button", name="Найти", exact=True).tap()
    expect(page.locator("#q-errors [data-code='support.query.invalid_phone']")).to_be_visible()
    assert_accessible(page, axe_source, "the search with a malformed phone")
    shot(page, "malformed-phone")

    page.get_by_label("E-mail, телефон, номер полиса или sub", exact=True).fill("8 (916) 123-45-67")
    page.get_by_role("button", name="Найти", exact=True).tap()
    result = page.locator("li.case")
    expect(result).to_have_count(1)
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the search results")
    shot(page, "found")

    result.get_by_role("link", name="Иванов Иван Иванович").tap()
    expect(page.get_by_role("heading", level=1, name=re.compile("Иванов Иван Иванович"))).to_be_visible()
    expect(page.locator("[data-field='account-state']")).to_have_text("Ожидает первый временный пароль")
    welcome = page.locator("li[data-purpose='account_created'][data-channel='sms']")
    expect(welcome.locator("[data-field='state']")).to_have_text("отправлено")
    expect(welcome.locator("[data-field='recipient']")).to_have_text("+791***67")
    assert PHONE not in page.content() and "ivan@example.com" not in page.content()
    expect(page.locator("[data-lockout]").first).to_be_visible()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the account page")
    shot(page, "account")

    form = page.locator("#action-send_temporary_password")
    form.get_by_label("Причина", exact=True).fill("Клиент не получил СМС о создании личного кабинета")
    form.get_by_role("button", name="Отправить временный пароль", exact=True).tap()
    expect(page.get_by_role("status")).to_have_text("Временный пароль отправлен клиенту.")
    issue(app)
    page.reload()
    temporary = page.locator("li[data-purpose='temporary_password']")
    expect(temporary.locator("[data-field='state']")).to_have_text("в очереди")
    assert_accessible(page, axe_source, "the account with a queued temporary password")
    shot(page, "temporary-queued")

    dispatch(app)
    page.reload()
    expect(temporary.locator("[data-field='state']")).to_have_text("отправлено")
    expect(page.locator("[data-field='account-state']")).to_have_text("Временный пароль отправлен")
    assert mailbox.last("ivan@example.com")["template"] == "temporary_password"  # the e-mail login's channel
    shot(page, "temporary-sent")

    form = page.locator("#action-unlock")
    form.get_by_label("Причина", exact=True).fill("Клиент вспомнил пароль, просит снять блокировку")
    form.get_by_role("button", name="Снять блокировку", exact=True).tap()
    expect(page.get_by_role("status")).to_have_text("Блокировка входа снята.")
    expect(page.locator("[data-code='admin.account.lockouts.none']")).to_be_visible()
    expect(page.locator("[data-lockout]")).to_have_count(0)
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the account after the unlock")
    shot(page, "unlocked")
