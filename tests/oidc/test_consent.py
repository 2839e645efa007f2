"""Consent (OIDC Core §3.1.2.4): first-party clients skip it; others ask once, in Russian; revocable."""
from __future__ import annotations

import re

from tests.http import codes
from tests.oidc.conftest import signed_in_code


def test_first_party_client_is_not_asked(rp, flow, customer):
    request = rp.authorization()
    flow.start(request)
    page = flow.sign_in()
    assert "code" in rp.callback(page.url, request)


def test_third_party_client_shows_a_consent_page_in_russian(make_client, flow, customer):
    portal = make_client(name="Страховой агрегатор")
    request = portal.authorization(scope="openid email phone offline_access")
    flow.start(request)
    page = flow.sign_in()
    assert page.url.startswith(portal.issuer + "/oauth/authorize")
    assert "Разрешить доступ?" in page.text and "«Страховой агрегатор»" in page.text
    scopes = re.findall(r'data-scope="([^"]+)"', page.text)
    assert scopes == ["openid", "email", "phone", "offline_access"]
    for words in ("адрес электронной почты", "номер мобильного телефона", "Разрешить", "Отказать"):
        assert words in page.text
    page = flow.consent("allow")
    token = portal.exchange(portal.callback(page.url, request)["code"], request).json()
    assert token["scope"] == "openid email phone offline_access"


def test_consent_is_remembered(make_client, flow, customer):
    portal = make_client()
    request = portal.authorization(scope="openid email")
    flow.start(request)
    flow.sign_in()
    flow.consent("allow")
    again = portal.authorization(scope="openid email")
    assert "code" in portal.callback(flow.start(again).url, again)


def test_more_scopes_ask_again(make_client, flow, customer):
    portal = make_client()
    request = portal.authorization(scope="openid email")
    flow.start(request)
    flow.sign_in()
    flow.consent("allow")
    wider = portal.authorization(scope="openid email phone")
    assert "Разрешить доступ?" in flow.start(wider).text


def test_denied_consent_returns_access_denied(make_client, flow, customer):
    portal = make_client()
    request = portal.authorization()
    flow.start(request)
    flow.sign_in()
    page = flow.consent("deny")
    assert portal.callback(page.url, request)["error"] == "access_denied"


def test_prompt_none_without_consent_returns_consent_required(make_client, flow, customer, rp):
    signed_in_code(flow, rp, rp.authorization())  # signed in at the provider through another portal
    portal = make_client()
    request = portal.authorization(prompt="none")
    assert portal.callback(flow.start(request).url, request)["error"] == "consent_required"


def test_prompt_consent_asks_even_a_first_party_client(rp, flow, customer):
    signed_in_code(flow, rp, rp.authorization())
    request = rp.authorization(prompt="consent")
    assert "Разрешить доступ?" in flow.start(request).text
    page = flow.consent("allow")
    assert "code" in rp.callback(page.url, request)


def test_consent_form_needs_its_csrf_token(make_client, flow, customer, browser):
    portal = make_client()
    request = portal.authorization()
    flow.start(request)
    page = flow.sign_in()
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    forged = browser.http.post(portal.issuer + action, data={"decision": "allow"}, allow_redirects=False,
                               timeout=10)
    assert forged.status_code == 400 and "Location" not in forged.headers


def test_revoked_consent_asks_again_and_ends_the_tokens(make_client, flow, customer, browser):
    portal = make_client(name="Агрегатор")
    request = portal.authorization()
    flow.start(request)
    flow.sign_in()
    token = portal.exchange(portal.callback(flow.consent("allow").url, request)["code"], request).json()

    page = browser.get("/account/apps")
    assert "Агрегатор" in page.text and "Отозвать доступ" in page.text
    page = browser.submit("/account/apps/revoke", {"client_id": portal.client_id})
    assert "apps.revoked" in codes(page.text) and "apps.none" in codes(page.text)

    assert portal.userinfo(token["access_token"]).status_code == 401
    assert portal.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    again = portal.authorization()
    assert "Разрешить доступ?" in flow.start(again).text


def test_apps_page_needs_a_sign_in(browser):
    page = browser.get("/account/apps")
    assert "/login" in page.url


def test_account_page_links_to_the_connected_applications(rp, flow, customer, browser):
    signed_in_code(flow, rp, rp.authorization())
    page = browser.get("/account")
    assert 'href="/account/apps"' in page.text
