"""Every rule that refuses something, each its own test, through real HTTP."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.oidc.models import unix
from tests.conftest import T0
from tests.oidc.conftest import signed_in_code
from tests.oidc.rp import s256

NOW = unix(T0)


def _no_redirect(url: str) -> requests.Response:
    return requests.get(url, allow_redirects=False, timeout=10)


def _error_at_callback(rp, url: str, request) -> dict:
    response = _no_redirect(url)
    assert response.status_code == 302, response.text
    return rp.callback(response.headers["Location"], request)


# -- authorization endpoint: never redirect to what is not registered -----------------------------------

def test_unknown_client_gets_an_error_page_not_a_redirect(rp):
    request = rp.authorization()
    response = _no_redirect(request.url.replace(rp.client_id, "no-such-client"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert 'data-code="oauth.unknown_client"' in response.text


def test_disabled_client_gets_an_error_page(app, rp):
    from idp.clients import disable_client
    from idp.extensions import db

    with app.app_context():
        disable_client(rp.client_id, now=T0)
        db.session.commit()
    response = _no_redirect(rp.authorization().url)
    assert response.status_code == 400 and "Location" not in response.headers
    assert 'data-code="oauth.unknown_client"' in response.text


@pytest.mark.parametrize("change", [
    lambda uri: "https://evil.example/callback",
    lambda uri: uri + "/more",
    lambda uri: uri + "?x=1",
    lambda uri: uri.upper(),
    lambda uri: uri.replace("callback", "callbac"),
    lambda uri: uri.replace("127.0.0.1", "localhost"),
    lambda uri: uri + "#frag",
])
def test_unregistered_redirect_uri_gets_an_error_page(rp, change):
    request = rp.authorization(redirect_uri=change(rp.redirect_uri))
    response = _no_redirect(request.url)
    assert response.status_code == 400 and "Location" not in response.headers
    assert 'data-code="oauth.redirect_uri_mismatch"' in response.text


def test_missing_redirect_uri_gets_an_error_page(rp):
    request = rp.authorization()
    response = _no_redirect(request.url.replace("redirect_uri=", "redirect_urx="))
    assert response.status_code == 400 and 'data-code="oauth.redirect_uri_mismatch"' in response.text


def test_repeated_redirect_uri_gets_an_error_page(rp):
    request = rp.authorization()
    response = _no_redirect(request.url + "&redirect_uri=https%3A%2F%2Fevil.example%2F")
    assert response.status_code == 400 and "Location" not in response.headers


def test_unsupported_response_type_goes_back_to_the_client(rp):
    request = rp.authorization(response_type="token")
    assert _error_at_callback(rp, request.url, request)["error"] == "unsupported_response_type"


def test_missing_response_type_goes_back_to_the_client(rp):
    request = rp.authorization(response_type="")
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


def test_request_object_is_refused(rp):
    request = rp.authorization(request="eyJhbGciOiJub25lIn0.e30.")
    assert _error_at_callback(rp, request.url, request)["error"] == "request_not_supported"


# -- prompt, max_age, id_token_hint -------------------------------------------------------------------

def test_prompt_none_without_a_session_returns_login_required(rp):
    request = rp.authorization(prompt="none")
    assert _error_at_callback(rp, request.url, request)["error"] == "login_required"


def test_prompt_none_with_other_values_is_invalid(rp):
    request = rp.authorization(prompt="none login")
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


def test_prompt_none_with_a_session_returns_a_code_silently(rp, flow, customer):
    signed_in_code(flow, rp, rp.authorization())
    request = rp.authorization(prompt="none")
    code = rp.callback(flow.start(request).url, request)["code"]
    assert rp.exchange(code, request).status_code == 200


def test_prompt_login_asks_again_though_signed_in(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(minutes=10)
    request = rp.authorization(prompt="login")
    page = flow.start(request)
    assert "Вход в личный кабинет" in page.text
    page = flow.sign_in()
    token = rp.exchange(rp.callback(page.url, request)["code"], request).json()
    assert rp.id_token_claims(token["id_token"], now=NOW + 600, nonce=request.nonce)["auth_time"] == NOW + 600


def test_max_age_exceeded_asks_again(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(seconds=61)
    request = rp.authorization(max_age="60")
    assert "Вход в личный кабинет" in flow.start(request).text
    page = flow.sign_in()
    token = rp.exchange(rp.callback(page.url, request)["code"], request).json()
    assert rp.id_token_claims(token["id_token"], now=NOW + 61, nonce=request.nonce)["auth_time"] == NOW + 61


def test_max_age_not_exceeded_needs_no_sign_in(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(seconds=59)
    request = rp.authorization(max_age="60")
    assert "code" in rp.callback(flow.start(request).url, request)


def test_max_age_reached_in_whole_seconds_asks_again(rp, flow, customer, clock):
    # 60 whole seconds on the clock may be 60.9 real ones: past max_age=60, so the customer signs in again.
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(seconds=60)
    request = rp.authorization(max_age="60")
    assert "Вход в личный кабинет" in flow.start(request).text


def test_max_age_zero_asks_at_once_like_prompt_login_and_does_not_loop(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    request = rp.authorization(max_age="0")  # the same second as the sign-in
    assert "Вход в личный кабинет" in flow.start(request).text
    page = flow.sign_in()  # the fresh sign-in satisfies max_age=0: a code, not the sign-in page again
    token = rp.exchange(rp.callback(page.url, request)["code"], request).json()
    assert rp.id_token_claims(token["id_token"], now=NOW, nonce=request.nonce)["auth_time"] == NOW


def _reauth_marker(request) -> str:
    """The re-authentication marker the provider hands to /login for ``request`` (no session: sign in)."""
    response = _no_redirect(request.url)
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.text
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    return parse_qs(urlsplit(next_url).query)["idp_reauth"][0]


@pytest.mark.parametrize("other", ["request", "client"])
def test_reauth_marker_of_one_request_is_no_fresh_sign_in_for_another(rp, make_client, flow, customer, other):
    # A marker made for one prompt=login request, pasted into another (other state and nonce, or another
    # client), must not pass a sign-in made meanwhile off as the fresh one that request asks for.
    source = rp if other == "request" else make_client(first_party=True)
    marker = _reauth_marker(source.authorization(prompt="login"))
    signed_in_code(flow, rp, rp.authorization())  # a sign-in at or after the marker's moment
    request = rp.authorization(prompt="login", idp_reauth=marker)
    assert "Вход в личный кабинет" in flow.start(request).text
    page = flow.sign_in()  # asked again, the customer signs in, and the request goes on as usual
    assert rp.exchange(rp.callback(page.url, request)["code"], request).status_code == 200


def test_reauth_marker_is_no_fresh_sign_in_for_another_max_age_request(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(seconds=61)
    marker = _reauth_marker(rp.authorization(max_age="60"))
    signed_in_code(flow, rp, rp.authorization(prompt="login"))
    request = rp.authorization(max_age="0", idp_reauth=marker)
    assert "Вход в личный кабинет" in flow.start(request).text


def test_reauth_marker_still_serves_its_own_request_through_consent(make_client, flow, customer, clock):
    # The same request, back from the sign-in with its marker, and on through the consent page's POST.
    portal = make_client()
    flow.start(portal.authorization())
    flow.sign_in()
    clock.advance(minutes=10)
    request = portal.authorization(prompt="login")
    assert "Вход в личный кабинет" in flow.start(request).text
    flow.sign_in()
    page = flow.consent("allow")
    assert portal.exchange(portal.callback(page.url, request)["code"], request).status_code == 200


def test_max_age_exceeded_with_prompt_none_returns_login_required(rp, flow, customer, clock):
    signed_in_code(flow, rp, rp.authorization())
    clock.advance(seconds=61)
    request = rp.authorization(max_age="60", prompt="none")
    assert rp.callback(flow.start(request).url, request)["error"] == "login_required"


def test_malformed_max_age_is_invalid(rp):
    request = rp.authorization(max_age="-1")
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


def test_id_token_hint_of_the_signed_in_customer_gives_a_code(rp, flow, customer):
    first = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, first), first).json()
    request = rp.authorization(prompt="none", id_token_hint=token["id_token"])
    assert "code" in rp.callback(flow.start(request).url, request)


def test_id_token_hint_of_someone_else_returns_login_required(rp, flow, customer, make_account):
    make_account(email="other@example.com", password="Other2026")
    first = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, first, login="other@example.com", password="Other2026"),
                        first).json()
    flow.browser.http.cookies.clear()
    signed_in_code(flow, rp, rp.authorization())  # now the customer is signed in instead
    request = rp.authorization(prompt="none", id_token_hint=token["id_token"])
    assert rp.callback(flow.start(request).url, request)["error"] == "login_required"


def test_forged_id_token_hint_is_invalid(rp):
    request = rp.authorization(id_token_hint="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


# -- PKCE (RFC 7636) -----------------------------------------------------------------------------------

def test_public_client_without_pkce_is_refused(make_client):
    public = make_client(public=True, first_party=True)
    request = public.authorization(pkce=False)
    assert _error_at_callback(public, request.url, request)["error"] == "invalid_request"


def test_confidential_client_without_pkce_is_refused_by_default(rp):
    """RFC 9700 §2.1.1: PKCE for every client, confidential ones too, unless an admin opted one out."""
    request = rp.authorization(pkce=False)
    answer = _error_at_callback(rp, request.url, request)
    assert answer["error"] == "invalid_request" and "PKCE" in answer["error_description"]


def test_a_code_issued_before_pkce_was_required_needs_a_verifier(make_client, flow, customer, app):
    """Opted out, a code is issued without a challenge; the client is made to use PKCE again before the
    exchange: that code is refused (no verifier can be checked), and the next flow uses PKCE."""
    from idp.clients import update_client
    from idp.extensions import db

    legacy = make_client(first_party=True, pkce_required=False)
    request = legacy.authorization(pkce=False)
    code = signed_in_code(flow, legacy, request)
    with app.app_context():
        update_client(legacy.client_id, pkce_required=True, now=app.extensions["idp"].clock.now())
        db.session.commit()
    response = legacy.exchange(code, request)
    assert response.status_code == 400 and response.json() == {
        "error": "invalid_request", "error_description": "Missing 'code_verifier'."}


def test_plain_pkce_is_refused(rp):
    request = rp.authorization(code_challenge="a" * 43, code_challenge_method="plain")
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


def test_pkce_without_method_is_refused(rp):
    request = rp.authorization(pkce=False, code_challenge=s256("v" * 43))
    assert _error_at_callback(rp, request.url, request)["error"] == "invalid_request"


def test_wrong_code_verifier_is_refused(rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    response = rp.exchange(code, request, code_verifier="w" * 43)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    request.verifier = None
    assert rp.exchange(code, request).json()["error"] == "invalid_request"


def test_code_verifier_without_challenge_is_refused(make_client, flow, customer):
    legacy = make_client(first_party=True, pkce_required=False)
    request = legacy.authorization(pkce=False)
    code = signed_in_code(flow, legacy, request)
    assert legacy.exchange(code, request, code_verifier="v" * 43).json()["error"] == "invalid_request"


# -- codes: single use, short-lived, bound --------------------------------------------------------------

def test_replayed_code_is_refused_and_its_tokens_revoked(rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    token = rp.exchange(code, request).json()
    again = rp.exchange(code, request)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert rp.userinfo(token["access_token"]).status_code == 401
    assert rp.introspect(token["access_token"]) == {"active": False}
    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_replayed_code_revokes_tokens_refreshed_from_it(rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    first = rp.exchange(code, request).json()
    second = rp.refresh(first["refresh_token"]).json()
    assert rp.exchange(code, request).status_code == 400
    assert rp.userinfo(second["access_token"]).status_code == 401
    assert rp.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"


def test_expired_code_is_refused(rp, flow, customer, clock):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    clock.advance(seconds=60)  # IDP_AUTHORIZATION_CODE_TTL: valid while now < issued + 60 s
    assert rp.exchange(code, request).json()["error"] == "invalid_grant"


def test_code_is_valid_until_just_before_expiry(rp, flow, customer, clock):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    clock.advance(seconds=59)
    assert rp.exchange(code, request).status_code == 200


def test_code_of_another_client_is_refused(rp, make_client, flow, customer):
    other = make_client(first_party=True)
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    other.redirect_uri = rp.redirect_uri
    assert other.exchange(code, request).json()["error"] == "invalid_grant"
    assert rp.exchange(code, request).status_code == 200  # the attempt did not spend it


def test_code_with_another_redirect_uri_is_refused(make_client, flow, customer, live_server):
    rp = make_client(first_party=True, redirect_uris=[f"{live_server.url}/a/cb", f"{live_server.url}/b/cb"])
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    response = rp.exchange(code, request, redirect_uri=f"{live_server.url}/b/cb")
    assert response.json()["error"] == "invalid_grant"


def test_garbage_code_is_refused(rp):
    response = rp.token({"grant_type": "authorization_code", "code": "nope", "redirect_uri": rp.redirect_uri})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# -- refresh tokens: rotation and reuse -----------------------------------------------------------------

def test_reused_refresh_token_revokes_the_family(rp, flow, customer):
    request = rp.authorization()
    first = rp.exchange(signed_in_code(flow, rp, request), request).json()
    second = rp.refresh(first["refresh_token"]).json()
    reuse = rp.refresh(first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert rp.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp.userinfo(second["access_token"]).status_code == 401
    assert rp.userinfo(first["access_token"]).status_code == 401


def test_refresh_token_of_another_client_is_refused(rp, make_client, flow, customer):
    other = make_client()
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert other.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp.refresh(token["refresh_token"]).status_code == 200  # not spent by the attempt


def test_expired_refresh_token_is_refused(rp, flow, customer, clock):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    clock.advance(days=30)
    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


# -- client authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["basic", "post"])
def test_wrong_client_secret_is_401_with_www_authenticate(rp, auth):
    rp.client_secret = "wrong-" + rp.client_secret
    response = rp.token({"grant_type": "client_credentials"}, auth)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_unknown_client_at_token_endpoint_is_401(rp):
    rp.client_id = "no-such-client"
    response = rp.token({"grant_type": "client_credentials"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_confidential_client_without_secret_is_401(rp):
    response = rp.token({"grant_type": "client_credentials"}, "none")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("extra", [{}, {"client_secret": ""}])
def test_confidential_client_naming_itself_without_its_secret_is_401(rp, flow, customer, extra):
    """A stolen refresh token or code of a confidential client is worthless without the client's secret."""
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    no_secret = {"client_id": rp.client_id, **extra}
    exchange = rp.token({"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
                         "code_verifier": request.verifier, **no_secret}, "none")
    assert exchange.status_code == 401 and exchange.json()["error"] == "invalid_client"
    token = rp.exchange(code, request).json()  # the code was not spent by the refused attempt
    refresh = rp.token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **no_secret}, "none")
    assert refresh.status_code == 401 and refresh.json()["error"] == "invalid_client"
    revoke = requests.post(rp.metadata["revocation_endpoint"], data={"token": token["access_token"], **no_secret},
                           timeout=10)
    assert revoke.status_code == 401 and revoke.json()["error"] == "invalid_client"
    assert rp.userinfo(token["access_token"]).status_code == 200  # nothing was revoked either


