"""Production mode over HTTPS: a Secure session cookie, HSTS, and the page headers on every hosted page.

The app is built with a configuration production accepts (https issuer, long random key, bcrypt at the
production minimum, worker delivery through SES/SNS). boto3's variables point at a closed loopback port
(``aws_unreachable``): building the app and rendering pages sends nothing anywhere.
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import pytest

from tests.http import codes

ISSUER = "https://lk.example.test"
PRODUCTION = dict(env="production", issuer=ISSUER, secret_key=secrets.token_urlsafe(48),
                  password_pepper=secrets.token_urlsafe(48), bcrypt_rounds=10,
                  delivery_mode="worker", email_transport="ses", sms_transport="sns")
PASSWORD = "Polis2026"

#: What every hosted page carries, written out here rather than imported, so a change to it shows.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000; includeSubDomains"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@pytest.fixture
def production_app(make_app, settings, aws_unreachable):
    # The very settings the test app gets must pass production's start-up checks (make_app does not re-check).
    assert settings.replace(**PRODUCTION).validated().production
    app = make_app(**PRODUCTION)
    assert app.extensions["idp"].settings.production
    return app


@pytest.fixture
def make_account(make_account, production_app):
    """The suite's ``make_account``, its password hashed by the production app: under that app's own pepper."""
    from sqlalchemy import update

    from idp.accounts import Account
    from idp.extensions import db

    def _make(password: str | None = None, **fields):
        account = make_account(**fields)
        if password is not None:
            with production_app.app_context():
                hashed = production_app.extensions["idp"].hasher.hash(password)
                db.session.execute(update(Account).where(Account.id == account.id).values(password_hash=hashed))
                db.session.commit()
        return account

    return _make


@pytest.fixture
def https(production_app):
    return Browser(production_app.test_client())


class Browser:
    """The test client, always on the https issuer (the scheme decides what a Secure cookie needs)."""

    def __init__(self, client):
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(path, base_url=ISSUER, **kwargs)

    def post(self, path: str, data: dict, *, token_from):
        """A form post with the CSRF token of page ``token_from``, and the Referer strict HTTPS checking wants."""
        token = re.search(r'name="csrf_token" value="([^"]+)"', token_from.get_data(as_text=True)).group(1)
        return self.client.post(path, base_url=ISSUER, data={"csrf_token": token, **data},
                                headers={"Referer": ISSUER + "/login"})

    def sign_in(self, login: str):
        page = self.post("/login", {"login": login, "password": PASSWORD, "action": "signin"},
                         token_from=self.get("/login"))
        assert page.status_code == 302 and page.headers["Location"] == "/account", codes(page.get_data(as_text=True))
        return page


#: The session cookie's name in production (the ``__Host-`` prefix) and in development.
COOKIE = "__Host-idp_session"
DEVELOPMENT_COOKIE = "idp_session"


def session_cookie(response, name: str = COOKIE) -> tuple[str, set[str]]:
    """The session's Set-Cookie header of ``response`` (exactly one): its value and its attributes."""
    headers = [header for header in response.headers.getlist("Set-Cookie") if header.startswith(name + "=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    pair, *attributes = [part.strip() for part in headers[0].split(";")]
    return pair.removeprefix(name + "="), set(attributes)


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_page_headers(response, *, production: bool = True) -> None:
    for name, value in PAGE_HEADERS.items():
        assert response.headers.getlist(name) == [value], (response.request.path, name)
    directives = csp_directives(response.headers["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'"] and directives["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in source for sources in directives.values() for source in sources)
    assert response.headers.getlist("Strict-Transport-Security") == ([HSTS] if production else [])


# --- the session cookie and HSTS ------------------------------------------------------------------------

def test_production_session_cookie_is_secure_httponly_lax(https):
    response = https.get("/login")
    assert response.status_code == 200
    value, attributes = session_cookie(response)
    assert value
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= attributes
    assert response.headers.getlist("Strict-Transport-Security") == [HSTS]


def test_production_secure_cookie_carries_the_sign_in_over_https(https, make_account):
    make_account(email="client@example.com", password=PASSWORD)
    signed_in = https.sign_in("client@example.com")
    _, attributes = session_cookie(signed_in)
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= attributes
    assert signed_in.headers.getlist("Strict-Transport-Security") == [HSTS]
    page = https.get("/account")
    assert page.status_code == 200 and "client@example.com" in page.get_data(as_text=True)


def test_production_sends_hsts_on_machine_endpoints_too_but_no_page_headers(https):
    response = https.get("/.well-known/openid-configuration")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers.getlist("Strict-Transport-Security") == [HSTS]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "public, max-age=3600"  # its own, not the pages' no-store
    assert "Content-Security-Policy" not in response.headers and "Set-Cookie" not in response.headers


def test_production_session_cookie_has_the_host_prefix(production_app, https, make_account):
    """Issue 22, finding 10: ``__Host-idp_session`` — Secure, ``Path=/`` and no ``Domain``, which browsers
    require of the prefix (else they drop the cookie), so no subdomain and no plain-HTTP page can set or
    shadow it; signing in, the pages and signing out all go by that name."""
    assert production_app.config["SESSION_COOKIE_NAME"] == COOKIE
    make_account(email="client@example.com", password=PASSWORD)
    for response in (https.get("/login"), https.sign_in("client@example.com")):
        value, attributes = session_cookie(response)
        assert value and "Secure" in attributes and "Path=/" in attributes
        assert not any(attribute.lower().startswith("domain") for attribute in attributes)
    assert https.client.get_cookie(DEVELOPMENT_COOKIE, domain="lk.example.test") is None
    assert https.client.get_cookie(COOKIE, domain="lk.example.test") is not None
    account = https.get("/account")
    assert account.status_code == 200
    signed_out = https.post("/logout", {}, token_from=account)
    assert signed_out.status_code == 302
    _, attributes = session_cookie(signed_out)  # a fresh session (its flash: signed out), same name
    assert {"Secure", "Path=/"} <= attributes
    assert https.get("/account").headers["Location"] == "/login?next=/account"


def test_development_cookie_is_not_secure_and_there_is_no_hsts(client):
    response = client.get("/login")
    assert response.status_code == 200
    _, attributes = session_cookie(response, DEVELOPMENT_COOKIE)
    assert {"HttpOnly", "SameSite=Lax"} <= attributes and "Secure" not in attributes
    assert "Strict-Transport-Security" not in response.headers
    assert_page_headers(response, production=False)  # the page headers do not depend on the mode


# --- the page headers on every hosted page ----------------------------------------------------------------

@pytest.mark.parametrize("path, status, location", [
    ("/login", 200, None),
    ("/", 302, "/login"),
    ("/password/change", 302, "/login"),  # only for a temporary sign-in
    ("/account", 302, "/login?next=/account"),
    ("/account/apps", 302, "/login?next=/account/apps"),
    ("/oauth/logout", 302, "/login"),  # the end-session endpoint, nobody signed in
    ("/oauth/authorize", 400, None),  # the error page of a broken authorization request
    ("/no-such-page", 404, None),
])
def test_production_page_headers_signed_out(https, path, status, location):
    response = https.get(path)
    assert response.status_code == status and response.headers.get("Location") == location
    assert response.mimetype == "text/html"
    assert_page_headers(response)


def test_production_page_headers_signed_in(production_app, https, make_account):
    from idp.clients import create_client
    from idp.extensions import db

    make_account(email="client@example.com", password=PASSWORD)
    services = production_app.extensions["idp"]
    with production_app.app_context():
        portal = create_client(services.settings, name="Страховой агрегатор",
                               redirect_uris=["https://portal.example.test/callback"], now=services.clock.now())
        db.session.commit()
        client_id = portal.client.client_id
    sign_in = https.sign_in("client@example.com")
    assert_page_headers(sign_in)

    account = https.get("/account")
    assert account.status_code == 200
    assert_page_headers(account)
    apps = https.get("/account/apps")
    assert apps.status_code == 200
    assert_page_headers(apps)

    # The consent page of a third-party client.
    query = urlencode({"response_type": "code", "client_id": client_id,
                       "redirect_uri": "https://portal.example.test/callback", "scope": "openid email",
                       "state": "s" * 16, "nonce": "n" * 16, "code_challenge": "A" * 43,
                       "code_challenge_method": "S256"})
    consent = https.get("/oauth/authorize?" + query)
    assert consent.status_code == 200 and "Разрешить доступ?" in consent.get_data(as_text=True)
    assert_page_headers(consent)

    # RP-initiated logout without an id_token_hint: the confirmation page.
    confirm = https.get("/oauth/logout")
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.get_data(as_text=True)
    assert_page_headers(confirm)

    # Signing out from the account page.
    signed_out = https.post("/logout", {}, token_from=account)
    assert signed_out.status_code == 302
    assert_page_headers(signed_out)
    _, attributes = session_cookie(signed_out)
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= attributes
    assert https.get("/account").headers["Location"] == "/login?next=/account"
