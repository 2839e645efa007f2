"""The seed's whole story in a real browser, starting at the demo ДМС portal (issue 6).

Two real servers on loopback, set up as ``python -m clients.dms_portal.demo`` sets them up: the provider,
told through the ``idp`` command that a corporate ДМС policy was issued (``idp policies issue``, so the
account appears by itself) and with the portal registered as a first-party client (``idp clients
create``); and the portal itself, a separate Flask app that knows the provider only by its issuer URL.

In Chromium: the portal → «Войти через личный кабинет» → the provider's «Вход в личный кабинет» →
«Забыли пароль?» → the temporary password as it was delivered → «Изменение пароля» (the live checklist
following each key, the server's error for a confirmation that does not match) → sign in with the
permanent password → back in the portal, the policy shown → «Выйти» (RP-Initiated Logout at the
provider) → back in the portal, signed out of both.

The temporary password is read from the development mailbox (e-mail login), and, with the provider
sending through SES and SNS on moto in server mode, from what SES received (e-mail login) and from what
SNS received (phone login). Delivery is inline, so the message has been sent when the page answers.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from clients.dms_portal import PortalConfig, create_app as create_portal
from clients.dms_portal.demo import CLIENT_ID, CLIENT_NAME, CLIENT_SCOPES, DEMO_POLICY
from idp.clock import Clock
from tests.browser.test_sign_in_journey import (alert, assert_quiet, button, expect_path, expect_rules,
                                                field, heading, rule_item, status, RULES)
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

#: The demo's customer, as its policy names them (``DEMO_POLICY`` in clients/dms_portal/demo.py).
EMAIL = "demo@example.com"
PHONE = "+79161234567"  # the demo's "+7 916 123-45-67", as stored and as SNS gets it
PHONE_TYPED = "8 (916) 123-45-67"  # how a customer may type it
NAME = "Демо Клиент"
POLICY_NUMBER = "DMS-DEMO-000001"
PERMANENT = "Polis2026"
PORTAL_TITLE = "ДМС — портал медицинского страхования"
#: The policy is in force whatever day the tests run (the demo says "this year": over by 31 December).
POLICY_START = date.today() - timedelta(days=30)
POLICY_END = POLICY_START + timedelta(days=365)

#: The seed's e-mail and SMS with the temporary password (8 Latin letters and digits).
EMAIL_TEMPORARY = re.compile(r"Временный пароль - ([A-Za-z0-9]{8})\b")
SMS_TEMPORARY = re.compile(r"^Ваш новый пароль для входа в Личный кабинет - ([A-Za-z0-9]{8})$")


# --- the two servers, set up as the demo sets them up ---------------------------------------------------

@pytest.fixture
def clock():
    # The portal checks ID-token times against the wall clock, as every relying party does, so the
    # provider must issue them by the wall clock too, not by the suite's frozen one.
    return Clock()


@pytest.fixture
def app(request, make_app):
    """The provider; a test that asks for ``moto_server`` gets one sending through SES and SNS on it.

    moto is set up first: boto3 reads ``AWS_ENDPOINT_URL`` when the courier creates its clients.
    """
    if "moto_server" in request.fixturenames:
        request.getfixturevalue("moto_server")
        return make_app(email_transport="ses", sms_transport="sns", delivery_mode="inline")
    return make_app(delivery_mode="inline")


@pytest.fixture
def portal_server():
    """The portal's loopback port, bound before the portal exists so its redirect URIs can be registered."""
    server = LiveServer()
    yield server
    server.stop()


@dataclass
class Portal:
    url: str
    client_id: str


