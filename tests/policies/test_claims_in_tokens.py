"""Scope ``policies``: the customer's eligible policies in the ID token and UserInfo, through a real code flow."""
from __future__ import annotations

from idp.accounts import Account
from idp.extensions import db
from idp.oidc.models import unix
from tests.http import PageClient
from tests.oidc.rp import RelyingParty

PASSWORD = "Polis2026"


def relying_party(app, live_server, scopes) -> RelyingParty:
    from idp.clients import create_client

    services = app.extensions["idp"]
    with app.app_context():
        created = create_client(services.settings, name="ДМС", scopes=scopes, first_party=True,
                                redirect_uris=[f"{live_server.url}/rp/callback"], now=services.clock.now())
        db.session.commit()
        return RelyingParty(live_server.url, created.client.client_id, created.secret,
                            created.client.redirect_uris[0])


def sign_in_and_get_tokens(rp: RelyingParty, live_server, scope: str) -> dict:
    browser = PageClient(live_server.url)
    request = rp.authorization(scope)
    browser.get(request.url)
    page = browser.submit("/login", {"login": "ivan@example.com", "password": PASSWORD, "action": "signin"})
    code = rp.callback(page.url, request)["code"]
    response = rp.exchange(code, request)
    assert response.status_code == 200, response.text
    return response.json()


def give_password(app, email: str) -> None:
    with app.app_context():
        account = db.session.query(Account).filter_by(email=email).one()
        account.password_hash = app.extensions["idp"].hasher.hash(PASSWORD)
        db.session.commit()


def test_userinfo_lists_only_the_eligible_policies(app, live_server, issue):
    issue(number="LF-1", product="life", start_date="2026-01-15", end_date="2027-01-14")
    issue(number="DMS-1", kind="corporate", product="dms", start_date="2026-02-01", end_date="2027-01-31",
          employer={"name": "ООО «Ромашка»", "includes_account": True})
    issue(number="CR-1", kind="credit")  # the same person, credit-linked: never in the account
    issue(number="DMS-2", kind="corporate", product="dms",
          employer={"name": "АО «Завод»", "includes_account": False})
    give_password(app, "ivan@example.com")
    rp = relying_party(app, live_server, ["openid", "policies"])

    tokens = sign_in_and_get_tokens(rp, live_server, "openid policies")
    expected = [
        {"number": "DMS-1", "kind": "corporate", "product": "dms", "status": "active",
         "start_date": "2026-02-01", "end_date": "2027-01-31"},
        {"number": "LF-1", "kind": "individual", "product": "life", "status": "active",
         "start_date": "2026-01-15", "end_date": "2027-01-14"},
    ]
    assert rp.userinfo(tokens["access_token"]).json()["policies"] == expected
    id_token = rp.id_token_claims(tokens["id_token"], now=unix(app.extensions["idp"].clock.now()))
    assert id_token["policies"] == expected


def test_without_the_scope_there_is_no_policies_claim(app, live_server, issue):
    issue(number="LF-1")
    give_password(app, "ivan@example.com")
    rp = relying_party(app, live_server, ["openid", "email", "policies"])
    tokens = sign_in_and_get_tokens(rp, live_server, "openid email")
    assert "policies" not in rp.userinfo(tokens["access_token"]).json()
    assert "policies" not in rp.id_token_claims(tokens["id_token"], now=unix(app.extensions["idp"].clock.now()))


def test_discovery_names_the_claim(live_server):
    import requests

    metadata = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10).json()
    assert "policies" in metadata["claims_supported"]
