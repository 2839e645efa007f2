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

    # First time: «Забыли пароль?», the temporary password from the mailbox, the forced change; signing in
    # with the new password lands back in the portal, signed in.
    page = first_sign_in(browser, "client@example.com", mailbox, idp)
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
        assert all(first["token"][kind] not in value for kind in ("access_token", "refresh_token")), name
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
    logout = _hop(page, "/oauth/logout")
    assert logout["id_token_hint"] == [third["token"]["id_token"]]
    assert logout["post_logout_redirect_uri"] == [portal.url + "/"] and logout["state"]
    assert "signout.done" in codes(page.text)
    assert "Войти через личный кабинет" in page.text and portal.signin(browser.http) is None
    assert _refresh(idp, portal, third["token"]["refresh_token"]).json()["error"] == "invalid_grant"
    if second["token"]["refresh_token"] != first["token"]["refresh_token"]:
        # A rotated refresh token: the old one must be dead (RFC 9700, section 4.14.2). Checked last:
        # presenting it is reuse, which also ends the provider session it came from (back-channel logout).
        assert _refresh(idp, portal, first["token"]["refresh_token"]).status_code == 400

    # The provider's session is over too: its own pages ask for a password, a silent sign-in is refused.
    assert browser.get(idp + "/account").url.split("?")[0] == idp + "/login"
    page = browser.get(portal.url + "/")
    page = browser.press({"prompt": "none"}, form=1)
    assert codes(page.text) == ["oauth.login_required"]


def test_third_party_portal_consent_refusal_and_a_grant_the_provider_ends(make_portal, live_server,
                                                                          make_account):
    """Registered without --first-party: the provider asks for consent; «no» comes back as
    ``access_denied`` and is shown politely; a refresh token the provider has ended signs the portal out."""
    idp = live_server.url
    portal = make_portal(first_party=False)
    make_account(email="client@example.com", phone="+79161234567", password="Polis2026")
    browser = Browser(portal.url)
    browser.get("/")
    page = browser.press()
    assert is_provider_login(page, idp)
    page = browser.press({"login": "client@example.com", "password": "Polis2026", "action": "signin"})
    assert page.url.startswith(idp) and 'name="decision"' in page.text, page.url

    # The customer refuses: the provider sends error=access_denied back to the portal, which says so.
    page = browser.press({"decision": "deny"})
    assert page.url.startswith(portal.url + "/callback?") and page.status_code == 400
    assert parse_qs(urlsplit(page.url).query)["error"] == ["access_denied"]
    assert codes(page.text) == ["oauth.access_denied"] and "Войти через личный кабинет" in page.text

    # Trying again from the error page, the customer allows: signed in, no password asked (SSO).
    page = browser.press()
    assert page.url.startswith(idp) and 'name="decision"' in page.text, page.url
    page = browser.press({"decision": "allow"})
    assert page.url == portal.url + "/" and "signin.done" in codes(page.text), page.url
    stolen = portal.signin(browser.http)["token"]["refresh_token"]

    # Someone else uses the portal's refresh token first (a stolen copy): when the portal then uses it,
    # the provider sees a spent token reused and ends the grant; the portal signs out and says why.
    assert _refresh(idp, portal, stolen).status_code == 200
    page = browser.press(form=0)
    assert page.url == portal.url + "/" and "refresh.invalid_grant" in codes(page.text), codes(page.text)
    assert "Войти через личный кабинет" in page.text and portal.signin(browser.http) is None


def test_policy_issued_account_appears_and_the_portal_shows_the_policy(make_portal, live_server, app,
                                                                       mailbox):
    """The seed's whole story: the policy system issues a ДМС policy, the account appears by itself, the
    insured person signs in to the portal for the first time and sees the policy (scope ``policies``,
    asked for explicitly as DMS_SCOPE; by default the portal asks for it once discovery lists it)."""
    from idp.policies import issue_policy

    with app.app_context():
        outcome = issue_policy(app.extensions["idp"], {
            "number": "DMS-2026-000042", "kind": "corporate", "product": "dms", "status": "active",
            "start_date": "2026-01-01", "end_date": "2026-12-31",
            "person": {"full_name": "Смирнова Анна Сергеевна", "birth_date": "1990-03-08",
                       "email": "anna@example.com", "phone": "+7 903 123-45-67"},
            "employer": {"name": "ООО «Ромашка»", "includes_account": True}}, source="test")
    assert outcome.result == "account_created", outcome

    scopes = "openid profile email phone offline_access policies"
    portal = make_portal(scope=scopes, scopes=scopes.split())
    browser = Browser(portal.url)
    browser.get("/")
    page = browser.press()
    assert "policies" in _authorize_request(browser)["scope"][0].split()
    page = first_sign_in(browser, "anna@example.com", mailbox, live_server.url)
    assert page.url == portal.url + "/" and "signin.done" in codes(page.text), page.url

    row = re.search(r'<tr data-policy="DMS-2026-000042">(.*?)</tr>', page.text, re.S)
    assert row, "the policy is not on the page"
    cells = [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]
    assert cells == ["DMS-2026-000042", "корпоративный (через работодателя)", "ДМС", "действует",
                     "01.01.2026", "31.12.2026"]


def first_sign_in(browser: Browser, login: str, mailbox, idp: str) -> requests.Response:
    """On the provider's sign-in page: «Забыли пароль?», the temporary password, the change, sign in."""
    assert is_provider_login(browser.page, idp), browser.page.url
    page = browser.press({"login": login, "password": "", "action": "forgot"})
    assert "reset.sent_email" in codes(page.text)
    temporary = mailbox.temporary_password(login)
    page = browser.press({"login": login, "password": temporary, "action": "signin"})
    assert "Изменение пароля" in page.text, page.url
    page = browser.press({"temporary": temporary, "new": "Polis2026", "confirm": "Polis2026"})
    assert is_provider_login(page, idp) and "password.changed" in codes(page.text)
    return browser.press({"login": login, "password": "Polis2026", "action": "signin"})


def _authorize_request(browser: Browser) -> dict:
    """The query of the authorization request the portal sent (the first hop of the redirect chain)."""
    return _hop(browser.page, "/oauth/authorize")


def _hop(page: requests.Response, path: str) -> dict:
    """The query of the first request to ``path`` in the redirect chain that ended in ``page``."""
    for hop in page.history:
        if urlsplit(hop.url).path == path:
            return parse_qs(urlsplit(hop.url).query)
    raise AssertionError(f"the redirects did not pass {path}: " + " → ".join(h.url for h in page.history))


def _assert_userinfo(idp: str, access_token: str, *, status: int) -> None:
    response = requests.get(idp + "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                            timeout=10)
    assert response.status_code == status, response.text


def _refresh(idp: str, portal, refresh_token: str) -> requests.Response:
    return requests.post(idp + "/oauth/token",
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(portal.client_id, portal.client_secret), timeout=10)


def _confirm_logout_if_asked(browser: Browser, page: requests.Response, idp: str) -> requests.Response:
    """RP-Initiated Logout lets the provider ask the customer first; press its button if it does."""
    if page.url.startswith(idp) and "csrf_token" in page.text:
        page = browser.press()
    return page
