"""The whole demo through real HTTP: the ДМС portal signs a customer in through the real provider.

Two servers on loopback (the provider and the portal, each a real Flask app in a werkzeug thread), one
``requests`` session playing the browser: it follows every redirect and fills the provider's forms, so
what is proved is what a newcomer clicks through, with Authlib's unmodified client on the portal side.
"""
from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.http import PageClient, codes

_FORM_ACTION = re.compile(r'<form[^>]*\baction="([^"]*)"')
_CLAIM = re.compile(r'<tr data-claim="([^"]+)">.*?<span class="value">(.*?)</span>', re.S)


class Browser(PageClient):
    """PageClient across two sites: forms are posted to their own ``action``, resolved against the page."""

    def press(self, data: dict | None = None, *, form: int = 0) -> requests.Response:
        """Submit the ``form``-th form of the current page (with its CSRF token) and follow redirects."""
        actions = _FORM_ACTION.findall(self.page.text)
        assert len(actions) > form, f"no form #{form} on {self.page.url}"
        return self.submit(urljoin(self.page.url, unescape(actions[form])), data or {})


def claims_table(html: str, table_id: str) -> dict[str, str]:
    """The rows of one claims table of the portal's page: claim name → value as shown."""
    match = re.search(rf'<table class="claims" id="{table_id}">(.*?)</table>', html, re.S)
    assert match, f"no table {table_id}"
    return {name: unescape(value) for name, value in _CLAIM.findall(match.group(1))}


def is_provider_login(page: requests.Response, provider_url: str) -> bool:
    return page.url.startswith(provider_url) and "Вход в личный кабинет" in page.text


@pytest.fixture
def customer(make_account):
    return make_account(email="client@example.com", phone="+79161234567", full_name="Иван Петров")


