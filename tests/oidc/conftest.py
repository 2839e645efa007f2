"""Fixtures for the OpenID Connect tests: registered clients, a browser, a hand-written relying party."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.http import PageClient
from tests.oidc.rp import AuthRequest, RelyingParty

PASSWORD = "Polis2026"


@pytest.fixture
def make_client(app, live_server):
    """``make_client(**overrides)``: a client registered through ``idp.clients``; returns a RelyingParty
    whose redirect URI is a path on the provider's own loopback server (a 404 page there), so a browser
    following redirects stops at the callback with the code in its URL."""
    from idp.clients import create_client
    from idp.extensions import db

    counter = iter(range(1, 1000))

    def _make(**overrides) -> RelyingParty:
        n = next(counter)
        services = app.extensions["idp"]
        fields = dict(name=f"Портал {n}", redirect_uris=[f"{live_server.url}/rp{n}/callback"],
                      post_logout_redirect_uris=[f"{live_server.url}/rp{n}/signed-out"])
        fields.update(overrides)
        with app.app_context():
            created = create_client(services.settings, now=services.clock.now(), **fields)
            db.session.commit()
            return RelyingParty(live_server.url, created.client.client_id, created.secret,
                                created.client.redirect_uris[0] if created.client.redirect_uris else "")

    return _make


@pytest.fixture
def rp(make_client):
    """A first-party confidential client (the ДМС portal's shape)."""
    return make_client(first_party=True)


@pytest.fixture
def browser(live_server):
    return PageClient(live_server.url)


@pytest.fixture
def customer(app, make_account):
    account = make_account(email="client@example.com", phone="+79161234567", full_name="Иван Петров",
                           password=PASSWORD)
    from idp.accounts import Account
    from idp.extensions import db

    with app.app_context():
        db.session.get(Account, account.id).email_verified = True
        db.session.commit()
    account.email_verified = True
    return account


@dataclass
class Flow:
    """Drive the browser through an authorization request the way a customer would."""

    browser: PageClient

    def start(self, request: AuthRequest):
        return self.browser.get(request.url)

    def sign_in(self, login: str = "client@example.com", password: str = PASSWORD):
        page = self.browser.page
        assert "Вход в личный кабинет" in page.text, page.url
        return self.browser.submit("/login", {"login": login, "password": password, "action": "signin"})

    def consent(self, decision: str = "allow"):
        page = self.browser.page
        action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        from html import unescape

        return self.browser.submit(unescape(action), {"decision": decision})


@pytest.fixture
def flow(browser):
    return Flow(browser)


def signed_in_code(flow: Flow, rp: RelyingParty, request: AuthRequest, **sign_in) -> str:
    """Start the request, sign in on the login page, return the code from the callback."""
    page = flow.start(request)
    if "Вход в личный кабинет" in page.text:
        page = flow.sign_in(**sign_in)
    return rp.callback(page.url, request)["code"]