@pytest.fixture
def portal(live_server, portal_server, run_cli) -> Portal:
    """The demo's set-up through the ``idp`` command, then the portal served on its own port."""
    period = ["--start", POLICY_START.isoformat(), "--end", POLICY_END.isoformat()]
    issued = run_cli("policies", "issue", *DEMO_POLICY, *period, "--json")
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.stdout)["result"] == "account_created", issued.stdout

    created = run_cli("clients", "create", "--client-id", CLIENT_ID, "--name", CLIENT_NAME,
                      "--redirect-uri", portal_server.url + "/callback",
                      "--post-logout-redirect-uri", portal_server.url + "/",
                      "--scope", CLIENT_SCOPES, "--first-party", "--json")
    assert created.exit_code == 0, created.output
    registration = json.loads(created.stdout)

    config = PortalConfig(issuer=live_server.url, client_id=registration["client_id"],
                          client_secret=registration["client_secret"],
                          secret_key="portal-test-key-" + "y" * 32, base_url=portal_server.url,
                          scope=CLIENT_SCOPES)
    portal_server.start(create_portal(config))
    return Portal(portal_server.url, registration["client_id"])


# --- the journey -----------------------------------------------------------------------------------------

class Hops:
    """The provider's OAuth endpoints the browser passed through, with their query strings."""

    def __init__(self, page: Page, provider_url: str):
        self.seen: list[tuple[str, dict]] = []
        self.provider_url = provider_url
        page.on("request", self._record)

    def _record(self, request) -> None:
        if request.is_navigation_request() and request.url.startswith(self.provider_url + "/oauth/"):
            parts = urlsplit(request.url)
            self.seen.append((parts.path, parse_qs(parts.query)))

    def query(self, path: str) -> dict:
        found = [q for p, q in self.seen if p == path]
        assert found, f"the browser never went through {path}: {[p for p, _ in self.seen]}"
        return found[-1]