def test_portal_signs_in_refreshes_and_signs_out_through_the_provider(portal, live_server, customer, mailbox):
    idp = live_server.url
    browser = Browser(portal.url)

    # The portal's home page; nobody is signed in at the provider yet, so a silent check says so politely.
    page = browser.get("/")
    assert "ДМС — портал медицинского страхования" in page.text and "Войти через личный кабинет" in page.text
    page = browser.press({"prompt": "none"}, form=1)
    assert page.url.startswith(portal.url + "/callback") and page.status_code == 400
    assert codes(page.text) == ["oauth.login_required"]

    # «Войти через личный кабинет» leads to the provider's sign-in page.
    page = browser.get("/")
    page = browser.press()
    assert is_provider_login(page, idp), page.url
    authorize = _authorize_request(browser)
    assert authorize["client_id"] == [portal.client_id]
    assert authorize["redirect_uri"] == [portal.url + "/callback"]
    assert authorize["code_challenge_method"] == ["S256"] and authorize["code_challenge"]
    assert authorize["state"] and authorize["nonce"]
    assert set(authorize["scope"][0].split()) >= {"openid", "profile", "email", "phone", "offline_access"}

    # First time: «Забыли пароль?», the temporary password from the mailbox, the forced change.
    page = browser.press({"login": "client@example.com", "password": "", "action": "forgot"})
    assert "reset.sent_email" in codes(page.text)
    temporary = mailbox.temporary_password("client@example.com")
    page = browser.press({"login": "client@example.com", "password": temporary, "action": "signin"})
    assert "Изменение пароля" in page.text, page.url
    page = browser.press({"temporary": temporary, "new": "Polis2026", "confirm": "Polis2026"})
    assert is_provider_login(page, idp) and "password.changed" in codes(page.text)

    # Signing in with the new password lands back in the portal, signed in.
    page = browser.press({"login": "client@example.com", "password": "Polis2026", "action": "signin"})
    assert page.url == portal.url + "/", page.url
    assert "signin.done" in codes(page.text)
    assert "Иван Петров" in page.text and "client@example.com" in page.text and "+79161234567" in page.text

    id_claims = claims_table(page.text, "id-token-claims")
    assert id_claims["iss"] == idp and id_claims["aud"] in (portal.client_id, f'["{portal.client_id}"]')
    assert {"sub", "exp", "iat", "nonce"} <= id_claims.keys()
    userinfo = claims_table(page.text, "userinfo-claims")
    assert userinfo["sub"] == id_claims["sub"] and userinfo["email"] == "client@example.com"
    expires_in = int(re.search(r'data-expires-in="(\d+)"', page.text).group(1))
    assert expires_in > 0

    # Tokens stay on the portal's server; the browser's cookie only names them.
    first = portal.signin(browser.http)
    assert first and first["token"]["refresh_token"] and first["token"]["id_token"]
    for name, value in browser.http.cookies.items():
        assert first["token"]["access_token"] not in value and first["token"]["refresh_token"] not in value, name
    _assert_userinfo(idp, first["token"]["access_token"], status=200)

    # «Обновить токены»: a refresh_token grant; the new expiry is shown, the new access token works.
    time.sleep(1.1)  # expiry has one-second resolution: the new one must be visibly later
    page = browser.press(form=0)
    assert page.url == portal.url + "/" and "refresh.done" in codes(page.text), codes(page.text)
    assert 'id="refreshed-at"' in page.text
    second = portal.signin(browser.http)
    assert second["token"]["access_token"] != first["token"]["access_token"]
    assert second["token"]["expires_at"] > first["token"]["expires_at"]
    assert claims_table(page.text, "id-token-claims")["sub"] == id_claims["sub"]
    _assert_userinfo(idp, second["token"]["access_token"], status=200)
    if second["token"]["refresh_token"] != first["token"]["refresh_token"]:
        # A rotated refresh token: the old one must be dead (RFC 9700, section 4.14.2).
        assert _refresh(idp, portal, first["token"]["refresh_token"]).status_code == 400

    # A new portal session, the provider's session still alive: signing in needs no password (SSO).
    browser.http.cookies.clear(urlsplit(portal.url).hostname, "/", portal.app.config["SESSION_COOKIE_NAME"])
    page = browser.get("/")
    assert "Войти через личный кабинет" in page.text
    page = browser.press()
    assert page.url == portal.url + "/" and "signin.done" in codes(page.text), page.url
    third = portal.signin(browser.http)
    assert claims_table(page.text, "id-token-claims")["sub"] == id_claims["sub"]

    # «Выйти»: the portal revokes its refresh token, then RP-initiated logout at the provider, and back.
    page = browser.press(form=1)
    page = _confirm_logout_if_asked(browser, page, idp)
    assert page.url == portal.url + "/", page.url
    assert "signout.done" in codes(page.text)
    assert "Войти через личный кабинет" in page.text and portal.signin(browser.http) is None
    assert _refresh(idp, portal, third["token"]["refresh_token"]).json()["error"] == "invalid_grant"

    # The provider's session is over too: its own pages ask for a password, a silent sign-in is refused.
    assert browser.get(idp + "/account").url.split("?")[0] == idp + "/login"
    page = browser.get(portal.url + "/")
    page = browser.press({"prompt": "none"}, form=1)
    assert codes(page.text) == ["oauth.login_required"]


def test_portal_shows_policies_when_the_provider_sends_them(portal, live_server, customer, app):
    discovery = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10).json()
    if "policies" not in discovery.get("scopes_supported", []):
        pytest.skip("the provider does not offer the 'policies' scope yet")
    pytest.skip("attaching a policy to an account needs the provider's policy API (idp.policies)")


def _authorize_request(browser: Browser) -> dict:
    """The query of the authorization request the portal sent (the first hop of the redirect chain)."""
    for hop in browser.page.history:
        if "/oauth/authorize" in hop.url:
            return parse_qs(urlsplit(hop.url).query)
    raise AssertionError("the sign-in did not pass /oauth/authorize: "
                         + " → ".join(h.url for h in browser.page.history))


def _assert_userinfo(idp: str, access_token: str, *, status: int) -> None:
    response = requests.get(idp + "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                            timeout=10)
    assert response.status_code == status, response.text


def _refresh(idp: str, portal, refresh_token: str) -> requests.Response:
    return requests.post(idp + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(portal.client_id, portal.client_secret), timeout=10)


def _confirm_logout_if_asked(browser: Browser, page: requests.Response, idp: str) -> requests.Response:
    """RP-Initiated Logout lets the provider ask the customer first; press its button if it does."""
    if page.url.startswith(idp) and "csrf_token" in page.text:
        page = browser.press()
    return page
