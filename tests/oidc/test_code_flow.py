"""The authorization code flow end to end through real HTTP, checked by a hand-written relying party."""
from __future__ import annotations

import pytest

from idp.oidc.models import unix
from tests.conftest import T0
from tests.oidc.conftest import signed_in_code

NOW = unix(T0)


def test_full_flow_confidential_client(rp, flow, customer):
    request = rp.authorization()
    page = flow.start(request)
    assert "Вход в личный кабинет" in page.text and "/login" in page.url
    page = flow.sign_in()
    code = rp.callback(page.url, request)["code"]

    response = rp.exchange(code, request)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    assert set(token["scope"].split()) == {"openid", "profile", "email", "phone", "offline_access"}
    assert token["refresh_token"] and token["access_token"] != token["refresh_token"]

    claims = rp.id_token_claims(token["id_token"], now=NOW, nonce=request.nonce,
                                access_token=token["access_token"])
    assert claims["sub"] == customer.subject
    assert claims["aud"] == rp.client_id and claims["iss"] == rp.issuer
    assert claims["iat"] == NOW and claims["exp"] == NOW + 3600
    assert claims["auth_time"] == NOW and claims["amr"] == ["pwd"]

    info = rp.userinfo(token["access_token"])
    assert info.status_code == 200
    assert info.json() == {"sub": customer.subject, "name": "Иван Петров", "email": "client@example.com",
                           "email_verified": True, "phone_number": "+79161234567",
                           "phone_number_verified": False}


@pytest.mark.parametrize("how", ["get", "post_header", "post_body"])
def test_userinfo_accepts_header_and_body(rp, flow, customer, how):
    request = rp.authorization(scope="openid email")
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    response = rp.userinfo(token["access_token"], how)
    assert response.status_code == 200
    assert response.json()["sub"] == customer.subject


@pytest.mark.parametrize("scope, expected", [
    ("openid", {"sub"}),
    ("openid profile", {"sub", "name"}),
    ("openid email", {"sub", "email", "email_verified"}),
    ("openid phone", {"sub", "phone_number", "phone_number_verified"}),
    ("openid email unknown-scope", {"sub", "email", "email_verified"}),
])
def test_scopes_release_their_claims(rp, flow, customer, scope, expected):
    request = rp.authorization(scope=scope)
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert "unknown-scope" not in token["scope"]
    assert set(rp.userinfo(token["access_token"]).json()) == expected
    assert "refresh_token" not in token  # no offline_access, no refresh token


def test_client_secret_post(rp, flow, customer):
    request = rp.authorization()
    response = rp.exchange(signed_in_code(flow, rp, request), request, method="post")
    assert response.status_code == 200, response.text


def test_public_client_with_pkce(make_client, flow, customer):
    public = make_client(public=True, first_party=True)
    assert public.client_secret is None
    request = public.authorization()
    response = public.exchange(signed_in_code(flow, public, request), request, method="none")
    assert response.status_code == 200, response.text
    token = response.json()
    public.id_token_claims(token["id_token"], now=NOW, nonce=request.nonce)
    rotated = public.refresh(token["refresh_token"], method="none")
    assert rotated.status_code == 200, rotated.text


def test_confidential_client_opted_out_of_pkce(make_client, flow, customer):
    """A legacy relying party an admin let go without PKCE (``--pkce-optional``) still signs customers in."""
    legacy = make_client(first_party=True, pkce_required=False)
    request = legacy.authorization(pkce=False)
    response = legacy.exchange(signed_in_code(flow, legacy, request), request)
    assert response.status_code == 200, response.text


def test_refresh_rotates_and_keeps_the_sign_in(rp, flow, customer, clock):
    request = rp.authorization()
    first = rp.exchange(signed_in_code(flow, rp, request), request).json()
    clock.advance(minutes=5)
    response = rp.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    claims = rp.id_token_claims(second["id_token"], now=NOW + 300, access_token=second["access_token"])
    assert claims["sub"] == customer.subject and claims["auth_time"] == NOW and claims["iat"] == NOW + 300
    assert "nonce" not in claims
    assert rp.userinfo(second["access_token"]).status_code == 200
    # The new one works in its turn.
    assert rp.refresh(second["refresh_token"]).status_code == 200


