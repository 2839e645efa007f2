"""The ДМС API (clients/dms_api) with real JWT access tokens from the provider: its JWKS read over real HTTP
from the provider's loopback server, cached, fetched again for an unknown ``kid``; a token refused for
its type, audience, issuer, signature or age; the policies answered from the token's claims."""
from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from clients.dms_api import ApiConfig, create_app
from clients.dms_api.tokens import http_fetch
from idp.accounts import Account
from idp.extensions import db
from idp.oidc.models import unix
from tests.http import PageClient
from tests.oidc.rp import RelyingParty
from tests.policies.conftest import policy_doc

PASSWORD = "Polis2026"
AUDIENCE = "https://api.dms.example/"
OTHER = "https://reports.dms.example/"


class CountingFetch:
    """The API's own HTTP fetcher, counting the documents it reads (the provider is real)."""

    def __init__(self):
        self.fetch, self.urls = http_fetch(), []

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        return self.fetch(url)

    def jwks_reads(self) -> int:
        return sum(url.endswith("/jwks.json") for url in self.urls)


@pytest.fixture
def customer(app):
    """Иван with an active ДМС policy (his account made by the policy) and a password."""
    from idp.policies import issue_policy

    with app.app_context():
        issue_policy(app.extensions["idp"], policy_doc(number="DMS-7", kind="corporate", product="dms",
                                                       start_date="2026-02-01", end_date="2027-01-31",
                                                       employer={"name": "ООО «Ромашка»",
                                                                 "includes_account": True}), source="test")
        account = db.session.query(Account).filter_by(email="ivan@example.com").one()
        account.password_hash = app.extensions["idp"].hasher.hash(PASSWORD)
        db.session.commit()
        return account.subject


@pytest.fixture
def portal(app, live_server) -> RelyingParty:
    """The portal registered for JWT access tokens to the ДМС API (and to another API)."""
    from idp.clients import create_client

    services = app.extensions["idp"]
    with app.app_context():
        created = create_client(services.settings, name="ДМС", scopes=["openid", "email", "policies"],
                                first_party=True, redirect_uris=[f"{live_server.url}/rp/callback"],
                                access_token_format="jwt", audiences=[AUDIENCE, OTHER], now=services.clock.now())
        db.session.commit()
        return RelyingParty(live_server.url, created.client.client_id, created.secret,
                            created.client.redirect_uris[0])


@pytest.fixture
def fetch():
    return CountingFetch()


@pytest.fixture
def api(app, live_server, clock, fetch):
    """The ДМС API's test client; its clock is the provider's (frozen) one."""
    config = ApiConfig(issuer=live_server.url, audience=AUDIENCE)
    return create_app(config, fetch=fetch, clock=lambda: unix(clock.now())).test_client()


def tokens(portal: RelyingParty, live_server, scope="openid policies", **extra) -> dict:
    browser = PageClient(live_server.url)
    request = portal.authorization(scope)
    browser.get(request.url)
    page = browser.submit("/login", {"login": "ivan@example.com", "password": PASSWORD, "action": "signin"})
    response = portal.exchange(portal.callback(page.url, request)["code"], request, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_policies_from_a_valid_token_with_the_keys_read_once(api, portal, live_server, customer, fetch):
    access = tokens(portal, live_server)["access_token"]
    response = api.get("/policies", headers=bearer(access))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"sub": customer, "policies": [
        {"number": "DMS-7", "kind": "corporate", "product": "dms", "status": "active",
         "start_date": "2026-02-01", "end_date": "2027-01-31"}]}
    assert api.get("/policies", headers=bearer(access)).status_code == 200
    assert fetch.urls == [live_server.url + "/.well-known/openid-configuration",
                          live_server.url + "/.well-known/jwks.json"]  # cached: read once


