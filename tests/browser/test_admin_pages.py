"""The admin web area in headless Chromium: a phone-sized screen, the keyboard, axe-core, a quiet console.

Uses the browser suite's session Chromium and helpers (tests/browser/conftest.py); skipped like that
suite when Chromium is missing, and failing under ``CI=true``.
"""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.admin.conftest import ADMIN_LOGIN, PASSWORD  # noqa: E402

pytestmark = pytest.mark.browser


PHONE_SCREEN = dict(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                    has_touch=True)

_LAYOUT = """() => {
    const visible = el => { const r = el.getBoundingClientRect(); return r.width > 1 && r.height > 1
        && getComputedStyle(el).visibility !== "hidden"; };
    const size = el => { const r = el.getBoundingClientRect();
        return {name: (el.textContent || el.id || el.name).trim().slice(0, 40), width: r.width,
                height: r.height, right: r.right, fontSize: parseFloat(getComputedStyle(el).fontSize)}; };
    return {
        scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
        targets: [...document.querySelectorAll("button, .check, .button-link, .admin-nav a")]
            .filter(visible).map(size),
        fields: [...document.querySelectorAll("input[type=text], textarea")].filter(visible).map(size),
    };
}"""


def check_phone_layout(page: Page) -> None:
    page.wait_for_load_state("load")  # the stylesheets are in: measure the page as it is shown
    layout = page.evaluate(_LAYOUT)
    assert layout["scrollWidth"] <= layout["viewport"], f"horizontal scroll: {layout['scrollWidth']}px wide"
    for item in layout["targets"] + layout["fields"]:
        assert item["height"] >= 44, f"{item['name']!r} is {item['height']:.1f}px tall (< 44px)"
        assert item["right"] <= layout["viewport"], f"{item['name']!r} sticks out of the screen"
    for item in layout["fields"]:  # smaller text makes phones zoom in on focus
        assert item["fontSize"] >= 16, f"{item['name']!r} has {item['fontSize']}px text"