def test_disabled_client_cannot_get_or_use_tokens(app, rp, flow, customer):
    from idp.clients import disable_client
    from idp.extensions import db

    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    with app.app_context():
        disable_client(rp.client_id, now=T0)
        db.session.commit()
    assert rp.token({"grant_type": "client_credentials"}).status_code == 401
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_public_client_cannot_use_client_credentials(make_client):
    public = make_client(public=True)
    response = public.token({"grant_type": "client_credentials"}, "none")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_grant_type_not_allowed_for_the_client(make_client):
    web_only = make_client(grant_types=["authorization_code", "refresh_token"])
    response = web_only.token({"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_unsupported_grant_type(rp):
    response = rp.token({"grant_type": "password", "username": "a", "password": "b"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


# -- UserInfo --------------------------------------------------------------------------------------------

def test_userinfo_without_token_is_401(rp):
    response = requests.get(rp.metadata["userinfo_endpoint"], timeout=10)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_with_unknown_token_is_401(rp):
    response = rp.userinfo("unknown")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_expired_token_is_401(rp, flow, customer, clock):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    clock.advance(seconds=token["expires_in"])
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_userinfo_without_openid_scope_is_403(rp, flow, customer):
    request = rp.authorization(scope="email")
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert "id_token" not in token
    assert rp.userinfo(token["access_token"]).status_code == 403


def test_tokens_of_a_disabled_account_stop_working(app, rp, flow, customer):
    from idp.accounts import Account
    from idp.extensions import db

    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    with app.app_context():
        db.session.get(Account, customer.id).disabled_at = T0
        db.session.commit()
    assert rp.userinfo(token["access_token"]).status_code == 401
    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"


# -- bad input never gives a 500 ------------------------------------------------------------------------

@pytest.mark.parametrize("headers, data", [
    ({"Authorization": "Basic !!!"}, {"grant_type": "client_credentials"}),
    ({"Authorization": "Basic /w=="}, {"grant_type": "client_credentials"}),  # not UTF-8
    ({"Authorization": "Basic"}, {"grant_type": "client_credentials"}),
    ({"Authorization": "Bearer x"}, {"grant_type": "authorization_code", "code": "x"}),
    ({}, {"grant_type": "authorization_code", "code": "x" * 5000, "client_id": "\x00\"\\"}),
    ({}, {"grant_type": "refresh_token", "refresh_token": "\ud800".encode("utf-8", "surrogatepass")}),
    ({}, {"grant_type": "\"\\\x7f"}),
    ({}, {}),
    ({"Content-Type": "application/json"}, '{"grant_type": "client_credentials"}'),
])
def test_token_endpoint_never_fails_with_500(rp, headers, data):
    response = requests.post(rp.metadata["token_endpoint"], headers=headers, data=data, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


@pytest.mark.parametrize("params", [
    {"response_type": "co\"de\\"},
    {"response_type": None},
    {"state": "\"\\\x00\x7f"},
    {"nonce": "n" * 600},
    {"nonce": "n" * 600, "scope": "email"},
    {"scope": "\"\\ openid"},
    {"code_challenge": "\"\\", "code_challenge_method": "S256"},
    {"max_age": "1e3"},
    {"prompt": "\\\""},
    {"id_token_hint": "a.b.c"},
    {"ui_locales": "\x00"},
    {"nonce": "a\x00b"},
    {"login_hint": "x" * 5000},
])
def test_authorize_never_fails_with_500(rp, params):
    request = rp.authorization()
    query = dict(request.params)
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    response = requests.get(rp.metadata["authorization_endpoint"], params=query, allow_redirects=False,
                            timeout=10)
    assert response.status_code in (200, 302, 400), response.text
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith(rp.redirect_uri) or urlsplit(location).path == "/login"


@pytest.mark.parametrize("endpoint, kwargs", [
    ("userinfo_endpoint", {"headers": {"Authorization": "Bearer \"\\"}}),
    ("userinfo_endpoint", {"headers": {"Authorization": "Weird token"}}),
    ("userinfo_endpoint", {"headers": {"Authorization": "Bearer"}}),
    ("introspection_endpoint", {"data": {"token": "x"}}),
    ("introspection_endpoint", {"data": {"token_type_hint": "refresh_token"}, "auth": ("a", "b")}),
    ("revocation_endpoint", {"data": {"token": "x", "token_type_hint": "nonsense"}, "auth": ("a", "b")}),
    ("end_session_endpoint", {"params": {"id_token_hint": "a.b.c"}}),
    ("end_session_endpoint", {"params": {"post_logout_redirect_uri": "https://evil.example/"}}),
])
def test_other_endpoints_never_fail_with_500(rp, endpoint, kwargs):
    method = requests.get if endpoint in ("end_session_endpoint", "userinfo_endpoint") else requests.post
    response = method(rp.metadata[endpoint], allow_redirects=False, timeout=10, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "Location" not in response.headers


def test_error_redirect_keeps_state_and_names_the_issuer(rp):
    request = rp.authorization(prompt="none")
    location = _no_redirect(request.url).headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [request.state] and query["iss"] == [rp.issuer]


def test_a_nonce_is_refused_while_its_code_lives_then_the_same_request_works_again(rp, flow, customer, clock):
    request = rp.authorization()
    assert signed_in_code(flow, rp, request)
    replay = _error_at_callback(rp, request.url, request)  # the same URL again at once (a reload)
    assert replay["error"] == "invalid_request"
    clock.advance(minutes=2)  # the first code has expired (60 s): the bookmark works again
    assert "code" in rp.callback(flow.start(request).url, request)
