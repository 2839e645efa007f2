"""The seed's whole journey through a relying party, over real HTTP, collecting every secret it meets.

«Забыли пароль?» → the temporary password from the mailbox → the forced change → sign in again from an
OIDC client asking for ``offline_access`` → code exchange → refresh → userinfo. The client's redirect
URI is on another host, so the browser never requests the callback (with the code and state in its
query) from the provider: that request belongs to the client's logs, not ours.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

from tests.http import PageClient, codes
from tests.oidc.rp import RelyingParty

CALLBACK = "https://portal.example.test/callback"
LOGIN = "client@example.com"


@dataclass
class Secrets:
    permanent_password: str = ""
    temporary_password: str = ""
    client_secret: str = ""
    code: str = ""
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    id_tokens: list[str] = field(default_factory=list)

    def named(self) -> dict[str, str]:
        found = {"permanent password": self.permanent_password, "temporary password": self.temporary_password,
                 "client secret": self.client_secret, "authorization code": self.code}
        for kind in ("access_tokens", "refresh_tokens", "id_tokens"):
            for n, value in enumerate(getattr(self, kind)):
                found[f"{kind[:-1].replace('_', ' ')} #{n + 1}"] = value
        assert all(found.values()), found
        return found


def _follow(browser: PageClient, response: requests.Response, stop: str) -> requests.Response:
    """Follow the provider's redirects, but not the last one to the client's callback."""
    while response.is_redirect and not response.headers["Location"].startswith(stop):
        browser.page = response = browser.http.get(urljoin(browser.base_url, response.headers["Location"]),
                                                   allow_redirects=False, timeout=10)
    return response


def run_journey(live_server, make_account, rp: RelyingParty, mailbox) -> Secrets:
    """The journey through ``rp`` (a confidential client whose redirect URI is :data:`CALLBACK`)."""
    found = Secrets(permanent_password=f"Pw{secrets.token_hex(6)}Z7")
    make_account(email=LOGIN, phone="+79161234567", full_name="Иван Петров")
    found.client_secret = rp.client_secret
    browser = PageClient(live_server.url)

    request = rp.authorization()  # openid profile email phone offline_access, PKCE S256
    page = _follow(browser, browser.get(request.url, allow_redirects=False), CALLBACK)
    assert "Вход в личный кабинет" in page.text
    page = browser.submit("/login", {"login": LOGIN, "password": "", "action": "forgot"})
    assert codes(page.text) == ["reset.sent_email"]
    found.temporary_password = mailbox.temporary_password(LOGIN)

    form = {"login": LOGIN, "password": found.temporary_password, "action": "signin"}
    page = _follow(browser, browser.submit("/login", form, allow_redirects=False), CALLBACK)
    assert "Изменение пароля" in page.text
    page = _follow(browser, browser.submit("/password/change", {
        "temporary": found.temporary_password, "new": found.permanent_password,
        "confirm": found.permanent_password}, allow_redirects=False), CALLBACK)
    assert "password.changed" in codes(page.text)

    form = {"login": LOGIN, "password": found.permanent_password, "action": "signin"}
    response = _follow(browser, browser.submit("/login", form, allow_redirects=False), CALLBACK)
    found.code = rp.callback(response.headers["Location"], request)["code"]

    token = rp.exchange(found.code, request)
    assert token.status_code == 200, token.text
    token = token.json()
    renewed = rp.refresh(token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    renewed = renewed.json()
    for issued in (token, renewed):
        found.access_tokens.append(issued["access_token"])
        found.refresh_tokens.append(issued["refresh_token"])
        found.id_tokens.append(issued["id_token"])
    info = rp.userinfo(renewed["access_token"])
    assert info.status_code == 200 and info.json()["email"] == LOGIN
    assert rp.introspect(renewed["access_token"])["active"] is True
    return found