def portal_journey(page: Page, shot, portal: Portal, provider_url: str, *, login: str, stored_login: str,
                   sent_notice: str, read_temporary) -> None:
    """From the portal's home page to the portal again, signed in (the policy shown), then signed out."""
    hops = Hops(page, provider_url)

    # The portal, nobody signed in.
    page.goto(portal.url + "/")
    expect(page).to_have_title(PORTAL_TITLE)
    expect(heading(page, PORTAL_TITLE)).to_be_visible()
    shot(page, "portal-home")

    # «Войти через личный кабинет»: the provider's sign-in page, on behalf of the portal.
    button(page, "Войти через личный кабинет").click()
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()
    assert page.url.startswith(provider_url + "/login"), page.url
    authorize = hops.query("/oauth/authorize")
    assert authorize["client_id"] == [portal.client_id]
    assert authorize["redirect_uri"] == [portal.url + "/callback"]
    assert authorize["code_challenge_method"] == ["S256"]
    assert "policies" in authorize["scope"][0].split()
    expect(field(page, "Логин")).to_be_focused()
    shot(page, "provider-sign-in")

    # The login, then «Забыли пароль?»: the temporary password goes out.
    field(page, "Логин").press_sequentially(login)
    button(page, "Забыли пароль?").click()
    expect(status(page)).to_contain_text(sent_notice)
    expect(field(page, "Логин")).to_have_value(login)
    shot(page, "temporary-password-sent")

    temporary = read_temporary()
    assert re.fullmatch(r"[A-Za-z0-9]{8}", temporary), temporary

    # Login + temporary password: «Изменение пароля», nothing else.
    field(page, "Пароль").fill(temporary)
    button(page, "Войти").click()
    expect_path(page, "/password/change")
    expect(heading(page, "Изменение пароля")).to_be_visible()
    expect(page.get_by_text(f"Логин: {stored_login}")).to_be_visible()
    expect_rules(page, length=False, upper=False, lower=False, digit=False)
    shot(page, "change-page")

    # The live checklist follows each key the customer presses.
    new = field(page, "Новый пароль")
    new.press_sequentially("olis")
    expect_rules(page, length=False, upper=False, lower=True, digit=False)
    new.press("Home")
    new.press_sequentially("P")
    expect_rules(page, length=False, upper=True, lower=True, digit=False)
    new.press("End")
    new.press_sequentially("20")
    expect_rules(page, length=False, upper=True, lower=True, digit=True)
    shot(page, "checklist-seven-characters")
    new.press_sequentially("26")
    expect(new).to_have_value(PERMANENT)
    expect_rules(page, length=True, upper=True, lower=True, digit=True)
    expect(rule_item(page, RULES["password.rule.length"])).to_have_class(re.compile(r"\bmet\b"))
    shot(page, "checklist-all-met")

    # A confirmation that does not match: the server says so, and keeps the customer on the page.
    field(page, "Временный пароль").fill(temporary)
    field(page, "Подтверждение").fill(PERMANENT + "!")
    button(page, "Изменить").click()
    expect_path(page, "/password/change")
    errors = alert(page)
    expect(errors.get_by_text("Новый пароль и подтверждение не совпадают.", exact=True)).to_be_visible()
    expect(errors).to_be_focused()
    shot(page, "change-error-confirmation")

    # The good password: back on the sign-in page, which still belongs to the portal's sign-in.
    field(page, "Временный пароль").fill(temporary)
    field(page, "Новый пароль").fill(PERMANENT)
    field(page, "Подтверждение").fill(PERMANENT)
    button(page, "Изменить").click()
    expect_path(page, "/login")
    expect(status(page)).to_have_text("Пароль изменён. Войдите с новым паролем.")
    shot(page, "password-changed")

    # Sign in with the permanent password (the login as the customer types it): back in the portal,
    # signed in, the policy shown.
    expect(field(page, "Логин")).to_have_value(stored_login)
    field(page, "Логин").fill(login)
    field(page, "Пароль").fill(PERMANENT)
    button(page, "Войти").click()
    expect(page).to_have_url(portal.url + "/")
    expect(page.locator("[role=status][data-code='signin.done']")).to_have_text(
        "Вы вошли через личный кабинет.")
    expect(heading(page, f"Здравствуйте, {NAME}!")).to_be_visible()
    expect(page.locator("dd[data-claim=email]")).to_have_text(EMAIL)
    expect(page.locator("dd[data-claim=phone_number]")).to_have_text(PHONE)
    policy = page.locator(f"tr[data-policy='{POLICY_NUMBER}']")
    expect(policy).to_be_visible()
    expect(policy.locator("td")).to_have_text([POLICY_NUMBER, "корпоративный (через работодателя)", "ДМС",
                                               "действует", POLICY_START.strftime("%d.%m.%Y"),
                                               POLICY_END.strftime("%d.%m.%Y")])
    shot(page, "portal-signed-in-with-policy")

    # «Выйти»: the portal sends the browser to the provider's end_session_endpoint and gets it back.
    button(page, "Выйти").click()
    expect(page).to_have_url(portal.url + "/")
    expect(page.locator("[role=status][data-code='signout.done']")).to_have_text(
        "Вы вышли из портала и из личного кабинета.")
    expect(button(page, "Войти через личный кабинет")).to_be_visible()
    logout = hops.query("/oauth/logout")
    assert logout["post_logout_redirect_uri"] == [portal.url + "/"]
    assert logout.get("id_token_hint") and logout.get("state"), logout
    shot(page, "portal-signed-out")

    # Signed out of the provider too: its own page asks for the password again.
    page.goto(provider_url + "/account")
    expect_path(page, "/login")
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()
    shot(page, "provider-signed-out")

    # And the portal's «Войти через личный кабинет» asks for the password again (no silent sign-in).
    page.goto(portal.url + "/")
    button(page, "Войти через личный кабинет").click()
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()
    shot(page, "sign-in-asked-again")
    assert_quiet(page)


# --- the tests -------------------------------------------------------------------------------------------

#: What each message is, by its e-mail subject or its SMS's opening words.
SUBJECTS = {"Вы зарегистрированы в Личном кабинете МетЛайф": "welcome",
            "Временный пароль для входа в Личный кабинет МетЛайф": "temporary",
            "Пароль от Личного кабинета МетЛайф изменён": "changed"}
