"""Back-channel logout in a real browser (issue 26): signed in to the ДМС portal through the provider, the
customer signs out at the provider's own page — the provider posts a logout token to the portal's
back-channel URI (OpenID Connect Back-Channel Logout 1.0), and the portal's next page asks to sign in again.

Two real servers on loopback, as in test_portal_journey: the provider (delivery inline, so the logout token
has been posted when the sign-out page answers) and the portal, registered through the ``idp`` command with
its ``--backchannel-logout-uri``.
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from clients.dms_portal import PortalConfig, create_app as create_portal
from clients.dms_portal.demo import CLIENT_ID, CLIENT_NAME, CLIENT_SCOPES
from idp.clock import Clock
from tests.browser.test_sign_in_journey import assert_quiet, button, expect_path, field, heading
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

EMAIL = "demo@example.com"
PASSWORD = "Polis2026"


@pytest.fixture
def clock():
    # The portal checks token times against the wall clock, so the provider issues them by it too.
    return Clock()


@pytest.fixture
def app(make_app):
    return make_app(delivery_mode="inline")


@pytest.fixture
def portal_server():
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def portal_url(live_server, portal_server, run_cli, make_account) -> str:
    make_account(email=EMAIL, phone="+79161234567", full_name="Демо Клиент", password=PASSWORD)
    created = run_cli("clients", "create", "--client-id", CLIENT_ID, "--name", CLIENT_NAME,
                      "--redirect-uri", portal_server.url + "/callback",
                      "--post-logout-redirect-uri", portal_server.url + "/",
                      "--backchannel-logout-uri", portal_server.url + "/backchannel-logout",
                      "--backchannel-logout-session-required",
                      "--scope", CLIENT_SCOPES, "--first-party", "--json")
    assert created.exit_code == 0, created.output
    registration = json.loads(created.stdout)
    assert registration["backchannel_logout_uri"] == portal_server.url + "/backchannel-logout"
    config = PortalConfig(issuer=live_server.url, client_id=registration["client_id"],
                          client_secret=registration["client_secret"],
                          secret_key="portal-test-key-" + "y" * 32, base_url=portal_server.url,
                          scope=CLIENT_SCOPES)
    portal_server.start(create_portal(config))
    return portal_server.url


def test_signing_out_at_the_provider_signs_the_portal_out(page: Page, portal_url: str, live_server, shot):
    # Signed in to the portal through the provider.
    page.goto(portal_url + "/")
    button(page, "Войти через личный кабинет").click()
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()
    field(page, "Логин").fill(EMAIL)
    field(page, "Пароль").fill(PASSWORD)
    button(page, "Войти").click()
    expect(page).to_have_url(portal_url + "/")
    expect(heading(page, "Здравствуйте, Демо Клиент!")).to_be_visible()
    shot(page, "portal-signed-in")

    # The customer signs out at the provider's own page, not at the portal.
    page.goto(live_server.url + "/account")
    button(page, "Выйти").click()
    expect_path(page, "/login")
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()
    shot(page, "provider-signed-out")

    # The portal was told over the back channel: its next page asks to sign in again.
    page.goto(portal_url + "/")
    expect(button(page, "Войти через личный кабинет")).to_be_visible()
    expect(heading(page, "Здравствуйте, Демо Клиент!")).to_have_count(0)
    shot(page, "portal-asks-to-sign-in")
    button(page, "Войти через личный кабинет").click()
    expect(heading(page, "Вход в личный кабинет")).to_be_visible()  # the provider asks for the password
    assert_quiet(page)
