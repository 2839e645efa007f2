"""CORS at the protocol API (idp.oidc.protocol.cors): discovery, the JWKS, the token endpoint, UserInfo and
revocation answer browser requests from the clients' registered web origins only — the client's own for an
answer about a client — with ``Vary: Origin``, never with credentials; other origins get no CORS header.

Requests go over HTTP to the provider served on a loopback port (the same WSGI application gunicorn runs);
a public client's redirect URI is on that server, so its derived web origin is the server's own origin.
"""
from __future__ import annotations

import pytest
import requests

from tests.oidc.conftest import signed_in_code

SPA = "https://spa.example"
OTHER = "https://other.example"
EVIL = "https://evil.example"
JWKS = "/.well-known/jwks.json"
CORS_PATHS = ["/.well-known/openid-configuration", JWKS, "/oauth/token", "/oauth/userinfo", "/oauth/revoke"]


def no_cors(response) -> bool:
    return not any(name.lower().startswith("access-control-") for name in response.headers)


def allows(response, origin: str) -> bool:
    headers = response.headers
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Origin" in [v.strip() for v in headers.get("Vary", "").split(",")], headers
    if no_cors(response):
        return False
    assert headers["Access-Control-Allow-Origin"] == origin, headers
    return True


@pytest.fixture
def registered(make_client):
    """A confidential client with web origins registered (SPA), a public one with them explicit (OTHER), and
    a confidential one without any (its redirect URI's origin is not derived)."""
    make_client(redirect_uris=["https://portal.example/cb"], web_origins=[SPA])
    make_client(public=True, redirect_uris=["https://mobile.example/cb"], web_origins=[OTHER])
    make_client(redirect_uris=["https://backend.example/cb"])


def get(live_server, path: str, origin: str | None = None, **kwargs):
    headers = kwargs.pop("headers", {})
    if origin:
        headers["Origin"] = origin
    return requests.get(live_server.url + path, headers=headers, timeout=10, **kwargs)


