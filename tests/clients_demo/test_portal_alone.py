"""The ДМС portal on its own: settings, and the pages that need no provider (no fake provider here).

Everything that involves the provider is proved against the real one in ``test_journey.py``.
"""
from __future__ import annotations

import re
import socket

import pytest

from clients.dms_portal import ConfigError, PortalConfig, create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _codes(html: str) -> list[str]:
    return re.findall(r'data-code="([^"]+)"', html)


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on: the provider is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def portal(closed_port):
    app = create_app({"issuer": f"http://127.0.0.1:{closed_port}", "client_id": "dms-portal",
                      "client_secret": "s" * 43, "secret_key": "k" * 32, "base_url": "http://127.0.0.1:5001",
                      "http_timeout": 2})
    app.config["TESTING"] = True
    return app.test_client()


def _csrf(client, path="/"):
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


ENV = {"DMS_ISSUER": "http://127.0.0.1:5000/", "DMS_CLIENT_ID": "abc", "DMS_SECRET_KEY": "k" * 32}


def test_settings_from_environment():
    config = PortalConfig.from_env({**ENV, "DMS_BASE_URL": "http://127.0.0.1:5001/",
                                    "DMS_CLIENT_SECRET": "x"})
    assert config.issuer == "http://127.0.0.1:5000"
    assert config.metadata_url == "http://127.0.0.1:5000/.well-known/openid-configuration"
    assert config.redirect_uri == "http://127.0.0.1:5001/callback"
    assert config.post_logout_redirect_uri == "http://127.0.0.1:5001/"


@pytest.mark.parametrize("changes, variable", [
    ({"DMS_ISSUER": ""}, "DMS_ISSUER"),
    ({"DMS_ISSUER": "ftp://idp.example"}, "DMS_ISSUER"),
    ({"DMS_BASE_URL": "portal.example"}, "DMS_BASE_URL"),
    ({"DMS_CLIENT_ID": ""}, "DMS_CLIENT_ID"),
    ({"DMS_SCOPE": "profile email"}, "DMS_SCOPE"),
    ({"DMS_HTTP_TIMEOUT": "soon"}, "DMS_HTTP_TIMEOUT"),
])
def test_settings_refused_name_the_variable(changes, variable):
    with pytest.raises(ConfigError, match=variable):
        PortalConfig.from_env({**ENV, **changes})


def test_secret_key_is_random_per_process_when_unset(caplog):
    env = {k: v for k, v in ENV.items() if k != "DMS_SECRET_KEY"}
    first, second = PortalConfig.from_env(env), PortalConfig.from_env(env)
    assert first.secret_key and first.secret_key != second.secret_key
    assert "DMS_SECRET_KEY is not set" in caplog.text


@pytest.mark.parametrize("scope, supported, expected", [
    ("", None, "openid profile email phone offline_access"),
    ("", ["openid", "profile"], "openid profile email phone offline_access"),
    ("", ["openid", "policies"], "openid profile email phone offline_access policies"),
    ("openid  email", ["openid", "policies"], "openid email"),
])
def test_scope_adds_policies_only_when_offered(scope, supported, expected):
    assert PortalConfig.from_env({**ENV, "DMS_SCOPE": scope}).scope_for(supported) == expected


def test_home_page_offers_sign_in(portal):
    page = portal.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ДМС — портал медицинского страхования" in html and "Войти через личный кабинет" in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "dms_portal_session=" in page.headers["Set-Cookie"]


@pytest.mark.parametrize("query, code", [
    ("error=login_required&state=x", "oauth.login_required"),
    ("error=access_denied&error_description=no", "oauth.access_denied"),
    ("error=temporarily_unavailable", "oauth.temporarily_unavailable"),
    ("error=%3Cb%3Ebold%3C%2Fb%3E", "oauth.other"),
    ("code=abc", "callback.incomplete"),
    ("", "callback.incomplete"),
])
def test_callback_errors_are_polite_pages(portal, query, code):
    page = portal.get("/callback?" + query)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert _codes(html) == [code]
    assert "<b>bold" not in html


def test_callback_for_a_sign_in_never_started_is_refused_before_any_network_call(portal):
    # The provider is down: the answer is about the state, so it was checked first.
    page = portal.get("/callback?code=abc&state=forged")
    assert page.status_code == 400 and _codes(page.get_data(as_text=True)) == ["callback.state"]


def test_callback_with_foreign_issuer_is_refused(portal):
    page = portal.get("/callback?code=abc&state=x&iss=https%3A%2F%2Fevil.example")
    assert page.status_code == 400 and _codes(page.get_data(as_text=True)) == ["callback.issuer_mismatch"]


def test_buttons_need_the_csrf_token(portal):
    for path in ("/login", "/refresh", "/logout"):
        page = portal.post(path, data={})
        assert page.status_code == 400 and _codes(page.get_data(as_text=True)) == ["request.csrf"], path


def test_provider_down_is_a_polite_page(portal):
    page = portal.post("/login", data={"csrf_token": _csrf(portal)})
    assert page.status_code == 503
    assert _codes(page.get_data(as_text=True)) == ["provider.unreachable"]


def test_refresh_and_logout_when_not_signed_in(portal):
    token = _csrf(portal)
    for path in ("/refresh", "/logout"):
        page = portal.post(path, data={"csrf_token": token}, follow_redirects=True)
        assert page.status_code == 200 and "session.none" in _codes(page.get_data(as_text=True))


def test_logout_return_with_unknown_state_is_reported_not_failed(portal):
    page = portal.get("/?state=never-sent", follow_redirects=True)
    assert page.status_code == 200 and "signout.unconfirmed" in _codes(page.get_data(as_text=True))


def test_unknown_page_is_a_russian_404(portal):
    page = portal.get("/nowhere")
    assert page.status_code == 404 and _codes(page.get_data(as_text=True)) == ["page.not_found"]


def test_policies_claim_as_table_rows():
    # The claim as the provider sends it (start_date/end_date) and as the issue first named it (start/end).
    from clients.dms_portal.views import _policies

    rows = _policies([
        {"number": "DMS-1", "kind": "corporate", "product": "dms", "status": "active",
         "start_date": "2026-01-01", "end_date": "2026-12-31"},
        {"number": "LF-2", "kind": "individual", "product": "life", "status": "expired",
         "start": "2020-05-17", "end": "2025-05-16"},
        {"number": "X-3", "kind": "future_kind", "product": "pet", "status": "frozen"},
        "not a policy",
    ])
    assert [(r["number"], r["kind"], r["product"], r["status"], r["start"], r["end"]) for r in rows] == [
        ("DMS-1", "корпоративный (через работодателя)", "ДМС", "действует", "01.01.2026", "31.12.2026"),
        ("LF-2", "индивидуальный", "страхование жизни", "истёк", "17.05.2020", "16.05.2025"),
        ("X-3", "future_kind", "pet", "frozen", None, None),
    ]
    assert _policies(None) is None and _policies("DMS-1") is None