SMS_OPENINGS = {"Уважаемый клиент! Мы зарегистрировали Вас в Личном кабинете": "welcome",
                "Ваш новый пароль для входа в Личный кабинет - ": "temporary",
                "Пароль от Личного кабинета МетЛайф изменён.": "changed"}


def email_kind(subject: str) -> str:
    return SUBJECTS.get(subject, subject)


def sms_kind(text: str) -> str:
    return next((kind for opening, kind in SMS_OPENINGS.items() if text.startswith(opening)), text)


def test_portal_journey_with_the_development_mailbox(page: Page, portal: Portal, live_server, mailbox, shot):
    def temporary() -> str:
        found = [m for m in mailbox.messages(EMAIL) if EMAIL_TEMPORARY.search(m["text"] or "")]
        assert len(found) == 1, mailbox.messages()
        return EMAIL_TEMPORARY.search(found[0]["text"]).group(1)

    portal_journey(page, shot, portal, live_server.url, login=EMAIL, stored_login=EMAIL,
                   sent_notice="на адрес электронной почты", read_temporary=temporary)
    # The customer's story in their inbox and on their phone: welcome, temporary password, change notice.
    assert [email_kind(m["subject"]) for m in mailbox.messages(EMAIL)] == ["welcome", "temporary", "changed"]
    assert [sms_kind(m["text"]) for m in mailbox.messages(PHONE)] == ["welcome", "changed"]


@pytest.mark.aws
def test_portal_journey_by_email_through_ses(moto_server, page: Page, portal: Portal, live_server, mailbox,
                                             shot):
    def temporary() -> str:
        found = [m for m in moto_server.emails(to=EMAIL) if EMAIL_TEMPORARY.search(m.text or "")]
        assert len(found) == 1, [m.subject for m in moto_server.emails()]
        assert found[0].sender == "eservices@metlife.ru"
        assert f'<strong>{EMAIL_TEMPORARY.search(found[0].text).group(1)}</strong>' in found[0].html
        return EMAIL_TEMPORARY.search(found[0].text).group(1)

    portal_journey(page, shot, portal, live_server.url, login=EMAIL, stored_login=EMAIL,
                   sent_notice="на адрес электронной почты", read_temporary=temporary)
    # Every message went out through SES or SNS; none was written to the development mailbox.
    assert [email_kind(m.subject) for m in moto_server.emails()] == ["welcome", "temporary", "changed"]
    assert [sms_kind(m.message) for m in moto_server.sms()] == ["welcome", "changed"]
    assert {m.phone_number for m in moto_server.sms()} == {PHONE}
    assert mailbox.messages() == []


@pytest.mark.aws
def test_portal_journey_by_phone_through_sns(moto_server, page: Page, portal: Portal, live_server, mailbox,
                                            shot):
    def temporary() -> str:
        found = [m for m in moto_server.sms(to=PHONE) if SMS_TEMPORARY.match(m.message)]
        assert len(found) == 1, [m.message for m in moto_server.sms()]
        assert found[0].attribute("AWS.SNS.SMS.SMSType") == "Transactional"
        return SMS_TEMPORARY.match(found[0].message).group(1)

    # «Изменение пароля» names the account by the login typed, the phone (written the usual way).
    portal_journey(page, shot, portal, live_server.url, login=PHONE_TYPED, stored_login="+7 916 123-45-67",
                   sent_notice="на номер телефона", read_temporary=temporary)
    # The phone login got its temporary password by SMS only; SES carried no password.
    assert [sms_kind(m.message) for m in moto_server.sms()] == ["welcome", "temporary", "changed"]
    assert [email_kind(m.subject) for m in moto_server.emails()] == ["welcome", "changed"]
    assert {m.phone_number for m in moto_server.sms()} == {PHONE}
    assert mailbox.messages() == []
