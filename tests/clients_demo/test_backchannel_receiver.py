"""The ДМС portal's back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0 §2.6), against the
real provider: a sign-out at the provider ends the portal's sign-in of that session (and only that one);
forged, altered or replayed logout tokens are refused with 400."""
from __future__ import annotations

import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.clients_demo.test_journey import Browser, is_provider_login

EVENT = "http://schemas.openid.net/event/backchannel-logout"
PASSWORD = "Polis2026"


@pytest.fixture
def customer(make_account):
    return make_account(email="client@example.com", phone="+79161234567", full_name="Иван Петров",
                        password=PASSWORD)


@pytest.fixture
def portal(make_portal, portal_server):
    return make_portal(backchannel_logout_uri=portal_server.url + "/backchannel-logout",
                       backchannel_logout_session_required=True)


def signed_in_browser(portal, idp: str, login="client@example.com") -> Browser:
    browser = Browser(portal.url)
    browser.get("/")
    page = browser.press()
    assert is_provider_login(page, idp), page.url
    page = browser.press({"login": login, "password": PASSWORD, "action": "signin"})
    assert page.url == portal.url + "/" and portal.signin(browser.http) is not None, page.url
    return browser


def sign_out_at_the_provider(browser: Browser, idp: str) -> None:
    browser.get(idp + "/account")
    browser.submit(idp + "/logout", {})


def test_signing_out_at_the_provider_ends_the_portal_sign_in_of_that_session(
        portal, live_server, customer, make_account):
    idp = live_server.url
    browser = signed_in_browser(portal, idp)
    sid = portal.signin(browser.http)["id_claims"]["sid"]
    make_account(email="other@example.com", phone="+79161234599", password=PASSWORD)
    other = signed_in_browser(portal, idp, login="other@example.com")
    assert portal.signin(other.http)["id_claims"]["sid"] != sid

    sign_out_at_the_provider(browser, idp)

    assert portal.signin(browser.http) is None
    page = browser.get(portal.url + "/")
    assert "Войти через личный кабинет" in page.text  # the portal asks to sign in again
    assert portal.signin(other.http) is not None  # another session: untouched


def provider_key(app):
    with app.app_context():
        return app.extensions["idp.keys"].signing_key()


def logout_token(key, *, kid=None, header=None, **claims) -> str:
    now = int(time.time())
    body = {"iss": None, "aud": None, "iat": now, "exp": now + 120, "jti": f"jti-{time.monotonic_ns()}",
            "events": {EVENT: {}}, "sid": "some-session"}
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not ...}
    head = {"alg": "RS256", "kid": kid or key.kid, "typ": "logout+jwt", **(header or {})}
    private = key if isinstance(key, RSAKey) else key.private_key
    return jwt.encode(head, body, private, algorithms=["RS256"])


def post(portal, token) -> requests.Response:
    return requests.post(portal.url + "/backchannel-logout", data={"logout_token": token}, timeout=10)


def test_the_receiver_refuses_what_is_not_a_genuine_fresh_logout_token(app, portal, live_server, customer):
    idp, key = live_server.url, provider_key(app)
    good = dict(iss=idp, aud=portal.client_id)

    ok = logout_token(key, **good)
    assert post(portal, ok).status_code == 200
    replayed = post(portal, ok)
    assert replayed.status_code == 400 and "replayed" in replayed.json()["error_description"]

    forger = RSAKey.generate_key(2048, parameters={"kid": key.kid})
    cases = {
        "signature": logout_token(forger, kid=key.kid, **good),
        "nonce": logout_token(key, nonce="n-1", **good),
        "aud": logout_token(key, iss=idp, aud="another-client"),
        "iss": logout_token(key, iss="https://evil.example", aud=portal.client_id),
        "expired": logout_token(key, iat=int(time.time()) - 3600, exp=int(time.time()) - 600, **good),
        "events": logout_token(key, events={"http://example.com/other": {}}, **good),
        "no sid or sub": logout_token(key, sid=..., **good),
        "typ": logout_token(key, header={"typ": "JWT"}, **good),
        "no jti": logout_token(key, jti=..., **good),
    }
    for case, token in cases.items():
        answer = post(portal, token)
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["error"] == "invalid_request" and answer.headers["Cache-Control"] == "no-store"
        said = {"signature": "signature", "nonce": "nonce", "aud": "aud", "iss": "iss", "expired": "expired",
                "events": "events", "no sid or sub": "sid", "typ": "typ", "no jti": "jti"}[case]
        assert said in answer.json()["error_description"], (case, answer.json())
    for junk in ("", "not-a-jwt", "a.b.c"):
        assert post(portal, junk).status_code == 400
    assert requests.post(portal.url + "/backchannel-logout", json={"logout_token": ok},
                         timeout=10).status_code == 400