def assert_accessible(page: Page, axe_source: str, where: str) -> None:  # noqa: F811
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    violations = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + " — " + n.failureSummary)}));
    }""")
    assert violations == [], f"axe-core on {where}:\n" + json.dumps(violations, ensure_ascii=False, indent=2)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll("input, select, textarea")]
        .filter(el => el.type !== "hidden" && !el.hidden)
        .filter(el => !el.labels || !el.labels.length || !el.labels[0].textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabelled == [], f"inputs without a <label for> on {where}: {unlabelled}"


def assert_quiet(page: Page) -> None:
    """No console error, uncaught exception or CSP violation, beyond the browser noting a page's own 400/403
    status (the form with errors answers 400, the refusal 403: meant, and not a resource that failed)."""
    meant = re.compile(r"^console\.error: Failed to load resource: "
                       r"the server responded with a status of 40[03] .*/admin/(clients/new)?$")
    problems = [p for p in page.watch.problems if not meant.match(p)]
    assert problems == [], "\n".join(problems)


def sign_in(page: Page) -> None:
    page.get_by_label("Логин", exact=True).fill(ADMIN_LOGIN)
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Войти", exact=True).click()


def test_admin_registers_and_disables_on_a_phone(browsers, make_account, axe_source, shot, app):  # noqa: F811
    make_account(email=ADMIN_LOGIN, password=PASSWORD, is_admin=True)
    # axe-core is injected by the test, so this page bypasses the CSP; the keyboard test keeps it.
    page = browsers.new_page(bypass_csp=True, **PHONE_SCREEN)

    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/$"))
    sign_in(page)
    expect(page.get_by_role("heading", level=1, name="Клиенты OAuth")).to_be_visible()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the empty list")
    shot(page, "empty-list")

    page.get_by_role("link", name="Зарегистрировать клиента").first.tap()
    expect(page.get_by_role("heading", level=1, name="Зарегистрировать клиента")).to_be_visible()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the registration form")
    shot(page, "form")

    # Mistakes: each shown at its field, the summary focused.
    page.get_by_label("Адреса возврата (redirect URI)", exact=True).fill("https://dms.example/cb#x")
    page.get_by_label(re.compile(r"^openid")).uncheck()
    for scope in ("profile", "email", "phone", "offline_access"):
        page.get_by_label(re.compile(rf"^{scope} ")).uncheck()
    page.get_by_role("button", name="Зарегистрировать", exact=True).tap()
    expect(page.locator("#form-errors")).to_be_focused()
    expect(page.locator("#name-errors [data-code='client.name.required']")).to_be_visible()
    expect(page.locator("#redirect_uris-errors [data-code='client.redirect_uri.fragment']")).to_be_visible()
    expect(page.locator("#scopes-errors [data-code='admin.scopes.required']")).to_be_visible()
    expect(page.get_by_label("Название", exact=True)).to_have_attribute("aria-invalid", "true")
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the form with errors")
    shot(page, "form-errors")

    page.get_by_label("Название", exact=True).fill("ДМС — портал")
    page.get_by_label("Адреса возврата (redirect URI)", exact=True).fill(
        "https://dms.example/callback\nhttps://dms.example/cb2")
    page.get_by_label(re.compile(r"^openid")).check()
    page.get_by_label(re.compile(r"^email ")).check()
    page.get_by_label("Собственное приложение компании", exact=True).check()
    page.get_by_role("button", name="Зарегистрировать", exact=True).tap()
    expect(page.get_by_role("heading", level=1, name="Клиент зарегистрирован")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("показан один раз")
    secret = page.get_by_label("Секрет (client_secret)", exact=True).input_value()
    assert len(secret) >= 40
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the created page with the secret")
    shot(page, "created-with-secret")

    page.get_by_role("link", name="К списку клиентов").tap()
    card = page.locator("li.client").filter(has_text="ДМС — портал")
    expect(card).to_have_attribute("data-status", "active")
    expect(card).to_contain_text("https://dms.example/cb2")
    assert secret not in page.content()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the list")
    shot(page, "list")

    card.get_by_role("button", name="Отключить ДМС — портал").tap()
    expect(page.get_by_role("status")).to_contain_text("Клиент отключён")
    card = page.locator("li.client").filter(has_text="ДМС — портал")
    expect(card).to_have_attribute("data-status", "disabled")
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the list after disabling")
    shot(page, "disabled")


def test_keyboard_only_registration_under_csp(browsers, make_account, app):  # noqa: F811
    """By keyboard alone, under the real CSP, with no console error or violation on any admin page."""
    make_account(email=ADMIN_LOGIN, password=PASSWORD, is_admin=True)
    page = browsers.new_page()
    page.goto("/login?next=/admin/clients/new")
    sign_in(page)
    expect(page.get_by_role("heading", level=1, name="Зарегистрировать клиента")).to_be_visible()
    page.get_by_role("button", name="Зарегистрировать", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#form-errors")).to_be_focused()
    page.get_by_label("Название", exact=True).focus()
    page.keyboard.type("Мобильное приложение")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Адреса возврата (redirect URI)", exact=True)).to_be_focused()
    page.keyboard.type("http://127.0.0.1:8765/cb")
    page.get_by_label("Публичный клиент", exact=True).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Зарегистрировать", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Клиент зарегистрирован")).to_be_visible()
    expect(page.locator("[data-code='admin.created.public']")).to_be_visible()
    expect(page.locator("#client_secret")).to_have_count(0)
    page.goto("/admin/")
    expect(page.locator("li.client")).to_have_count(1)
    assert_quiet(page)


def test_customer_sees_403_in_english(browsers, make_account, axe_source):  # noqa: F811
    make_account(email="client@example.com", password=PASSWORD)
    page = browsers.new_page(locale="en-GB", bypass_csp=True)
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill("client@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    response = page.goto("/admin/")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_have_text("Only administrators may open this section.")
    assert_accessible(page, axe_source, "the 403 page")
    assert_quiet(page)


def test_admin_settles_a_held_policy_and_a_dead_letter_on_a_phone(browsers, make_account, axe_source, shot, app,
                                                                  run_cli, mailbox):
    """The held-policies and failed-messages pages: readable on a phone, no axe violation, both actions work."""
    from idp.delivery import DEAD, EMAIL, enqueue
    from idp.extensions import db
    from tests.admin.cases import AGENT, held_by_the_agent

    make_account(email=ADMIN_LOGIN, password=PASSWORD, is_admin=True)
    held_by_the_agent(app)
    with app.app_context():  # a welcome e-mail that SES refused to the end
        row = enqueue(app.extensions["idp"], "account_created", channel=EMAIL, recipient="anna@example.com",
                      account_id=None, params={"login_url": "x", "site_url": "x", "email": "anna@example.com",
                                               "phone": None})
        row.status, row.attempts, row.last_error = DEAD, 6, "SES refused the message: MessageRejected"
        db.session.commit()
    page = browsers.new_page(bypass_csp=True, **PHONE_SCREEN)

    page.goto("/login?next=/admin/held")
    sign_in(page)
    expect(page.get_by_role("heading", level=1, name="Полисы, ожидающие решения")).to_be_visible()
    case = page.locator("li.case").filter(has_text="LF-2")
    expect(case.locator("[data-login]")).to_contain_text(AGENT)
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the held policies")
    shot(page, "held")

    case.get_by_role("link", name="Полис LF-2").tap()
    expect(page.get_by_role("heading", level=1, name="Полис LF-2")).to_be_visible()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "a held policy")
    shot(page, "held-policy")
    assert run_cli("accounts", "update", AGENT, "--email", "sidorov@example.com").exit_code == 0
    page.get_by_role("button", name="Перепроверить LF-2").tap()
    expect(page.get_by_role("status")).to_contain_text("учётная запись создана")
    assert_accessible(page, axe_source, "the policy after the recheck")
    shot(page, "rechecked")

    page.get_by_role("link", name="Сообщения клиентам").tap()
    expect(page.get_by_role("heading", level=1, name="Сообщения клиентам")).to_be_visible()
    card = page.locator("li.case").filter(has_text="a***@example.com")
    expect(card).to_have_attribute("data-status", "dead")
    assert "anna@example.com" not in page.content()
    check_phone_layout(page)
    assert_accessible(page, axe_source, "the failed messages")
    shot(page, "deliveries")

    card.get_by_role("button", name=re.compile(r"^Отправить снова")).tap()
    expect(page.get_by_role("status")).to_contain_text("Сообщение отправлено")
    assert mailbox.last("anna@example.com")["template"] == "account_created"
    assert_accessible(page, axe_source, "the failed messages after the requeue")
    shot(page, "requeued")