def test_a_rotated_key_is_fetched_when_a_token_names_it(app, settings, clock, api, portal, live_server, customer,
                                                        fetch):
    from idp.keys import rotate

    assert api.get("/policies", headers=bearer(tokens(portal, live_server)["access_token"])).status_code == 200
    new = rotate(settings.keys_dir, now=clock.now(), retain=3600)
    app.extensions["idp.keys"].reload()
    clock.advance(seconds=11)  # the API fetches again at most every 10 s
    access = tokens(portal, live_server)["access_token"]
    assert jwt.decode(access, portal.jwks()).header["kid"] == new.kid
    assert api.get("/policies", headers=bearer(access)).status_code == 200
    assert fetch.jwks_reads() == 2


def test_an_unknown_kid_is_refused_and_does_not_make_the_api_hammer_the_provider(api, portal, live_server,
                                                                                  customer, fetch):
    access = tokens(portal, live_server)["access_token"]
    claims = jwt.decode(access, portal.jwks()).claims
    for n in range(3):
        stranger = RSAKey.generate_key(2048, parameters={"kid": f"made-up-{n}"})
        forged = jwt.encode({"typ": "at+jwt", "alg": "RS256", "kid": f"made-up-{n}"}, claims, stranger)
        response = api.get("/policies", headers=bearer(forged))
        assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert fetch.jwks_reads() == 1  # one read, no refetch within the interval


def test_a_token_signed_by_another_key_under_a_published_kid_is_refused(api, portal, live_server, customer):
    access = tokens(portal, live_server)["access_token"]
    token = jwt.decode(access, portal.jwks())
    stranger = RSAKey.generate_key(2048, parameters={"kid": token.header["kid"]})
    forged = jwt.encode(dict(token.header), dict(token.claims), stranger)
    assert api.get("/policies", headers=bearer(forged)).status_code == 401


def test_tokens_for_another_audience_or_not_access_tokens_are_refused(api, portal, live_server, customer):
    issued = tokens(portal, live_server, resource=OTHER)
    for value in (issued["access_token"], issued["id_token"], "not-a-jwt", "a.b.c"):
        response = api.get("/policies", headers=bearer(value))
        assert response.status_code == 401, value[:30]
        assert response.get_json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="dms-api", error="invalid_token"')


def test_no_token_is_a_bare_challenge(api):
    response = api.get("/policies")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="dms-api"'
    assert api.get("/policies", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_without_the_policies_scope_it_is_insufficient_scope(api, portal, live_server, customer):
    access = tokens(portal, live_server, scope="openid email")["access_token"]
    response = api.get("/policies", headers=bearer(access))
    assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"
    assert 'scope="policies"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(api, portal, live_server, customer, clock, settings):
    access = tokens(portal, live_server)["access_token"]
    clock.advance(seconds=settings.access_token_ttl + 31)  # past exp and the API's 30 s leeway
    assert api.get("/policies", headers=bearer(access)).status_code == 401


def test_a_revoked_token_is_still_accepted_here_until_it_expires(api, portal, live_server, customer):
    """The limitation the README states: local validation cannot see a revocation; introspection can."""
    access = tokens(portal, live_server)["access_token"]
    assert portal.revoke(access).status_code == 200
    assert portal.introspect(access) == {"active": False}
    assert api.get("/policies", headers=bearer(access)).status_code == 200


def test_a_provider_that_cannot_be_reached_is_503_and_not_asked_again_at_once(app, live_server, clock):
    fetch = CountingFetch()
    down = create_app(ApiConfig(issuer="http://127.0.0.1:9", audience=AUDIENCE), fetch=fetch,
                      clock=lambda: unix(clock.now())).test_client()
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k"})
    value = jwt.encode({"typ": "at+jwt", "alg": "RS256", "kid": "k"}, {"iss": "x"}, stranger)
    for _ in range(2):
        response = down.get("/policies", headers=bearer(value))
        assert response.status_code == 503 and response.get_json()["error"] == "temporarily_unavailable"
    assert fetch.urls == ["http://127.0.0.1:9/.well-known/openid-configuration"]
    clock.advance(seconds=11)
    assert down.get("/policies", headers=bearer(value)).status_code == 503
    assert len(fetch.urls) == 2
