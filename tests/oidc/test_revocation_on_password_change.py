"""After a password change or reset the account's other sessions and tokens die; customer tokens
never carry machine scopes."""
from __future__ import annotations

from tests.http import PageClient
from tests.oidc.conftest import signed_in_code


def test_password_change_revokes_refresh_and_access_tokens(rp, flow, customer, live_server, mailbox):
    request = rp.authorization()
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert rp.introspect(token["access_token"])["active"] is True

    # Someone (the customer, on another device) resets and changes the password.
    other = PageClient(live_server.url)
    other.get("/login")
    other.submit("/login", {"login": "client@example.com", "action": "forgot"})
    temporary = mailbox.temporary_password("client@example.com")
    other.submit("/login", {"login": "client@example.com", "password": temporary, "action": "signin"})
    page = other.submit("/password/change", {"temporary": temporary, "new": "Strah2027", "confirm": "Strah2027"})
    assert page.url.split("?")[0].endswith("/login")

    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp.introspect(token["access_token"]) == {"active": False}
    assert rp.userinfo(token["access_token"]).status_code == 401
    # The browser's single sign-on session is over too: the portal asks for a sign-in again.
    assert "Вход в личный кабинет" in flow.start(rp.authorization()).text


def test_customer_tokens_never_carry_machine_scopes(make_client, flow, customer):
    rp = make_client(first_party=True, scopes=["openid", "email", "offline_access", "admin", "policies:write"])
    request = rp.authorization(scope="openid email admin policies:write")
    token = rp.exchange(signed_in_code(flow, rp, request), request).json()
    assert token["scope"].split() == ["openid", "email"]
    assert rp.introspect(token["access_token"])["scope"] == "openid email"
