"""Single sign-on across portals, and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tests.http import codes
from tests.oidc.conftest import signed_in_code


def _logout_url(rp, **params) -> str:
    return rp.metadata["end_session_endpoint"] + "?" + urlencode(params)


def test_second_portal_does_not_ask_again(rp, make_client, flow, customer):
    signed_in_code(flow, rp, rp.authorization())
    second = make_client(first_party=True)
    request = second.authorization()
    page = flow.start(request)
    assert "Вход в личный кабинет" not in page.text
    assert second.exchange(second.callback(page.url, request)["code"], request).status_code == 200


def test_logout_with_id_token_hint_returns_to_the_registered_uri(rp, flow, customer, live_server):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    back = rp.redirect_uri.replace("/callback", "/signed-out")
    page = flow.browser.get(_logout_url(rp, id_token_hint=token["id_token"], post_logout_redirect_uri=back,
                                        state="s-1"))
    assert page.url.split("?")[0] == back and parse_qs(urlsplit(page.url).query)["state"] == ["s-1"]
    # The single sign-on session is over.
    silent = rp.authorization(prompt="none")
    assert rp.callback(flow.start(silent).url, silent)["error"] == "login_required"
    assert "/login" in flow.browser.get("/account").url


def test_logout_to_an_unregistered_uri_is_refused(rp, flow, customer):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    response = flow.browser.http.get(_logout_url(rp, id_token_hint=token["id_token"],
                                                 post_logout_redirect_uri="https://evil.example/"),
                                     allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers
    assert 'data-code="oauth.post_logout_redirect_uri_mismatch"' in response.text
    # Nothing happened: still signed in.
    silent = rp.authorization(prompt="none")
    assert "code" in rp.callback(flow.start(silent).url, silent)


def test_logout_without_hint_asks_the_customer_first(rp, flow, customer):
    signed_in_code(flow, rp, rp.authorization())
    back = rp.redirect_uri.replace("/callback", "/signed-out")
    page = flow.browser.get(_logout_url(rp, client_id=rp.client_id, post_logout_redirect_uri=back))
    assert "Выйти из личного кабинета" in page.text or "logout.confirm" in codes(page.text)
    page = flow.browser.submit("/oauth/logout", {"confirm": "yes", "client_id": rp.client_id,
                                                 "post_logout_redirect_uri": back})
    assert page.url == back
    silent = rp.authorization(prompt="none")
    assert rp.callback(flow.start(silent).url, silent)["error"] == "login_required"


def test_logout_confirmation_needs_its_csrf_token(rp, flow, customer):
    signed_in_code(flow, rp, rp.authorization())
    forged = flow.browser.http.post(rp.metadata["end_session_endpoint"], data={"confirm": "yes"}, timeout=10)
    assert "logout.confirm" in codes(forged.text)  # asked again, not signed out
    silent = rp.authorization(prompt="none")
    assert "code" in rp.callback(flow.start(silent).url, silent)


def test_logout_without_session_or_redirect_lands_on_the_login_page(rp):
    page = requests.get(rp.metadata["end_session_endpoint"], timeout=10)
    assert page.status_code == 200 and "Вход в личный кабинет" in page.text


def test_logout_hint_for_another_client_id_is_refused(rp, make_client, flow, customer):
    other = make_client()
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    url = _logout_url(rp, id_token_hint=token["id_token"], client_id=other.client_id)
    response = flow.browser.http.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and 'data-code="oauth.logout_invalid"' in response.text