def test_refresh_may_narrow_the_scope(rp, flow, customer):
    request = rp.authorization()
    first = rp.exchange(signed_in_code(flow, rp, request), request).json()
    response = rp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                         "scope": "openid email offline_access"})
    assert response.status_code == 200 and response.json()["scope"] == "openid email offline_access"
    widened = rp.token({"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"],
                        "scope": "openid phone"})
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"


def test_client_credentials(make_client):
    machine = make_client(scopes=["openid", "policies.read"], grant_types=["client_credentials"],
                          redirect_uris=[])
    response = machine.token({"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["scope"] == "policies.read" and "refresh_token" not in token and "id_token" not in token
    assert machine.introspect(token["access_token"])["active"] is True
    # No customer behind it: UserInfo refuses it.
    assert machine.userinfo(token["access_token"]).status_code == 403


def test_client_credentials_scope_narrowed_or_refused(make_client):
    machine = make_client(scopes=["policies.read", "policies:write"], grant_types=["client_credentials"],
                          redirect_uris=[])
    narrowed = machine.token({"grant_type": "client_credentials", "scope": "admin policies.read"})
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "policies.read"  # differs: named
    for asked in ("admin", "openid profile", "admin openid"):
        refused = machine.token({"grant_type": "client_credentials", "scope": asked})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope", asked


def test_revocation_of_access_token(rp, flow, customer):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert rp.revoke(token["access_token"], "access_token").status_code == 200
    assert rp.userinfo(token["access_token"]).status_code == 401
    assert rp.introspect(token["access_token"]) == {"active": False}
    # The refresh token of the grant still works: only the access token was revoked.
    assert rp.refresh(token["refresh_token"]).status_code == 200


def test_revocation_of_refresh_token_ends_the_grant(rp, flow, customer):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert rp.revoke(token["refresh_token"]).status_code == 200
    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp.userinfo(token["access_token"]).status_code == 401


def test_revocation_of_unknown_token_is_ok(rp):
    assert rp.revoke("no-such-token").status_code == 200  # RFC 7009 §2.2


def test_introspection(rp, flow, customer):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    data = rp.introspect(token["access_token"])
    assert data["active"] is True and data["sub"] == customer.subject and data["client_id"] == rp.client_id
    assert data["token_type"] == "Bearer" and data["exp"] == NOW + 900 and data["iss"] == rp.issuer
    assert rp.introspect(token["refresh_token"])["active"] is True
    assert rp.introspect("garbage") == {"active": False}


def test_introspection_of_another_clients_token_is_inactive(rp, make_client, flow, customer):
    other = make_client()
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert other.introspect(token["access_token"]) == {"active": False}


def test_unknown_parameters_are_ignored(rp, flow, customer):
    request = rp.authorization(display="page", acr_values="1", claims_locales="ru", foo="bar")
    response = rp.exchange(signed_in_code(flow, rp, request), request)
    assert response.status_code == 200


def test_authorization_by_post(rp, flow, customer, browser):
    request = rp.authorization()
    page = browser.http.post(rp.metadata["authorization_endpoint"], data=request.params, timeout=10)
    assert "Вход в личный кабинет" in page.text
    browser.page = page
    page = flow.sign_in()
    code = rp.callback(page.url, request)["code"]
    assert rp.exchange(code, request).status_code == 200


def test_ui_locales_of_an_authorization_post_picks_the_language(rp, customer, browser):
    request = rp.authorization(ui_locales="en", login_hint="client@example.com")
    page = browser.http.post(rp.metadata["authorization_endpoint"], data=request.params, timeout=10)
    assert '<html lang="en">' in page.text and 'value="client@example.com"' in page.text


def test_login_hint_and_ui_locales_reach_the_login_page(rp, flow, customer):
    page = flow.start(rp.authorization(login_hint="client@example.com", ui_locales="en-US ru"))
    assert 'value="client@example.com"' in page.text
    assert '<html lang="en">' in page.text


def test_codes_tokens_and_secrets_are_stored_only_as_hashes(app, rp, flow, customer):
    from sqlalchemy import text

    from idp.extensions import db

    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    token = rp.exchange(code, request).json()
    with app.app_context():
        dump = " ".join(str(row) for table in ("oauth_codes", "oauth_tokens", "oauth_clients")
                        for row in db.session.execute(text(f"select * from {table}")))
    for value in (code, token["access_token"], token["refresh_token"], rp.client_secret):
        assert value not in dump