def preflight(live_server, path: str, origin: str, method: str = "POST", headers: str = "authorization"):
    return requests.options(live_server.url + path, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/jwks.json"])
def test_public_documents_answer_registered_origins_only(live_server, registered, make_client, path):
    derived = make_client(public=True, redirect_uris=["https://derived.example:8443/app/cb?x=1"])
    assert derived.client_secret is None
    for origin in (SPA, OTHER, "https://derived.example:8443"):
        response = get(live_server, path, origin)
        assert response.status_code == 200 and allows(response, origin)
        assert response.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    for origin in (EVIL, "https://backend.example", "https://portal.example", "https://derived.example",
                   "null", SPA + "/", "HTTPS://spa.example"):
        response = get(live_server, path, origin)
        assert response.status_code == 200 and not allows(response, origin), origin
    plain = get(live_server, path)  # a relying party's server: no Origin, no CORS, the same document
    assert plain.status_code == 200 and no_cors(plain) and plain.headers["Vary"] == "Origin"
    assert plain.headers["Cache-Control"].startswith("public")


@pytest.mark.parametrize("path", CORS_PATHS)
def test_a_preflight_from_a_registered_origin_is_allowed(live_server, registered, path):
    method = "GET" if path.startswith("/.well-known") else "POST"
    response = preflight(live_server, path, SPA, method, "authorization, content-type")
    assert response.status_code == 204 and response.content == b""
    assert allows(response, SPA)
    assert method in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert int(response.headers["Access-Control-Max-Age"]) == 600


@pytest.mark.parametrize("path", CORS_PATHS)
def test_a_preflight_from_another_origin_gets_no_cors_headers(live_server, registered, path):
    response = preflight(live_server, path, EVIL)
    assert response.status_code == 403 and no_cors(response)
    assert response.json() == {"error": "access_denied",
                               "error_description": "Cross-origin requests are not allowed from this origin."}
    assert response.headers["Vary"] == "Origin"


def test_options_that_is_no_preflight_and_introspection(live_server, registered):
    plain = requests.options(live_server.url + "/oauth/token", timeout=10)
    assert plain.status_code == 204 and plain.headers["Allow"] == "OPTIONS, POST" and no_cors(plain)
    # Introspection is for resource servers: no CORS at all.
    introspection = preflight(live_server, "/oauth/introspect", SPA)
    assert introspection.status_code == 405 and no_cors(introspection)
    actual = requests.post(live_server.url + "/oauth/introspect", headers={"Origin": SPA}, timeout=10)
    assert no_cors(actual) and "Vary" not in actual.headers


def test_a_public_client_from_its_derived_origin(make_client, flow, customer, live_server, registered):
    """The whole browser round: code exchange, UserInfo, refresh and revocation from the public client's own
    (derived) origin are readable by its page; the same requests from another client's origin are not."""
    spa = make_client(public=True, first_party=True)
    own = live_server.url  # the origin of its redirect URI
    spa.http.headers["Origin"] = own
    request = spa.authorization()
    response = spa.exchange(signed_in_code(flow, spa, request), request, method="none")
    assert response.status_code == 200 and allows(response, own)
    assert response.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    token = response.json()

    info = spa.userinfo(token["access_token"])
    assert info.status_code == 200 and allows(info, own)
    spa.http.headers["Origin"] = SPA  # registered, but another client's
    info = spa.userinfo(token["access_token"])
    assert info.status_code == 200 and not allows(info, SPA)  # the browser would hide it
    spa.http.headers["Origin"] = EVIL
    assert not allows(spa.userinfo(token["access_token"]), EVIL)

    spa.http.headers["Origin"] = own
    refreshed = spa.refresh(token["refresh_token"], method="none")
    assert refreshed.status_code == 200 and allows(refreshed, own)
    # An error about this client from its origin is readable too (the page learns why).
    replayed = spa.refresh(token["refresh_token"], method="none")
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    assert allows(replayed, own)
    spa.http.headers["Origin"] = OTHER
    revoked = spa.revoke(refreshed.json()["refresh_token"], method="none")
    assert revoked.status_code == 200 and not allows(revoked, OTHER)
    spa.http.headers["Origin"] = own
    revoked = spa.revoke(refreshed.json()["access_token"], method="none")
    assert revoked.status_code == 200 and allows(revoked, own)
    # A revoked token: its page reads the 401 and its challenge.
    revoked = spa.userinfo(refreshed.json()["access_token"])
    assert revoked.status_code == 401 and allows(revoked, own)
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")
    # A token the provider does not know: no client to tie it to, any registered origin reads the 401.
    spa.http.headers["Origin"] = SPA
    unknown = spa.userinfo("nonsense")
    assert unknown.status_code == 401 and allows(unknown, SPA)
    spa.http.headers["Origin"] = EVIL
    unknown = spa.userinfo("nonsense")
    assert unknown.status_code == 401 and not allows(unknown, EVIL)


def test_explicit_web_origins_replace_the_derived_ones(make_client, flow, customer, live_server):
    spa = make_client(public=True, first_party=True, web_origins=[SPA])
    spa.http.headers["Origin"] = live_server.url  # its redirect URI's origin: not registered any more
    request = spa.authorization()
    response = spa.exchange(signed_in_code(flow, spa, request), request, method="none")
    assert response.status_code == 200 and not allows(response, live_server.url)
    spa.http.headers["Origin"] = SPA
    info = spa.userinfo(response.json()["access_token"])
    assert info.status_code == 200 and allows(info, SPA)
    nothing = make_client(public=True, web_origins=[], redirect_uris=["https://nothing.example/cb"])
    assert not allows(get(live_server, JWKS, "https://nothing.example"),
                      "https://nothing.example")
    assert nothing.client_secret is None


def test_a_confidential_client_without_web_origins(make_client, flow, customer, live_server, registered):
    backend = make_client(first_party=True, grant_types=["authorization_code", "refresh_token",
                                                         "client_credentials"])
    backend.http.headers["Origin"] = live_server.url  # its redirect URI's origin: never derived
    request = backend.authorization()
    response = backend.exchange(signed_in_code(flow, backend, request), request)
    assert response.status_code == 200 and not allows(response, live_server.url)
    backend.http.headers["Origin"] = SPA  # another client's origin
    machine = backend.token({"grant_type": "client_credentials"})
    assert machine.status_code == 200 and not allows(machine, SPA)
    assert not allows(backend.userinfo(response.json()["access_token"]), SPA)
    # A request naming no client it can be tied to (no grant_type): any registered origin reads the error.
    broken = requests.post(live_server.url + "/oauth/token", data={}, headers={"Origin": SPA}, timeout=10)
    assert broken.status_code == 400 and allows(broken, SPA)


def test_changes_to_clients_apply_at_once_in_this_process(app, live_server, registered, make_client):
    from idp.clients import disable_client, update_client
    from idp.extensions import db

    late = make_client(public=True, redirect_uris=["https://late.example/cb"])
    assert allows(get(live_server, JWKS, "https://late.example"), "https://late.example")
    now = app.extensions["idp"].clock.now()
    with app.app_context():
        update_client(late.client_id, web_origins=["https://later.example"], now=now)
        db.session.commit()
    assert not allows(get(live_server, JWKS, "https://late.example"), "https://late.example")
    assert allows(get(live_server, JWKS, "https://later.example"), "https://later.example")
    with app.app_context():
        update_client(late.client_id, web_origins=None, now=now)  # derived again
        db.session.commit()
    assert allows(get(live_server, JWKS, "https://late.example"), "https://late.example")
    with app.app_context():
        disable_client(late.client_id, now=now)
        db.session.commit()
    assert not allows(preflight(live_server, "/oauth/token", "https://late.example"), "https://late.example")


def test_known_origins_are_read_once_then_kept(app, live_server, registered):
    """No query per request: the set is read again only after a change, after RELOAD_INTERVAL, or for an
    unknown origin after MISS_RELOAD_INTERVAL (a client registered by another process or instance)."""
    from sqlalchemy import text

    from idp.extensions import db
    from idp.oidc.protocol import cors

    known = _protocol(app).cors.known
    now = [1000.0]
    known.clock = lambda: now[0]
    assert allows(get(live_server, JWKS, SPA), SPA)
    loaded_at = known.loaded_at
    for _ in range(5):
        assert allows(get(live_server, JWKS, OTHER), OTHER)
    assert known.loaded_at == loaded_at  # not read again
    # Another process registers an origin (a plain SQL write: nothing in this process counts it).
    with app.app_context():
        db.session.execute(text("UPDATE oauth_clients SET web_origins = :o WHERE web_origins IS NOT NULL"),
                           {"o": '["https://elsewhere.example"]'})
        db.session.commit()
    assert known.loaded_at == loaded_at
    elsewhere = "https://elsewhere.example"
    assert not allows(get(live_server, JWKS, elsewhere), elsewhere)  # too soon to ask again
    assert allows(get(live_server, JWKS, SPA), SPA)  # still known here
    now[0] += cors.MISS_RELOAD_INTERVAL
    assert allows(get(live_server, JWKS, elsewhere), elsewhere)  # asked again: found
    assert known.loaded_at == now[0]
    assert not allows(get(live_server, JWKS, SPA), SPA)  # gone now
    now[0] += cors.RELOAD_INTERVAL - 1
    assert allows(get(live_server, JWKS, elsewhere), elsewhere)
    assert known.loaded_at == now[0] - cors.RELOAD_INTERVAL + 1  # a known origin: not read again
    now[0] += 1
    assert allows(get(live_server, JWKS, elsewhere), elsewhere)
    assert known.loaded_at == now[0]  # read again after RELOAD_INTERVAL


def test_the_record_and_the_model_agree(app, registered):
    from idp.clients import list_clients
    from idp.oidc.store import records

    store = _protocol(app).provider.store
    with app.app_context():
        clients = list_clients()
        with store.connect() as connection:
            for client in clients:
                record = records.client(connection, client.client_id)
                assert record.cors_origins == client.cors_origins
        assert len(clients) == 3 and sorted(o for c in clients for o in c.cors_origins) == [OTHER, SPA]


def _protocol(app):
    wsgi = app.wsgi_app
    while not hasattr(wsgi, "protocol"):
        wsgi = wsgi.app
    return wsgi.protocol


def test_without_the_database_the_documents_still_answer(app, live_server, registered, caplog, tmp_path):
    """The known origins cannot be read (the database is away): discovery and the JWKS answer all the same,
    without CORS headers for an origin not known yet, and the set is not asked for again on every request."""
    from sqlalchemy import create_engine

    from idp.oidc.store import Store

    known = _protocol(app).cors.known
    broken = create_engine(f"sqlite:///{tmp_path}/missing/folder/idp.db")
    known.store = Store(broken, concurrency=4)
    now = [1000.0]
    known.clock = lambda: now[0]
    for _ in range(3):
        response = get(live_server, JWKS, SPA)
        assert response.status_code == 200 and not allows(response, SPA)
    assert len([r for r in caplog.records if "could not read the clients' web origins" in r.getMessage()]) == 1
    broken.dispose()
